"""The card a trainer writes into its checkpoints: what `predict` judges a scan against."""

from __future__ import annotations

import json
from pathlib import Path

from atrialjsq.phantom.generate import FORMAT as PHANTOM_FORMAT
from atrialjsq.train.model_card import card_of, dataset_name, training_card


def _entry(source: Path, spacing, has_scar: bool = False, shape=None) -> dict:
    geometry = {"spacing": list(spacing)} | ({"shape": list(shape)} if shape else {})
    return {"source": str(source), "has_scar": has_scar, "original_geometry": geometry}


def test_dataset_name_climbs_out_of_case_folders(tmp_path: Path) -> None:
    root = tmp_path / "lasc2018" / "cases"
    entries = [_entry(root / case / "mri_norm2.h5", (0.625, 0.625, 1.25)) for case in ("A", "B")]
    assert dataset_name(entries, "cache_150") == "lasc2018"
    images = tmp_path / "mydata" / "imagesTr"
    entries = [_entry(images / f"{case}_0000.nii.gz", (1, 1, 2)) for case in ("p1", "p2", "p3")]
    assert dataset_name(entries, "cache") == "mydata"
    # one case of the one-folder-per-case layouts: the folder above the case
    assert dataset_name([_entry(tmp_path / "study" / "p1" / "enhanced.nii.gz", (1, 1, 1))], "x") == "study"
    assert dataset_name([{"has_scar": False}], "fallback") == "fallback"


def test_card_counts_labels_and_takes_spacings_axis_by_axis_after_sorting(tmp_path: Path) -> None:
    root = tmp_path / "clinic"
    entries = [
        _entry(root / "a" / "img.nii.gz", (1.25, 1.25, 2.5), has_scar=True),  # sorted: 1.25, 1.25, 2.5
        _entry(root / "b" / "img.nii.gz", (2.0, 0.6, 0.6)),  # sorted: 0.6, 0.6, 2.0
        _entry(root / "c" / "img.nii.gz", (0.7, 3.0, 0.7)),  # sorted: 0.7, 0.7, 3.0
    ]
    card = training_card(entries, "cache", synthetic_scar=0.7)
    assert card["trained_on"] == (
        "3 cases of clinic (real scans; 1 with scar labels, the rest with synthetic scar drawn into their LA wall "
        "during training)"
    )
    assert card["domain"] == "real LGE MRI"
    assert card["trained_spacing_mm"] == [0.7, 0.7, 2.5]  # medians of (1.25, 0.6, 0.7), (1.25, 0.6, 0.7), (2.5, 2, 3)
    assert card["max_input_spacing_mm"] == [1.25, 1.25, 3.0]
    without = training_card(entries, "cache", synthetic_scar=0.0)["trained_on"]
    assert without.endswith("(real scans; 1 with scar labels, the rest with their scar terms off (LA only))")
    unlabelled = [{**entry, "has_scar": False} for entry in entries]
    assert training_card(unlabelled, "cache", synthetic_scar=0.7)["trained_on"] == (
        "3 cases of clinic (real scans; no scar labels: synthetic scar drawn into their LA wall during training)"
    )
    # weak labels on the real walls' enhancement are named; they exist only where synthetic scar is drawn
    assert training_card(unlabelled, "cache", synthetic_scar=0.7, real_scar_iir=1.32)["trained_on"] == (
        "3 cases of clinic (real scans; no scar labels: synthetic scar drawn into their LA wall during training, "
        "and their wall's own enhancement above IIR 1.32 taken as scar)"
    )
    assert training_card(unlabelled, "cache", synthetic_scar=0.0, real_scar_iir=1.32)["trained_on"].endswith(
        "their scar terms off (LA only))"
    )


def test_card_calls_phantoms_phantoms_only_when_every_case_is_one(tmp_path: Path) -> None:
    def phantom(name: str) -> dict:
        folder = tmp_path / "ph" / name
        folder.mkdir(parents=True)
        (folder / "params.json").write_text(json.dumps({"format": PHANTOM_FORMAT}))
        return _entry(folder / "enhanced.nii.gz", (1, 1, 1), has_scar=True)

    entries = [phantom("p0"), phantom("p1")]
    card = training_card(entries, "ph", synthetic_scar=0.0)
    assert card["domain"] == "phantom"
    assert card["trained_on"] == "2 cases of ph (synthetic phantoms; all with scar labels)"
    mixed = [*entries, _entry(tmp_path / "ph" / "real" / "enhanced.nii.gz", (1, 1, 1), has_scar=True)]
    card = training_card(mixed, "ph", synthetic_scar=0.0)
    assert card["domain"] == "real LGE MRI"  # one real scan: not a phantom-only model
    assert "(2 phantoms;" in card["trained_on"]
    # The flag a cache records when it is built is believed: the phantoms' folders may be gone by training time.
    import shutil

    shutil.rmtree(tmp_path / "ph")
    assert training_card(entries, "ph", synthetic_scar=0.0)["domain"] == "real LGE MRI"  # (no flag: read from disk)
    flagged = [{**entry, "phantom": True} for entry in entries]
    assert training_card(flagged, "ph", synthetic_scar=0.0)["domain"] == "phantom"


def test_card_takes_the_widest_field_of_view_axis_by_axis_after_sorting(tmp_path: Path) -> None:
    entries = [
        _entry(tmp_path / "a.nii.gz", (0.625, 0.625, 1.25), shape=(240, 160, 88)),  # 150 x 100 x 110 mm
        _entry(tmp_path / "b.nii.gz", (2.0, 1.0, 1.0), shape=(40, 120, 130)),  # 80 x 120 x 130 mm
    ]
    # sorted: (100, 110, 150) and (80, 120, 130): the widest of each rank
    assert training_card(entries, "x", synthetic_scar=0.0)["max_field_of_view_mm"] == [100.0, 120.0, 150.0]
    assert "max_field_of_view_mm" not in training_card([_entry(tmp_path / "c", (1, 1, 1))], "x", 0.0)
    # a cache entry's own extent (its constant padding cut off) wins over the padded scan's geometry
    padded = _entry(tmp_path / "d.nii.gz", (1.0, 1.0, 1.0), shape=(400, 400, 200)) | {"field_of_view_mm": [90, 70, 80]}
    assert training_card([padded], "x", synthetic_scar=0.0)["max_field_of_view_mm"] == [70.0, 80.0, 90.0]


def test_card_of_keeps_only_card_keys() -> None:
    meta = {"trained_on": "x", "domain": "phantom", "fold": 3, "iteration": 10}
    assert card_of(meta) == {"trained_on": "x", "domain": "phantom"}
    assert card_of(None) == {}
