"""`atrialjsq plot-correlations`: the paper's Fig. 8 scatter plots from a per-case CSV."""

from __future__ import annotations

import argparse

from atrialjsq.cli.text import add_overwrite_file_argument


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plot-correlations",
        help="Fig. 8 scatter plots (Dice_s vs Dice_LA, Dice_s vs scar %%, manual vs automatic scar %%)",
        description=(
            "Read a per_case.csv (from atrialjsq evaluate; needs Dice_LA, Dice_s, scar_pct_manual, "
            "scar_pct_auto) and draw the paper's three correlation panels with least-squares lines and r²."
        ),
    )
    parser.add_argument("csv", help="per-case CSV")
    parser.add_argument("--out", default="correlations.png", help="PNG to write (default: correlations.png)")
    parser.add_argument("--title", help="figure title")
    add_overwrite_file_argument(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    import numpy as np

    from atrialjsq.errors import InputError
    from atrialjsq.evaluate.correlations import columns_of, plot_correlations
    from atrialjsq.evaluate.statistics import read_metric_csv
    from atrialjsq.io.output_check import check_output_file

    if Path(args.out).suffix.lower() != ".png":  # the figure is a PNG whatever the name says
        raise InputError(args.out, "the figure is a PNG: give --out a .png name")
    check_output_file(args.out, inputs=(args.csv,), overwrite=args.overwrite)
    columns = columns_of(read_metric_csv(args.csv), args.csv)
    fits = plot_correlations(columns, args.out, title=args.title)
    for name, fit in fits.items():
        print(f"{name}: r² = {fit.r2:.3f}, slope = {fit.slope:.4g}, intercept = {fit.intercept:.4g}, n = {fit.n}")
        if fit.n < 3 or not np.isfinite(fit.r2):  # two points always fit a line; fewer, or a constant x, none
            print(f"warning: {args.csv}: {name} has {fit.n} usable case(s) or a constant x: no correlation to read",
                  file=sys.stderr)  # fmt: skip
    print(f"wrote {args.out}")
    return 0
