"""The ``recon`` command line."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from . import __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recon",
        description="Physics-derived (known-operator) CT reconstruction: exact projectors, FBP, learned FBP.")
    parser.add_argument("--version", action="version", version=f"recon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="project and backproject a Shepp-Logan phantom in every geometry, "
                                       "check against analytic line integrals, and save a figure")
    demo.add_argument("--out", default="recon-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--size", type=int, default=256, help="image size in pixels (default: %(default)s)")
    demo.add_argument("--force", action="store_true", help="overwrite existing outputs")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "demo":
            from .demo import run_demo

            run_demo(out=args.out, size=args.size, force=args.force)
    except (FileExistsError, ValueError, TypeError) as err:
        print(f"recon {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
