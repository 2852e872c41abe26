"""Shapes with exact line integrals, phantom families and the noise model."""

from __future__ import annotations

import math

import numpy as np
import pytest

import recon
from recon.simulation.shapes import Ellipse, Polygon, ray_transform, rasterize, rectangle
from recon.simulation.noise import poisson_noise
from recon.simulation.phantoms import PHANTOMS, disc_with_holes, make_phantom, random_ellipses, random_polygons


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def parallel_coords(point: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(θ, s) of lines: direction = (sin θ, −cos θ), s = signed distance along (cos θ, sin θ)."""
    theta = np.arctan2(direction[..., 0], -direction[..., 1])
    s = point[..., 0] * np.cos(theta) + point[..., 1] * np.sin(theta)
    return theta, s


def square_chord(theta: np.ndarray, s: np.ndarray, half: float) -> np.ndarray:
    """Closed-form chord length of the square [−half, half]² along the line with normal angle θ at offset s:
    a trapezoid in s with plateau 2·half/c for |s| ≤ half(c − d) and slopes down to 0 at half(c + d)."""
    c, d = np.abs(np.cos(theta)), np.abs(np.sin(theta))
    c, d = np.maximum(c, d), np.minimum(c, d)
    s = np.abs(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (half * (c + d) - s) / (c * d)
    out = np.where(s <= half * (c - d), 2 * half / c, np.clip(slope, 0.0, None))
    return np.where(s >= half * (c + d), 0.0, out)


FAN = recon.FanBeam(np.linspace(0, 2 * np.pi, 90, endpoint=False), 160, 0.5, 64, 1.0, sod=200.0, sdd=320.0)


# ---- polygons: exact line integrals -------------------------------------------------------------------------

@pytest.mark.parametrize("geom", [
    recon.ParallelBeam([0.0, 0.3, np.pi / 4, 1.0, 2.0, 2.9], 101, 0.37, 64, 1.0, det_offset=0.11),
    FAN,
], ids=["parallel", "fan"])
def test_square_chords_match_closed_form(geom):
    half, mu = 10.0, 0.03
    square = rectangle(mu, (0.0, 0.0), (2 * half, 2 * half))
    point, direction = geom.rays()
    theta, s = parallel_coords(point, direction)
    np.testing.assert_allclose(square.line_integrals(point, direction), mu * square_chord(theta, s, half),
                               rtol=1e-10, atol=1e-12)
    # rotated and shifted: the same chords in the square's own frame
    rot, shift = 0.4, np.array([3.0, -2.0])
    moved = rectangle(mu, tuple(shift), (2 * half, 2 * half), rot)
    theta2, s2 = parallel_coords(point - shift, direction)
    np.testing.assert_allclose(moved.line_integrals(point, direction), mu * square_chord(theta2 - rot, s2, half),
                               rtol=1e-10, atol=1e-12)


def test_non_convex_L_shape_is_the_sum_of_two_rectangles():
    ell = Polygon(0.02, [(0, 0), (12, 0), (12, 4), (4, 4), (4, 15), (0, 15)])
    parts = [rectangle(0.02, (6, 2), (12, 4)), rectangle(0.02, (2, 9.5), (4, 11))]
    sino = ray_transform([ell], FAN)
    assert sino.max() > 0.2 and np.count_nonzero(sino) > 1000
    np.testing.assert_allclose(sino, ray_transform(parts, FAN), rtol=1e-10, atol=1e-12)
    # orientation does not matter
    clockwise = Polygon(0.02, ell.vertices[::-1])
    np.testing.assert_allclose(ray_transform([clockwise], FAN), sino, rtol=1e-12, atol=1e-14)


def test_256_gon_matches_the_disc_formula():
    radius, mu = 20.0, 0.02
    t = 2 * np.pi * np.arange(256) / 256
    ngon = Polygon(mu, np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1))
    point, direction = FAN.rays()
    _, s = parallel_coords(point, direction)
    inside = np.abs(s) < 0.9 * radius
    exact = 2 * mu * np.sqrt(radius ** 2 - s[inside] ** 2)
    assert np.max(np.abs(ngon.line_integrals(point, direction)[inside] / exact - 1)) < 1e-3


def test_rays_through_vertices_and_along_edges_are_counted_once():
    square = rectangle(1.0, (0.0, 0.0), (2.0, 2.0))
    point = np.array([[-5.0, 1.0], [-5.0, -5.0], [0.0, -5.0], [-5.0, 0.0]])
    direction = np.array([[1.0, 0.0], [1 / math.sqrt(2), 1 / math.sqrt(2)], [0.0, 1.0], [1.0, 0.0]])
    out = square.line_integrals(point, direction)
    assert out[1] == pytest.approx(2 * math.sqrt(2))  # the diagonal passes two vertices
    assert out[2] == pytest.approx(2.0) and out[3] == pytest.approx(2.0)
    assert out[0] in (0.0, pytest.approx(2.0))  # along an edge: a measure-zero set of lines, either is fine


def test_rasterised_polygon_area_matches_shoelace():
    radii = [1, .4, 1, .5, .9, .3, 1, .6, .8]
    angles = np.linspace(0, 2 * np.pi, 9, endpoint=False)
    star = Polygon(1.0, [(10 * r * math.cos(a), 10 * r * math.sin(a)) for a, r in zip(angles, radii)])
    geom = recon.ParallelBeam([0.0], 10, 1.0, 128, 0.2)
    image = rasterize([star], geom, supersample=4)
    assert set(np.unique(image)) <= set(np.arange(17) / 16)
    assert image.sum() * 0.2 ** 2 == pytest.approx(star.area, rel=5e-3)


def test_invalid_polygons_are_rejected():
    with pytest.raises(ValueError, match="simple"):
        Polygon(1.0, [(0, 0), (3, 0), (0, 1), (2, 2)])  # self-intersecting
    with pytest.raises(ValueError, match="zero area"):
        Polygon(1.0, [(0, 0), (1, 1), (2, 2)])
    with pytest.raises(ValueError, match="at least 3"):
        Polygon(1.0, [(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="finite"):
        Polygon(1.0, [(0, 0), (1, 0), (0, np.nan)])
    # collinear but disjoint edges are fine (a comb)
    assert Polygon(1.0, [(0, 0), (5, 0), (5, 2), (4, 2), (4, 1), (3, 1), (3, 2), (0, 2)]).area == pytest.approx(9.0)


@pytest.mark.parametrize("name", ["parallel", "flat", "arc"])
def test_det_supersample_averages_across_each_element(name):
    """Disc at the origin: chord 2√(R² − s²) with s the ray's distance from the origin; the supersampled
    sinogram is the mean over S positions evenly spread across each element."""
    radius, du, S = 15.0, 0.8, 3
    angles = np.linspace(0, np.pi, 5)
    if name == "parallel":
        geom = recon.ParallelBeam(angles, 50, du, 32, 1.0, det_offset=0.2)
    else:
        geom = recon.FanBeam(angles, 50, du, 32, 1.0, sod=100.0, sdd=150.0, detector=name, det_offset=0.2)
    u = geom.det_coords[:, None] + du * ((np.arange(S) + 0.5) / S - 0.5)[None, :]
    if name == "parallel":
        s = u
    else:
        gamma = np.arctan2(u, geom.sdd) if name == "flat" else u / geom.sdd
        s = geom.sod * np.sin(gamma)
    chord = 2 * 0.02 * np.sqrt(np.clip(radius ** 2 - s ** 2, 0, None))
    disc = [Ellipse(0.02, (0.0, 0.0), (radius, radius))]
    # (near-tangent rays lose digits in √(R² − s²) itself, hence atol)
    np.testing.assert_allclose(ray_transform(disc, geom, det_supersample=S),
                               np.broadcast_to(chord.mean(1), geom.sino_shape), rtol=1e-10, atol=1e-7)
    np.testing.assert_allclose(ray_transform(disc, geom), np.broadcast_to(chord[:, 1], geom.sino_shape),
                               rtol=1e-10, atol=1e-7)
    with pytest.raises(ValueError, match="det_supersample"):
        ray_transform(disc, geom, det_supersample=0)


@pytest.mark.parametrize("kind", ["parallel", "fan"])
def test_discrete_projection_of_rasterised_phantom_agrees_with_analytic(kind):
    rng = np.random.default_rng(5)
    angles = np.linspace(0, np.pi if kind == "parallel" else 2 * np.pi, 60, endpoint=False)
    if kind == "parallel":
        geom = recon.ParallelBeam(angles, 200, 0.5, 160, 0.5)
        phantom = random_polygons(rng, radius=36.0)
    else:
        geom = recon.FanBeam(angles, 200, 0.5, 160, 0.5, sod=150.0, sdd=250.0)
        phantom = disc_with_holes(rng, radius=35.0, n_holes=6)
    exact = ray_transform(phantom, geom, det_supersample=3)
    discrete = recon.project(rasterize(phantom, geom, supersample=8), geom)
    assert rel_l2(discrete, exact) < 0.03


# ---- phantom families ---------------------------------------------------------------------------------------

def test_disc_with_holes_is_zero_or_mu_and_holes_stay_apart():
    geom = recon.ParallelBeam([0.0], 10, 1.0, 96, 0.8)
    counts = []
    for seed in range(150):
        phantom = disc_with_holes(np.random.default_rng(seed))
        counts.append(len(phantom) - 1)
        assert all(s.value == -0.041 for s in phantom[1:])
        image = rasterize(phantom, geom, supersample=2)  # overlapping holes or holes outside the disc go < 0
        assert image.min() >= -1e-12 and image.max() <= 0.041 + 1e-12
        fractions = np.round(image / 0.041 * 4, 9)
        assert np.all(fractions == np.round(fractions))  # partial volume only: k/4 of mu
    assert min(counts) == 1 and max(counts) == 8


def test_disc_with_holes_draws_its_attenuation_and_cells():
    """``mu`` as a range is drawn per phantom (a fixed value draws nothing: the old phantoms stay the same);
    ``cells`` cuts the disc into convex cells that stay inside the rim and apart by the wall."""
    assert disc_with_holes(np.random.default_rng(5), mu=0.041) == disc_with_holes(np.random.default_rng(5))
    assert disc_with_holes(np.random.default_rng(5), mu=[0.041, 0.041]) == disc_with_holes(np.random.default_rng(5))
    mus = [disc_with_holes(np.random.default_rng(s), mu=(0.02, 0.05))[0].value for s in range(200)]
    assert 0.02 <= min(mus) < 0.023 and 0.047 < max(mus) <= 0.05
    geom = recon.ParallelBeam([0.0], 10, 1.0, 160, 0.5)
    x, y = np.meshgrid(geom.pixel_coords, -geom.pixel_coords)
    celled = 0
    for seed in range(40):
        phantom = disc_with_holes(np.random.default_rng(seed), cells=0.5, wall=(1.5, 3.0))
        mu = phantom[0].value
        assert all(s.value == -mu for s in phantom[1:])
        image = rasterize(phantom, geom, supersample=2)
        assert image.min() >= -1e-12 and image.max() <= mu + 1e-12  # holes never overlap
        if len(phantom) > 1 and all(isinstance(s, Polygon) for s in phantom[1:]) and len(phantom) > 6:
            celled += 1
            holes = image < 0.5 * mu
            r = np.hypot(x, y)
            assert not np.any(holes & (r > 35.0 - 1.5 + 0.5) & (r < 35.0 - 0.5))  # the rim stays (± a pixel)
            for a, b in zip(phantom[1:], phantom[2:]):  # neighbouring cells are walls apart
                va, vb = np.asarray(a.vertices), np.asarray(b.vertices)
                assert np.linalg.norm(va[:, None] - vb[None], axis=-1).min() > 1.5 - 1e-6
    assert 10 <= celled <= 30
    with pytest.raises(ValueError, match="cells"):
        disc_with_holes(np.random.default_rng(0), cells=1.5)


def test_random_families_are_never_negative_and_stay_inside_their_radius():
    geom = recon.ParallelBeam([0.0], 10, 1.0, 80, 2.0)  # ±80 mm
    inside = np.hypot(*np.meshgrid(geom.pixel_coords, geom.pixel_coords)) < 61.0
    for family in (random_ellipses, random_polygons):
        for seed in range(15):
            phantom = family(np.random.default_rng(seed), radius=60.0)
            assert 4 <= len(phantom) <= 7
            image = rasterize(phantom, geom, supersample=2)
            assert image.min() >= -1e-12
            assert np.all(image[~inside] == 0)


@pytest.mark.parametrize("name", sorted(PHANTOMS))
def test_phantoms_are_reproducible_from_a_seed(name):
    a = make_phantom(name, np.random.default_rng(7))
    b = make_phantom(name, np.random.default_rng(7))
    assert a == b
    if not name.startswith("shepp_logan"):  # (the Shepp–Logan phantoms are fixed)
        assert make_phantom(name, np.random.default_rng(8)) != a


def test_make_phantom_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown phantom family 'cubes'"):
        make_phantom("cubes", np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['radious'\]"):
        make_phantom("disc_with_holes", np.random.default_rng(0), radious=3.0)
    with pytest.raises(ValueError, match="n_holes"):
        make_phantom("disc_with_holes", np.random.default_rng(0), n_holes=[3, 1])
    with pytest.raises(TypeError, match="Generator"):
        disc_with_holes(0)


# ---- noise --------------------------------------------------------------------------------------------------

def test_beam_hardening_cups_a_disc_and_its_fit_recovers_b():
    """p − b·p² of a homogeneous disc: FBP is lower at the centre than at the rim (cupping), and fitting the
    measured line integrals to the chord lengths gives μ and b back."""
    from recon.simulation.noise import beam_hardening, fit_beam_hardening

    g = recon.FanBeam(np.linspace(0, 2 * np.pi, 180, endpoint=False), n_det=160, det_spacing=1.0, image_size=96,
                      pixel_size=0.8, sod=200.0, sdd=300.0)
    disc = [Ellipse(0.044, (0.0, 0.0), (35.0, 35.0))]
    p = ray_transform(disc, g, det_supersample=3)
    chord = p / 0.044
    hardened = beam_hardening(p, 0.09)
    assert hardened.max() < p.max() and np.array_equal(beam_hardening(p, 0.0), p)
    mu, b = fit_beam_hardening(hardened, chord)
    assert mu == pytest.approx(0.044, rel=1e-3) and b == pytest.approx(0.09, rel=1e-2)
    x = recon.fbp(hardened, g)
    r = np.hypot(*np.meshgrid(g.pixel_coords, g.pixel_coords))
    centre, rim = x[r < 5].mean(), x[(r > 27) & (r < 31)].mean()
    assert centre < 0.85 * rim < 0.044  # cupped and low, as the real HTC2022 solid disc (0.028 vs 0.037/mm)
    assert np.all(np.diff(beam_hardening(np.linspace(0, 20, 200), 0.09)) >= 0)  # never decreasing
    with pytest.raises(ValueError, match=">= 0"):
        beam_hardening(p, -0.1)


def test_poisson_noise_matches_counting_statistics():
    p, i0, n = 1.2, 1e4, 200_000
    lam = i0 * math.exp(-p)
    noisy = poisson_noise(np.full((400, 500), p), i0, np.random.default_rng(1))
    assert noisy.shape == (400, 500)
    counts = i0 * np.exp(-noisy)
    np.testing.assert_allclose(counts, np.round(counts), rtol=0, atol=1e-6)  # whole photon counts
    assert abs(counts.mean() - lam) < 4 * math.sqrt(lam / n)
    assert abs(counts.var() / lam - 1) < 4 * math.sqrt(2 / n)
    # log data: unbiased to first order, variance 1 / (i0 e^-p)
    assert abs(noisy.mean() - p) < 4 * math.sqrt(1 / (lam * n)) + 1 / lam
    assert abs(noisy.var() * lam - 1) < 0.02


def test_electronic_noise_adds_variance_and_zero_counts_are_guarded():
    lam, sigma = 50.0, 5.0
    noisy = poisson_noise(np.full(100_000, math.log(1e4 / lam)), 1e4, np.random.default_rng(2), electronic_sigma=sigma)
    counts = 1e4 * np.exp(-noisy)
    assert abs(counts.var() / (lam + sigma ** 2) - 1) < 0.03
    starved = poisson_noise(np.full(1000, 40.0), 1e3, np.random.default_rng(3))
    assert np.all(np.isfinite(starved)) and starved.max() == pytest.approx(math.log(1e3 / 0.5))


def test_poisson_noise_options():
    sino = np.linspace(0, 3, 12, dtype=np.float32).reshape(3, 4)
    for i0 in (None, math.inf):
        out = poisson_noise(sino, i0, np.random.default_rng(0))
        np.testing.assert_array_equal(out, sino)
        assert out is not sino
    a = poisson_noise(sino, 1e3, np.random.default_rng(4))
    assert a.dtype == np.float32 and a.shape == sino.shape
    np.testing.assert_array_equal(a, poisson_noise(sino, 1e3, np.random.default_rng(4)))
    with pytest.raises(ValueError, match="i0"):
        poisson_noise(sino, -5.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="min_counts"):
        poisson_noise(sino, 1e3, np.random.default_rng(0), min_counts=0)
