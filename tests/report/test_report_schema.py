"""The report.json contract: the schema itself, and reports that break it are caught."""

from __future__ import annotations

import json

import jsonschema
import pytest

from atrialjsq.report.report_json import SCHEMA_FILE


def demo_like_report() -> dict:
    return {
        "format": "atrialjsq-report-v1",
        "atrialjsq_version": "0.1.0",
        "case_id": "p1",
        "notice": "research use only",
        "warnings": [],
        "method": "ajsqnet",
        "model": {
            "name": "m",
            "version": "0.1.0",
            "weights": None,
            "trained_on": None,
            "domain": None,
            "not_trained_on": None,
        },
        "inputs": {},
        "geometry": {"shape": [4, 4, 4], "spacing_mm": [1, 1, 1], "origin_mm": [0, 0, 0], "direction": [1, 0, 0] * 3},
        "la": {"volume_ml": 80.0, "surface_area_cm2": 110.0},
        "scar": {
            "area_cm2": 7.0,
            "burden_percent": 7.0,
            "burden_percent_surface_voxels": 6.5,
            "surface_voxels": 100,
            "scar_surface_voxels": 7,
            "burden_percent_at_thresholds": {},
            "burden_range": None,
            "definitions": {},
        },
        "stage": {"utah": "II", "decaaf": "I", "not_staged": None, "conventions": {}},
        "parameters": {},
        "timings_s": {"network": 1.0},
        "extra": {},
        "regional": {"unavailable": "not computed (--no-regional)"},
    }


def test_a_complete_report_passes_and_each_missing_key_fails():
    schema = json.loads(SCHEMA_FILE.read_text())
    report = demo_like_report()
    jsonschema.validate(report, schema)
    for key in schema["required"]:
        broken = {k: v for k, v in report.items() if k != key}
        with pytest.raises(jsonschema.ValidationError, match=key):
            jsonschema.validate(broken, schema)


def test_stages_are_both_given_or_both_null_with_a_reason():
    schema = json.loads(SCHEMA_FILE.read_text())
    report = demo_like_report()
    report["stage"] = {"utah": None, "decaaf": None, "not_staged": "LA volume implausible", "conventions": {}}
    jsonschema.validate(report, schema)
    for leak in ({"utah": "II"}, {"not_staged": None}):
        broken = dict(report, stage={**report["stage"], **leak})
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(report, stage={**report["stage"], "utah": "V"}), schema)
