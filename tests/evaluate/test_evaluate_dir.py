"""Folder evaluation end to end: LAScarQS-named files on disk, CSV/JSON outputs, missing and bad inputs."""

import csv
import json

import numpy as np
import pytest

from atrialjsq.cli import main
from atrialjsq.errors import InputError
from atrialjsq.evaluate.evaluate_dir import evaluate_dirs, summarize
from atrialjsq.io import Volume, write_volume

SHAPE = (64, 32, 32)
SPACING = (1.0, 1.0, 1.0)


def _box(x0, x1):
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[x0:x1, 10:22, 10:22] = 1
    return mask


def _half(x0):
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[x0:] = 1
    return mask


def _write(path, array, spacing=SPACING):
    write_volume(Volume.from_array(array, spacing), path, label=True)


@pytest.fixture
def dataset(tmp_path):
    """Two task-1 cases: 'perfect' (prediction = truth) and 'shifted' (LA moved 2 voxels, scar under-segmented)."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for case in ("perfect", "shifted"):
        _write(gt / case / "atriumSegImgMO.nii.gz", _box(10, 50))
        _write(gt / case / "scarSegImgM.nii.gz", _half(30))
    _write(pred / "perfect" / "LA_predict.nii.gz", _box(10, 50))
    _write(pred / "perfect" / "scar_predict.nii.gz", _half(30))
    _write(pred / "shifted" / "LA_predict.nii.gz", _box(12, 52))
    _write(pred / "shifted" / "scar_predict.nii.gz", _half(35))
    return gt, pred


def test_rows_have_hand_computed_values(dataset):
    gt, pred = dataset
    evaluation = evaluate_dirs(pred, gt, progress=False)
    rows = {row["case"]: row for row in evaluation.rows}
    perfect, shifted = rows["perfect"], rows["shifted"]
    assert perfect["Dice_LA"] == 1.0 and perfect["HD_mm"] == 0.0 and perfect["ASD_mm"] == 0.0
    assert perfect["Dice_s"] == 1.0 and perfect["Accuracy"] == 1.0 and perfect["scar_pct_manual"] == 50.0
    # Boxes of 40 slices overlapping over 38: Dice = 38/40; end caps 2 voxels apart.
    assert shifted["Dice_LA"] == pytest.approx(38 / 40)
    assert shifted["HD_mm"] == pytest.approx(2.0)
    # Scar {x >= 35} against {x >= 30}: the counts of tests/evaluate/test_scar_metrics.py.
    assert shifted["Dice_s"] == pytest.approx(2 * 760 / (760 + 980))
    assert shifted["scar_pct_auto"] == pytest.approx(100 * 760 / 1960)


def test_summary_mean_std_n():
    rows = [{"case": "a", "m": 1.0, "d": np.nan}, {"case": "b", "m": 3.0, "d": 2.0}, {"case": "c", "m": 5.0}]
    summary = summarize(rows)
    assert summary["m"] == {"mean": 3.0, "std": 2.0, "n": 3}
    assert summary["d"]["mean"] == 2.0 and summary["d"]["n"] == 1 and np.isnan(summary["d"]["std"])
    with_inf = summarize([{"case": "a", "h": 1.0}, {"case": "b", "h": np.inf}])
    assert np.isinf(with_inf["h"]["mean"]) and with_inf["h"]["n"] == 2


def test_cli_writes_csv_and_json(dataset, tmp_path, capsys):
    gt, pred = dataset
    out = tmp_path / "out"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out)]) == 0
    with open(out / "per_case.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [row["case"] for row in table] == ["perfect", "shifted"]
    assert float(table[1]["Dice_LA"]) == pytest.approx(0.95)
    document = json.loads((out / "summary.json").read_text())
    assert document["n_cases"] == 2 and document["missing"] == []
    assert document["metrics"]["Dice_LA"]["mean"] == pytest.approx((1 + 0.95) / 2)
    assert document["metrics"]["Dice_LA"]["std"] == pytest.approx(np.std([1, 0.95], ddof=1))
    assert "Dice_s" in capsys.readouterr().out
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_missing_prediction_is_an_error_and_writes_nothing(dataset, tmp_path, capsys):
    gt, pred = dataset
    (pred / "shifted" / "scar_predict.nii.gz").unlink()
    out = tmp_path / "out"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out)]) == 1
    assert "shifted" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(InputError, match="shifted"):
        evaluate_dirs(pred, gt, progress=False)
    # --allow-missing evaluates the rest, records the gap and still exits 1.
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--allow-missing"]) == 1
    document = json.loads((out / "summary.json").read_text())
    assert document["n_cases"] == 1 and document["missing"] == ["shifted"]


def test_spacing_mismatch_and_override(dataset):
    gt, pred = dataset
    _write(pred / "shifted" / "LA_predict.nii.gz", _box(12, 52), spacing=(2.0, 1.0, 1.0))
    with pytest.raises(InputError, match="spacing"):
        evaluate_dirs(pred, gt, progress=False)
    rows = {r["case"]: r for r in evaluate_dirs(pred, gt, spacing=(2.0, 1.0, 1.0), progress=False).rows}
    assert rows["shifted"]["HD_mm"] == pytest.approx(4.0)  # 2 voxels along x at 2 mm
    assert rows["shifted"]["HD_vox"] == pytest.approx(2.0)


def test_probability_map_prediction_is_rejected(dataset):
    gt, pred = dataset
    write_volume(Volume.from_array(np.full(SHAPE, 0.5, dtype=np.float32)), pred / "perfect" / "LA_predict.nii.gz")
    with pytest.raises(InputError, match="non-integer"):
        evaluate_dirs(pred, gt, progress=False)


def test_shape_mismatch_names_the_prediction(dataset):
    gt, pred = dataset
    _write(pred / "perfect" / "LA_predict.nii.gz", np.zeros((8, 8, 8), dtype=np.uint8))
    with pytest.raises(InputError) as info:
        evaluate_dirs(pred, gt, progress=False)
    assert info.value.path.endswith("LA_predict.nii.gz") and "shape" in info.value.reason
