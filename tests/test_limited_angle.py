"""Limited-angle / short-scan reconstruction (issue 7): arcs, end taper, the tuned baseline and its exact
learned-model start, retargeting a model to another arc start, training on a tiny arc, HTC limited files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.io
import torch
from scipy import ndimage

import recon
from recon.io import read_htc_mat, read_scan
from recon.analytic.arcs import arc_offset, arc_view_indices, cut_arc, end_taper
from recon.analytic.recipe import FBPRecipe, tune_recipe
from research.arc_training import ArcSample, arc_loss, fit_filter_on_arcs, train_on_arcs
from recon.models import LearnedFBP, load_model, save_model
from recon.analytic.views import complete_arc
from recon.analytic.weights import parker_weights, scan_coverage

STEP = math.radians(2.0)


def _fan(n_views: int = 180, start: float = 0.0, image_size: int = 48) -> recon.FanBeam:
    """A small fan scan (flat detector, half fan ≈ 14°) with views every 2° from ``start``."""
    return recon.FanBeam(start + np.arange(n_views) * STEP, n_det=64, det_spacing=0.75, image_size=image_size,
                         pixel_size=0.5, sod=60.0, sdd=90.0, detector="flat")


def _phantom(seed: int) -> list:
    return recon.simulation.phantoms.disc_with_holes(np.random.default_rng(seed), radius=9.0, mu=0.04, n_holes=(2, 4),
                                          size=(1.0, 3.0), gap=0.5, rim=0.5)


def test_parker_weights_of_a_ray_and_its_conjugate_sum_to_one():
    """w(β, γ) + w(conjugate) = 1 for every ray of a short scan; the conjugate of (β, γ) is (β ± π − 2γ, −γ)
    (whichever lies on the arc; Parker weights vanish off it, so rays measured once get weight 1)."""
    delta = 0.25
    rng = np.random.default_rng(0)
    gamma = rng.uniform(-delta, delta, 500)
    beta = rng.uniform(0.0, math.pi + 2 * delta, 500)
    w = parker_weights(beta, gamma, delta)
    conj = sum(parker_weights(beta + sign * math.pi - 2 * gamma, -gamma, delta) for sign in (1, -1))
    np.testing.assert_allclose(w + conj, 1.0, atol=1e-12)
    assert np.sum((w > 0.01) & (w < 0.99)) > 50  # the redundant (blended) region is exercised


def test_end_taper_is_a_symmetric_ramp_on_arcs_and_one_for_full_scans():
    g = _fan(46)  # a 90° arc
    t = end_taper(g, math.radians(10))
    assert t[0] == 0.0 and t[-1] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(t, t[::-1], atol=1e-12)
    assert np.all(t[5:-5] == 1.0) and 0 < t[2] < t[3] < 1
    np.testing.assert_array_equal(end_taper(g, 0.0), np.ones(g.n_views))
    np.testing.assert_array_equal(end_taper(_fan(180), math.radians(10)), np.ones(180))  # full 360° scan


def test_cut_arc_wraps_through_zero_and_keeps_arc_order():
    full = _fan(180)
    sino = np.arange(180.0)[:, None] * np.ones((1, 64))
    arc, g = cut_arc(sino, full, math.radians(90), math.radians(350))
    assert g.n_views == 46 and scan_coverage(g).kind == "limited"
    np.testing.assert_allclose(np.diff(g.angles), STEP)
    assert math.degrees(g.angles[0]) == pytest.approx(350.0)
    np.testing.assert_array_equal(arc[:, 0], np.r_[175:180, 0:41])
    np.testing.assert_array_equal(arc_view_indices(full, math.radians(90), math.radians(350)), np.r_[175:180, 0:41])


def test_untrained_model_is_the_tuned_analytic_baseline_exactly():
    full = _fan(180)
    sino = torch.tensor(recon.ray_transform(_phantom(1), full))
    arc, g = cut_arc(sino, full, math.radians(90), math.radians(30))
    baseline = FBPRecipe("hamming", 0.7, taper=math.radians(8), scale=1.37)
    for basis in (None, (4, 6)):
        model = LearnedFBP.from_recipe(g, baseline, learn="filter+weights", weight_basis=basis, filter_basis=8, dtype=torch.float64)
        torch.testing.assert_close(model(arc), baseline.reconstruct(arc, g), rtol=0, atol=0)
    # the default baseline is plain FBP: Parker weights on a short scan
    short, gs = cut_arc(sino, full, math.pi + 2 * float(np.abs(full.fan_angles).max()) + 2 * STEP, 0.0)
    assert scan_coverage(gs).kind == "short"
    torch.testing.assert_close(LearnedFBP.from_recipe(gs, FBPRecipe(), dtype=torch.float64)(short), recon.fbp(short, gs),
                               rtol=0, atol=0)


def test_tuning_finds_the_scale_and_the_known_window():
    full = _fan(180)
    g = cut_arc(np.zeros(full.sino_shape), full, math.radians(90))[1]
    sinos = torch.stack([torch.tensor(recon.ray_transform(_phantom(s), g)) for s in range(2)])
    truth = FBPRecipe("hann", 0.6, taper=math.radians(10), scale=2.0)
    targets = truth.reconstruct(sinos, g)  # data made by a member of the search grid
    tuned = tune_recipe(sinos, targets, g, windows=("ram-lak", "hann"), cutoffs=(0.6, 1.0),
                        tapers=(0.0, math.radians(10)), fit_scale=True)
    best = tuned.recipe
    assert (best.filter, best.cutoff, best.taper) == ("hann", 0.6, pytest.approx(math.radians(10)))
    assert best.scale == pytest.approx(2.0) and tuned.mse < 1e-20
    assert "hann, cut-off 0.6, taper 10°" in tuned.describe()


def test_retargeted_model_on_a_rotated_phantom_gives_the_rotated_image():
    """The same sinogram is the scan of the phantom on the arc at 0 and of the phantom rotated by φ on the
    arc at φ: the model applied at start φ must give the image at start 0 rotated by φ."""
    full = _fan(180, image_size=48)
    sino, g0 = cut_arc(torch.tensor(recon.ray_transform(_phantom(3), full)), full, math.radians(90))
    model = LearnedFBP.from_recipe(g0, FBPRecipe("hann", 0.8, taper=math.radians(6), scale=1.5), "filter+weights", filter_basis=8,
                                   weight_basis=(5, 7), dtype=torch.float64)
    torch.manual_seed(0)
    with torch.no_grad():  # a non-trivial, non-symmetric learned state
        model.weights.coefficients.copy_(0.3 * torch.randn_like(model.weights.coefficients))
        model.filter.coefficients.copy_(0.2 * torch.randn_like(model.filter.coefficients))
    assert model.for_geometry(g0) is not model
    torch.testing.assert_close(model.for_geometry(g0)(sino), model(sino), rtol=0, atol=0)
    img0 = model(sino).detach().numpy()
    # 90°: pixel centres map onto pixel centres, so the rotation is exact
    m90 = model.for_geometry(g0.replace(angles=g0.angles + math.pi / 2))
    np.testing.assert_allclose(m90(sino).detach().numpy(), np.rot90(img0, 1), atol=1e-10 * np.abs(img0).max())
    # 37°, with the scan's angles given modulo 2π: compare after interpolated rotation, inside the disc
    phi = math.radians(37)
    m37 = model.for_geometry(g0.replace(angles=np.mod(g0.angles + phi - 2 * math.pi, 2 * math.pi)))
    assert arc_offset(model.geometry, m37.geometry) == pytest.approx(phi)
    img37 = m37(sino).detach().numpy()
    rotated = ndimage.rotate(img0, 37.0, reshape=False, order=1)
    inside = np.hypot(*np.meshgrid(g0.pixel_coords, g0.pixel_coords)) < 9.5
    err = np.abs(img37 - rotated)[inside].mean() / np.abs(img0[inside]).mean()
    assert err < 0.03
    wrong = np.abs(img37 - img0)[inside].mean() / np.abs(img0[inside]).mean()
    assert wrong > 5 * err
    # a shared retarget trains the original's parameters; another spacing or view count is refused
    m37(sino).sum().backward()
    assert model.weights.coefficients.grad is not None
    with pytest.raises(ValueError, match="rotated by a constant angle"):
        model.for_geometry(g0.replace(angles=g0.angles * 1.01))
    with pytest.raises(ValueError, match="views expected"):
        model.for_geometry(cut_arc(np.zeros(full.sino_shape), full, math.radians(60))[1])


def test_training_on_a_tiny_arc_lowers_the_loss_and_saves_with_its_geometry(tmp_path):
    torch.manual_seed(0)
    full = _fan(180, image_size=32)
    length = math.radians(60)
    pool = []
    for seed in range(6):
        shapes = _phantom(seed)
        p = torch.tensor(recon.ray_transform(shapes, full))
        pool.append((p, torch.tensor(recon.rasterize(shapes, full))))

    def draw(rng, k):
        out = []
        for _ in range(k):
            p, t = pool[int(rng.integers(len(pool)))]
            arc, g = cut_arc(p, full, length, STEP * int(rng.integers(180)))
            out.append(ArcSample(arc, g, t))
        return out

    val = draw(np.random.default_rng(99), 4)
    g0 = val[0].geometry.replace(angles=val[0].geometry.angles - val[0].geometry.angles[0])
    tuned = tune_recipe([s.sinogram for s in val], [s.target for s in val], [s.geometry for s in val],
                        windows=("ram-lak", "hann"), cutoffs=(0.5, 1.0), tapers=(0.0, 0.1), fit_scale=True)
    model = LearnedFBP.from_recipe(g0, tuned.recipe, "filter+weights", filter_basis=8, positivity=True, dtype=torch.float64)
    before = float(arc_loss(model, val))
    assert before == pytest.approx(tuned.mse, rel=0.2)  # positivity only helps
    fit = fit_filter_on_arcs(model, val)
    assert fit["loss"] <= fit["loss_before"]
    history = train_on_arcs(model, draw, steps=8, batch_size=2, lr=3e-2, smoothness=1.0)
    after = float(arc_loss(model, val))
    assert after < 0.9 * before and len(history) == 8
    path = save_model(model, tmp_path / "model.pt")
    loaded = load_model(path)
    assert loaded.geometry == model.geometry
    s = val[1]
    torch.testing.assert_close(loaded.for_geometry(s.geometry)(s.sinogram), model.for_geometry(s.geometry)(s.sinogram))


def test_limited_angle_htc_file_loads_and_reconstructs_at_its_start(tmp_path):
    """A ``*_limited.mat`` of the HTC2022 layout (struct CtDataLimited, angles of the arc in degrees)."""
    full = _fan(180, image_size=32)
    angles = 36.0 + np.arange(31) * 2.0  # a 60° arc from 36°
    arc, g = cut_arc(recon.ray_transform(_phantom(5), full), full, math.radians(60), math.radians(36))
    params = {"angles": angles, "distanceSourceOrigin": 60.0, "distanceSourceDetector": 90.0,
              "numDetectorsPost": 64, "pixelSizePost": 0.75, "effectivePixelSizePost": 0.5,
              "projectName": "synthetic limited"}
    path = tmp_path / "htc2022_xx_limited.mat"
    scipy.io.savemat(path, {"CtDataLimited": {"type": "sinogram", "sinogram": arc.astype(np.float32),
                                              "parameters": params}})
    scan = read_htc_mat(path, image_size=32)
    assert scan.info["struct"] == "CtDataLimited" and not scan.info["dropped_duplicate_view"]
    assert scan.sinogram.shape == (31, 64)
    assert read_scan(path, image_size=32).sinogram.shape == (31, 64)
    np.testing.assert_allclose(scan.geometry.angles, g.angles, atol=1e-9)
    cov = scan_coverage(scan.geometry)
    assert cov.kind == "limited" and math.degrees(cov.start) == pytest.approx(36.0)
    # a model made for the arc at 0° reconstructs it (retargeted), as the baseline does
    g0 = scan.geometry.replace(angles=scan.geometry.angles - scan.geometry.angles[0])
    baseline = FBPRecipe("hann", 0.8, taper=math.radians(5), scale=1.2)
    model = LearnedFBP.from_recipe(g0, baseline, "filter+weights", dtype=torch.float64).for_geometry(scan.geometry)
    x = torch.tensor(scan.sinogram, dtype=torch.float64)
    torch.testing.assert_close(model(x), baseline.reconstruct(x, scan.geometry), rtol=1e-6, atol=1e-9)


def test_view_completion_fills_the_circle_with_the_mean_view_and_retargets(tmp_path):
    full = _fan(180, image_size=32)
    sino = torch.tensor(recon.ray_transform(_phantom(7), full))
    arc, g = cut_arc(sino, full, math.radians(60), math.radians(350))
    done, gc = complete_arc(arc, g)
    assert done.shape == (180, 64) and gc.n_views == 180
    np.testing.assert_allclose(np.diff(gc.angles), STEP)
    torch.testing.assert_close(done[:31], arc)
    torch.testing.assert_close(done[100], arc.mean(0))
    wrapped = g.replace(angles=np.mod(g.angles, 2 * math.pi))  # 350° … 359°, 0° … 50°: the same arc
    torch.testing.assert_close(complete_arc(arc, wrapped)[0], done)
    np.testing.assert_allclose(np.mod(complete_arc(arc, wrapped)[1].angles, 2 * math.pi), np.mod(gc.angles, 2 * math.pi))
    # a centred disc projects the same in every view: completion recovers the full scan exactly
    disc = torch.tensor(recon.ray_transform([recon.Ellipse(0.04, (0.0, 0.0), (9.0, 9.0))], full))
    d_arc, d_g = cut_arc(disc, full, math.radians(60), 0.0)
    torch.testing.assert_close(complete_arc(d_arc, d_g)[0], disc, rtol=1e-9, atol=1e-9)
    # untrained = the analytic completion FBP; retargeted to another start = that start's reconstruction
    baseline = FBPRecipe("cosine", 0.9, taper=0.0, scale=1.1, complete_views=True)
    g0 = g.replace(angles=g.angles - g.angles[0])
    model = LearnedFBP.from_recipe(g0, baseline, "filter+weights", dtype=torch.float64)
    assert model.complete_views and model.operator_geometry.n_views == 180 and model.geometry.n_views == 31
    moved = model.for_geometry(g)
    expected = FBPRecipe("cosine", 0.9, taper=0.0, scale=1.1).reconstruct(done, gc)
    torch.testing.assert_close(moved(arc), expected, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(baseline.reconstruct(arc, g), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.geometry.angles, g0.angles, atol=1e-12)  # the original keeps its arc
    moved(arc).sum().backward()
    assert model.weights.coefficients.grad is not None  # parameters are shared
    with pytest.raises(ValueError, match="complete_views"):
        model.start_from(FBPRecipe())
    # saved and loaded with its completion (the model takes the arc; weights cover the circle)
    save_model(model, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.complete_views and loaded.weights.initial.shape == (180, 64)
    torch.testing.assert_close(loaded.for_geometry(g)(arc), moved(arc).detach())
    with pytest.raises(ValueError, match="evenly spaced"):
        LearnedFBP(g0.replace(angles=g0.angles ** 1.1), complete_views=True)


@pytest.mark.parametrize("start_deg, stop_deg", [(36.0, 96.0), (330.0, 30.0)])
def test_reconstruct_moves_an_arc_model_to_the_scan_arc(tmp_path, start_deg, stop_deg):
    """``recon reconstruct --angles START:STOP`` with a model trained on the arc at 0°: the scan's arc (also one
    that wraps through 0°, whose views the full scan stores out of arc order) is reconstructed as the
    baseline reconstructs it at its own start; an arc of another length is refused with a clear message."""
    from recon.io.scan import Scan
    from recon.app.reconstruct import reconstruct_learned

    full = _fan(180, image_size=32)
    scan = Scan(recon.ray_transform(_phantom(3), full).astype(np.float32), full)
    baseline = FBPRecipe("hann", 0.8, taper=math.radians(5), scale=1.2)
    g0 = cut_arc(scan.sinogram, full, math.radians(60), 0.0)[1]
    model = LearnedFBP.from_recipe(g0, baseline, "filter+weights", dtype=torch.float64)
    arc = scan.select_angles(math.radians(start_deg), math.radians(stop_deg))
    rec = reconstruct_learned(arc, model)
    expected_sino, expected_geom = cut_arc(scan.sinogram.astype(np.float64), full, math.radians(60),
                                           math.radians(start_deg))
    np.testing.assert_allclose(rec.image, baseline.reconstruct(expected_sino, expected_geom), rtol=1e-5,
                               atol=1e-6 * np.abs(rec.image).max())
    np.testing.assert_allclose(model.geometry.angles, g0.angles)  # the model itself stays on its arc
    with pytest.raises(ValueError, match="cut the scan.s arc"):
        reconstruct_learned(scan.select_angles(math.radians(10), math.radians(100)), model)
