"""Evaluate a folder of LAScarQS-named predictions against a ground-truth dataset folder.

Predictions: `<pred>/<case>/LA_predict.nii.gz` and `scar_predict.nii.gz` (the LAScarQS submission names).
Ground truth: any layout `atrialjsq.data.layouts` reads (LAScarQS task 1 `<gt>/<case>/atriumSegImgMO.nii.gz`
and `scarSegImgM.nii.gz`; LASC 2018 and its HDF5 release give LA metrics only). Cases are matched by folder
name. Every ground-truth case needs a prediction: a missing one is an error unless `allow_missing` is set.
A prediction must lie on its reference's grid (shape, spacing, origin and direction, as check-data compares
an image and its labels): metrics are computed voxel by voxel, so a shifted or flipped grid would be scored
as a bad segmentation. A case that cannot be scored (off-grid, unreadable, a probability map) is listed with
its reason and the others are still scored.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from atrialjsq.data.layouts import (
    BINARY_MASK_VALUES,
    GEOMETRY_TOLERANCE,
    CaseRef,
    index_dataset,
    label_values,
    load_case,
)
from atrialjsq.errors import InputError
from atrialjsq.evaluate.la_metrics import la_metrics
from atrialjsq.evaluate.scar_metrics import SCAR_FORMS, SCAR_METRIC_NAMES, scar_metrics
from atrialjsq.evaluate.statistics import NO_VALUE, summary_stats
from atrialjsq.io import Geometry, atomic_path, read_volume
from atrialjsq.io.atomic import write_json
from atrialjsq.io.geometry import triple

PRED_LA = "LA_predict.nii.gz"
PRED_SCAR = "scar_predict.nii.gz"
# Layouts whose label files can be read on their own (no image needed, any non-zero value is the structure).
_LABEL_FILE_LAYOUTS = ("lascarqs1", "lascarqs2", "lasc2018")
SPACING_TOLERANCE = 1e-3
# What the scar percentages of per_case.csv count (report.json's burden_percent is another definition).
SCAR_PCT_DEFINITIONS = {
    "scar_pct_manual": "manual scar surface voxels / surface voxels of the manual LA x 100 (the paper's protocol)",
    "scar_pct_auto": "predicted scar projected onto the manual LA surface: its surface voxels / surface voxels of "
    "the manual LA x 100; report.json's burden_percent is the scar area share of the predicted LA's mesh "
    "instead, so the two differ for the same case",
}


@dataclass
class GroundTruth:
    """Binary masks of one reference case and the spacing its metrics use."""

    case_id: str
    la: np.ndarray
    scar: np.ndarray | None
    spacing: tuple[float, float, float]
    folder: Path
    exclude: np.ndarray | None = None
    geometry: Geometry | None = None  # the reference grid a prediction must lie on (None: shape/spacing only)


@dataclass
class Evaluation:
    """Per-case rows (dicts with "case" first), the cases without prediction, and predictions without GT."""

    rows: list[dict[str, float | str]]
    missing: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    failed: list[tuple[str, InputError]] = field(default_factory=list)  # (case id, why it was not scored)


def _read_binary(path: Path, strict: bool = False) -> tuple[np.ndarray, Geometry]:
    """A mask file, any non-zero integer being foreground (the label layouts' rule for reference files); NaN,
    fractions (probability maps) and negative values are refused. `strict` (predictions): only {0, 1} or
    {0, 255}, since reading every non-zero value of a multi-label map as the LA would score a structure nobody
    meant."""
    volume = read_volume(path)
    values = {int(v) for v in label_values(volume.array, path)}
    if strict and not any(values <= allowed for allowed in BINARY_MASK_VALUES):
        raise InputError(
            path, f"holds label values {sorted(values)[:10]}; a binary mask ({{0, 1}} or {{0, 255}}) is needed"
        )
    return volume.array != 0, volume.geometry


def read_ground_truth(ref: CaseRef, spacing: Sequence[float] | None = None, exclude_name: str | None = None):
    """The LA (and scar, when the layout has one) of a reference case as boolean arrays."""
    folder = ref.image_path.parent
    if ref.layout in _LABEL_FILE_LAYOUTS:
        la, geometry = _read_binary(ref.label_paths["la"])
        scar = None
        if "scar" in ref.label_paths:
            scar, scar_geometry = _read_binary(ref.label_paths["scar"])
            problem = geometry.mismatch(scar_geometry, GEOMETRY_TOLERANCE)
            if problem is not None:
                raise InputError(ref.label_paths["scar"], f"scar grid differs from the LA label's: {problem}")
    else:
        case = load_case(ref)
        la = case.labels["la"].array != 0
        scar = case.labels["scar"].array != 0 if "scar" in case.labels else None
        geometry = case.image.geometry
    file_spacing = geometry.spacing
    exclude = None
    if exclude_name:
        exclude, _ = _read_binary(folder / exclude_name)
        if exclude.shape != la.shape:
            raise InputError(folder / exclude_name, f"shape {exclude.shape} != LA shape {la.shape}")
    used = triple(float(s) for s in (spacing or file_spacing))
    return GroundTruth(ref.case_id, la, scar, used, folder, exclude, geometry)


def read_prediction(path: Path, truth: GroundTruth, spacing_override: bool) -> np.ndarray:
    """A binary prediction on the reference grid: same shape, spacing (unless overridden), origin and direction."""
    mask, geometry = _read_binary(path, strict=True)
    if mask.shape != truth.la.shape:
        raise InputError(path, f"shape {mask.shape} != ground truth shape {truth.la.shape} of case {truth.case_id}")
    if not spacing_override and not np.allclose(geometry.spacing, truth.spacing, rtol=SPACING_TOLERANCE):
        raise InputError(
            path, f"spacing {geometry.spacing} != ground truth spacing {truth.spacing}; pass --spacing to override"
        )
    if truth.geometry is not None:
        # With --spacing the files' spacing is ignored, so the origin (in mm) is too; the axes must still agree.
        reference = truth.geometry
        if spacing_override:
            reference = Geometry(reference.shape, geometry.spacing, geometry.origin, reference.direction)
        problem = reference.mismatch(geometry, GEOMETRY_TOLERANCE)
        if problem is not None:
            raise InputError(path, f"not on the grid of ground truth case {truth.case_id}: {problem}")
    return mask


def evaluate_case(
    truth: GroundTruth, la_pred: np.ndarray, scar_pred: np.ndarray | None, scar_form: str = "auto"
) -> dict[str, float | str]:
    """All metrics of one case; scar metrics are NaN when the reference has no scar label. `scar_form`: how the
    automatic scar is projected (`scar_metrics.surface_labels`: a wall label, a painted band, or detected)."""
    row: dict[str, float | str] = {"case": truth.case_id}
    row.update(la_metrics(la_pred, truth.la, truth.spacing))
    if truth.scar is not None and scar_pred is not None:
        scar = scar_metrics(truth.la, truth.scar, scar_pred, truth.spacing, la_pred, truth.exclude, scar_form=scar_form)
        row.update(scar)
    else:
        row.update(dict.fromkeys(SCAR_METRIC_NAMES, float("nan")))
    return row


def _needed_files(ref: CaseRef) -> tuple[str, ...]:
    return (PRED_LA, PRED_SCAR) if "scar" in ref.label_paths else (PRED_LA,)


def missing_predictions(pred_dir: Path, refs: Sequence[CaseRef]) -> list[tuple[str, Path]]:
    """(case id, first missing file) for every reference case lacking a prediction file it needs."""
    missing = []
    for ref in refs:
        absent = [pred_dir / ref.case_id / name for name in _needed_files(ref)]
        absent = [path for path in absent if not path.is_file()]
        if absent:
            missing.append((ref.case_id, absent[0]))
    return missing


def evaluate_dirs(
    pred_dir: str | Path,
    gt_dir: str | Path,
    spacing: Sequence[float] | None = None,
    allow_missing: bool = False,
    gt_layout: str = "auto",
    exclude_name: str | None = None,
    progress: bool = True,
    scar_form: str = "auto",
) -> Evaluation:
    """Evaluate every reference case; raises `InputError` for a missing prediction unless `allow_missing`.

    A case whose files are bad is not scored; it is listed in `Evaluation.failed` with the error.
    """
    if scar_form not in SCAR_FORMS:
        raise ValueError(f"scar_form must be one of {SCAR_FORMS}, got {scar_form!r}")
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    if not pred_dir.is_dir():
        raise InputError(
            pred_dir, "is a file, not a prediction folder" if pred_dir.exists() else "prediction folder does not exist"
        )
    if spacing is not None and (len(spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in spacing)):
        raise InputError(None, f"--spacing needs three positive values, got {list(spacing)}")
    refs = index_dataset(gt_dir, layout=gt_layout, spacing=spacing)
    missing = missing_predictions(pred_dir, refs)
    if missing and not allow_missing:
        case_id, path = missing[0]
        more = f" (and {len(missing) - 1} more cases)" if len(missing) > 1 else ""
        raise InputError(path, f"missing prediction for ground-truth case {case_id}{more}")
    skip = {case_id for case_id, _ in missing}
    known = {ref.case_id for ref in refs}
    unmatched = sorted(p.name for p in pred_dir.iterdir() if p.is_dir() and p.name not in known)
    rows, failed = [], []
    for ref in tqdm([r for r in refs if r.case_id not in skip], desc="evaluate", unit="case", disable=not progress):
        try:
            truth = read_ground_truth(ref, spacing, exclude_name)
            if not truth.la.any():
                path = ref.label_paths.get("la", ref.image_path)
                raise InputError(path, "the ground-truth LA is empty: nothing to score against")
            case_dir = pred_dir / ref.case_id
            la_pred = read_prediction(case_dir / PRED_LA, truth, spacing is not None)
            scar_pred = None
            if truth.scar is not None:
                scar_pred = read_prediction(case_dir / PRED_SCAR, truth, spacing is not None)
        except InputError as error:
            failed.append((ref.case_id, error))
            continue
        rows.append(evaluate_case(truth, la_pred, scar_pred, scar_form))
    return Evaluation(rows, [case_id for case_id, _ in missing], unmatched, failed)


def metric_columns(rows: Sequence[dict]) -> list[str]:
    """Numeric columns in first-seen order (everything but the case id)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key != "case" and key not in columns)
    return columns


def summarize(rows: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Per metric: mean and sample std (ddof=1) over cases where it is defined (NaN skipped), and that n
    (`statistics.summary_stats`: std NaN for one case; an infinite value is kept, the mean becomes inf and the
    std NaN, so a failed case shows in the summary instead of vanishing from it)."""
    summary = {}
    for column in metric_columns(rows):
        stats = summary_stats(float(row.get(column, math.nan)) for row in rows)
        summary[column] = {key: stats[key] for key in ("mean", "std", "n")}
    return summary


def _fmt(value) -> str:
    return value if isinstance(value, str) else repr(float(value))


def write_per_case_csv(rows: Sequence[dict], path: Path) -> None:
    columns = ["case", *metric_columns(rows)]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_fmt(row.get(column, math.nan)) for column in columns])


PER_CASE_CSV, SUMMARY_CSV, SUMMARY_JSON = OUTPUT_FILES = ("per_case.csv", "summary.csv", "summary.json")


def write_outputs(evaluation: Evaluation, out_dir: str | Path, meta: dict | None = None) -> dict:
    """`per_case.csv`, `summary.csv` and `summary.json` in `out_dir`, each written atomically."""
    out_dir = Path(out_dir)
    summary = summarize(evaluation.rows)
    write_per_case_csv(evaluation.rows, out_dir / PER_CASE_CSV)
    with atomic_path(out_dir / SUMMARY_CSV) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["metric", "mean", "std", "n"])
        for name, stats in summary.items():
            writer.writerow([name, _fmt(stats["mean"]), _fmt(stats["std"]), stats["n"]])
    document = {
        "n_cases": len(evaluation.rows),
        "missing": evaluation.missing,
        "failed": [{"case": case_id, "error": str(error)} for case_id, error in evaluation.failed],
        "unmatched_predictions": evaluation.unmatched,
        **(meta or {}),
        "definitions": SCAR_PCT_DEFINITIONS,
        # JSON has no NaN/inf: they are written as null / "inf" strings.
        "metrics": {name: {k: _json_number(v) for k, v in stats.items()} for name, stats in summary.items()},
    }
    write_json(out_dir / SUMMARY_JSON, document, indent=2)
    return summary


def _json_number(value: float | int):
    if isinstance(value, int):
        return value
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def format_summary(summary: dict[str, dict[str, float]]) -> str:
    """A plain-text table: metric, mean ± std, n ("–" for an undefined mean or std, e.g. the std of one case)."""
    width = max((len(name) for name in summary), default=6)
    lines = [f"{'metric':<{width}}  {'mean ± std':>22}  n"]
    for name, stats in summary.items():
        mean, std = _g(stats["mean"]), _g(stats["std"])
        lines.append(f"{name:<{width}}  {mean:>10} ± {std:<9}  {stats['n']}")
    return "\n".join(lines)


def _g(value: float) -> str:
    return NO_VALUE if math.isnan(value) else f"{value:.4g}"
