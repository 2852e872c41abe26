"""Unrolled networks: untrained they are their analytic start exactly; an arc model works in the arc's frame, so
its image at a rotated arc is its image rotated; it refuses arcs it was not trained for; gradients reach every
CNN through the exact operators; saved and loaded it reconstructs the same."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import recon
from recon.analytic.arcs import cut_arc
from recon.analytic.recipe import FBPRecipe
from recon.models import LearnedGradientDescent, LearnedPrimalDual, build_model, load_model, save_model
from recon.models.unrolled import rotate_images

from ..helpers import ARC_STEP, arc_fan, full_scans, holes_phantom

CLASSES = (LearnedGradientDescent, LearnedPrimalDual)


def _randomise(model: torch.nn.Module, seed: int = 0, scale: float = 0.05) -> None:
    """A non-trivial learned state: every parameter perturbed (the CNNs' last layers start at zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("kind", ["fan-flat", "fan-arc", "parallel-2pi"])
def test_untrained_network_is_its_analytic_start_exactly(cls, kind):
    g = full_scans(24)[kind]
    sino = torch.as_tensor(recon.ray_transform(holes_phantom(2), g))
    for factor in (1, 3):
        model = cls(g, iterations=2, channels=4, filter="hamming", cutoff=0.7, factor=factor, positivity=False,
                    dtype=torch.float64)
        expected = FBPRecipe("hamming", 0.7, upsample=factor).reconstruct(sino, g)
        torch.testing.assert_close(model(sino), expected, rtol=0, atol=1e-14 * float(expected.abs().max()))
    # batch dimensions pass through; positivity clamps at 0
    model = cls(g, iterations=2, channels=4, dtype=torch.float64)
    out = model(torch.stack([sino, 2 * sino]).unsqueeze(0))
    assert out.shape == (1, 2) + g.image_shape and float(out.detach().min()) >= 0.0


def test_image_rotation_matches_the_scanner_rotation():
    """Scanning an object at angles θ + φ is scanning it rotated by −φ at θ: the projection of the image
    rotated by ``rotate_images(·, −φ)`` at θ equals the projection of the image at θ + φ (inside the
    interpolation error of a smooth object)."""
    g = arc_fan(180, image_size=64)
    phantom = [recon.Ellipse(0.04, (3.0, -2.0), (8.0, 4.0), 0.3), recon.Ellipse(-0.02, (-4.0, 3.0), (3.0, 2.0), 0.0)]
    image = torch.as_tensor(recon.rasterize(phantom, g)).unsqueeze(0)
    phi = math.radians(37.0)
    shifted = g.replace(angles=g.angles + phi)
    direct = recon.project(image, shifted)
    rotated = recon.project(rotate_images(image, -phi), g)
    wrong = recon.project(rotate_images(image, phi), g)
    err = float((rotated - direct).norm() / direct.norm())
    assert err < 0.02 and float((wrong - direct).norm() / direct.norm()) > 10 * err


@pytest.mark.parametrize("cls", CLASSES)
def test_arc_model_at_a_rotated_arc_gives_the_rotated_image(cls):
    """The same sinogram is the scan of an object on the arc centred at 0° and of the object rotated by 90° on
    the arc centred at 90°: the learned model's images must be rotations of each other (exact at 90°, where
    pixel centres map onto pixel centres)."""
    full = arc_fan(180)
    n = 31  # a 60° arc of 2° steps
    sino = torch.as_tensor(recon.ray_transform(holes_phantom(3), full))[: n]
    centred = full.replace(angles=ARC_STEP * (np.arange(n) - (n - 1) / 2))
    model = cls(full.replace(angles=ARC_STEP * np.arange(46)), iterations=2, channels=4, arcs=(40, 90),
                positivity=False, dtype=torch.float64)
    _randomise(model)
    img0 = model(sino, geometry=centred)
    torch.testing.assert_close(img0, model.iterate(model.recipe.reconstruct(sino.unsqueeze(0), centred) /
                                                   model.mu_scale, sino.unsqueeze(0), centred)[0] * model.mu_scale)
    img90 = model.for_geometry(centred.replace(angles=centred.angles + math.pi / 2))(sino)
    torch.testing.assert_close(img90, torch.rot90(img0, 1, (0, 1)), rtol=0, atol=1e-10 * float(img0.abs().max()))
    # the angles modulo 2π, a start anywhere: the same frame, the same image up to one bilinear rotation
    start = math.radians(301.0)
    wrapped = model.for_geometry(centred.replace(angles=np.mod(centred.angles + start, 2 * math.pi)))
    np.testing.assert_allclose(wrapped(sino).detach().numpy(),
                               rotate_images(img0.unsqueeze(0), start)[0].detach().numpy(), atol=1e-12)


def test_arc_model_refuses_arcs_it_was_not_trained_for():
    full = arc_fan(180)
    longest = full.replace(angles=ARC_STEP * np.arange(46))  # 90°
    model = LearnedGradientDescent(longest, iterations=1, channels=2, arcs=(40, 90))
    sino = torch.zeros(full.sino_shape)
    for geometry, message in (
            (full, "full scan"),
            (full.replace(angles=ARC_STEP * np.arange(61)), "longer than its longest"),
            (full.replace(angles=ARC_STEP * np.arange(11)), "shorter than its shortest"),
            (full.replace(angles=2 * ARC_STEP * np.arange(30)), "trained for 2°"),
            (full.replace(angles=np.sort(np.random.default_rng(0).uniform(0, 1.2, 40))), "evenly spaced"),
            (full.replace(angles=ARC_STEP * np.arange(40), sod=61.0), "sod")):
        with pytest.raises(ValueError, match=message):
            model(sino[: geometry.n_views], geometry=geometry)
    with pytest.raises(ValueError, match="longest arc"):
        LearnedGradientDescent(longest, arcs=(40, 80))
    # a model of one set of views takes only those
    sparse = LearnedGradientDescent(full.replace(angles=full.angles[::6]), iterations=1, channels=2)
    with pytest.raises(ValueError, match="does not match"):
        sparse(sino[::5], geometry=full.replace(angles=full.angles[::5]))


@pytest.mark.parametrize("cls", CLASSES)
def test_gradients_reach_every_cnn_through_the_exact_operators(cls):
    full = arc_fan(180, image_size=32)
    arc, g = cut_arc(torch.as_tensor(recon.ray_transform(holes_phantom(4), full)).float(), full, math.radians(60),
                     math.radians(100))
    model = cls(full.replace(angles=ARC_STEP * np.arange(46)), iterations=3, channels=4, arcs=(30, 90))
    _randomise(model, scale=0.02)
    loss = model(arc, geometry=g).square().mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), name
        if name.endswith(".layers.0.weight"):  # the first layers are reached only through A and Aᵀ
            assert float(p.grad.abs().max()) > 0, name


@pytest.mark.parametrize("cls", CLASSES)
def test_saved_model_reconstructs_the_same(cls, tmp_path):
    full = arc_fan(180, image_size=32)
    table = {"type": {LearnedGradientDescent: "learned_gradient_descent",
                      LearnedPrimalDual: "learned_primal_dual"}[cls], "iterations": 2, "channels": 4,
             "filter": "hann", "cutoff": 0.6, "arcs": [30, 90], "dilations": [1, 2, 4],
             "coarse": 4 if cls is LearnedGradientDescent else 0}
    model = build_model(table, full.replace(angles=ARC_STEP * np.arange(46)))
    _randomise(model)
    arc, g = cut_arc(torch.as_tensor(recon.ray_transform(holes_phantom(5), full)).float(), full, math.radians(50),
                     math.radians(200))
    save_model(model, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert type(loaded) is cls and loaded.arcs == (30.0, 90.0) and loaded.recipe == model.recipe
    assert loaded.dilations == (1, 2, 4) and "dilations 1, 2, 4" in loaded.learned_parts()
    torch.testing.assert_close(loaded(arc, geometry=g), model(arc, geometry=g), rtol=0, atol=0)
    twin = loaded.for_geometry(g)
    assert twin.geometry == g and next(twin.parameters()) is next(loaded.parameters())  # shared parameters
