"""`atrialjsq preprocess DATA --out CACHE`: build the training cache (image, LA, φ, band, DPM distances)."""

from __future__ import annotations

import argparse

from atrialjsq.cli.dataset_options import add_dataset_arguments
from atrialjsq.cli.text import add_xyz_argument, non_negative, plural, positive, refuse_coarse_spacing


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "preprocess",
        help="resample, normalise, crop and compute training targets once, into a cache folder",
        description="Resample to --spacing, z-score over the whole volume (or --zscore body), crop/pad a window of "
        "ROI + 2*MARGIN voxels around the LA and compute the training targets; written all-or-nothing.",
    )
    parser.add_argument("data", help="dataset root or a single case folder")
    parser.add_argument("--out", required=True, help="cache folder to create (replaced only if it is a cache)")
    add_xyz_argument(parser, "--spacing", positive(float), "grid spacing in mm", default=[1.0, 1.0, 1.0])
    add_xyz_argument(parser, "--roi", positive(int), "network window in voxels", default=[208, 208, 80])
    add_xyz_argument(
        parser,
        "--margin",
        non_negative(int),
        "voxels kept around the window on each side, for random shifts in training",
        default=[16, 16, 8],
    )
    parser.add_argument("--center", choices=("la", "image"), default="la", help="window centre (default: LA box)")
    parser.add_argument("--zscore", choices=("volume", "body"), default="volume", help="z-score region")
    parser.add_argument("--workers", type=positive(int), default=2, help="worker processes (1 = no pool)")
    add_dataset_arguments(parser)
    parser.add_argument("--limit", type=positive(int), default=None, help="only the first N cases (sorted by id)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from atrialjsq.data.cache import build_cache
    from atrialjsq.data.layouts import index_dataset
    from atrialjsq.io.output_check import check_output_folder

    refuse_coarse_spacing(args.spacing)
    check_output_folder(args.out)
    refs = index_dataset(args.data, args.layout, args.h5_spacing)
    if args.limit is not None:
        refs = refs[: args.limit]
    index = build_cache(
        refs,
        args.out,
        spacing=args.spacing,
        roi=args.roi,
        margin=args.margin,
        workers=args.workers,
        center=args.center,
        zscore_region=args.zscore,
    )
    print(
        f"cached {plural(len(index.cases), 'case')} in {index.root} (window {'x'.join(map(str, index.window))} voxels)"
    )
    return 0
