"""The ``recon`` command line.

Each subcommand has a ``_add_<name>`` function that declares its arguments and a ``_run_<name>`` function
that calls its implementation. Expected failures
(bad input, missing files, refusing to overwrite) print one ``recon <command>: error: ...`` line and
return exit status 2; nothing is written in that case.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import shlex
import sys
import warnings
from typing import Callable, Optional, Sequence

from .._checks import one_line
from .._logging import logger
from .._version import __version__
from ..analytic.filters import WINDOWS
from ..io.atomic import terminate_cleanly
from ..evaluation.evaluate import evaluate
from ..evaluation.scores import REGIONS
from ..simulation.simulate import simulate_to_file
from ..training.loop import train
from ..evaluation.htc2022_report import format_benchmark
from .benchmark import benchmark_htc2022, parse_models
from .calibrate import calibrate_file, parse_params
from .compare import compare_files
from .demo import run_demo
from .describe import describe_file
from .options import (add_centre, add_det_spacing, add_region, add_verbosity, add_view_selection, checked_region,
                      notes_at_verbosity)
from .reconstruct import reconstruct_files
from .stack import parse_slices


# ---- demo ----------------------------------------------------------------------------------------------------

def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="simulate, train and compare learned FBP against analytic FBP on the bundled "
                                    "real scan (HTC2022, sparse views); a few minutes on a laptop CPU")
    p.add_argument("--out", default="recon-demo", help="output folder (default: %(default)s)")
    p.add_argument("--views", type=int, default=60, help="views of the 720 to use (default: %(default)s)")
    p.add_argument("--n-train", type=int, default=120, help="simulated training phantoms (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=4, help="training epochs per model (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")


def _run_demo(args: argparse.Namespace) -> None:
    run_demo(out=args.out, views=args.views, n_train=args.n_train, epochs=args.epochs, force=args.force)


# ---- simulate ------------------------------------------------------------------------------------------------

def _add_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="simulate phantoms and their analytic, noisy sinograms into an HDF5 dataset")
    p.add_argument("--config", required=True, help="simulation config (TOML), e.g. configs/fan_htc.toml")
    p.add_argument("--out", required=True, help="output HDF5 file")
    p.add_argument("--n", type=int, default=None, help="number of samples (default: the config's)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the config's)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: number of CPU cores)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")


def _run_simulate(args: argparse.Namespace) -> None:
    simulate_to_file(args.config, args.out, n=args.n, seed=args.seed, workers=args.workers, force=args.force)


# ---- info ----------------------------------------------------------------------------------------------------

def _add_info(sub) -> None:
    p = sub.add_parser("info", help="describe a file: a scan (shape, geometry, values, centre), a simulated dataset, "
                                    "a model or run folder, a reference, a reconstruction or a JSON record")
    p.add_argument("file", help="scan (.mat, .h5/.nxs, .tif, .npy, .xtekct), dataset, model.pt/run folder, "
                                "reference, reconstruction TIFF or recon's .json records")
    p.add_argument("--geometry", default=None, help="TOML geometry sidecar for files that carry no geometry")


def _run_info(args: argparse.Namespace) -> None:
    print(describe_file(args.file, geometry=args.geometry))


def _add_calibrate(sub) -> None:
    p = sub.add_parser("calibrate", help="estimate a scan's rotation centre from its data and write its geometry "
                                         "with it as a TOML sidecar (read by reconstruct/compare/info --geometry)")
    p.add_argument("file", help="scan file (.mat, .h5/.hdf5/.nxs, .tif/.tiff, .npy)")
    p.add_argument("--out", required=True, help="the calibrated geometry, a .toml sidecar")
    p.add_argument("--params", default="offset", metavar="offset[,tilt][,sdd]",
                   help="what to calibrate: offset (the rotation centre, any scan); tilt (the detector turned in its "
                        "plane) and sdd for full-turn flat fan scans, kept where the data decide them")
    p.add_argument("--geometry", default=None, help="TOML geometry sidecar for files that carry no geometry")
    p.add_argument("--force", action="store_true", help="overwrite an existing sidecar")


def _run_calibrate(args: argparse.Namespace) -> None:
    out, text, _ = calibrate_file(args.file, args.out, geometry=args.geometry, force=args.force,
                                  params=parse_params(args.params))
    print(text)
    logger.info(f"wrote {out}")


# ---- train ---------------------------------------------------------------------------------------------------

def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a known-operator model on a simulated dataset "
                                     "(also under torchrun for DistributedDataParallel)")
    p.add_argument("--config", required=True, help="training config (TOML), e.g. configs/train_fbp_htc60.toml")
    p.add_argument("--data", default=None, help="training data (HDF5 from recon simulate); default: the config's")
    p.add_argument("--out", required=True, help="run folder (model.pt, checkpoint.pt, metrics, plots)")
    p.add_argument("--epochs", type=int, default=None, help="override the config's number of epochs")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    p.add_argument("--force", action="store_true", help="start over in a non-empty run folder")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the config's [training] device)")


def _run_train(args: argparse.Namespace) -> None:
    summary = train(args.config, args.out, data=args.data, resume=args.resume, force=args.force,
                    epochs=args.epochs, device=args.device)
    if summary.get("lstsq") and "gap_to_lstsq" in summary:
        print(f"final training MSE {summary['final_train_mse']:.5g} = least-squares optimum "
              f"{summary['lstsq']['loss']:.5g} × (1 {summary['gap_to_lstsq']:+.2%})")
    logger.info(f"wrote {args.out}")


# ---- evaluate ------------------------------------------------------------------------------------------------

def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score a trained model against Ram-Lak and tuned-window FBP "
                                        "(or interpolation rebinning) on a simulated test set")
    p.add_argument("--model", required=True, help="model file (RUN_DIR/model.pt) or run folder")
    p.add_argument("--data", required=True, help="test data (HDF5 from recon simulate)")
    p.add_argument("--out", default=None, help="folder for evaluation.json/.md/.png (default: print only)")
    p.add_argument("--tune-fraction", type=float, default=0.25,
                   help="share of the test file used to tune the analytic filters (default: %(default)s)")
    p.add_argument("--max-samples", type=int, default=None, help="use at most this many samples")
    p.add_argument("--tv", action="store_true", help="also TV-regularised reconstruction (Chambolle–Pock, λ tuned "
                                                      "on the tuning samples; slow: hundreds of projections an image)")
    add_region(p)
    p.add_argument("--force", action="store_true", help="overwrite existing evaluation files")


def _run_evaluate(args: argparse.Namespace) -> None:
    region = checked_region(args)
    report = evaluate(args.model, args.data, out=args.out, tune_fraction=args.tune_fraction,
                      max_samples=args.max_samples, force=args.force, tv=args.tv, region=region)
    print(f"{report['n_tune']} samples tuned the analytic filters; {report['n_test']} scored "
          f"(PSNR/SSIM/RMSE {REGIONS[region]}; PSNR data range: max − min of each ground-truth image there)\n")
    print(report["table"])
    if args.out:
        logger.info(f"wrote {args.out}")


# ---- reconstruct ---------------------------------------------------------------------------------------------

def _add_reconstruct(sub) -> None:
    p = sub.add_parser("reconstruct", help="reconstruct scan files (TIFF/HDF5/.mat/.npy) by FBP, a trained "
                                           "model or rebinning + FBP; writes float32 TIFF + PNG preview")
    p.add_argument("scans", nargs="+", metavar="SCAN", help="scan file(s), folder or glob of TIFFs")
    p.add_argument("--out", required=True, help="output .tif (one single-slice scan) or folder")
    p.add_argument("--method", choices=("fbp", "learned", "rebin", "sirt", "cgls", "tv"), default=None,
                   help="default: learned with --model, else fbp; sirt, cgls and tv iterate on the exact operators")
    p.add_argument("--iterations", type=int, default=None,
                   help="iterations of sirt/cgls/tv (default: 100, 30, at most 300)")
    p.add_argument("--tv-lambda", type=float, default=None, metavar="LAMBDA",
                   help="TV weight for --method tv (line integral² per 1/mm; 0.03 suits the HTC2022 scans)")
    p.add_argument("--model", default=None, help="trained model (RUN_DIR or model.pt): --method learned")
    p.add_argument("--geometry", default=None, help="TOML geometry sidecar for files without geometry")
    p.add_argument("--filter", default="ram-lak", help=f"FBP window: {', '.join(WINDOWS)} (default: %(default)s)")
    p.add_argument("--cutoff", type=float, default=1.0, help="FBP cut-off, fraction of Nyquist (default: 1)")
    add_view_selection(p)
    add_centre(p)
    p.add_argument("--image-size", type=int, default=None,
                   help="pixels per side (default: the scan's; cone beam: voxels per side in-plane, default the "
                        "detector's columns)")
    p.add_argument("--pixel-size", type=float, default=None,
                   help="pixel size in mm (default: the scan's; cone beam: the voxel size, default the detector "
                        "pitch at the rotation axis)")
    p.add_argument("--slices", type=_slices_option, default=None, metavar="K|A:B",
                   help="cone beam: K slices of the volume (default: the detector's rows); multi-slice 2-D scans "
                        "(one slice per detector row): read and reconstruct rows A to B-1 only (default: all), "
                        "written as one volume (.tif multi-page or .h5)")
    add_det_spacing(p)
    p.add_argument("--binning", type=int, default=None, metavar="B",
                   help="Nikon .xtekct scans: average B × B detector pixels while reading (default: 1)")
    p.add_argument("--every", type=int, default=None, metavar="N",
                   help="Nikon .xtekct scans: keep every N-th projection while reading (default: 1)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")


def _slices_option(text: str):
    try:
        return parse_slices(text)
    except ValueError as error:  # argparse's own words would be "invalid _slices_option value"
        raise argparse.ArgumentTypeError(str(error).removeprefix(f"--slices {text!r}: ")) from None


def _run_reconstruct(args: argparse.Namespace) -> None:
    if args.method is None:
        args.method = "learned" if args.model is not None else "fbp"
    if args.method == "learned" and args.model is None:
        raise ValueError("--method learned needs --model RUN_DIR (or model.pt)")
    if args.method != "learned" and args.model is not None:
        raise ValueError(f"--model is used by --method learned only; with --method {args.method} it would be "
                         "ignored: drop --method or --model")
    written = reconstruct_files(args.scans, args.out, method=args.method, model_path=args.model,
                                geometry=args.geometry, filter=args.filter, cutoff=args.cutoff, views=args.views,
                                angles=args.angles, image_size=args.image_size, pixel_size=args.pixel_size,
                                device=args.device, force=args.force, centre=args.center,
                                det_offset=args.det_offset, iterations=args.iterations, tv_lambda=args.tv_lambda,
                                slices=args.slices,
                                read_options={k: v for k, v in (("binning", args.binning), ("every", args.every),
                                                                ("det_spacing", args.det_spacing)) if v is not None})
    for path in written:
        logger.info(f"wrote {path} (+ {path.with_suffix('.png').name})")


# ---- compare -------------------------------------------------------------------------------------------------

def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="learned models vs analytic FBP (Ram-Lak, tuned window) and rebinning on "
                                       "scans: figures, metrics.json and report.md per scan, a summary over many")
    p.add_argument("scans", nargs="+", metavar="SCAN",
                   help="scan file(s) or folder(s) (as for recon reconstruct); several get one report each and a summary")
    p.add_argument("--model", action="append", default=[], help="trained model (RUN_DIR or model.pt); repeatable")
    p.add_argument("--reference", action="append", default=None,
                   help="reference image (HTC *_recon_fbp.mat or TIFF); default: FBP of all views of the scan. With "
                        "several scans: repeat once per scan, or one template with {stem}, e.g. DIR/{stem}_recon_fbp.mat")
    p.add_argument("--segmentation", action="append", default=None,
                   help="ground-truth segmentation (HTC *_seg.mat or TIFF); per scan like --reference")
    p.add_argument("--geometry", default=None, help="TOML geometry sidecar for files without geometry")
    add_view_selection(p)
    p.add_argument("--tv", action="store_true", help="also TV-regularised reconstruction (Chambolle–Pock; λ tuned on "
                                                      "the first model's training data and, as an oracle, on the scan)")
    add_region(p)
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--force", action="store_true", help="overwrite an existing report")


def _run_compare(args: argparse.Namespace) -> None:
    region = checked_region(args)
    result = compare_files(args.scans, args.out, args.model, reference=args.reference,
                           segmentation=args.segmentation, geometry=args.geometry, views=args.views,
                           angles=args.angles, force=args.force, tv=args.tv, region=region)
    print(result["report"].split("\n![")[0])
    logger.info(f"wrote {args.out}/{'summary.md' if 'summary' in result else 'report.md'}")


# ---- benchmark -----------------------------------------------------------------------------------------------

def _add_benchmark(sub) -> None:
    p = sub.add_parser("benchmark", help="challenge-grade benchmarks: htc2022 = the HTC2022 limited-angle challenge "
                                         "scored per level (MCC of segmentations), markdown + JSON + figures")
    p.add_argument("name", choices=["htc2022"], help="the benchmark")
    p.add_argument("data", help="HTC2022 data folder: the challenge's test set (htc2022_0<level><x>_limited.mat + "
                                "*_recon_fbp_seg.mat) or the training phantoms (htc2022_<name>_full.mat + "
                                "*_full_recon_fbp_seg.mat, cut to every level's arc)")
    p.add_argument("--model", action="append", default=[], metavar="[ARC=]RUN",
                   help="the limited-angle model for one level, e.g. 90=runs/limited_90_completion, or a model of "
                        "many arcs (e.g. an unrolled network trained with [data] arcs = [30, 90]) for every level in "
                        "its range, e.g. runs/unrolled_arcs (or all=RUN); repeatable")
    p.add_argument("--starts", type=float, nargs="+", default=[0.0, 90.0, 180.0, 270.0], metavar="DEG",
                   help="start angles of the arcs cut from full scans (training phantoms); default 0 90 180 270")
    p.add_argument("--levels", type=int, nargs="+", default=None, help="levels to score (1…7; default all)")
    p.add_argument("--segmentation", choices=["htc2022", "otsu"], default="htc2022",
                   help="segmentation procedure: the organisers' (default) or plain Otsu")
    tv = p.add_mutually_exclusive_group()
    tv.add_argument("--tv-lambda", type=float, default=None, metavar="LAMBDA",
                    help="TV row with this λ at every level (also levels without a model) instead of λ tuned per "
                         "level on the model's training data")
    tv.add_argument("--no-tv", action="store_true", help="no TV row (TV takes seconds per reconstruction)")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--force", action="store_true", help="overwrite an existing report")


def _benchmark_command(args: argparse.Namespace) -> str:
    """The command line that regenerates this benchmark (stored in its record)."""
    words = ["recon", "benchmark", args.name, args.data, *[w for m in args.model for w in ("--model", m)],
             "--starts", *[f"{s:g}" for s in args.starts], "--segmentation", args.segmentation]
    words += ["--levels", *map(str, args.levels)] if args.levels else []
    words += ["--tv-lambda", repr(args.tv_lambda)] if args.tv_lambda is not None else []
    words += ["--no-tv"] if args.no_tv else []
    return " ".join(shlex.quote(w) for w in words + ["--out", args.out])


def _run_benchmark(args: argparse.Namespace) -> None:
    record = benchmark_htc2022(args.data, args.out, parse_models(args.model), starts_deg=args.starts,
                               segmentation=args.segmentation, levels=args.levels, force=args.force,
                               command=_benchmark_command(args), tv=not args.no_tv, tv_lambda=args.tv_lambda)
    print(format_benchmark(record).split("\n![")[0])
    logger.info(f"wrote {args.out}/benchmark.md")


# ---- entry point ---------------------------------------------------------------------------------------------

_COMMANDS: dict[str, tuple[Callable, Callable[[argparse.Namespace], None]]] = {
    "demo": (_add_demo, _run_demo),
    "simulate": (_add_simulate, _run_simulate),
    "info": (_add_info, _run_info),
    "calibrate": (_add_calibrate, _run_calibrate),
    "train": (_add_train, _run_train),
    "evaluate": (_add_evaluate, _run_evaluate),
    "reconstruct": (_add_reconstruct, _run_reconstruct),
    "compare": (_add_compare, _run_compare),
    "benchmark": (_add_benchmark, _run_benchmark),
}


# what to type: the library's messages name arguments, not this command line's flags
_HINTS: dict[tuple[Optional[str], type], str] = {
    ("train", FileExistsError): "",  # the run folder's message says what to do (resume or start over)
    (None, FileExistsError): " (pass --force to overwrite)",
}


def build_parser() -> argparse.ArgumentParser:
    """The ``recon`` command line: every subcommand and option (also what the documentation's CLI reference is
    generated from)."""
    parser = argparse.ArgumentParser(
        prog="recon",
        description="Physics-derived (known-operator) CT reconstruction: exact projectors, FBP, learned FBP.")
    parser.add_argument("--version", action="version", version=f"recon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add, _ in _COMMANDS.values():
        add(sub)
    add_verbosity(parser)
    return parser


def _warning_printer(command: str):
    """``warnings.showwarning`` that prints one ``recon <command>: warning: ...`` line (no source line)."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"recon {command}: warning: {' '.join(str(message).split())}", file=file or sys.stderr)
    return show


def _parse(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """``parse_args``, but an unknown option is reported by its subcommand (its usage, not the top level's) with
    the closest option it has."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices.get(args.command)
        if sub is None:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        options = [o for a in sub._actions for o in a.option_strings]
        close = difflib.get_close_matches(extra[0].split("=")[0], options, n=1)
        sub.error(f"unrecognized arguments: {' '.join(extra)}" + (f" (did you mean {close[0]}?)" if close else ""))
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = _parse(parser, argv)
    if args.command is None:
        parser.print_help()
        return 0
    terminate_cleanly()
    with warnings.catch_warnings(), notes_at_verbosity(args):
        warnings.showwarning = _warning_printer(args.command)
        try:
            _COMMANDS[args.command][1](args)
        except BrokenPipeError:  # the reader of stdout is gone (``recon info … | head -1``): stop quietly
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return 141  # 128 + SIGPIPE, as a command killed by the closed pipe
        except (OSError, ValueError, TypeError, KeyError, MemoryError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else err
            if isinstance(err, MemoryError):
                message = f"out of memory ({one_line(err)}); try smaller sizes or a machine with more memory"
            hint = _HINTS.get((args.command, type(err)), _HINTS.get((None, type(err)), ""))
            print(f"recon {args.command}: error: {' '.join(str(message).split())}{hint}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"recon {args.command}: interrupted", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
