"""Options shared by every command that reads a dataset folder (not a command itself)."""

from __future__ import annotations

import argparse

from atrialjsq.cli.text import add_xyz_argument, positive

LAYOUT_HELP = "auto, lascarqs1, lascarqs2, lasc2018, lasc2018-h5, imagesTr, imagesTs or image-label (default: auto)"


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """`--layout` and `--h5-spacing`, read by `atrialjsq.data.layouts.index_dataset(data, layout, spacing)`."""
    parser.add_argument("--layout", default="auto", help=LAYOUT_HELP)
    add_xyz_argument(
        parser,
        "--h5-spacing",
        positive(float),
        "voxel spacing in mm for the HDF5 release, which stores none (default 0.625 0.625 1.25)",
    )
