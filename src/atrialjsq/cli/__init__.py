"""`atrialjsq` command line: argument parsing only; each subcommand calls one function of a pipeline stage.

Each subcommand lives in its own module `atrialjsq.cli.<name>` defining
`register(subparsers) -> argparse.ArgumentParser` that sets `func=<callable(args) -> int>` as default.
Heavy imports (torch, skimage) happen inside those functions so `atrialjsq --help` stays fast.

Every option's help shows its default and whether it is required (`HelpFormatter`), and a mistake in a
subcommand's options (an unknown option, a bad value found after parsing) shows that subcommand's usage,
not the top-level one.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from pathlib import Path

from atrialjsq import __version__
from atrialjsq.errors import InputError

# Order is the order shown in --help; a module that does not exist yet is skipped.
COMMAND_MODULES = (  # a user's commands first (run, train, ship a model), then evaluation and research tools
    "demo",
    "predict",
    "quantify",
    "check_data",
    "train",
    "bundle",
    "models",
    "configs",
    "evaluate",
    "compare",
    "preprocess",
    "phantom",
    "inject_scar",
    "learngc_train",
    "plot_correlations",
    "experiment",
)


class HelpFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to options whose help does not already say, and "(required)" where it is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.help is argparse.SUPPRESS or not action.option_strings:
            return text
        if action.required and "required" not in text:
            return f"{text} (required)"
        default = action.default
        if "default" in text or default in (None, False, argparse.SUPPRESS) or default == []:
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else "%(default)s"
        return f"{text} (default: {shown})"


class RawDescriptionHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """`HelpFormatter` for commands whose description is laid out by hand."""


class CommandParser(argparse.ArgumentParser):
    """The parser of `atrialjsq` and its subcommands: our help formatter unless a command asks for another."""

    def __init__(self, *args, formatter_class=HelpFormatter, **kwargs) -> None:
        kwargs["formatter_class"] = formatter_class
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
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
        command = module.register(subparsers)
        command.set_defaults(command_parser=command)
    return parser


PACKAGE_DIR = Path(__file__).resolve().parents[1]


def console(argv: list[str] | None = None) -> int:
    """The `atrialjsq` console command: `main` with the package's own warnings shown as one `warning:` line, like
    every other warning the commands print. Only here, not in `main`, which tests and Python callers run with
    their own warning handling (pytest's recorders, `logging.captureWarnings`)."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        ours = category.__module__.startswith("atrialjsq.") or Path(filename).resolve().is_relative_to(PACKAGE_DIR)
        if ours:
            print(f"warning: {message}", file=sys.stderr if file is None else file)
        else:
            previous(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():  # restores the display afterwards
        warnings.showwarning = show
        return main(argv)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    command = getattr(args, "command_parser", None) or parser
    if unknown:
        command.error(f"unrecognized arguments: {' '.join(unknown)}")  # the subcommand's usage, exit 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as error:
        if error.path is None:  # a problem with the options, not with a file: show how the command is used
            command.print_usage(sys.stderr)
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(console())
