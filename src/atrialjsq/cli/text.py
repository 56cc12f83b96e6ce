"""Wording shared by the commands' console output, and the argument types they share (not a command itself)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """ "1 case", "2 cases": counts read as sentences, not as "1 case(s)"."""
    return f"{count} {noun if count == 1 else (plural_form or noun + 's')}"


def batch_summary(total: int, done: int, failed: Sequence[str], skipped: int = 0, verb: str = "written") -> str:
    """The last line of a batch, e.g. "3 of 4 cases written; 1 failed: p07", so a failure in a long log is seen."""
    line = f"{done} of {plural(total, 'case')} {verb}"
    if skipped:
        line += f", {skipped} skipped (already finished)"
    if failed:
        shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        line += f"; {len(failed)} failed: {shown}"
    return line


def number(kind=float, *, minimum: float | None = None, strict: bool = False):
    """An argparse type: a finite number of `kind` (NaN and inf are refused: every comparison with NaN is
    false, so range checks downstream would let it through), at least `minimum` (above it with `strict`);
    a comma list (the old "576,576,44") gets a hint."""

    def parse(text: str):
        if "," in text:
            spaced = text.replace(",", " ")
            raise argparse.ArgumentTypeError(f"write the values separated by spaces ({spaced}), not {text!r}")
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if minimum is not None and (value <= minimum if strict else value < minimum):
            wanted = (
                ("positive" if strict else "non-negative")
                if minimum == 0
                else f"{'above' if strict else 'at least'} {minimum:g}"
            )
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def positive(kind):
    """An argparse type: a finite positive number of `kind` (spacings, sizes, counts, rates)."""
    return number(kind, minimum=0, strict=True)


def non_negative(kind):
    """An argparse type: a finite number of `kind` that is zero or more (strengths where 0 means off)."""
    return number(kind, minimum=0)


def add_xyz_argument(parser: argparse.ArgumentParser, flag: str, kind, help: str, default=None) -> None:
    """A per-axis option (`--spacing X Y Z`, `--roi X Y Z`): three values of the argparse type `kind`."""
    parser.add_argument(flag, nargs=3, type=kind, default=default, metavar=("X", "Y", "Z"), help=help)


THREADS_HELP = "CPU threads for torch (default: torch's choice, one per core; give 1 to each of two runs sharing a CPU)"


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """`--threads N`: two runs sharing the cores at torch's default (one thread per core each) wait on each other's
    threads and run several times slower; one thread each keeps the machine's throughput (README, Performance)."""
    parser.add_argument("--threads", type=positive(int), default=None, help=THREADS_HELP)


def apply_threads(threads: int | None) -> None:
    """Set torch's intra-op thread count when asked (imports torch only then)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def add_overwrite_file_argument(parser: argparse.ArgumentParser) -> None:
    """`--overwrite` for a command that writes one `--out` file: without it an existing file is refused."""
    parser.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists")


def refuse_coarse_spacing(spacing) -> None:
    """`--spacing` coarser than `predict` accepts (data.plausibility.MAX_SPACING_MM) makes no usable grid: refused."""
    from atrialjsq.data.plausibility import MAX_SPACING_MM
    from atrialjsq.errors import InputError

    if spacing and max(spacing) > MAX_SPACING_MM:
        raise InputError(None, f"--spacing over {MAX_SPACING_MM:g} mm is too coarse to show an LA wall")
