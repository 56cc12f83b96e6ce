"""report.json: one case's LA and scar numbers, how they were obtained, and how long it took.

Plain JSON types only, keys stable across methods, so that `evaluate`, `compare` and spreadsheets can read
the reports of the network and of the classic baselines alike.
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

REPORT_FORMAT = "atrialjsq-report-v1"
STAGE_CONVENTIONS = {
    "utah": "I <= 5 %, II (5, 20] %, III (20, 35] %, IV > 35 % (upper bounds inclusive)",
    "decaaf": "I < 10 %, II [10, 20) %, III [20, 30) %, IV >= 30 % (lower bounds inclusive)",
}
# Keys of `extra` that have a fixed place in the report; anything else is kept under "extra".
_KNOWN_EXTRA = ("timings", "model", "model_version", "method", "inputs")


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


def build_report(image: Volume, result: SurfaceScar, burden: Burden, extra: dict[str, Any] | None = None) -> dict:
    """The report as a JSON-ready dict."""
    extra = dict(extra or {})
    geometry = image.geometry
    report = {
        "format": REPORT_FORMAT,
        "atrialjsq_version": __version__,
        "method": extra.get("method", result.method),
        "model": {"name": extra.get("model"), "version": extra.get("model_version")},
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
        },
        "stage": {"utah": burden.utah_stage, "decaaf": burden.decaaf_stage, "conventions": STAGE_CONVENTIONS},
        "parameters": result.parameters,
        "timings_s": extra.get("timings", {}),
    }
    others = {k: v for k, v in extra.items() if k not in _KNOWN_EXTRA}
    if others:
        report["extra"] = others
    return _plain(report)


def write_report_json(report: dict, path: str | Path) -> Path:
    """Write atomically, pretty-printed; refuses NaN so the file is strict JSON."""
    path = Path(path)
    text = json.dumps(_plain(report), indent=2, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return path
