"""The command-line shape shared by the study scripts that run a fold's model on that fold's held-out scans as
acquired: MODEL DATA_DIR FOLDS.json FOLD OUT, and the held-out cases read from the saved split."""

from __future__ import annotations

import argparse
from pathlib import Path

from atrialjsq.data.layouts import CaseRef, index_dataset
from atrialjsq.data.splits import load_folds
from atrialjsq.errors import InputError


def add_held_out_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the fold's model bundle")
    parser.add_argument("data", type=Path, help="the LASC 2018 release")
    parser.add_argument("folds", type=Path, help="the run's folds.json")
    parser.add_argument("fold", type=int)
    parser.add_argument("out", type=Path)


def held_out_refs(data: Path, folds_json: Path, fold: int) -> list[CaseRef]:
    """The release's cases held out of `fold` (validated split; an unknown fold is an InputError)."""
    folds = load_folds(folds_json)
    if not 0 <= fold < len(folds):
        raise InputError(folds_json, f"has folds 0-{len(folds) - 1}, not fold {fold}")
    held_out = set(folds[fold]["val"])
    return [ref for ref in index_dataset(data) if ref.case_id in held_out]
