"""What the phantom accuracy scripts (landmark_accuracy.py, ring_gap_accuracy.py) share: the unseen-phantom
grid, their command line (an output CSV and a seed range) and the CSV writer."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

GRID = {"shape": (288, 288, 44), "spacing": (1.25, 1.25, 2.5)}


def study_arguments(doc: str) -> argparse.Namespace:
    """`OUT.csv [--seeds FIRST STOP]` (default: the 20 unseen seeds 100-119)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs=2, default=(100, 120), help="first and one-past-last seed")
    return parser.parse_args()


def write_rows(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
