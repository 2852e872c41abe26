"""Arc models: the untrained model is its recipe exactly, moves to rotated arcs (sharing parameters),
and completes arcs to the circle."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

import recon
from recon.analytic.arcs import arc_offset, cut_arc
from recon.analytic.recipe import FBPRecipe
from recon.models import LearnedFBP, load_model, save_model
from recon.analytic.views import complete_arc
from recon.analytic.weights import scan_coverage

from ..helpers import ARC_STEP, arc_fan, holes_phantom


def test_untrained_model_is_the_tuned_analytic_baseline_exactly():
    full = arc_fan(180)
    sino = torch.tensor(recon.ray_transform(holes_phantom(1), full))
    arc, g = cut_arc(sino, full, math.radians(90), math.radians(30))
    baseline = FBPRecipe("hamming", 0.7, taper=math.radians(8), scale=1.37)
    for basis in (None, (4, 6)):
        model = LearnedFBP.from_recipe(g, baseline, learn="filter+weights", weight_basis=basis, filter_basis=8, dtype=torch.float64)
        torch.testing.assert_close(model(arc), baseline.reconstruct(arc, g), rtol=0, atol=0)
    # the default baseline is plain FBP: Parker weights on a short scan
    short, gs = cut_arc(sino, full, math.pi + 2 * float(np.abs(full.fan_angles).max()) + 2 * ARC_STEP, 0.0)
    assert scan_coverage(gs).kind == "short"
    torch.testing.assert_close(LearnedFBP.from_recipe(gs, FBPRecipe(), dtype=torch.float64)(short), recon.fbp(short, gs),
                               rtol=0, atol=0)


def test_retargeted_model_on_a_rotated_phantom_gives_the_rotated_image():
    """The same sinogram is the scan of the phantom on the arc at 0 and of the phantom rotated by φ on the
    arc at φ: the model applied at start φ must give the image at start 0 rotated by φ."""
    full = arc_fan(180, image_size=48)
    sino, g0 = cut_arc(torch.tensor(recon.ray_transform(holes_phantom(3), full)), full, math.radians(90))
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


def test_view_completion_fills_the_circle_with_the_mean_view_and_retargets(tmp_path):
    full = arc_fan(180, image_size=32)
    sino = torch.tensor(recon.ray_transform(holes_phantom(7), full))
    arc, g = cut_arc(sino, full, math.radians(60), math.radians(350))
    done, gc = complete_arc(arc, g)
    assert done.shape == (180, 64) and gc.n_views == 180
    np.testing.assert_allclose(np.diff(gc.angles), ARC_STEP)
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

