"""Argument groups that several ``recon`` subcommands share: the scoring region, the view selection
(``--views``/``--angles``), the rotation centre (``--center``/``--det-offset``) and the detector pitch of scans
that record none (``--det-spacing``)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys

from ..evaluation.scores import REGIONS
from .._logging import logger
from .centring import centre_choice

__all__ = ["add_region", "checked_region", "add_view_selection", "add_centre", "add_det_spacing", "add_verbosity",
           "notes_at_verbosity"]


def add_region(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", default="fov", metavar="{" + ",".join(REGIONS) + "}",
                   help="where PSNR, SSIM and RMSE are scored: fov = inside the field of view, the inscribed disc of "
                        "the image grid (default); square = the whole square grid")


def checked_region(args: argparse.Namespace) -> str:
    """``--region``, checked before any work (one error line naming the flag, like every expected failure)."""
    if args.region not in REGIONS:
        raise ValueError(f"--region must be one of {', '.join(REGIONS)}, got {args.region!r}")
    return args.region


def _angle_range(text: str) -> tuple[float, float]:
    """``START:STOP`` in degrees → radians."""
    try:
        start, stop = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP in degrees, e.g. 0:90, got {text!r}") from None
    if not (math.isfinite(start) and math.isfinite(stop)) or not 0.0 < stop - start <= 360.0:
        raise argparse.ArgumentTypeError(f"START:STOP must be an arc of more than 0° and at most 360° (one turn), "
                                         f"got {text!r}")
    return math.radians(start), math.radians(stop)


def add_view_selection(p: argparse.ArgumentParser) -> None:
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--views", type=int, default=None, help="use this many evenly spaced views (sparse view)")
    sel.add_argument("--angles", type=_angle_range, default=None, metavar="START:STOP",
                     help="use the views on this arc, degrees (short scan / limited angle)")


def _centre_arg(text: str):
    try:
        return centre_choice(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_centre(p: argparse.ArgumentParser) -> None:
    centre = p.add_mutually_exclusive_group()
    centre.add_argument("--center", type=_centre_arg, default=None, metavar="auto|keep|COLUMN",
                        help="rotation centre: auto (estimated from the data), keep (the file's, unchecked) or a "
                             "detector column (0-based); default: the file's, with a warning where the data put it "
                             "more than half an element away")
    centre.add_argument("--det-offset", type=float, default=None, metavar="LENGTH",
                        help="detector offset (the geometry's det_offset: mm, or detector pixels for a scan that "
                             "records no pixel size), instead of the file's")


def add_det_spacing(p: argparse.ArgumentParser) -> None:
    p.add_argument("--det-spacing", type=float, default=None, metavar="MM",
                   help="detector pitch in mm, for scans that record no pixel size (default: lengths in detector "
                        "pixels, attenuation per pixel)")


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """``-q/--quiet`` and ``-v/--verbose`` on every command that runs (the leaves of the parser tree: an option
    on a parent would be reset by its subcommand's default)."""
    children = [p for a in parser._actions if isinstance(a, argparse._SubParsersAction) for p in a.choices.values()]
    for child in children:
        add_verbosity(child)
    if children or parser.prog == "recon":
        return
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true",
                       help="only warnings and errors: no notes, no progress bars")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="also details (files, formats, shapes, geometries) as the command works")


@contextlib.contextmanager
def notes_at_verbosity(args: argparse.Namespace):
    """The ``recon`` logger's notes on stdout for the time of one command, at the level ``-q``/``-v`` ask for."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = (logging.WARNING if getattr(args, "quiet", False) else
             logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # (a script that configured logging and calls main() gets each line once)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.level, logger.propagate = saved
