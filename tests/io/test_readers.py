"""Readers for real scanner files: synthetic files of every layout (so CI without the shared data
exercises each path) and, where available, the real files in ``$RECON_SHARED_DATA``."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
import tifffile

import recon
from recon.app.info import describe_scan
from recon.io import (ScanFormatError, read_array, read_dxchange, read_htc_mat, read_htc_reference,
                      read_nxtomo, read_scan, read_tiff)

from .files import (HTC, N_DET, N_ROWS, N_VIEWS, TOOTH, angles_deg, line_integrals, listing, needs_htc, needs_tooth, parallel_table, raw_counts, write_dxchange, write_htc, write_mat73, write_nxtomo, write_sidecar)


def test_htc_synthetic_drops_the_duplicate_view(tmp_path):
    path = tmp_path / "htc_small.mat"
    sino = write_htc(path)
    scan = read_scan(path, image_size=32)
    assert scan.format == "htc2022-mat" and scan.sinogram.shape == (8, 16)
    np.testing.assert_allclose(scan.sinogram, sino[:-1], rtol=1e-6)
    g = scan.geometry
    assert isinstance(g, recon.FanBeam) and g.detector == "flat"
    assert (g.sod, g.sdd, g.det_spacing, g.image_size) == (100.0, 150.0, 0.5, 32)
    assert g.pixel_size == pytest.approx(1 / 3)
    np.testing.assert_allclose(np.rad2deg(g.angles), np.arange(8) * 45.0)
    assert scan.info["dropped_duplicate_view"] and scan.info["values"] == "log"
    assert read_htc_mat(path, image_size=16, pixel_size=1.0).geometry.pixel_size == 1.0


def test_htc_limited_struct_and_missing_fields(tmp_path):
    limited = tmp_path / "htc_limited.mat"
    write_htc(limited, name="CtDataLimited", n_views=5)  # 0 … 360 in 90° steps: last repeats the first
    assert read_htc_mat(limited, image_size=32).sinogram.shape == (4, 16)
    broken = tmp_path / "htc_broken.mat"
    write_htc(broken, drop=("distanceSourceOrigin",))
    with pytest.raises(ScanFormatError, match=rf"^{broken}: CtDataFull.parameters has no field "
                                              r"'distanceSourceOrigin'; it has .*'angles'"):
        read_htc_mat(broken, image_size=32)
    with pytest.raises(ScanFormatError, match=rf"^{limited}: .*source circle"):
        read_htc_mat(limited)  # the default 512-pixel organisers' grid does not fit this small geometry


@needs_htc
def test_htc_real_file_geometry_and_fbp_match_the_organisers():
    scan = read_scan(HTC / "htc2022_ta_full.mat")
    assert scan.sinogram.shape == (720, 560) and scan.sinogram.dtype == np.float32
    g = scan.geometry
    assert isinstance(g, recon.FanBeam) and g.detector == "flat"
    assert (g.sod, g.sdd, g.det_spacing, g.det_offset) == (410.66, 553.74, 0.2, 0.0)
    assert (g.image_size, g.pixel_size) == (512, pytest.approx(0.148322, abs=1e-6))
    np.testing.assert_allclose(np.rad2deg(g.angles), np.arange(720) * 0.5, atol=1e-9)
    assert scan.info["dropped_duplicate_view"]
    image = recon.fbp(scan.sinogram, g)
    reference = read_htc_reference(HTC / "htc2022_ta_full_recon_fbp.mat")
    assert reference.shape == (512, 512)
    assert np.corrcoef(image.ravel(), reference.ravel())[0, 1] >= 0.999
    assert image.mean() / reference.mean() == pytest.approx(1.0, abs=0.01)
    assert np.median(reference[reference > 0.5 * reference.max()]) == pytest.approx(0.027, rel=0.3)  # acrylic, 1/mm
    seg = read_htc_reference(HTC / "htc2022_ta_full_recon_fbp_seg.mat")
    assert seg.dtype == np.uint8 and set(np.unique(seg)) == {0, 1}
    assert np.mean((image > 0.5 * np.median(image[seg == 1])) == (seg == 1)) > 0.97


@needs_htc
def test_htc_reference_is_not_a_scan():
    path = HTC / "htc2022_ta_full_recon_fbp.mat"
    with pytest.raises(ScanFormatError, match="reference image .*read_htc_reference"):
        read_scan(path)
    with pytest.raises(ScanFormatError, match="expected one HTC reference image"):
        read_htc_reference(HTC / "htc2022_ta_full.mat")


def test_dxchange_raw_counts_give_back_the_line_integrals(tmp_path):
    p = line_integrals()
    path = write_dxchange(tmp_path / "scan.h5", p)
    scan = read_scan(path)
    assert scan.format == "dxchange-hdf5" and scan.sinogram.shape == (N_ROWS, N_VIEWS, N_DET)
    np.testing.assert_allclose(scan.sinogram, np.moveaxis(p, 1, 0), atol=1e-5)
    g = scan.geometry
    assert isinstance(g, recon.ParallelBeam) and (g.det_spacing, g.image_size, g.pixel_size) == (1.0, N_DET, 1.0)
    np.testing.assert_allclose(np.rad2deg(g.angles), angles_deg())
    info = scan.info
    assert info["values"] == "raw" and info["n_clipped"] == 0 and info["pixel_units"]
    assert (info["n_flats"], info["n_darks"], info["rows"]) == (3, 2, [0, 1, 2])
    one = read_dxchange(path, rows=1)
    assert one.sinogram.shape == (N_VIEWS, N_DET)
    np.testing.assert_allclose(one.sinogram, p[:, 1], atol=1e-5)
    two = read_dxchange(path, rows=[2, 0])
    np.testing.assert_allclose(two.sinogram, np.moveaxis(p[:, [2, 0]], 1, 0), atol=1e-5)
    np.testing.assert_array_equal(two.slice(0).sinogram, read_dxchange(path, rows=2).sinogram)
    mm = read_dxchange(path, rows=0, det_spacing=0.05, image_size=8)
    assert (mm.geometry.det_spacing, mm.geometry.pixel_size, mm.geometry.image_size) == (0.05, 0.05, 8)
    assert not mm.info["pixel_units"]


def test_dxchange_center_sets_det_offset(tmp_path):
    path = write_dxchange(tmp_path / "scan.h5", line_integrals())
    for center in (4.0, 7.5, 10.25):
        g = read_dxchange(path, rows=0, center=center).geometry
        assert g.det_offset == pytest.approx(((N_DET - 1) / 2 - center) * g.det_spacing)
        np.testing.assert_allclose(np.interp(center, np.arange(N_DET), g.det_coords), 0.0, atol=1e-12)
    g = read_dxchange(path, rows=0, center=4.0, det_spacing=0.5).geometry
    assert g.det_offset == pytest.approx((7.5 - 4.0) * 0.5)  # centre in columns, offset in mm


def test_off_centre_rotation_axis_reconstructs_in_place(tmp_path):
    """A disc at (x0, y0) scanned with the rotation axis at column c: reading with center=c puts it back."""
    n_det, n_views, c, x0, y0, r = 64, 90, 27.0, 5.0, -3.0, 6.0
    theta = np.arange(n_views) * np.pi / n_views
    u = (np.arange(n_det) - c)[None, :]                      # detector position relative to the axis
    s = x0 * np.cos(theta) + y0 * np.sin(theta)              # where the disc centre projects
    p = 0.05 * 2 * np.sqrt(np.clip(r ** 2 - (u - s[:, None]) ** 2, 0, None))
    raw, flats, darks = raw_counts(p[:, None, :])
    with h5py.File(tmp_path / "disc.h5", "w") as f:
        f["exchange/data"], f["exchange/data_white"], f["exchange/data_dark"] = raw, flats, darks
        f["exchange/theta"] = np.rad2deg(theta)
    right = read_scan(tmp_path / "disc.h5", center=c)
    assert right.sinogram.shape == (n_views, n_det)
    image = recon.fbp(right.sinogram, right.geometry)
    xs = right.geometry.pixel_coords
    y, x = np.meshgrid(xs[::-1], xs, indexing="ij")  # pixel centres: row 0 is the +y edge
    inside = image > 0.5 * image.max()
    assert (x[inside].mean(), y[inside].mean()) == (pytest.approx(x0, abs=0.1), pytest.approx(y0, abs=0.1))
    assert image.max() == pytest.approx(0.05, rel=0.1)
    truth = 0.05 * ((x - x0) ** 2 + (y - y0) ** 2 < r ** 2)
    middle = read_scan(tmp_path / "disc.h5")  # rotation axis assumed at the middle column
    assert middle.geometry.det_offset == 0.0
    wrong = recon.fbp(middle.sinogram, middle.geometry)
    assert np.sqrt(np.mean((image - truth) ** 2)) < 0.5 * np.sqrt(np.mean((wrong - truth) ** 2))


def test_dxchange_problems_are_named(tmp_path):
    p = line_integrals()
    no_white = write_dxchange(tmp_path / "no_white.h5", p, white=False)
    with pytest.raises(ScanFormatError, match=rf"^{no_white}: has no flat fields \(exchange/data_white\)"):
        read_scan(no_white)
    no_theta = write_dxchange(tmp_path / "no_theta.h5", p, theta=False)
    with pytest.raises(ScanFormatError, match="has no exchange/theta: give its geometry as a TOML sidecar \\(--geometry FILE.toml"):
        read_scan(no_theta)
    scan = read_scan(no_theta, geometry=parallel_table(), rows=0)
    assert scan.geometry.det_spacing == 0.5
    with pytest.raises(ScanFormatError, match=r"detector row\(s\) \[3\] out of range: the data have 3 rows"):
        read_scan(no_theta, rows=3)
    with pytest.raises(ScanFormatError, match="12 views × 16 detector elements but the geometry has 10 views"):
        read_scan(no_theta, geometry=parallel_table(n_views=10))
    with pytest.raises(TypeError, match=r"option\(s\) \['axes'\] do not apply to read_dxchange"):
        read_scan(no_theta, geometry=parallel_table(), axes="det,views")


def test_raw_counts_below_dark_are_clipped_and_counted(tmp_path):
    p = line_integrals()
    raw, flats, darks = raw_counts(p)
    dark = darks.mean(0)
    raw[0, 0, :5] = dark[0, :5] - 10.0
    raw[3, 2, 7] = 0.0
    with h5py.File(tmp_path / "low.h5", "w") as f:
        f["exchange/data"], f["exchange/data_white"], f["exchange/data_dark"] = raw, flats, darks
        f["exchange/theta"] = angles_deg()
    scan = read_scan(tmp_path / "low.h5")
    assert scan.info["n_clipped"] == 6 and np.all(np.isfinite(scan.sinogram))
    assert scan.sinogram[0, 0, :5] == pytest.approx(-np.log(1e-6))
    assert "6 pixel(s) clipped" in describe_scan(tmp_path / "low.h5")


def test_all_zero_flats_are_an_error(tmp_path):
    p = line_integrals()
    raw, flats, darks = raw_counts(p)
    with h5py.File(tmp_path / "zero.h5", "w") as f:
        f["exchange/data"], f["exchange/data_white"] = raw, np.zeros_like(flats)
        f["exchange/theta"] = angles_deg()
    with pytest.raises(ScanFormatError, match=rf"^{tmp_path / 'zero.h5'}: flat field is all zero"):
        read_scan(tmp_path / "zero.h5")
    flats[:, 1, :4] = darks.mean(0)[1, :4]
    with h5py.File(tmp_path / "dim.h5", "w") as f:
        f["exchange/data"], f["exchange/data_white"], f["exchange/data_dark"] = raw, flats, darks
        f["exchange/theta"] = angles_deg()
    with pytest.raises(ScanFormatError, match=r"flat - dark ≤ 0 in 4 of 48 detector pixels"):
        read_scan(tmp_path / "dim.h5")
    assert read_scan(tmp_path / "dim.h5", rows=0).sinogram.shape == (N_VIEWS, N_DET)  # row 0 is fine


@needs_tooth
def test_tooth_real_raw_counts_and_rotation_centre():
    one = read_scan(TOOTH, rows=0)
    assert one.format == "dxchange-hdf5" and one.sinogram.shape == (181, 640)
    assert np.all(np.isfinite(one.sinogram)) and one.info["n_clipped"] == 0
    assert -0.5 < one.sinogram.min() and one.sinogram.max() < 5
    assert one.info["pixel_units"] and one.geometry.det_spacing == 1.0
    assert read_scan(TOOTH).sinogram.shape == (2, 181, 640)

    centred = read_scan(TOOTH, rows=0, center=296)
    assert centred.geometry.det_offset == pytest.approx(23.5) and centred.rotation_center == pytest.approx(296)

    def focus(center):
        """Image variance (sharpness) and negative mass (the arcs a wrong centre draws) of the FBP
        (Hann window against noise: the gradient energy of these images is noise-dominated)."""
        scan = read_scan(TOOTH, rows=0, center=center) if center is not None else one
        image = recon.fbp(scan.sinogram, scan.geometry.replace(image_size=400), filter="hann", cutoff=0.5)
        return float(image.var()), float(-image[image < 0].sum())

    # a ±23.5-column error either way (319.5 is the middle column, the default), and nearer misses
    results = {c: focus(c) for c in (280, 290, 296, 302, 310, 343)}
    results[319.5] = focus(None)
    assert max(results, key=lambda c: results[c][0]) == 296
    var_c, neg_c = results[296]
    for wrong in (319.5, 343):
        assert var_c > 1.02 * results[wrong][0] and neg_c < 0.3 * results[wrong][1]


@pytest.mark.parametrize("attributes", [True, False])
def test_nxtomo_splits_frames_by_image_key(tmp_path, attributes):
    p = line_integrals()
    path = write_nxtomo(tmp_path / "scan.nxs", p, attributes=attributes)
    scan = read_scan(path, rows=[0, 2])
    assert scan.format == "nxtomo-hdf5" and scan.sinogram.shape == (2, N_VIEWS, N_DET)
    np.testing.assert_allclose(scan.sinogram, np.moveaxis(p[:, [0, 2]], 1, 0), atol=1e-5)
    np.testing.assert_allclose(np.rad2deg(scan.geometry.angles), angles_deg())
    assert (scan.info["n_flats"], scan.info["n_darks"]) == (3, 2)
    assert scan.info["recorded_pixel_size"].startswith("6.5e-06 m")


def test_nxtomo_radians_and_missing_pieces(tmp_path):
    p = line_integrals()
    path = write_nxtomo(tmp_path / "rad.nxs", p, unit="rad")
    np.testing.assert_allclose(np.rad2deg(read_nxtomo(path, rows=0).geometry.angles), angles_deg())
    with h5py.File(path, "a") as f:
        f["entry/instrument/detector/image_key"][...] = np.where(f["entry/instrument/detector/image_key"][()] == 1,
                                                                 2, f["entry/instrument/detector/image_key"][()])
    with pytest.raises(ScanFormatError, match=r"has no flat fields \(image_key == 1\)"):
        read_nxtomo(path)
    odd = tmp_path / "odd.h5"
    with h5py.File(odd, "w") as f:
        f["entry/measurement/frames"] = np.ones((3, 4, 5))
    with pytest.raises(ScanFormatError, match=rf"^{odd}: is neither DataExchange .* holds 'entry/measurement/frames'"):
        read_scan(odd)
    with pytest.raises(ScanFormatError, match="no NXtomo entry"):
        read_nxtomo(odd)


def test_tiff_stack_with_flats_and_darks(tmp_path):
    p = line_integrals()
    raw, flats, darks = raw_counts(p)
    tifffile.imwrite(tmp_path / "proj.tif", raw)             # one multi-page file, a page per view
    for k, frame in enumerate(flats):
        tifffile.imwrite(tmp_path / f"flat_{k}.tif", frame)  # single images, found by a glob
    tifffile.imwrite(tmp_path / "dark.tif", darks)
    sidecar = write_sidecar(tmp_path / "proj.toml",
                             {"values": "raw", "flat": "flat_*.tif", "dark": "dark.tif", "row": 1})
    scan = read_scan(tmp_path / "proj.tif")                   # the sidecar next to it is found
    assert scan.format == "tiff" and scan.sinogram.shape == (N_VIEWS, N_DET)
    np.testing.assert_allclose(scan.sinogram, p[:, 1], atol=1e-5)
    assert scan.info["sidecar"] == str(sidecar) and scan.geometry.det_spacing == 0.5
    every = read_tiff(tmp_path / "proj.tif", sidecar, rows=[0, 1, 2])
    assert every.sinogram.shape == (N_ROWS, N_VIEWS, N_DET)


def test_tiff_folder_and_glob_sorted_by_number(tmp_path):
    p = line_integrals()
    raw, flats, darks = raw_counts(p)
    (tmp_path / "proj").mkdir()
    for k, frame in enumerate(raw):  # proj_2 must come before proj_10
        tifffile.imwrite(tmp_path / "proj" / f"proj_{k}.tiff", frame)
    np.save(tmp_path / "flats.npy", flats)
    table = parallel_table()
    for spec in (tmp_path / "proj", str(tmp_path / "proj" / "proj_*.tiff")):
        scan = read_scan(spec, geometry=table, values="raw", flat=tmp_path / "flats.npy", dark=darks, rows=0)
        np.testing.assert_allclose(scan.sinogram, p[:, 0], atol=1e-5)


def test_tiff_single_sinogram_image(tmp_path):
    p = line_integrals(shape=(N_VIEWS, N_DET)).astype(np.float32)
    tifffile.imwrite(tmp_path / "sino.tif", p.T)
    sidecar = write_sidecar(tmp_path / "meta.toml", {"axes": "det,views"})
    scan = read_scan(tmp_path / "sino.tif", geometry=sidecar)
    np.testing.assert_array_equal(scan.sinogram, p)
    tifffile.imwrite(tmp_path / "counts.tif", np.round(60000 * np.exp(-p)).astype(np.uint16))
    with pytest.raises(ScanFormatError, match="integer data .* look like raw counts"):
        read_scan(tmp_path / "counts.tif", geometry=parallel_table())
    counts = read_scan(tmp_path / "counts.tif", geometry=parallel_table(), values="raw", i0=60000)
    np.testing.assert_allclose(counts.sinogram, p, atol=1e-3)  # uint16 rounding


@pytest.mark.parametrize("axes", ["views,det", "det,views"])
def test_npy_with_sidecar_in_both_axis_orders(tmp_path, axes):
    p = line_integrals(shape=(N_VIEWS, N_DET)).astype(np.float32)
    np.save(tmp_path / "sino.npy", p if axes == "views,det" else p.T)
    sidecar = write_sidecar(tmp_path / "scan.toml", {"file": "sino.npy", "axes": axes},
                             parallel_table(det_offset=0.25))
    for scan in (read_scan(sidecar), read_scan(tmp_path / "sino.npy", geometry=sidecar)):
        assert scan.format == "array+sidecar"
        np.testing.assert_array_equal(scan.sinogram, p)
        assert scan.geometry.det_offset == 0.25 and scan.info["axes"] == axes


def test_wrong_axis_order_suggests_the_transpose(tmp_path):
    p = line_integrals(shape=(N_VIEWS, N_DET)).astype(np.float32)
    np.save(tmp_path / "sino.npy", p.T)
    sidecar = write_sidecar(tmp_path / "scan.toml", {"file": "sino.npy"})
    with pytest.raises(ScanFormatError, match=rf'^{tmp_path / "sino.npy"}: the data give 16 views × 12 detector '
                                              r'elements but the geometry has 12 views × 16 .*set axes = "det,views"'):
        read_scan(sidecar)
    np.save(tmp_path / "stack.npy", np.zeros((N_ROWS, N_DET, N_VIEWS), np.float32))
    with pytest.raises(ScanFormatError, match='set axes = "rows,det,views"'):
        read_scan(tmp_path / "stack.npy", geometry=parallel_table(), axes="rows,views,det")
    assert read_scan(tmp_path / "stack.npy", geometry=parallel_table(), axes="rows,det,views").n_slices == N_ROWS
    with pytest.raises(ScanFormatError, match="axes = 'views,det' does not fit 3-D data"):
        read_scan(tmp_path / "stack.npy", geometry=parallel_table(), axes="views,det")


def test_mat_and_hdf5_arrays_raw_with_references(tmp_path):
    p = line_integrals()
    raw, flats, darks = raw_counts(p)
    stack = np.moveaxis(raw, 0, 1)  # rows, views, det
    scipy.io.savemat(tmp_path / "scan.mat", {"counts": stack, "white": np.moveaxis(flats, 0, 1),
                                             "black": darks.mean(0)})
    sidecar = write_sidecar(tmp_path / "scan.toml", {"file": "scan.mat", "variable": "counts",
                                                      "axes": "rows,views,det", "values": "raw",
                                                      "flat": "white", "dark": "black"})
    scan = read_scan(sidecar)
    np.testing.assert_allclose(scan.sinogram, np.moveaxis(p, 1, 0), atol=1e-5)
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["scan/sino"] = p[:, 0].T
        f["other"] = np.zeros(3)
    scan = read_array(tmp_path / "plain.h5", parallel_table(), variable="/scan/sino", axes="det,views")
    np.testing.assert_allclose(scan.sinogram, p[:, 0], rtol=1e-6)
    with pytest.raises(ScanFormatError, match=r"holds datasets 'other', 'scan/sino': name one with variable"):
        read_array(tmp_path / "plain.h5", parallel_table())
    with pytest.raises(ScanFormatError, match=r"has no variable 'nope'; it holds 'counts', 'white', 'black'"):
        read_array(tmp_path / "scan.mat", parallel_table(), variable="nope")


def test_mat73_and_npz_arrays(tmp_path):
    p = line_integrals(shape=(N_VIEWS, N_DET))
    write_mat73(tmp_path / "v73.mat", sino=p, other=np.zeros(3))
    scan = read_scan(tmp_path / "v73.mat", geometry=parallel_table(), variable="sino")
    np.testing.assert_allclose(scan.sinogram, p, rtol=1e-6)
    with pytest.raises(ScanFormatError, match="MATLAB v7.3"):
        read_htc_mat(tmp_path / "v73.mat")
    np.savez(tmp_path / "scan.npz", sino=p.T)
    scan = read_scan(tmp_path / "scan.npz", geometry=parallel_table(), axes="det,views")
    np.testing.assert_allclose(scan.sinogram, p, rtol=1e-6)


def test_sidecar_errors_name_the_sidecar(tmp_path):
    np.save(tmp_path / "sino.npy", np.zeros((N_VIEWS, N_DET), np.float32))
    bad_key = tmp_path / "bad_key.toml"
    write_sidecar(bad_key, {"file": "sino.npy", "layout": "x"})
    with pytest.raises(ScanFormatError, match=rf"^{bad_key}: \[data\] has unknown key\(s\) \['layout'\]"):
        read_scan(bad_key)
    no_geom = tmp_path / "no_geom.toml"
    no_geom.write_text('[data]\nfile = "sino.npy"\n')
    with pytest.raises(ScanFormatError, match=rf"^{no_geom}: has no \[geometry\] table"):
        read_scan(no_geom)
    broken = tmp_path / "broken.toml"
    broken.write_text("[geometry\n")
    with pytest.raises(ScanFormatError, match=rf"^{broken}: not valid TOML"):
        read_scan(tmp_path / "sino.npy", geometry=broken)
    incomplete = tmp_path / "incomplete.toml"
    write_sidecar(incomplete, {"file": "sino.npy"}, {"type": "parallel", "n_det": 16})
    with pytest.raises(ScanFormatError, match=rf"^{incomplete}: \[geometry\] is missing det_spacing"):
        read_scan(incomplete)
    raw_no_flat = tmp_path / "raw.toml"
    write_sidecar(raw_no_flat, {"file": "sino.npy", "values": "raw"})
    with pytest.raises(ScanFormatError, match="raw counts need exactly one of flat .* and i0"):
        read_scan(raw_no_flat)
    with pytest.raises(ScanFormatError, match=rf"^{tmp_path / 'sino.npy'}: is a plain array without geometry"):
        read_scan(tmp_path / "sino.npy")
    dx = write_dxchange(tmp_path / "dx.h5", line_integrals())
    with pytest.raises(ScanFormatError, match=r"describes its own layout: the \[data\] keys \['axes'\]"):
        read_scan(dx, geometry=write_sidecar(tmp_path / "dx.toml", {"axes": "det,views"}))


@pytest.mark.parametrize("name, content", [
    ("corrupt.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 40),
    ("corrupt.mat", b"MATLAB 5.0 MAT-file" + b"\x00" * 30),
    ("corrupt.tif", b"II*\x00" + b"\xff" * 20),
    ("corrupt.npy", b"\x93NUMPY\x01\x00garbage"),
    ("random.nxs", bytes(range(256)) * 4),
])
def test_corrupt_files_give_one_line_naming_the_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    geometry = write_sidecar(tmp_path / "g.toml")
    with pytest.raises(ScanFormatError) as info:
        read_scan(path, geometry=geometry)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message


def test_truncated_hdf5_and_non_finite_data(tmp_path):
    full = write_dxchange(tmp_path / "full.h5", line_integrals(shape=(40, 8, 64)))
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ScanFormatError, match=rf"^{truncated}: cannot read"):
        read_scan(truncated)
    p = line_integrals(shape=(N_VIEWS, N_DET)).astype(np.float32)
    p[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", p)
    with pytest.raises(ScanFormatError, match=rf"^{tmp_path / 'nan.npy'}: the data contain 1 NaN/Inf"):
        read_scan(tmp_path / "nan.npy", geometry=parallel_table())
    with pytest.raises(ScanFormatError, match=rf"^{tmp_path / 'missing.h5'}: no such file"):
        read_scan(tmp_path / "missing.h5")
    (tmp_path / "scan.xyz").write_text("?")
    with pytest.raises(ScanFormatError, match="cannot tell the scan format from the extension '.xyz'"):
        read_scan(tmp_path / "scan.xyz")


def test_readers_write_nothing(tmp_path):
    write_dxchange(tmp_path / "dx.h5", line_integrals())
    write_nxtomo(tmp_path / "nx.nxs", line_integrals())
    write_htc(tmp_path / "htc.mat")
    np.save(tmp_path / "sino.npy", np.zeros((N_VIEWS, N_DET), np.float32))
    write_sidecar(tmp_path / "sino.toml", {"file": "sino.npy"})
    before = listing(tmp_path)
    for name in ("dx.h5", "nx.nxs", "sino.npy", "sino.toml"):
        read_scan(tmp_path / name)
    read_scan(tmp_path / "htc.mat", image_size=32)
    assert listing(tmp_path) == before



CONE_NX = {"source/distance": (-0.3, "m"), "detector/distance": (20.0, "cm"), "detector/x_pixel_size": (200.0, "um"),
           "detector/y_pixel_size": (0.25, "mm")}


def test_nxtomo_with_a_source_at_a_finite_distance_is_a_cone_beam_scan(tmp_path, capsys):
    from recon.app.cli import main
    from recon.io import ConeScan

    p = line_integrals(shape=(N_VIEWS, 6, N_DET))
    scan = read_scan(write_nxtomo(tmp_path / "cone.nxs", p, cone=CONE_NX))
    assert isinstance(scan, ConeScan) and scan.format == "nxtomo-hdf5"
    g = scan.geometry
    assert (g.sod, g.sdd, g.det_spacing, g.det_shape) == (pytest.approx(300.0), pytest.approx(500.0),
                                                          pytest.approx((0.25, 0.2)), (6, N_DET))
    np.testing.assert_allclose(np.rad2deg(g.angles), angles_deg())
    np.testing.assert_allclose(scan.projections, p, atol=1e-5)  # raw counts, flats, darks → line integrals
    assert main(["info", str(tmp_path / "cone.nxs")]) == 0
    assert "ConeBeam" in capsys.readouterr().out
    # y pixel size taken equal to x where only x is recorded; a zero source distance is a parallel scan
    only_x = {k: v for k, v in CONE_NX.items() if k != "detector/y_pixel_size"}
    assert read_scan(write_nxtomo(tmp_path / "x.nxs", p, cone=only_x)).geometry.det_spacing == pytest.approx((0.2, 0.2))
    flat = dict(CONE_NX, **{"source/distance": (0.0, "m")})
    assert not isinstance(read_scan(write_nxtomo(tmp_path / "par.nxs", p, cone=flat)), ConeScan)


@pytest.mark.parametrize("change, message", [
    ({"source/distance": (-0.3, None)}, "has no units attribute; recon reads lengths in"),
    ({"detector/distance": (20.0, "furlong")}, "has units 'furlong'"),
    ({"detector/distance": None}, "no instrument/detector/distance"),
    ({"detector/x_pixel_size": None}, "needs instrument/detector/x_pixel_size"),
    ({"detector/distance": (-5.0, "mm")}, "the detector must lie behind the sample"),
    ({"source/distance": (float("nan"), "m")}, "is nan"),
])
def test_cone_nxtomo_geometry_that_cannot_be_trusted_is_refused(tmp_path, change, message):
    fields = {k: v for k, v in {**CONE_NX, **change}.items() if v is not None}
    path = write_nxtomo(tmp_path / "cone.nxs", line_integrals(shape=(N_VIEWS, 6, N_DET)), cone=fields)
    with pytest.raises(ScanFormatError, match=message):
        read_scan(path)


def test_cone_nxtomo_refuses_2d_options(tmp_path):
    path = write_nxtomo(tmp_path / "cone.nxs", line_integrals(shape=(N_VIEWS, 6, N_DET)), cone=CONE_NX)
    with pytest.raises(ScanFormatError, match="cone-beam NXtomo scan, read whole"):
        read_scan(path, rows=2)
