"""`atrialjsq check-data`: exit 0 on a good set; on a bad one, one `error: <file>: <reason>` line per problem."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from data_fixtures import sphere_case_arrays, truncate, write, write_2d_image, write_lasc2018, write_lascarqs

from atrialjsq.cli import main


def test_good_set_passes(tmp_path: Path, capsys) -> None:
    for number in range(3):
        write_lasc2018(tmp_path, f"case{number}", seed=number)
    assert main(["check-data", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    rows = [line for line in out.splitlines() if line.startswith("case")]
    assert len(rows) == 4  # header + 3 cases
    expected_ml = sphere_case_arrays()[1].sum() * 1.25 * 1.25 * 2.5 / 1000
    assert f"{expected_ml:.1f}" in rows[1] and "lasc2018" in rows[1]
    # A 2 mL ball is an implausible LA: warned about, but not an error.
    assert rows[1].endswith("warn")
    assert "3 cases: 3 valid, 0 with errors" in out
    assert "error:" not in err
    assert f"warning: {tmp_path / 'case0' / 'laendo.nrrd'}: LA volume {expected_ml:.1f} mL is outside" in err


def test_bad_set_names_every_problem(tmp_path: Path, capsys) -> None:
    write_lasc2018(tmp_path, "good")
    truncated = truncate(write_lasc2018(tmp_path, "truncated") / "lgemri.nrrd")
    flat = write_2d_image(write_lasc2018(tmp_path, "flat") / "lgemri.nrrd")
    shifted = write_lasc2018(tmp_path, "shifted") / "laendo.nrrd"
    write(sphere_case_arrays()[1] * 255, shifted, label=True, origin=(0.0, 0.0, 0.0))
    empty = write_lasc2018(tmp_path, "empty") / "laendo.nrrd"
    write(np.zeros_like(sphere_case_arrays()[1]), empty, label=True)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    assert main(["check-data", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert any(line.startswith(f"error: {truncated}: unreadable image") for line in errors)
    assert any(line.startswith(f"error: {flat}: expected a 3D image, got 2D") for line in errors)
    assert any(
        line.startswith(f"error: {shifted}: geometry differs from its image lgemri.nrrd: origin") for line in errors
    )
    assert f"error: {empty}: LA label is empty" in errors
    assert len(errors) == 4  # every bad case reported, nothing else, the good case not at all
    status = {line.split()[0]: line.split()[-1] for line in out.splitlines()[1:6]}
    assert status == {"empty": "FAIL", "flat": "FAIL", "good": "warn", "shifted": "FAIL", "truncated": "FAIL"}
    assert "5 cases: 1 valid, 4 with errors" in out
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # inputs untouched


def test_nothing_recognisable_is_one_clear_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    assert main(["check-data", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path}: no known dataset layout found " + err[0].split("found ", 1)[1]]


def test_lascarqs_labels_with_unexpected_values_are_warned_about(tmp_path: Path, capsys) -> None:
    write_lascarqs(tmp_path, "binary")
    odd = write_lascarqs(tmp_path, "odd") / "atriumSegImgMO.nii.gz"
    la = sphere_case_arrays()[1].astype(np.uint8)
    labels = la * 3
    labels[la.nonzero()[0][:5], la.nonzero()[1][:5], la.nonzero()[2][:5]] = 7
    write(labels, odd, label=True)
    before = odd.read_bytes()
    assert main(["check-data", str(tmp_path)]) == 0  # readable (non-zero is LA), so a warning, not an error
    out, err = capsys.readouterr()
    status = {line.split()[0]: line.split()[-1] for line in out.splitlines()[1:3]}
    assert status["odd"] == "warn"
    warnings = [line for line in err.splitlines() if "unexpected label values" in line]
    assert warnings == [
        f"warning: {odd}: unexpected label values [0, 3, 7] (expected [0, 1] or [0, 255]); all non-zero read as 1"
    ]
    assert "error:" not in err and "binary" not in " ".join(warnings)
    assert "2 cases: 2 valid, 0 with errors" in out
    assert odd.read_bytes() == before


def test_an_h5_file_holding_image_and_labels_is_reported_once(tmp_path: Path, capsys) -> None:
    import h5py

    folder = tmp_path / "caseB"
    folder.mkdir()
    with h5py.File(folder / "mri_norm2.h5", "w") as handle:
        handle["foo"] = np.zeros((4, 4, 4), np.uint8)  # neither an image nor a label dataset
    assert main(["check-data", str(tmp_path)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {folder / 'mri_norm2.h5'}: no image or label dataset (found: foo)"]
