"""What a model was trained on, and whether that fits the image it is run on.

A model trained only on phantoms gives numbers on a real scan that look like a clinical answer but are not
one. The decision is generic, read from the bundle's `meta` (no model is named here): a model is
phantom-trained when meta says `"domain": "phantom"`, or has no `domain` and its `trained_on` mentions
phantoms; an image is a phantom when the folder it lies in holds the `params.json` that `atrialjsq phantom`
writes. (Scar injected into real images by `inject-scar` is real anatomy: its params.json has another format
and is not a phantom.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RESEARCH_USE = "research use only: not a medical device, not for clinical decisions"
PARAMS_FILE = "params.json"


def model_domain(meta: Mapping[str, Any] | None) -> str | None:
    """The string "phantom" for a phantom-trained model, else the bundle's own `domain` entry (or None)."""
    meta = meta or {}
    domain = meta.get("domain")
    if domain:  # an explicit entry wins: "trained on 80 real scans, no phantoms" is not a phantom model
        return str(domain)
    return "phantom" if "phantom" in str(meta.get("trained_on", "")).lower() else None


def is_phantom_image(image_path: str | Path | None) -> bool:
    """Whether the image was written by `atrialjsq phantom` (a params.json of the phantom format beside it)."""
    if image_path is None:
        return False
    from atrialjsq.phantom.generate import FORMAT

    path = Path(image_path)
    folder = path if path.is_dir() else path.parent
    try:
        params = json.loads((folder / PARAMS_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(params, dict) and params.get("format") == FORMAT


def domain_warning(meta: Mapping[str, Any] | None, model_name: str, image_path: str | Path | None) -> str | None:
    """The warning to print and record when a phantom-trained model is run on an image that is not a phantom."""
    if model_domain(meta) != "phantom" or is_phantom_image(image_path):
        return None
    return (
        f"model {model_name} was trained on synthetic phantoms only and this image is not a phantom: its LA, "
        f"scar burden and stage are not measurements ({RESEARCH_USE})"
    )


def model_record(meta: Mapping[str, Any] | None, name: str | None, version: str | None = None) -> dict[str, Any]:
    """The model's entry in report.json: name, version, what it was trained on and its domain."""
    meta = meta or {}
    record = {"name": name, "version": version, "trained_on": meta.get("trained_on"), "domain": model_domain(meta)}
    if meta.get("not_trained_on"):
        record["not_trained_on"] = meta["not_trained_on"]
    return record
