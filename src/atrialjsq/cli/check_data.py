"""`atrialjsq check-data DATA`: validate every case of a dataset, print a table, exit 1 on any problem."""

from __future__ import annotations

import argparse
import sys

from atrialjsq.cli.dataset_options import add_dataset_arguments
from atrialjsq.cli.text import plural


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "check-data",
        help="validate a dataset folder (files, geometry, labels) before training",
        description="Check every case: readable, 3D, image/label geometry identical, expected label values, "
        "non-empty LA, finite values, sane spacing (at most 5 mm, as predict), an image that is an MRI (not a "
        "mask, CT-like values or noise, which predict refuses), orthonormal direction cosines (a grid tilted "
        "over 20 degrees from the patient axes is a warning). Prints one row per case with its axes' "
        "orientation (e.g. LPS), then one line per problem.",
    )
    parser.add_argument("data", help="dataset root or a single case folder")
    add_dataset_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from atrialjsq.data.check import check_dataset, format_table

    reports = check_dataset(args.data, args.layout, args.h5_spacing)
    print(format_table(reports))
    failed = [report for report in reports if report.errors]
    print(f"{plural(len(reports), 'case')}: {len(reports) - len(failed)} valid, {len(failed)} with errors")
    sys.stdout.flush()
    for report in reports:
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for error in report.errors:
            print(f"error: {error}", file=sys.stderr)
    return 1 if failed else 0
