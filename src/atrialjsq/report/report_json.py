"""report.json: one case's LA and scar numbers, how they were obtained, and how long it took.

Plain JSON types only, keys stable across methods, so that `evaluate`, `compare`, spreadsheets and scripts can
read the reports of the network and of the classic baselines alike: every documented key is always present
(null where a value is unknown, [] where a list is empty; `report.schema.json` beside this module is the
contract, and tests validate every report they write against it). Timings are rounded to the millisecond.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from atrialjsq import __version__
from atrialjsq.infer.domain import RESEARCH_USE, model_record
from atrialjsq.io import atomic_path
from atrialjsq.quantify.analysis import CaseAnalysis
from atrialjsq.quantify.burden import Burden

REPORT_FORMAT = "atrialjsq-report-v1"
STAGE_CONVENTIONS = {
    "utah": "I <= 5 %, II (5, 20] %, III (20, 35] %, IV > 35 % (upper bounds inclusive)",
    "decaaf": "I < 10 %, II [10, 20) %, III [20, 30) %, IV >= 30 % (lower bounds inclusive)",
}
# The two burdens a user meets: report.json's headline and evaluate's scar_pct_auto (see the README).
BURDEN_DEFINITIONS = {
    "burden_percent": "scar area / LA surface area x 100, on this case's LA mesh (area-weighted; the headline)",
    "burden_percent_surface_voxels": "scar surface voxels / LA surface voxels x 100, on this case's LA mask; "
    "evaluate's scar_pct_auto counts the same way but on the manual LA's surface voxels",
    "burden_range": "burden_percent with the unsure surface (scar probability within margin of 0.5) all normal "
    "(low_percent) and all scar (high_percent); a sensitivity range of the decision, not a confidence interval",
}
TIMING_DECIMALS = 3


def plain_json(value: Any) -> Any:
    """numpy scalars/arrays and paths to JSON types; non-finite floats to None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain_json(value.tolist())
    if isinstance(value, np.generic):
        return plain_json(value.item())
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


SCHEMA_FILE = Path(__file__).with_name("report.schema.json")


def _stage(burden: Burden) -> dict[str, Any]:
    """Both stages, or null for both with the reason in `not_staged` (null when staged)."""
    if not burden.staged:
        untrusted = ["model outside its training domain (see warnings)"] if burden.untrusted else []
        reason = "; ".join([*untrusted, *burden.implausible])
        return {"utah": None, "decaaf": None, "not_staged": reason, "conventions": STAGE_CONVENTIONS}
    return {
        "utah": burden.utah_stage,
        "decaaf": burden.decaaf_stage,
        "not_staged": None,
        "conventions": STAGE_CONVENTIONS,
    }


def build_report(analysis: CaseAnalysis, timings: dict[str, float] | None = None, warnings: Sequence[str] = ()) -> dict:
    """The report of `analysis` as a JSON-ready dict; `timings` (default: the analysis's) and `warnings` (added
    after the analysis's own, e.g. an output that could not be written) are what writing the case added."""
    provenance, burden, result = analysis.provenance, analysis.burden, analysis.result
    geometry = analysis.image.geometry
    rounded = {key: round(float(value), TIMING_DECIMALS) for key, value in (timings or analysis.timings).items()}
    report = {
        "format": REPORT_FORMAT,
        "atrialjsq_version": __version__,
        "case_id": provenance.case_id,
        "notice": RESEARCH_USE,
        "warnings": [*analysis.warnings, *warnings],
        "method": analysis.method,
        "model": model_record(provenance.model_meta, provenance.model, provenance.model_version),
        "inputs": provenance.inputs,
        "geometry": {
            "shape": list(geometry.shape),
            "spacing_mm": list(geometry.spacing),
            "origin_mm": list(geometry.origin),
            "direction": list(geometry.direction),
        },
        "la": {"volume_ml": burden.la_volume_ml, "surface_area_cm2": burden.surface_area_cm2},
        "scar": {
            "area_cm2": burden.scar_area_cm2,
            "burden_percent": burden.burden_percent,
            "burden_percent_surface_voxels": burden.voxel_burden_percent,
            "surface_voxels": burden.surface_voxels,
            "scar_surface_voxels": burden.scar_surface_voxels,
            "burden_percent_at_thresholds": burden.burden_at_thresholds,
            "burden_range": burden.range_record(),
            "definitions": BURDEN_DEFINITIONS,
        },
        "stage": _stage(burden),
        "parameters": result.parameters,
        "timings_s": rounded,
        "extra": provenance.details,
        "regional": analysis.regional_record(),
    }
    return plain_json(report)


def write_report_json(report: dict, path: str | Path) -> Path:
    """Write atomically, pretty-printed; refuses NaN so the file is strict JSON."""
    path = Path(path)
    text = json.dumps(plain_json(report), indent=2, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return path
