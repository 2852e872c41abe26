"""Image quality measures for real scans, where only a reference reconstruction or a segmentation exists.

* :func:`edge_spread` / :func:`edge_rise_distance` — sharpness: the image sampled across every boundary of
  a segmentation (along the boundary normal), averaged into one edge-spread function; its 10–90 % rise
  distance in mm (smaller is sharper).
* :func:`flat_region_noise` — noise: standard deviation inside the material, away from its edges.
* :func:`otsu_threshold`, :func:`segmentation_mcc` — the HTC2022 score: threshold the reconstruction with
  Otsu's method and compare with the true segmentation by the Matthews correlation coefficient (1 = perfect).

References
----------
N. Otsu, "A threshold selection method from gray-level histograms", *IEEE Trans. Syst. Man Cybern.*
9(1), 62–66 (1979); B. W. Matthews, "Comparison of the predicted and observed secondary structure of T4
phage lysozyme", *Biochim. Biophys. Acta* 405(2), 442–451 (1975); A. Meaney, T. Heikkilä et al., Helsinki
Tomography Challenge 2022, doi:10.5281/zenodo.6984868 (the score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["EdgeSpread", "edge_spread", "edge_rise_distance", "flat_region_noise", "otsu_bin", "otsu_threshold",
           "matthews_correlation", "segmentation_mcc"]


@dataclass(frozen=True)
class EdgeSpread:
    """Mean profile across the boundaries: ``distance`` (mm, negative = outside the object) and ``profile``
    (image units), the plateaus ``low``/``high`` and the 10–90 % ``rise`` distance in mm."""

    distance: np.ndarray
    profile: np.ndarray
    low: float
    high: float
    rise: float


def _boundary_normals(segmentation: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Boundary pixel coordinates ``[m, 2]`` (row, col) and unit normals pointing into the object."""
    smooth = ndimage.gaussian_filter(segmentation.astype(np.float64), sigma)
    g_row, g_col = np.gradient(smooth)
    band = (smooth > 0.4) & (smooth < 0.6)
    rows, cols = np.nonzero(band)
    normals = np.stack([g_row[rows, cols], g_col[rows, cols]], axis=1)
    length = np.linalg.norm(normals, axis=1)
    keep = length > 1e-6
    return np.stack([rows, cols], axis=1)[keep].astype(np.float64), normals[keep] / length[keep, None]


def edge_spread(image: np.ndarray, segmentation: np.ndarray, pixel_size: float, half_width: float = 3.0,
                step: float = 0.05) -> EdgeSpread:
    """Average edge-spread function of ``image`` ``[N, N]`` across the boundaries of the binary
    ``segmentation`` ``[N, N]`` (1 = object), sampled (bilinear) along the normals over ±``half_width`` mm;
    the plateaus are the medians over the outer half of each side (edges blurred by up to about
    ``half_width / 3`` mm, σ, are measured without bias)."""
    image = np.asarray(image, dtype=np.float64)
    segmentation = np.asarray(segmentation) > 0
    if image.shape != segmentation.shape or image.ndim != 2:
        raise ValueError(f"image {image.shape} and segmentation {segmentation.shape} must be the same 2-D shape")
    points, normals = _boundary_normals(segmentation, sigma=1.0)
    if points.shape[0] == 0:
        raise ValueError("the segmentation has no boundary")
    distance = np.arange(-half_width, half_width + step / 2, step)
    offsets = distance / pixel_size
    coords = points[:, None, :] + offsets[None, :, None] * normals[:, None, :]  # [m, t, 2]
    samples = ndimage.map_coordinates(image, [coords[..., 0].ravel(), coords[..., 1].ravel()], order=1,
                                      mode="nearest").reshape(coords.shape[:2])
    profile = samples.mean(axis=0)
    low = float(np.median(profile[distance <= -half_width / 2]))
    high = float(np.median(profile[distance >= half_width / 2]))
    return EdgeSpread(distance, profile, low, high, _rise(distance, profile, low, high))


def _rise(distance: np.ndarray, profile: np.ndarray, low: float, high: float) -> float:
    """Distance between the first crossings of 10 % and 90 % of the step (searching outward from the
    profile point closest to 50 %), linearly interpolated; NaN without a step."""
    span = high - low
    if not span > 0:
        return float("nan")
    level = (profile - low) / span
    centre = int(np.argmin(np.abs(level - 0.5)))

    def crossing(target: float, direction: int) -> float:
        i = centre
        while 0 <= i + direction < level.size:
            a, b = level[i], level[i + direction]
            if (a - target) * (b - target) <= 0 and a != b:
                return float(distance[i] + (target - a) / (b - a) * (distance[i + direction] - distance[i]))
            i += direction
        return float("nan")

    return crossing(0.9, +1) - crossing(0.1, -1)


def edge_rise_distance(image: np.ndarray, segmentation: np.ndarray, pixel_size: float) -> float:
    """10–90 % rise distance (mm) of the mean edge profile (see :func:`edge_spread`)."""
    return edge_spread(image, segmentation, pixel_size).rise


def flat_region_noise(image: np.ndarray, segmentation: np.ndarray, pixel_size: float, margin: float = 2.0) -> float:
    """Standard deviation of ``image`` inside the object of ``segmentation``, at least ``margin`` mm from any
    of its edges (image units)."""
    inside = ndimage.binary_erosion(np.asarray(segmentation) > 0, iterations=max(1, int(round(margin / pixel_size))))
    if inside.sum() < 10:
        raise ValueError(f"the segmentation has no flat region at least {margin} mm from its edges")
    return float(np.std(np.asarray(image, dtype=np.float64)[inside]))


def otsu_bin(counts: np.ndarray) -> int:
    """Otsu's choice on a histogram ``counts`` ``[bins]``: the last bin of the lower class, the one that
    maximises the between-class variance."""
    counts = np.asarray(counts, dtype=np.float64)
    k = np.arange(counts.size, dtype=np.float64)
    weight0 = np.cumsum(counts)
    weight1 = weight0[-1] - weight0
    sum0 = np.cumsum(counts * k)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean0 = sum0 / weight0
        mean1 = (sum0[-1] - sum0) / weight1
        between = weight0 * weight1 * (mean0 - mean1) ** 2
    return int(np.nanargmax(between[:-1]))


def otsu_threshold(image: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the grey level that maximises the between-class variance of the ``bins``-bin
    histogram over the image's range; the last bin centre of the lower class (as scikit-image's
    ``threshold_otsu``)."""
    hist, edges = np.histogram(np.asarray(image, dtype=np.float64).ravel(), bins=bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return float(centres[otsu_bin(hist)])


def matthews_correlation(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Matthews correlation coefficient of two binary images (nonzero = object): ``(TP·TN − FP·FN) /
    √((TP+FP)(TP+FN)(TN+FP)(TN+FN))``, 0 when a factor of the denominator is 0 (as the HTC2022 scoring)."""
    predicted, truth = np.asarray(predicted) > 0, np.asarray(truth) > 0
    if predicted.shape != truth.shape:
        raise ValueError(f"segmentations of different shapes: {predicted.shape} and {truth.shape}")
    tp = float(np.sum(predicted & truth))
    tn = float(np.sum(~predicted & ~truth))
    fp = float(np.sum(predicted & ~truth))
    fn = float(np.sum(~predicted & truth))
    denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return float((tp * tn - fp * fn) / denominator) if denominator > 0 else 0.0


def segmentation_mcc(image: np.ndarray, segmentation: np.ndarray) -> float:
    """HTC2022 score of a reconstruction: Matthews correlation between ``image > otsu_threshold(image)`` and
    the binary ``segmentation``."""
    return matthews_correlation(np.asarray(image) > otsu_threshold(image), segmentation)
