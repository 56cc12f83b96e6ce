"""Folder evaluation end to end: LAScarQS-named files on disk, CSV/JSON outputs, missing and bad inputs."""

import csv
import json

import numpy as np
import pytest

from atrialjsq.cli import main
from atrialjsq.errors import InputError
from atrialjsq.evaluate.evaluate_dir import evaluate_dirs, format_summary, summarize
from atrialjsq.io import Geometry, Volume, write_volume

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


def _write(path, array, spacing=SPACING, origin=(0.0, 0.0, 0.0), direction=None):
    geometry = Geometry(array.shape, spacing, origin, direction or Geometry(array.shape).direction)
    write_volume(Volume(array, geometry), path, label=True)


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


def test_format_summary_prints_a_dash_for_an_undefined_std():
    text = format_summary(summarize([{"case": "a", "m": 1.0, "d": 2.0}, {"case": "b", "m": 3.0}]))
    # m: 1 and 3 → mean 2, SD √2; d: one case → SD undefined
    assert [line.split() for line in text.splitlines()[1:]] == [
        ["m", "2", "±", "1.414", "2"],
        ["d", "2", "±", "–", "1"],
    ]
    assert "nan" not in text


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
    stdout = capsys.readouterr().out
    assert "Dice_s" in stdout and stdout.strip().splitlines()[-1] == "2 of 2 cases scored"
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
    # A file given as --pred, or non-finite --spacing, is one clear line before anything is read.
    a_file = gt / "perfect" / "atriumSegImgMO.nii.gz"
    assert main(["evaluate", "--pred", str(a_file), "--gt", str(gt), "--out", str(out)]) == 1
    assert f"{a_file}: is a file, not a prediction folder" in capsys.readouterr().err
    with pytest.raises(InputError, match="three positive values"):
        evaluate_dirs(pred, gt, spacing=(float("nan"), 1.0, 1.0), progress=False)
    assert not out.exists()
    # --allow-missing evaluates the rest, records the gap and still exits 1.
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--allow-missing"]) == 1
    document = json.loads((out / "summary.json").read_text())
    assert document["n_cases"] == 1 and document["missing"] == ["shifted"]


def _failures(evaluation):
    return {case_id: error for case_id, error in evaluation.failed}


def test_spacing_mismatch_and_override(dataset):
    gt, pred = dataset
    _write(pred / "shifted" / "LA_predict.nii.gz", _box(12, 52), spacing=(2.0, 1.0, 1.0))
    evaluation = evaluate_dirs(pred, gt, progress=False)
    assert [row["case"] for row in evaluation.rows] == ["perfect"]  # the good case is still scored
    assert "spacing" in _failures(evaluation)["shifted"].reason
    rows = {r["case"]: r for r in evaluate_dirs(pred, gt, spacing=(2.0, 1.0, 1.0), progress=False).rows}
    assert rows["shifted"]["HD_mm"] == pytest.approx(4.0)  # 2 voxels along x at 2 mm
    assert rows["shifted"]["HD_vox"] == pytest.approx(2.0)


def test_probability_map_prediction_is_rejected(dataset):
    gt, pred = dataset
    write_volume(Volume.from_array(np.full(SHAPE, 0.5, dtype=np.float32)), pred / "perfect" / "LA_predict.nii.gz")
    assert "non-integer" in _failures(evaluate_dirs(pred, gt, progress=False))["perfect"].reason


def test_shape_mismatch_names_the_prediction(dataset):
    gt, pred = dataset
    _write(pred / "perfect" / "LA_predict.nii.gz", np.zeros((8, 8, 8), dtype=np.uint8))
    error = _failures(evaluate_dirs(pred, gt, progress=False))["perfect"]
    assert error.path.endswith("LA_predict.nii.gz") and "shape" in error.reason


@pytest.mark.parametrize(
    ("grid", "reason"),
    [
        ({"origin": (5.0, 0.0, 0.0)}, "origin"),
        ({"direction": (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)}, "direction"),
    ],
)
def test_a_prediction_off_the_reference_grid_is_not_scored(dataset, grid, reason):
    gt, pred = dataset
    # The same voxels, but on a shifted or mirrored grid: scoring them voxel by voxel would be wrong.
    _write(pred / "perfect" / "LA_predict.nii.gz", _box(10, 50), **grid)
    evaluation = evaluate_dirs(pred, gt, progress=False)
    error = _failures(evaluation)["perfect"]
    assert error.path == str(pred / "perfect" / "LA_predict.nii.gz")
    assert f"not on the grid of ground truth case perfect: {reason}" in error.reason
    assert [row["case"] for row in evaluation.rows] == ["shifted"]


def test_cli_scores_the_good_cases_and_lists_every_bad_one(dataset, tmp_path, capsys):
    gt, pred = dataset
    for case in ("third", "fourth"):
        _write(gt / case / "atriumSegImgMO.nii.gz", _box(10, 50))
        _write(gt / case / "scarSegImgM.nii.gz", _half(30))
        _write(pred / case / "scar_predict.nii.gz", _half(30))
    _write(pred / "third" / "LA_predict.nii.gz", _box(10, 50), spacing=(1.0, 1.0, 2.0))
    _write(pred / "fourth" / "LA_predict.nii.gz", _box(10, 50), origin=(0.0, 3.0, 0.0))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.nii.gz")}
    out = tmp_path / "out"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert errors[0].startswith(f"error: {pred / 'fourth' / 'LA_predict.nii.gz'}: not on the grid")
    assert "origin" in errors[0]
    assert errors[1].startswith(f"error: {pred / 'third' / 'LA_predict.nii.gz'}: spacing")
    assert captured.out.strip().splitlines()[-1] == "2 of 4 cases scored; 2 failed: fourth, third"
    with open(out / "per_case.csv") as handle:
        assert [row["case"] for row in csv.DictReader(handle)] == ["perfect", "shifted"]
    document = json.loads((out / "summary.json").read_text())
    assert [entry["case"] for entry in document["failed"]] == ["fourth", "third"]
    assert "manual LA" in document["definitions"]["scar_pct_auto"]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.nii.gz")} == before  # inputs untouched


@pytest.mark.parametrize("layout", ["image-label", "imagesTs"])
def test_image_label_folders_and_nnunet_test_sets_are_references_too(tmp_path, layout):
    """Reported by a user: evaluate took only LAScarQS file names, so `<case>/image + label` had to be renamed."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    image = np.random.default_rng(0).normal(100, 10, SHAPE).astype(np.float32)
    truth = _box(10, 50) + _half(30) * _box(10, 50)  # 1 = LA, 2 = scar on the LA (imagesTr coding)
    for case in ("perfect", "shifted"):
        if layout == "image-label":
            write_volume(Volume(image, Geometry(SHAPE, SPACING)), gt / case / "image.nii.gz")
            _write(gt / case / "label.nii.gz", truth.astype(np.uint8))
        else:
            write_volume(Volume(image, Geometry(SHAPE, SPACING)), gt / "imagesTs" / f"{case}_0000.nii.gz")
            _write(gt / "labelsTs" / f"{case}.nii.gz", truth.astype(np.uint8))
    _write(pred / "perfect" / "LA_predict.nii.gz", _box(10, 50))
    _write(pred / "perfect" / "scar_predict.nii.gz", _half(30))
    _write(pred / "shifted" / "LA_predict.nii.gz", _box(12, 52))
    _write(pred / "shifted" / "scar_predict.nii.gz", _half(35))
    rows = {row["case"]: row for row in evaluate_dirs(pred, gt, progress=False).rows}
    assert rows["perfect"]["Dice_LA"] == 1.0 and rows["perfect"]["Dice_s"] == 1.0
    assert rows["shifted"]["Dice_LA"] == pytest.approx(38 / 40)  # as the LAScarQS-named case above
    assert rows["shifted"]["Dice_s"] == pytest.approx(2 * 760 / (760 + 980))


def test_cli_reads_a_painted_scar_where_it_was_painted_unless_told_otherwise(tmp_path):
    # A ball LA with a wall scar cap; the prediction is the manual surface labels painted into the wall band, as
    # `predict` writes them. Detected as a band it scores exactly 1; `--scar-form wall` projects it like a wall
    # label and widens it.
    from atrialjsq.quantify.surface_scar import scar_in_band, surface_sampler
    from atrialjsq.surface.projection import project_mask_to_surface

    spacing = (1.5, 1.5, 1.5)
    shape = (40, 40, 40)
    axes = [(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing, strict=True)]
    grids = np.meshgrid(*axes, indexing="ij")
    radius = np.sqrt(sum(g**2 for g in grids))
    la = radius <= 15.0
    scar = ~la & (radius <= 17.0) & (grids[0] > 6.0)
    sampler = surface_sampler(Volume(la.astype(np.uint8), Geometry(shape, spacing)))
    labels = project_mask_to_surface(la, scar, spacing)
    lookup = {tuple(p): bool(v) for p, v in zip(labels.points, labels.values, strict=True)}
    painted = scar_in_band(sampler, np.array([lookup[tuple(p)] for p in sampler.points]))
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    _write(gt / "ball" / "atriumSegImgMO.nii.gz", la.astype(np.uint8), spacing)
    _write(gt / "ball" / "scarSegImgM.nii.gz", scar.astype(np.uint8), spacing)
    _write(pred / "ball" / "LA_predict.nii.gz", la.astype(np.uint8), spacing)
    _write(pred / "ball" / "scar_predict.nii.gz", painted, spacing)
    dice = {}
    for form in ("auto", "wall"):
        out = tmp_path / form
        assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--scar-form", form]) == 0
        with open(out / "per_case.csv") as handle:
            dice[form] = float(next(csv.DictReader(handle))["Dice_s"])
    assert dice["auto"] == 1.0 and dice["wall"] < 0.97


def test_an_unknown_scar_form_is_refused_before_any_case_is_read(dataset):
    gt, pred = dataset
    with pytest.raises(ValueError, match="scar_form must be one of"):
        evaluate_dirs(pred, gt, progress=False, scar_form="thin")


def test_an_existing_evaluation_is_kept_unless_overwrite(dataset, tmp_path, capsys):
    gt, pred = dataset
    out = tmp_path / "mine"
    out.mkdir()
    (out / "per_case.csv").write_text("my own table\n")
    (out / "notes.txt").write_text("kept")
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out)]) == 1
    assert f"error: {out / 'per_case.csv'}: exists; pass --overwrite" in capsys.readouterr().err
    assert (out / "per_case.csv").read_text() == "my own table\n" and not (out / "summary.json").exists()
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--overwrite"]) == 0
    assert (out / "per_case.csv").read_text().startswith("case,") and (out / "notes.txt").read_text() == "kept"


def test_multi_label_masks_and_an_empty_reference_are_not_scored(dataset):
    gt, pred = dataset
    two_labels = _box(12, 52)
    two_labels[12:20] *= 2  # {0, 1, 2}: which value is the LA?
    _write(pred / "shifted" / "LA_predict.nii.gz", two_labels)
    _write(gt / "perfect" / "atriumSegImgMO.nii.gz", np.zeros(SHAPE, dtype=np.uint8))
    evaluation = evaluate_dirs(pred, gt, progress=False)
    failures = _failures(evaluation)
    assert evaluation.rows == []
    assert "label values [0, 1, 2]" in failures["shifted"].reason
    assert failures["perfect"].path.endswith("atriumSegImgMO.nii.gz") and "empty" in failures["perfect"].reason
    # {0, 255} is a binary mask too: scored as {0, 1}; a reference follows its layout's rule (LAScarQS: any
    # non-zero value is the structure), so a {0, 420} reference LA is scored as well
    _write(pred / "shifted" / "LA_predict.nii.gz", _box(12, 52) * 255)
    _write(gt / "shifted" / "atriumSegImgMO.nii.gz", _box(10, 50).astype(np.uint16) * 420)
    rows = {row["case"]: row for row in evaluate_dirs(pred, gt, progress=False).rows}
    assert rows["shifted"]["Dice_LA"] == pytest.approx(38 / 40)
