"""`atrialjsq` command line: argument parsing only; each subcommand calls one function of a pipeline stage.

Each subcommand lives in its own module `atrialjsq.cli.<name>` defining
`register(subparsers) -> argparse.ArgumentParser` that sets `func=<callable(args) -> int>` as default.
Heavy imports (torch, skimage) happen inside those functions so `atrialjsq --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from atrialjsq import __version__
from atrialjsq.errors import InputError

# Order is the order shown in --help; a module that does not exist yet is skipped.
COMMAND_MODULES = (
    "demo",
    "predict",
    "quantify",
    "check_data",
    "preprocess",
    "phantom",
    "inject_scar",
    "train",
    "evaluate",
    "compare",
    "plot_correlations",
    "experiment",
    "bundle",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atrialjsq",
        description="Left atrium segmentation and atrial scar quantification from 3D LGE MRI (AtrialJSQnet).",
    )
    parser.add_argument("--version", action="version", version=f"atrialjsq {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"atrialjsq.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"atrialjsq.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
