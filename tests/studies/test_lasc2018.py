"""Real-data workflow at CPU scale: time-boxed training, the CV pipeline end to end, native-grid scoring."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from studies.lasc2018.cli import main
from studies.lasc2018.compact import build_compact, load_compact, trainer_arrays
from studies.lasc2018.cross_validation import read_predictions, write_predictions
from studies.lasc2018.scoring import score_case, score_predictions

from atrialjsq.errors import InputError
from atrialjsq.model.configs import get_config
from atrialjsq.train.checkpoint import load_checkpoint, load_model_file
from missing_modules import without

NATIVE = (0.625, 0.625, 1.25)
TINY = {"model": {"levels": 2, "base_channels": 2, "max_channels": 4}, "data": {"roi": (16, 16, 16)}}


def _cases(count: int = 4, shape=(36, 32, 20), radius_mm: float = 5.0):
    """Balls of different radii and positions: bright 'blood pool' codes in a noisy, darker background."""
    from atrialjsq.data.case import Case
    from atrialjsq.io.geometry import Geometry
    from atrialjsq.io.volume import Volume
    from shapes import sphere_mask

    cases = []
    for index in range(count):
        rng = np.random.default_rng(index)
        centre = (shape[0] // 2 - 1 + index % 2, shape[1] // 2 - 1 + index // 2, shape[2] // 2)
        la = sphere_mask(shape, centre, radius_mm + 0.5 * index, NATIVE)
        codes = np.clip(np.rint(40 + 140 * la + rng.normal(0, 8, shape)), 0, 255)
        geometry = Geometry(shape, NATIVE)
        image = Volume((-1.0 + 0.037 * codes).astype(np.float32), geometry)
        cases.append(Case(f"case{index}", image, {"la": Volume(la, geometry)}, {"source": f"synthetic/{index}"}))
    return cases


@pytest.fixture(scope="module")
def compact_1mm(tmp_path_factory):
    return build_compact(_cases(), tmp_path_factory.mktemp("compact") / "set.npz", z_margin_mm=6.0)


@pytest.fixture(scope="module")
def compact_native(tmp_path_factory):
    return build_compact(_cases(1), tmp_path_factory.mktemp("native") / "set.npz", spacing=NATIVE, z_margin_mm=4.0)


def test_predictions_file_round_trip_quantises_to_1_over_255(tmp_path):
    probability = np.linspace(0, 1, 4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    path = write_predictions(tmp_path / "p.npz", {"a": {"la": probability, "p_scar": 1 - probability}}, {"fold": 2})
    header, loaded = read_predictions(path)
    assert header["fold"] == 2 and header["shapes"] == {"a": [4, 5, 6]}
    assert sorted(loaded["a"]) == ["la", "p_scar"]
    np.testing.assert_allclose(loaded["a"]["la"], probability, atol=0.5 / 255 + 1e-7)
    np.testing.assert_allclose(loaded["a"]["p_scar"], 1 - probability, atol=0.5 / 255 + 1e-7)
    with pytest.raises(InputError, match="no such"):
        read_predictions(tmp_path / "none.npz")


def test_scoring_on_the_native_grid_has_known_answers(compact_native):
    case = load_compact(compact_native).cases[0]
    truth = case.la.astype(np.float32)
    perfect = score_case(case, truth)
    assert perfect["Dice_LA"] == 1.0 and perfect["HD95_vox"] == 0.0 and perfect["ASD_mm"] == 0.0
    shifted = np.roll(truth, 2, axis=0)  # 2 voxels along x = 1.25 mm
    metrics = score_case(case, shifted)
    assert metrics["HD_vox"] == pytest.approx(2.0) and metrics["HD_mm"] == pytest.approx(1.25)
    assert 0.5 < metrics["Dice_LA"] < 1.0
    shifted_z = np.roll(truth, 1, axis=2)  # 1 slice along z = 1.25 mm
    assert score_case(case, shifted_z)["HD_mm"] == pytest.approx(1.25)
    blob = truth.copy()
    blob[0:2, 0:2, 0:2] = 1.0  # a distant false positive
    assert score_case(case, blob, largest_component=True)["Dice_LA"] == 1.0
    assert score_case(case, blob, largest_component=False)["Dice_LA"] < 1.0
    with pytest.raises(ValueError, match="shape"):
        score_case(case, truth[:-1])


# Runs `python -m studies.lasc2018` as on the GPU image, where SimpleITK and meshio are not installed.
WITHOUT_SIMPLEITK = without(
    """import runpy
sys.argv = ["studies.lasc2018", *sys.argv[1:]]
runpy.run_module("studies.lasc2018", run_name="__main__")"""
)


def test_cross_validation_pipeline_end_to_end(compact_1mm, tmp_path, capsys):
    """2 folds of 4 synthetic cases: train (1 s each) and predict held-out cases without SimpleITK, as on the
    GPU image; then score on the native grid (which needs it) and train + export the all-cases model."""
    torch.set_num_threads(1)
    run, scores = tmp_path / "run", tmp_path / "scores"
    common = ["--compact", str(compact_1mm), "--config", "unet-la-se", "--k", "2", "--seconds", "1", "--quiet"]
    sizes = ["--roi", "16", "16", "16", "--margin", "4", "4", "4", "--device", "cpu"]
    tiny = ["--set", "model.levels=2", "--set", "model.base_channels=2", "--set", "model.max_channels=4"]
    tiny += ["--set", "train.flip_axes=[0, 1, 2]"]  # --tta mirrors only a model trained with flips
    cv = ["cv", *common, *sizes, *tiny, "--out", str(run), "--folds", "0", "1", "--tta", "--workers", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", WITHOUT_SIMPLEITK, *cv], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fold 1:" in done.stdout
    blocked_score = ["score", "--compact", str(compact_1mm), "--predictions", str(run), "--out", str(scores)]
    refused = subprocess.run([sys.executable, "-c", WITHOUT_SIMPLEITK, *blocked_score], capture_output=True, text=True)
    assert refused.returncode == 1 and "needs SimpleITK" in refused.stderr and not scores.exists()
    (tmp_path / "empty").mkdir()
    assert (
        main(["score", "--compact", str(compact_1mm), "--predictions", str(tmp_path / "empty"), "--out", str(scores)])
        == 1
    )
    assert f"{tmp_path / 'empty'}: holds no predictions*.npz files" in capsys.readouterr().err
    assert (
        main(["score", "--compact", str(compact_1mm), "--predictions", str(run), "--out", str(scores), "--quiet"]) == 0
    )
    assert (
        main(["final", *common, *sizes, *tiny, "--out", str(tmp_path / "final"), "--export", str(tmp_path / "m.pt")])
        == 0
    )

    folds = json.loads((run / "folds.json").read_text())["folds"]
    for number, fold in enumerate(folds):
        state = load_checkpoint(run / f"fold{number}" / "last.pt")
        assert not set(state["meta"]["train_cases"]) & set(fold["val"])
        header, maps = read_predictions(run / f"fold{number}" / "predictions.npz")
        assert sorted(maps) == fold["val"] and header["tta"] is True
        assert all(set(case_maps) == {"la"} for case_maps in maps.values())
    rows = list(csv.DictReader((scores / "per_case.csv").open()))
    assert sorted(row["case"] for row in rows) == [f"case{i}" for i in range(4)]
    for row in rows:
        assert 0.0 <= float(row["Dice_LA"]) <= 1.0
        assert float(row["HD95_vox"]) >= 0 and float(row["HD95_mm"]) >= 0
    summary = json.loads((scores / "summary.json").read_text())
    assert summary["largest_component"] is True and summary["overall"]["Dice_LA"]["n"] == 4
    assert [fold["fold"] for fold in summary["per_fold"]] == [0, 1]
    assert "| all | 4 |" in (scores / "summary.md").read_text()
    model = load_model_file(tmp_path / "m.pt")
    assert model["format"] == "atrialjsq-model-v1" and model["meta"]["cases"] == 4
    assert all(t.dtype == torch.float16 for t in model["model"].values() if t.is_floating_point())
    # a case scored twice is refused
    with pytest.raises(InputError, match="also predicted"):
        score_predictions(compact_1mm, [run / "fold0" / "predictions.npz"] * 2, tmp_path / "dup", progress=False)


def test_a_finished_fold_made_otherwise_is_refused(compact_1mm, tmp_path):
    from studies.lasc2018.cross_validation import (
        CAPPED_LR_RULE,
        CvSettings,
        _check_done_fold,
        run_identity,
    )

    compact = load_compact(compact_1mm)
    settings = CvSettings(config=get_config("unet-la-se"), seconds=60.0)
    done = tmp_path / "fold.json"
    summary = {"config": "unet-la-se", "seconds_budget": 60.0, "tta": False, "originals": None}
    _check_done_fold(done, {**summary, "identity": run_identity(compact, settings)}, compact, settings)  # same
    with pytest.raises(InputError, match=r"fold.json: this fold was made otherwise \(seconds_budget: 30.0 -> 60.0"):
        _check_done_fold(done, {**summary, "seconds_budget": 30.0}, compact, settings)
    other = {**run_identity(compact, settings), "compact": "elsewhere.npz"}
    with pytest.raises(InputError, match="the data files or options"):
        _check_done_fold(done, {**summary, "identity": other}, compact, settings)
    # An iteration cap: a fold trained when the rate followed the clock alone (no lr_schedule recorded), or to
    # another cap, is not today's run.
    capped = CvSettings(config=get_config("unet-la-se"), seconds=60.0, max_iterations=1700)
    record = {"max_iterations": 1700, "lr_schedule": CAPPED_LR_RULE}
    _check_done_fold(done, {**summary, **record}, compact, capped)
    with pytest.raises(InputError, match="max_iterations: None -> 1700"):
        _check_done_fold(done, summary, compact, capped)
    with pytest.raises(InputError, match="max_iterations: 3000 -> 1700"):
        _check_done_fold(done, {**summary, **record, "max_iterations": 3000}, compact, capped)


def test_spacing_mismatch_is_refused(compact_1mm, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["cv", "--compact", str(compact_1mm), "--out", str(out), "--spacing", "2", "2", "2", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert str(compact_1mm) in err and "spacing" in err, err
    assert not out.exists()


def test_bad_training_options_fail_before_any_output(compact_1mm, tmp_path, capsys):
    out = tmp_path / "run"
    common = ["cv", "--compact", str(compact_1mm), "--out", str(out), "--quiet"]
    assert main([*common, "--add-originals", str(tmp_path / "missing.npz")]) == 1
    assert "missing.npz: no such compact file" in capsys.readouterr().err
    assert not out.exists()  # not even folds.json
    assert main([*common, "--add-draw", str(compact_1mm)]) == 1  # a compact without injected scar
    assert "not an injected compact file" in capsys.readouterr().err
    assert not out.exists()
    for flag in ("--seconds", "--snapshot-every"):
        with pytest.raises(SystemExit) as stop:
            main([*common, flag, "-5"])
        assert stop.value.code == 2 and "must be positive" in capsys.readouterr().err
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- scar study


@pytest.fixture(scope="module")
def scar_compact(tmp_path_factory):
    """Two balls of radius 13 mm with scar injected into their wall (on the 1 mm window)."""
    from studies.lasc2018.scar import inject_compact

    folder = tmp_path_factory.mktemp("scar")
    la_set = build_compact(_cases(2, shape=(72, 72, 36), radius_mm=13.0), folder / "la.npz", z_margin_mm=6.0)
    return inject_compact(la_set, folder / "scar.npz", seed=1)


def test_injected_compact_has_exact_scar_labels_on_its_own_grid(scar_compact):
    compact = load_compact(scar_compact)
    assert compact.header["scar"] == "injected" and compact.header["seed"] == 1
    for case in compact.cases:
        assert case.native_geometry == case.window_geometry  # the scar truth lives on the 1 mm window
        np.testing.assert_array_equal(case.la_native, case.la)
        scar, la = case.scar > 0, case.la > 0
        assert scar.any() and not (scar & la).any()  # scar sits in the wall, outside the blood pool
        assert 0.05 < case.info["meta"]["burden_measured"] < 0.6
    # joint configs train on the wall band with the injected scar projected onto it (band == 2)
    arrays = trainer_arrays(compact.cases[0], (40, 40, 40), (1.0, 1.0, 1.0), joint=True)
    assert set(np.unique(arrays["band"])) == {0, 1, 2}


def _surface_maps(case, swap: bool = False) -> dict[str, np.ndarray]:
    """The maps of a network that outputs exactly its training targets: the DPMs exp(-|φ|) of the wall band's
    normal and scar parts (`data.targets`), with the injected scar projected onto the band."""
    from atrialjsq.data.targets import compute_targets

    la, scar = case.la > 0, case.scar > 0
    targets = compute_targets(la.astype(np.uint8), scar.astype(np.uint8), case.native_geometry.spacing)
    p_scar, p_normal = (np.exp(-np.abs(targets[key].astype(np.float32))) for key in ("phi_scar", "phi_normal"))
    if swap:
        p_scar, p_normal = p_normal, p_scar
    return {"la": la.astype(np.float32), "p_scar": p_scar, "p_normal": p_normal}


def test_scar_table_rows_have_known_answers(scar_compact, tmp_path):
    """Baselines given a perfect predicted LA equal those given the manual LA; a network whose maps are its
    training targets scores near-perfect scar (read where `predict` paints it), the same maps swapped poorly."""
    from studies.lasc2018.scar import score_scar_study

    compact = load_compact(scar_compact)
    perfect = {case.case_id: _surface_maps(case) for case in compact.cases}
    swapped = {case.case_id: _surface_maps(case, swap=True) for case in compact.cases}
    la_only = {case_id: {"la": maps["la"]} for case_id, maps in perfect.items()}
    files = {}
    for name, maps in (("perfect", perfect), ("swapped", swapped), ("la", la_only)):
        files[name] = write_predictions(tmp_path / f"{name}.npz", maps, {"fold": 0})
    networks = {"AJSQnet-SESA": [files["perfect"]], "swapped": [files["swapped"]]}
    out = tmp_path / "table"
    score_scar_study(scar_compact, out, networks, [files["la"]], ("otsu", "iir"), progress=False)

    def rows(label):
        return list(csv.DictReader((out / f"{label}_per_case.csv").open()))

    for method in ("Otsu", "IIR"):
        manual, predicted = rows(f"LA_M_{method}"), rows(f"LA_pred_{method}")
        for a, b in zip(manual, predicted, strict=True):
            assert a["Accuracy"] == b["Accuracy"] and a["scar_pct_auto"] == b["scar_pct_auto"]
            assert float(b["Dice_LA"]) == 1.0
    good, bad = rows("AJSQnet-SESA"), rows("swapped")
    for a, b in zip(good, bad, strict=True):
        assert float(a["Accuracy"]) > 0.98 and float(a["scar_pct_error"]) < 1.0 and float(a["Dice_s"]) > 0.95
        assert float(b["Accuracy"]) < float(a["Accuracy"]) - 0.3
    table = (out / "scar_table.md").read_text()
    assert "LA_pred+MGMM" not in table and "| swapped |" in table and "against AJSQnet-SESA" in table


def test_learngc_rows_use_a_classifier_from_the_other_fold(scar_compact, tmp_path):
    from studies.lasc2018.scar import score_scar_study

    compact = load_compact(scar_compact)
    ids = compact.case_ids
    folds = [{"train": [ids[1]], "val": [ids[0]]}, {"train": [ids[0]], "val": [ids[1]]}]
    la_only = {case.case_id: {"la": _surface_maps(case)["la"]} for case in compact.cases}
    la_file = write_predictions(tmp_path / "la.npz", la_only, {"fold": 0})
    out = tmp_path / "table"
    score_scar_study(scar_compact, out, None, [la_file], ("otsu",), progress=False, learngc_folds=folds)
    manual = list(csv.DictReader((out / "LA_M_LearnGC_per_case.csv").open()))
    predicted = list(csv.DictReader((out / "LA_pred_LearnGC_per_case.csv").open()))
    assert len(manual) == 2
    for a, b in zip(manual, predicted, strict=True):  # the predicted LA is the manual one here
        assert a["Accuracy"] == b["Accuracy"] and float(a["Accuracy"]) > 0.7
    assert "| LA_M+LearnGC | N/A |" in (out / "scar_table.md").read_text()
    from studies.lasc2018.scar import learngc_by_fold

    classifiers = learngc_by_fold(compact, folds, progress=False)
    assert classifiers[ids[0]].cases == [ids[1]] and classifiers[ids[1]].cases == [ids[0]]  # never its own case
    assert list(learngc_by_fold(compact, folds, scored=[ids[1]], progress=False)) == [ids[1]]  # one fold trained
    twice = [{"train": [ids[1]], "val": [ids[0]]}, {"train": [ids[1]], "val": [ids[0]]}]
    with pytest.raises(InputError, match="held out by two folds"):
        score_scar_study(scar_compact, tmp_path / "t2", None, None, ("otsu",), progress=False, learngc_folds=twice)


def _ball_with_enhanced_wall(iir: float = 1.5):
    """A 12 mm ball (blood 100 over a background of 20, 1 mm voxels) whose wall on the -x side (x < -6 mm) already
    reads `iir` x the blood pool above zero, and an injected scar on the +x side (x > 6 mm)."""
    from shapes import sphere_mask

    shape = (48, 48, 48)
    la = sphere_mask(shape, radius_mm=12.0).astype(bool)
    grids = np.meshgrid(*[np.arange(n) - (n - 1) / 2 for n in shape], indexing="ij")
    radius = np.sqrt(sum(g**2 for g in grids))
    wall = ~la & (radius <= 14.5)
    image = np.where(la, 100.0, 20.0)
    image[wall & (grids[0] < -6)] = 20.0 + iir * 80.0
    return image, la, wall & (grids[0] > 6), grids[0]


def test_unknown_wall_is_the_surface_side_of_real_enhancement_away_from_the_injected_scar():
    from scipy import ndimage
    from studies.lasc2018.scar import UNKNOWN_REACH_MM, unknown_wall

    image, la, scar, x = _ball_with_enhanced_wall(1.5)
    unknown = unknown_wall(image, la, scar, (1.0, 1.0, 1.0), iir=1.32)
    assert unknown.any() and not (unknown & la).any()
    first_layer = ndimage.binary_dilation(la, ndimage.generate_binary_structure(3, 1)) & ~la
    assert not (unknown & ~first_layer).any()  # next to the surface voxels, so `exclude` drops those
    # on the enhanced side, carried at most the reach along the wall, never next to the injected scar
    assert x[unknown].max() <= -6 + UNKNOWN_REACH_MM and x[unknown].min() < -10
    assert not (unknown & ndimage.binary_dilation(scar)).any()
    # enhancement of the original only under the injected scar was overwritten by it: nothing is unknown
    plain, _, _, _ = _ball_with_enhanced_wall(1.0)
    assert not unknown_wall(np.where(scar, 200.0, plain), la, scar, (1.0, 1.0, 1.0)).any()
    # below the cut-off nothing is unknown
    assert not unknown_wall(image, la, scar, (1.0, 1.0, 1.0), iir=1.6).any()


def test_score_scar_leaves_out_the_surface_next_to_original_enhancement(scar_compact, tmp_path):
    """With the original compact given, surface voxels next to wall that was already bright there leave every
    row; without enhancement in the original nothing changes."""
    from studies.lasc2018.scar import score_scar_study

    compact = load_compact(scar_compact)
    original = load_compact(scar_compact.parent / "la.npz")
    bright_cases = []
    for case in _cases(2, shape=(72, 72, 36), radius_mm=13.0):
        la = case.labels["la"].array > 0
        outside = ndimage_edt(~la, NATIVE)
        wall = (outside > 0) & (outside <= 2.5)
        x = np.arange(la.shape[0])[:, None, None] * NATIVE[0]
        centre = (np.argwhere(la)[:, 0].mean()) * NATIVE[0]
        array = case.image.array.copy()
        array[wall & (x < centre - 4)] = -1.0 + 0.037 * 255  # the -x wall at the top code: IIR about 1.4
        case.image = case.image.like(array)
        bright_cases.append(case)
    bright = build_compact(bright_cases, tmp_path / "bright.npz", z_margin_mm=6.0)
    assert load_compact(bright).case(compact.case_ids[0]).codes.shape == original.case(compact.case_ids[0]).codes.shape

    def surface_sizes(out, original_file):
        score_scar_study(scar_compact, out, None, None, ("otsu",), progress=False, original=original_file)
        rows = list(csv.DictReader((out / "LA_M_Otsu_per_case.csv").open()))
        return [float(row["n_surface"]) for row in rows]

    everything = surface_sizes(tmp_path / "all", None)
    assert surface_sizes(tmp_path / "plain", scar_compact.parent / "la.npz") == everything
    known = surface_sizes(tmp_path / "known", bright)
    assert all(0.5 * a < b < a for a, b in zip(everything, known, strict=True))
    assert "before the injection left out" in (tmp_path / "known" / "scar_table.md").read_text()
    with pytest.raises(InputError, match="unknown-iir must be a positive"):
        score_scar_study(
            scar_compact, tmp_path / "never", None, None, ("otsu",), progress=False, original=bright, unknown_iir=0
        )
    assert not (tmp_path / "never").exists()


def ndimage_edt(mask: np.ndarray, spacing) -> np.ndarray:
    from scipy import ndimage

    return ndimage.distance_transform_edt(mask, sampling=spacing)


@pytest.mark.realdata
def test_score_model_predicts_real_cases_through_the_predictor_on_the_native_grid(lasc_dir, tmp_path):
    from studies.lasc2018.model_scoring import score_model

    from atrialjsq.data.layouts import index_dataset
    from atrialjsq.infer.bundles import untrained_bundle

    fine = get_config("ajsq-sesa", tiny=True, data={"spacing": (4.0, 4.0, 4.0), "roi": (16, 16, 16)})
    bundle = untrained_bundle(None, fine, tmp_path / "tiny.pt")
    case_id = index_dataset(lasc_dir, layout="lasc2018-h5")[0].case_id
    summary = score_model(bundle, lasc_dir, [case_id], tmp_path / "score", progress=False)
    rows = list(csv.DictReader((tmp_path / "score" / "per_case.csv").open()))
    assert [row["case"] for row in rows] == [case_id]
    dice = float(rows[0]["Dice_LA"])
    assert 0.0 <= dice <= 1.0 and summary["overall"]["Dice_LA"]["n"] == 1
    assert summary["spacing_mm"] == [0.625, 0.625, 1.25]
    assert json.loads((tmp_path / "score" / "summary.json").read_text())["cases"] == [case_id]
    with pytest.raises(InputError, match="NOPE"):
        score_model(bundle, lasc_dir, ["NOPE"], tmp_path / "other", progress=False)


def test_original_images_join_training_for_the_la_only(scar_compact, tmp_path):
    """`--add-originals`: each training case comes twice, injected (scar known) and original (scar unknown),
    on the same window; a compact holding other cases is refused."""
    from studies.lasc2018.cross_validation import CvSettings, load_originals, training_cases

    originals = scar_compact.parent / "la.npz"
    config = get_config("ajsq-sesa", **TINY)
    settings = CvSettings(config=config, originals=originals)
    compact = load_compact(scar_compact)
    arrays = training_cases(compact, compact.case_ids, settings, load_originals(compact, settings))
    assert len(arrays) == 2 * len(compact.case_ids)
    assert [float(a["scar_known"]) for a in arrays] == [1.0, 1.0, 0.0, 0.0]
    for injected, original in zip(arrays[:2], arrays[2:], strict=True):
        np.testing.assert_array_equal(injected["la"], original["la"])
        wall = (injected["band"] > 0) & (original["band"] > 0)
        assert wall.any() and not np.array_equal(injected["image"][wall], original["image"][wall])
    other = build_compact(_cases(1), tmp_path / "other.npz", z_margin_mm=6.0)
    with pytest.raises(InputError, match="lacks case"):
        load_originals(compact, CvSettings(config=config, originals=other))


def test_further_draws_of_injected_scar_join_training_with_every_term(scar_compact, tmp_path):
    """`--add-draw`: another injection seed adds one array per case with the scar known, on the same LA and
    window but another scar; a draw with a seed already used, or a compact without injected scar, is refused."""
    from studies.lasc2018.cross_validation import (
        CvSettings,
        load_draws,
        load_originals,
        run_identity,
        training_cases,
    )
    from studies.lasc2018.scar import inject_compact

    la_file = scar_compact.parent / "la.npz"
    draw = inject_compact(la_file, tmp_path / "draw2.npz", seed=2)
    config = get_config("ajsq-sesa", **TINY)
    settings = CvSettings(config=config, originals=la_file, draws=(draw,))
    compact = load_compact(scar_compact)
    draws = load_draws(compact, settings)
    arrays = training_cases(compact, compact.case_ids, settings, load_originals(compact, settings), draws)
    n = len(compact.case_ids)
    assert len(arrays) == 3 * n  # first draw, second draw, as acquired
    assert [float(a["scar_known"]) for a in arrays] == [1.0] * (2 * n) + [0.0] * n
    for first, second in zip(arrays[:n], arrays[n : 2 * n], strict=True):
        np.testing.assert_array_equal(first["la"], second["la"])
        assert not np.array_equal(first["phi_scar"], second["phi_scar"])  # another scar on the same wall
    assert run_identity(compact, settings, draws)["draws"] == [{"path": str(draw), "seed": 2, "difficulty": "medium"}]
    assert "draws" not in run_identity(compact, CvSettings(config=config))  # older runs keep their identity
    same_seed = inject_compact(la_file, tmp_path / "again.npz", seed=1)
    with pytest.raises(InputError, match="seed 1"):
        load_draws(compact, CvSettings(config=config, draws=(same_seed,)))
    with pytest.raises(InputError, match="not an injected compact"):
        load_draws(compact, CvSettings(config=config, draws=(la_file,)))


def test_an_iteration_budget_decays_the_rate_to_its_last_step():
    """Table 5's runs: 1,700 iterations under a 2-hour clock that is never reached. The rate peaks after 5 % of
    the iterations (85) and is near zero at the last one, however fast the machine ran them."""
    from studies.lasc2018.cross_validation import CvSettings, timeboxed_config

    from atrialjsq.train.schedule import make_lr_schedule

    settings = CvSettings(config=get_config("unet-la-se"), seconds=7200.0, max_iterations=1700)
    schedule = make_lr_schedule(timeboxed_config(settings))
    for seconds_per_step in (0.4, 1.2):  # a quiet and a shared CPU: the same rates
        assert schedule.factor(85, 85 * seconds_per_step) == pytest.approx(1.0)
        assert schedule.factor(1699, 1699 * seconds_per_step) == pytest.approx((1 / 1615) ** 0.9)


def test_the_model_file_says_how_each_case_was_seen():
    from studies.lasc2018.cross_validation import CvSettings, _how_seen

    config = get_config("ajsq-sesa", **TINY)
    assert _how_seen(CvSettings(config=config)) == ""
    both = CvSettings(config=config, originals=Path("la.npz"))
    assert _how_seen(both) == " (each with injected scar and as acquired)"  # the shipped model's wording
    three = CvSettings(config=config, originals=Path("la.npz"), draws=(Path("s1.npz"), Path("s2.npz")))
    assert _how_seen(three) == " (each with 3 draws of injected scar and as acquired)"


def test_the_scoring_tables_print_a_dash_for_the_sd_of_one_case():
    from studies.lasc2018.scoring import REPORTED, _markdown

    from atrialjsq.evaluate.statistics import summary_stats

    overall = {name: summary_stats([0.9, math.nan]) for name in REPORTED}  # one scored case: SD undefined
    fold = {"fold": 0, "cases": 1, "iterations": 5, "train_seconds": 1.0, **{name: 0.9 for name in REPORTED}}
    text = _markdown([fold], overall, [])
    assert "| all | 1 | | | 90.00 ± – | 90.00 ± – | 0.90 ± – | 0.90 ± – | 0.90 ± – | 0.90 ± – |" in text
    assert "nan" not in text


# ---------------------------------------------------------------------------------------------- pooling


def _write_fold(folder, la_dice: dict[str, float], scar_dice: dict[str, dict[str, float]]) -> None:
    """A fold's results folder as real_model_results.sh leaves it (only the columns pooling reads)."""
    folder.mkdir(parents=True)
    lines = ["case,Dice_LA,Jaccard_LA,HD95_vox,ASD_vox,HD95_mm,ASD_mm"]
    lines += [f"{case},{dice},{dice / (2 - dice)},2,1,1.5,0.75" for case, dice in la_dice.items()]
    (folder / "la_native_per_case.csv").write_text("\n".join(lines) + "\n")
    (folder / "scar_table.csv").write_text("Method,DiceLA,Dice_s\nLA_M+IIR,N/A,0.5 ± 0.1\nAJSQnet-SESA,0.9,0.6\n")
    for label, values in scar_dice.items():
        rows = ["case,Dice_LA,Accuracy,Dice_s,Dice_g,scar_pct_error"]
        rows += [f"{case},0.9,0.8,{value},0.8,{10 * value}" for case, value in values.items()]
        (folder / f"{label.replace('+', '_')}_per_case.csv").write_text("\n".join(rows) + "\n")


def test_folds_scored_apart_pool_into_one_table(tmp_path):
    from studies.lasc2018.pooling import pool_folds

    a, b = tmp_path / "fold0", tmp_path / "fold1"
    iir, net = "LA_M+IIR", "AJSQnet-SESA"
    _write_fold(a, {"c1": 0.90, "c2": 0.80}, {iir: {"c1": 0.4, "c2": 0.5}, net: {"c1": 0.6, "c2": 0.7}})
    _write_fold(b, {"c3": 0.70, "c4": 0.60}, {iir: {"c3": 0.6, "c4": 0.3}, net: {"c3": 0.8, "c4": 0.5}})
    result = pool_folds([a, b], tmp_path / "pooled")
    assert result["cases"] == 4 and result["rows"] == ["LA_M+IIR", "AJSQnet-SESA"]
    dice = result["la"]["Dice_LA"]
    assert dice["mean"] == pytest.approx(0.75) and dice["std"] == pytest.approx(np.std([0.9, 0.8, 0.7, 0.6], ddof=1))
    summary = (tmp_path / "pooled" / "la_summary.md").read_text()
    assert "| 4 | 75.0 ± 12.9 %" in summary
    table = (tmp_path / "pooled" / "scar_table.md").read_text()
    # Dice_s over the four cases: IIR (0.4, 0.5, 0.6, 0.3) → 0.450 ± 0.129; the network (0.6 .. 0.5) → 0.650 ± 0.129
    assert "| LA_M+IIR | N/A |" in table and "0.450 ± 0.129" in table and "0.650 ± 0.129" in table
    pooled = list(csv.DictReader((tmp_path / "pooled" / "AJSQnet-SESA_per_case.csv").open()))
    assert [row["case"] for row in pooled] == ["c1", "c2", "c3", "c4"]

    with pytest.raises(InputError, match=r"case\(s\) c1, c2 are in another fold's table too"):
        pool_folds([a, a], tmp_path / "twice")
    c = tmp_path / "fold2"
    _write_fold(c, {"c5": 0.5}, {"LA_M+IIR": {"c5": 0.4}, "AJSQnet-SESA": {"c5": 0.6}})
    (c / "scar_table.csv").write_text("Method,DiceLA\nAJSQnet-SESA,0.9\n")
    with pytest.raises(InputError, match="has other rows than"):
        pool_folds([a, c], tmp_path / "rows")
    assert main(["pool", "--results", str(a), str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 1
    assert not (tmp_path / "x").exists() and not (tmp_path / "rows").exists()
