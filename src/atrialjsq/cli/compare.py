"""`atrialjsq compare A.csv B.csv`: paired significance tests between two methods' per-case metrics."""

from __future__ import annotations

import argparse
import sys

from atrialjsq.cli.text import add_overwrite_file_argument, plural


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "compare",
        help="paired Wilcoxon and t-test per metric between two per-case CSVs",
        description=(
            "Pair the cases of two per_case.csv files (from atrialjsq evaluate) by id and test every shared "
            "metric with the Wilcoxon signed-rank test and the paired t-test (two-sided). Asterisks as in the "
            "paper: * p < 0.01, ** p < 0.001. Prints a markdown table."
        ),
    )
    parser.add_argument("a", help="per-case CSV of method A")
    parser.add_argument("b", help="per-case CSV of method B")
    parser.add_argument("--names", nargs=2, metavar=("A", "B"), help="method names for the table header")
    parser.add_argument("--metrics", nargs="+", help="only these metric columns (default: all shared)")
    parser.add_argument("--out", help="also write the table as CSV here")
    add_overwrite_file_argument(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from atrialjsq.errors import InputError
    from atrialjsq.evaluate.statistics import compare_tables, format_markdown, read_metric_csv, write_comparison_csv
    from atrialjsq.io.output_check import check_output_file

    if args.out:
        check_output_file(args.out, inputs=(args.a, args.b), overwrite=args.overwrite)
    table_a, table_b = read_metric_csv(args.a), read_metric_csv(args.b)
    if args.metrics:
        for path, table in ((args.a, table_a), (args.b, table_b)):
            columns = next(iter(table.values()))
            absent = [m for m in args.metrics if m not in columns]
            if absent:
                raise InputError(path, f"no column {', '.join(absent)}")
    results, cases = compare_tables(table_a, table_b, args.metrics)
    if not cases:
        raise InputError(args.b, f"shares no case id with {args.a}")
    only = len(set(table_a) ^ set(table_b))
    names = args.names or [Path(args.a).parent.name or "A", Path(args.b).parent.name or "B"]
    print(f"{plural(len(cases), 'paired case')}" + (f" ({only} unpaired left out)" if only else ""))
    print(format_markdown(results, *names))
    if args.out:
        write_comparison_csv(results, args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
