"""What the study scripts on held-out cases share: the command-line shape of those that run a fold's model on that
fold's held-out scans as acquired (MODEL DATA_DIR FOLDS.json FOLD OUT, the cases read from the saved split), and of
those that read the folds' saved predictions on the injected scar (INJECTED.npz ORIGINAL.npz OUT PREDICTIONS...);
their per-case tables and summaries, written atomically."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from atrialjsq.data.case import Case
from atrialjsq.data.layouts import CaseRef, index_dataset, load_case
from atrialjsq.data.splits import load_folds
from atrialjsq.errors import InputError
from atrialjsq.evaluate.la_metrics import la_metrics
from atrialjsq.infer.localize import largest_component
from atrialjsq.io.atomic import atomic_path, write_json


def add_held_out_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the fold's model bundle")
    parser.add_argument("data", type=Path, help="the LASC 2018 release")
    parser.add_argument("folds", type=Path, help="the run's folds.json")
    parser.add_argument("fold", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "--training",
        type=int,
        default=0,
        metavar="N",
        help="score the first N (by id) of the fold's training cases instead of its held-out ones: how well the "
        "network fits what it saw",
    )


def add_injected_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("injected", type=Path, help="compact file with injected scar (inject-scar --compact)")
    parser.add_argument("original", type=Path, help="the compact file the scar was injected into")
    parser.add_argument("out", type=Path)
    parser.add_argument("predictions", type=Path, nargs="+", help="the folds' predictions.npz")


def held_out_refs(data: Path, folds_json: Path, fold: int, training: int = 0) -> list[CaseRef]:
    """The release's cases held out of `fold` (validated split; an unknown fold is an InputError), or with
    `training` > 0 the first `training` of the cases it trained on."""
    folds = load_folds(folds_json)
    if not 0 <= fold < len(folds):
        raise InputError(folds_json, f"has folds 0-{len(folds) - 1}, not fold {fold}")
    if training < 0:
        raise InputError(None, f"--training must be a positive number of cases, got {training}")
    wanted = set(sorted(folds[fold]["train"])[:training]) if training else set(folds[fold]["val"])
    return [ref for ref in index_dataset(data) if ref.case_id in wanted]


def held_out_predictions(args: argparse.Namespace, predictor: Any) -> Iterator[tuple[CaseRef, Case, Any]]:
    """Each held-out case of `args.fold` (the shape `add_held_out_arguments` parses), read, with `predict`'s
    prediction on its native grid (`Predictor.predict_volume`), with a progress bar."""
    refs = held_out_refs(args.data, args.folds, args.fold, getattr(args, "training", 0))
    for ref in tqdm(refs, desc=f"fold {args.fold}", unit="case"):
        case = load_case(ref)
        yield ref, case, predictor.predict_volume(case.image)


def la_scores(mask: np.ndarray, manual: np.ndarray, spacing) -> dict[str, float]:
    """The largest component of `mask` scored against the expert label as `predict`'s LA is: Dice, HD95 (voxels)."""
    metrics = la_metrics(largest_component(mask), manual, spacing)
    return {"Dice_LA": round(float(metrics["Dice_LA"]), 6), "HD95_vox": round(float(metrics["HD95_vox"]), 4)}


def write_rows(path: Path, rows: list[dict]) -> None:
    """A per-case table as CSV, written atomically (its folder made if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_table_and_summary(out: Path, rows: list[dict], summary: dict) -> None:
    """`out/per_case.csv` and `out/summary.json`, each written atomically; the summary also printed."""
    write_rows(out / "per_case.csv", rows)
    write_json(out / "summary.json", summary, indent=2)
    print(json.dumps(summary, indent=2))


def run_script(main: Callable[[], int]) -> int:
    """`main()`, with an InputError (a missing or wrong file, an unknown fold) as one `error:` line and exit status
    2 instead of a traceback; the scripts write their tables only after every case is read, so nothing is left."""
    try:
        return main()
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
