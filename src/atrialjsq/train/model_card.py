"""What a trained network records about its training data, so that `predict` can judge an image against it.

`predict` withholds the stage of a model that does not say what it was trained on (`infer.domain`). Every run of
the trainer therefore writes these keys into its checkpoints' `meta`, where exported models and bundles find them:
`trained_on` (how many cases, from where, how their scar was known), `domain` ("phantom" when the training images
are `atrialjsq phantom` output, else "real LGE MRI"), `trained_spacing_mm` (the median voxel size of the training
scans as acquired), `max_input_spacing_mm` (the coarsest of them, axis by axis after sorting: an image with
coarser voxels than every training scan is outside what the model has seen) and `max_field_of_view_mm` (the
largest physical extent of the training scans, axis by axis after sorting: a network trained on crops around the
heart has never seen the air, arms and abdomen of a whole-chest field of view, and may call them anything).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from atrialjsq.data.phantom_tag import is_phantom_source
from atrialjsq.io.geometry import Geometry

CARD_KEYS = ("trained_on", "domain", "trained_spacing_mm", "max_input_spacing_mm", "max_field_of_view_mm")


# Folders that hold a layout's cases rather than name the data set (`data.layouts`): the name is one level up.
CASE_FOLDERS = ("cases", "imagesTr", "labelsTr", "imagesTs")


def dataset_name(entries: Sequence[Mapping[str, Any]], fallback: str) -> str:
    """The data set's folder name from the cases' recorded sources (a cache named after its settings, such as
    `cache_150`, is not what the model was trained on); `fallback` when no entry records one."""
    folders = [str(Path(entry["source"]).parent) for entry in entries if entry.get("source")]
    if not folders:
        return fallback
    root = Path(os.path.commonpath(folders)) if len(folders) > 1 else Path(folders[0]).parent
    while root.name in CASE_FOLDERS and root.parent != root:
        root = root.parent
    return root.name or fallback


def training_card(
    entries: Sequence[Mapping[str, Any]], data_name: str, synthetic_scar: float, real_scar_iir: float = 0.0
) -> dict[str, Any]:
    """The card of a run trained on cache `entries` (their `source`, `has_scar`, `original_geometry`);
    `data_name` is used when no entry records its source. `real_scar_iir` (`train.synthetic_scar_real_iir`) is
    named because it changes what the scar head calls on real walls: their own enhancement learnt as scar."""
    n = len(entries)
    data_name = dataset_name(entries, data_name)
    labelled = sum(bool(entry.get("has_scar")) for entry in entries)
    # (caches built before the flag was recorded: read from where the case was then)
    phantoms = sum(bool(entry.get("phantom", is_phantom_source(entry.get("source")))) for entry in entries)
    # A case without a scar label trains on synthetic scar drawn into its wall, or with its scar terms off.
    rest = (
        "synthetic scar drawn into their LA wall during training"
        if synthetic_scar > 0
        else "their scar terms off (LA only)"
    )
    if synthetic_scar > 0 and real_scar_iir > 0:
        rest += f", and their wall's own enhancement above IIR {real_scar_iir:g} taken as scar"
    if labelled == n:
        scar = "all with scar labels"
    elif labelled == 0:
        scar = f"no scar labels: {rest}"
    else:
        scar = f"{labelled} with scar labels, the rest with {rest}"
    kind = "synthetic phantoms" if phantoms == n else ("real scans" if phantoms == 0 else f"{phantoms} phantoms")
    card: dict[str, Any] = {
        "trained_on": f"{n} cases of {data_name} ({kind}; {scar})",
        "domain": "phantom" if phantoms == n else "real LGE MRI",
    }
    geometries = [entry["original_geometry"] for entry in entries if "original_geometry" in entry]
    spacings = [sorted(geometry["spacing"]) for geometry in geometries]
    if spacings:
        card["trained_spacing_mm"] = [round(float(s), 4) for s in np.median(spacings, axis=0)]
        card["max_input_spacing_mm"] = [round(float(s), 4) for s in np.max(spacings, axis=0)]
    extents = [sorted(float(v) for v in extent) for extent in map(_field_of_view, entries) if extent]
    if extents:
        card["max_field_of_view_mm"] = [round(float(e), 1) for e in np.max(extents, axis=0)]
    return card


def _field_of_view(entry: Mapping[str, Any]) -> list[float] | None:
    """The case's extent in mm without its constant padding (caches since the padding is cut), else its scan's."""
    if entry.get("field_of_view_mm"):
        return list(entry["field_of_view_mm"])
    geometry = entry.get("original_geometry") or {}
    return list(Geometry.from_dict(geometry).extent_mm) if "shape" in geometry else None


def card_of(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """The card keys present in a checkpoint's or model file's `meta`."""
    return {key: meta[key] for key in CARD_KEYS if meta and key in meta}
