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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from atrialjsq.phantom.generate import FORMAT

RESEARCH_USE = "research use only: not a medical device, not for clinical decisions"
PARAMS_FILE = "params.json"


MODEL_DOMAINS = ("real LGE MRI", "phantom", "untrained")  # what the trainer and `bundle` write; --meta picks one


def model_domain(meta: Mapping[str, Any] | None) -> str | None:
    """The string "phantom" for a phantom-trained model, else the bundle's own `domain` entry (or None)."""
    meta = meta or {}
    domain = meta.get("domain")
    if domain:  # an explicit entry wins: "trained on 80 real scans, no phantoms" is not a phantom model
        text = str(domain).strip()
        return text.lower() if text.lower() in ("phantom", "untrained") else text  # "Phantom" is still one
    return "phantom" if "phantom" in str(meta.get("trained_on", "")).lower() else None


def is_phantom_image(image_path: str | Path | None) -> bool:
    """Whether the image was written by `atrialjsq phantom` (a params.json of the phantom format beside it)."""
    if image_path is None:
        return False

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


def out_of_domain_warnings(
    meta: Mapping[str, Any] | None,
    model_name: str,
    image_path: str | Path | None,
    spacing: Sequence[float],
    field_of_view_mm: Sequence[float] | None = None,
) -> list[str]:
    """Why this model's numbers on this image are not to be trusted (each withholds the stage), from the bundle's
    meta: a phantom model on a real scan; a model that does not say what it was trained on; voxels coarser than
    the meta's `max_input_spacing_mm` (compared sorted, finest to coarsest, so the acquisition plane does not
    matter), i.e. detail the training scans had and this one lacks; a field of view (constant padding left out)
    more than `FIELD_OF_VIEW_MARGIN` times the meta's `max_field_of_view_mm` on some sorted axis."""
    meta = meta or {}
    found = [warning] if (warning := domain_warning(meta, model_name, image_path)) else []
    if model_domain(meta) == "untrained":
        found.append(f"model {model_name} has untrained (random) weights: its outputs mean nothing")
    if not meta.get("domain") and not meta.get("trained_on"):
        found.append(
            f"model {model_name} does not record what it was trained on (no domain or trained_on in its meta), "
            "so nothing says this image is like its training data; bundle it with --meta"
        )
    limit = _three_numbers(meta.get("max_input_spacing_mm"))
    if meta.get("max_input_spacing_mm") is not None and limit is None:
        found.append(f"model {model_name}'s meta has a malformed max_input_spacing_mm (not three numbers)")
    if limit is not None:
        given, allowed = sorted(float(s) for s in spacing), sorted(limit)
        if any(g > a + 1e-6 for g, a in zip(given, allowed, strict=True)):
            shown = _mm(spacing)
            trained, acquired = (_three_numbers(meta.get(key)) for key in ("trained_spacing_mm", "acquired_spacing_mm"))
            was = f" (its training scans: {_mm(trained)} mm" if trained else ""
            was += (f", acquired at {_mm(acquired)} mm" if acquired else "") + (")" if trained else "")
            found.append(
                f"voxels of {shown} mm are coarser than model {model_name} was trained for{was}, at most "
                f"{_mm(allowed)} mm: its LA and scar on this scan are outside what it "
                "has seen"
            )
    found += _field_of_view_warnings(meta, model_name, field_of_view_mm)
    return found


# How much wider than its widest training scan a model is trusted. The LASC model, trained on crops of at most
# 100 x 110 x 153 mm around the LA, held its LA on crops padded with air-like noise to 1.4 times their width and
# called the noise LA at 1.7 times (docs/results/synthetic-scar.md); 1.25 stays on the safe side of that.
FIELD_OF_VIEW_MARGIN = 1.25


def _field_of_view_warnings(
    meta: Mapping[str, Any], model_name: str, field_of_view_mm: Sequence[float] | None
) -> list[str]:
    if field_of_view_mm is None or meta.get("max_field_of_view_mm") is None:
        return []
    limit = _three_numbers(meta.get("max_field_of_view_mm"))
    if limit is None:
        return [f"model {model_name}'s meta has a malformed max_field_of_view_mm (not three numbers)"]
    given, trained = sorted(float(v) for v in field_of_view_mm), sorted(limit)
    if all(g <= FIELD_OF_VIEW_MARGIN * t + 1e-6 for g, t in zip(given, trained, strict=True)):
        return []
    return [
        f"a field of view of {_mm([round(v, 1) for v in field_of_view_mm])} mm is far wider than model {model_name}'s "
        f"training scans (at most {_mm([round(v, 1) for v in trained])} mm): it never saw what lies beyond them (air, "
        "arms, abdomen) and may call it LA; crop the scan around the heart first"
    ]


def _mm(values: Sequence[float]) -> str:
    return " x ".join(f"{v:g}" for v in values)


def _three_numbers(value: Any) -> list[float] | None:
    """Three positive numbers from a meta entry (a bundle's meta is user-editable JSON), else None."""
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == 3 and all(n > 0 for n in numbers) else None


def model_record(meta: Mapping[str, Any] | None, name: str | None, version: str | None = None) -> dict[str, Any]:
    """The model's entry in report.json: name, version, the weights' release (a shipped model's weights change
    without the package version), what it was trained on and its domain."""
    meta = meta or {}
    return {
        "name": name,
        "version": version,
        "weights": meta.get("weights"),
        "trained_on": meta.get("trained_on"),
        "domain": model_domain(meta),
        "not_trained_on": meta.get("not_trained_on"),
    }
