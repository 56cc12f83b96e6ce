"""report.json: one case's LA and scar numbers, how they were obtained, and how long it took.

Plain JSON types only, keys stable across methods, so that `evaluate`, `compare` and spreadsheets can read
the reports of the network and of the classic baselines alike. Empty entries (None, "", {}, []) are left out
and timings are rounded to the millisecond, so the file holds what is known and nothing else.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from atrialjsq import __version__
from atrialjsq.io import Volume, atomic_path
from atrialjsq.quantify.burden import Burden
from atrialjsq.quantify.surface_scar import SurfaceScar
from atrialjsq.report.domain import RESEARCH_USE, model_record

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
# Keys of `extra` that have a fixed place in the report; anything else is kept under "extra".
_KNOWN_EXTRA = (
    "timings",
    "model",
    "model_version",
    "model_meta",
    "method",
    "inputs",
    "case_id",
    "warnings",
    "withhold_stage",
)


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and paths to JSON types; non-finite floats to None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def drop_empty(value: Any) -> Any:
    """Nested dicts and lists without None, "" and empty containers (0 and False are kept: they are values)."""
    if isinstance(value, dict):
        cleaned = {key: drop_empty(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if not _empty(item)}
    if isinstance(value, list):
        return [drop_empty(item) for item in value if not _empty(drop_empty(item))]
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, dict, list)) and len(value) == 0)


def report_warnings(burden: Burden, extra: dict[str, Any] | None = None) -> list[str]:
    """Everything a reader must know before trusting the numbers: the caller's warnings (e.g. the model's
    training domain), the caveats of the result (an LA cut by the border), then the results outside the
    physiological ranges."""
    implausible = (f"implausible result: {flag}" for flag in burden.implausible)
    return [*(extra or {}).get("warnings", []), *burden.reading_caveats(), *implausible]


def _stage(burden: Burden) -> dict[str, Any]:
    if not burden.staged:
        untrusted = ["model outside its training domain (see warnings)"] if burden.untrusted else []
        return {"not_staged": "; ".join([*untrusted, *burden.implausible]), "conventions": STAGE_CONVENTIONS}
    return {"utah": burden.utah_stage, "decaaf": burden.decaaf_stage, "conventions": STAGE_CONVENTIONS}


def build_report(image: Volume, result: SurfaceScar, burden: Burden, extra: dict[str, Any] | None = None) -> dict:
    """The report as a JSON-ready dict."""
    extra = dict(extra or {})
    geometry = image.geometry
    timings = {key: round(float(value), TIMING_DECIMALS) for key, value in extra.get("timings", {}).items()}
    report = {
        "format": REPORT_FORMAT,
        "atrialjsq_version": __version__,
        "case_id": extra.get("case_id"),
        "notice": RESEARCH_USE,
        "warnings": report_warnings(burden, extra),
        "method": extra.get("method", result.method),
        "model": model_record(extra.get("model_meta"), extra.get("model"), extra.get("model_version")),
        "inputs": extra.get("inputs", {}),
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
        "timings_s": timings,
        "extra": {k: v for k, v in extra.items() if k not in _KNOWN_EXTRA},
    }
    return drop_empty(_plain(report))


def write_report_json(report: dict, path: str | Path) -> Path:
    """Write atomically, pretty-printed; refuses NaN so the file is strict JSON."""
    path = Path(path)
    text = json.dumps(_plain(report), indent=2, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return path
