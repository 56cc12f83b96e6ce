"""Score held-out LA predictions on the native grid: Dice, Jaccard, HD95 and ASD in voxels and in mm.

Each probability map (on its case's compact window, training spacing) is resampled linearly onto the native
grid (`infer.predictor.to_input_grid`, 0 outside the window), thresholded at 0.5 and, unless disabled,
reduced to its largest 26-connected component (`infer.localize.largest_component`), then compared with the
native label by `evaluate.la_metrics.la_metrics` (medpy definitions; voxel distances use unit spacing, mm
distances the native spacing, 0.625×0.625×1.25 mm for LASC 2018). Outputs: per_case.csv, per_fold.csv,
summary.json and summary.md.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from atrialjsq.errors import InputError
from atrialjsq.evaluate.statistics import NO_VALUE, mean_sd_text, summary_stats
from atrialjsq.io.atomic import atomic_path, write_json
from studies.lasc2018.compact import CompactCase, load_compact
from studies.lasc2018.cross_validation import read_predictions

# Columns reported (la_metrics names), in table order.
REPORTED = ("Dice_LA", "Jaccard_LA", "HD95_vox", "ASD_vox", "HD95_mm", "ASD_mm")
ALL_METRICS = (*REPORTED, "ASSD_vox", "HD_vox", "ASSD_mm", "HD_mm")


def native_mask(case: CompactCase, probability: np.ndarray, largest_component: bool = True) -> np.ndarray:
    """The predicted LA on the case's native grid (bool), brought back as the Predictor brings its maps back
    (`infer.predictor.to_input_grid`, linear) and post-processed as it is (largest component of p > 0.5)."""
    from atrialjsq.infer.localize import largest_component as keep_largest
    from atrialjsq.infer.predictor import to_input_grid

    window = case.window_geometry
    if tuple(probability.shape) != window.shape:
        raise ValueError(f"prediction for {case.case_id} has shape {probability.shape}, window {window.shape}")
    mask = to_input_grid(np.asarray(probability, dtype=np.float32), window, case.native_geometry) > 0.5
    return keep_largest(mask) if largest_component else mask


def score_case(case: CompactCase, probability: np.ndarray, largest_component: bool = True) -> dict[str, float]:
    """la_metrics of one held-out case on its native grid."""
    from atrialjsq.evaluate.la_metrics import la_metrics

    mask = native_mask(case, probability, largest_component)
    return la_metrics(mask, case.la_native > 0, case.native_geometry.spacing)


def table_number(name: str, value: float) -> str:
    """A metric as the summary tables print it: Dice and Jaccard in percent, others as they are, two decimals;
    "–" for an undefined value (NaN: no case, an SD of one case)."""
    if math.isnan(value):
        return NO_VALUE
    return f"{100 * value:.2f}" if name.startswith(("Dice", "Jaccard")) else f"{value:.2f}"


def _strict(value: Any) -> Any:
    """The summary with NaN/inf (an empty or missed LA) as null, so the file is strict JSON."""
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_strict(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    with atomic_path(path) as tmp:
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def _markdown(per_fold: Sequence[dict[str, Any]], overall: dict[str, dict[str, float]], notes: list[str]) -> str:
    header = "| fold | cases | iterations | train s | " + " | ".join(REPORTED) + " |"
    lines = [header, "|" + " --- |" * (4 + len(REPORTED))]

    for row in per_fold:
        values = " | ".join(table_number(name, row[name]) for name in REPORTED)
        lines.append(f"| {row['fold']} | {row['cases']} | {row['iterations']} | {row['train_seconds']} | {values} |")
    values = " | ".join(mean_sd_text(overall[name], partial(table_number, name)) for name in REPORTED)
    lines.append(f"| all | {overall['Dice_LA']['n']} | | | {values} |")
    return "\n".join(lines + [""] + [f"- {note}" for note in notes]) + "\n"


def score_predictions(
    compact_path: str | Path,
    prediction_files: Sequence[str | Path],
    out: str | Path,
    largest_component: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every case of every predictions file against the compact file's native labels; write the
    tables into `out` and return the summary (also out/summary.json)."""
    if not prediction_files:
        raise InputError(None, "no predictions files given")
    loaded = []
    for path in prediction_files:
        header, maps = read_predictions(path)
        if any("la" not in case_maps for case_maps in maps.values()):
            raise InputError(path, "holds no LA probabilities (a network without an LA head)")
        loaded.append((Path(path), header, {case_id: case_maps["la"] for case_id, case_maps in maps.items()}))
    ids = sorted({case_id for _, _, probabilities in loaded for case_id in probabilities})
    compact = load_compact(compact_path, ids)
    seen: dict[str, Path] = {}
    rows, per_fold = [], []
    for path, header, probabilities in loaded:
        fold_rows = []
        for case_id in tqdm(sorted(probabilities), desc=f"score fold {header.get('fold')}", disable=not progress):
            if case_id in seen:
                raise InputError(path, f"case {case_id} is also predicted in {seen[case_id]}")
            seen[case_id] = path
            metrics = score_case(compact.case(case_id), probabilities[case_id], largest_component)
            fold_rows.append({"fold": header.get("fold"), "case": case_id, **{m: metrics[m] for m in ALL_METRICS}})
        rows.extend(fold_rows)
        means = {name: summary_stats([row[name] for row in fold_rows])["mean"] for name in ALL_METRICS}
        per_fold.append(
            {
                "fold": header.get("fold"),
                "cases": len(fold_rows),
                "iterations": header.get("iterations"),
                "train_seconds": header.get("train_seconds"),
                "seconds_budget": header.get("seconds_budget"),
                "tta": header.get("tta"),
                **means,
            }
        )
    per_fold.sort(key=lambda row: (row["fold"] is None, row["fold"]))
    rows.sort(key=lambda row: (row["fold"] is None, row["fold"], row["case"]))
    overall = {name: summary_stats([row[name] for row in rows]) for name in ALL_METRICS}
    spacing = list(compact.cases[0].native_geometry.spacing)
    notes = [
        f"{len(rows)} held-out cases; no checkpoint was chosen on held-out labels (weights at each fold's deadline).",
        f"Largest-connected-component post-processing: {'on' if largest_component else 'off'}; "
        f"flip TTA: {'on' if any(row.get('tta') for row in per_fold) else 'off'}.",
        f"Distances in voxels of the native grid (medpy without spacing) and in mm at spacing {spacing} mm.",
        f"Network grid: spacing {list(compact.spacing)} mm; compact z margin {compact.header.get('z_margin_mm')} mm.",
    ]
    summary = {
        "format": "atrialjsq-real-data-cv-v1",
        "largest_component": largest_component,
        "native_spacing_mm": spacing,
        "per_fold": per_fold,
        "overall": overall,
        "notes": notes,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(rows, out / "per_case.csv")
    _write_csv(per_fold, out / "per_fold.csv")
    write_json(out / "summary.json", _strict(summary), strict=True)
    with atomic_path(out / "summary.md") as tmp:
        tmp.write_text(_markdown(per_fold, overall, notes))
    return summary
