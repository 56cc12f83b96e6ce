"""`atrialjsq train` on a tiny cache: folds, split/config JSON, resume with more iterations, export, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from atrialjsq.cli import main
from atrialjsq.data.cache import CACHE_FORMAT
from atrialjsq.infer.localize import largest_component
from atrialjsq.infer.predictor import Predictor
from atrialjsq.io.geometry import Geometry
from atrialjsq.model.configs import ExperimentConfig
from atrialjsq.train.checkpoint import MODEL_FORMAT, load_checkpoint
from atrialjsq.train.logging import read_csv
from atrialjsq.train.validation import dice

ARGS = ["--config", "ajsq-sesa", "--tiny", "--set", "data.roi=[16,16,16]", "--set", "data.margin=[4,4,4]", "--quiet"]


@pytest.fixture(scope="module")
def cache_dir(tiny_cases, tmp_path_factory):
    """A cache in the documented layout: dataset.json with two folds and one npz per case."""
    root = tmp_path_factory.mktemp("cache")
    (root / "cases").mkdir()
    ids = [f"case{i}" for i in range(len(tiny_cases))]
    for case_id, arrays in zip(ids, tiny_cases, strict=True):
        np.savez_compressed(root / "cases" / f"{case_id}.npz", **arrays)
    folds = [{"train": ids[2:], "val": ids[:2]}, {"train": ids[:2], "val": ids[2:]}]
    payload = {
        "format": CACHE_FORMAT,
        "spacing": [1.0, 1.0, 1.0],
        "roi": [16, 16, 16],
        "margin": [4, 4, 4],
        "zscore_region": "body",
        "orientation": "RAS",  # not what `preprocess` writes (LPS, the default): shows it is carried, not assumed
        "cases": [{"id": i, "file": f"cases/{i}.npz", "has_scar": True} for i in ids],
        "folds": folds,
    }
    (root / "dataset.json").write_text(json.dumps(payload))
    return root


def test_train_a_fold_then_resume_longer_and_export(cache_dir, tmp_path):
    run = tmp_path / "run"
    base = ["train", "--data", str(cache_dir), "--out", str(run), "--fold", "1", *ARGS]
    assert main([*base, "--iterations", "4", "--set", "train.val_every=4"]) == 0
    split = json.loads((run / "split.json").read_text())
    assert (split["fold"], split["train"], split["val"]) == (1, ["case0", "case1"], ["case2", "case3"])
    config = ExperimentConfig.from_dict(json.loads((run / "config.json").read_text()))
    assert config.data.roi == (16, 16, 16) and config.train.iterations == 4
    assert load_checkpoint(run / "last.pt")["iteration"] == 4
    validation = read_csv(run / "val.csv")
    assert [int(row["iteration"]) for row in validation] == [4]
    # validated through the Predictor (the default): the mean LA Dice `predict`'s path gives on the held-out
    # cases' whole cached windows, from the saved model
    predictor = Predictor.from_checkpoint(str(run / "last.pt"), "cpu")
    dices = []
    for case_id in ("case2", "case3"):
        arrays = np.load(cache_dir / "cases" / f"{case_id}.npz")
        maps = predictor.predict_grid(arrays["image"], Geometry(arrays["image"].shape, (1.0, 1.0, 1.0)))
        dices.append(dice(largest_component(maps["la"] > 0.5), arrays["la"] > 0))
    assert float(validation[0]["la_dice"]) == pytest.approx(np.nanmean(dices), abs=1e-12)

    model = tmp_path / "model.pt"
    again = [*base, "--iterations", "6", "--set", "train.val_every=4", "--resume"]
    config_before = (run / "config.json").read_bytes()
    assert main([*again, "--validation", "window"]) == 1  # best.pt would compare two kinds of score
    assert main([*again, "--set", "optim.lr=0.5"]) == 1  # other settings: refused before config.json is written
    assert (run / "config.json").read_bytes() == config_before
    notes = tmp_path / "notes.pt"
    notes.write_text("a user's file that happens to end in .pt")
    assert main([*again, "--export", str(notes)]) == 1  # a resumed run replaces only its own earlier export
    assert notes.read_text() == "a user's file that happens to end in .pt"
    assert load_checkpoint(run / "last.pt")["iteration"] == 4
    assert main([*again, "--export", str(model)]) == 0
    state = load_checkpoint(run / "last.pt")
    assert state["iteration"] == 6 and state["meta"]["train_cases"] == ["case0", "case1"]
    # what inference must repeat, as the cache recorded it: the z-score region and the orientation of the arrays
    preprocessing = {"spacing": [1.0] * 3, "roi": [16] * 3, "margin": [4] * 3, "zscore_region": "body"}
    assert state["preprocessing"] == {**preprocessing, "orientation": "RAS"}
    assert Predictor.from_checkpoint(str(model), "cpu").fine.orientation == "RAS"
    assert [int(r["iteration"]) for r in read_csv(run / "log.csv")] == list(range(6))
    shipped = torch.load(model, weights_only=True)
    assert shipped["format"] == MODEL_FORMAT and shipped["meta"]["fold"] == 1
    # a resumed run may replace its earlier export, never a checkpoint (its optimizer state would be lost)
    from atrialjsq.errors import InputError
    from atrialjsq.workflows.train import check_export

    check_export(model, run, replace_existing=True)
    copy = tmp_path / "checkpoint_copy.pt"
    copy.write_bytes((run / "last.pt").read_bytes())
    with pytest.raises(InputError, match="is not an exported model"):
        check_export(copy, run, replace_existing=True)


def test_all_cases_with_a_validation_share(cache_dir, tmp_path):
    run = tmp_path / "all"
    assert main(["train", "--data", str(cache_dir), "--out", str(run), "--val-fraction", "0.25", "--iterations", "2",
                 *ARGS]) == 0  # fmt: skip
    split = json.loads((run / "split.json").read_text())
    assert split["fold"] is None and len(split["val"]) == 1 and len(split["train"]) == 3
    assert not set(split["val"]) & set(split["train"])


def test_the_window_monitor_validates_on_request(cache_dir, tmp_path):
    from atrialjsq.model.unet import build_model
    from atrialjsq.train.dataset import VolumeBank
    from atrialjsq.train.validation import validate

    run = tmp_path / "window"
    base = ["train", "--data", str(cache_dir), "--out", str(run), "--fold", "0", "--iterations", "2", *ARGS]
    assert main([*base, "--validation", "window", "--no-fast"]) == 0
    row = read_csv(run / "val.csv")[-1]
    state = load_checkpoint(run / "last.pt")
    config = ExperimentConfig.from_dict(state["config"])
    model = build_model(config)
    model.load_state_dict(state["model"])
    val = [dict(np.load(cache_dir / "cases" / f"{case_id}.npz")) for case_id in ("case0", "case1")]
    bank = VolumeBank(val, config.data.roi, None, config.data.spacing, torch.device("cpu"))
    expected = validate(model, bank, torch.device("cpu"))
    assert float(row["la_dice"]) == pytest.approx(expected["la_dice"], nan_ok=True)
    assert float(row["score"]) == pytest.approx(expected["score"], nan_ok=True)


def test_bad_input_prints_one_line_and_fails(cache_dir, tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r"), *ARGS]) == 1
    assert "missing: no such file" in capsys.readouterr().err
    assert main(["train", "--data", str(cache_dir), "--out", str(tmp_path / "r"), "--fold", "5", *ARGS]) == 1
    assert "not fold 5" in capsys.readouterr().err
    assert main(["train", "--data", str(cache_dir), "--out", str(tmp_path / "r"), "--fold", "0", "--val-fraction",
                 "0.5", *ARGS]) == 1  # fmt: skip
    assert "--val-fraction goes with --folds all" in capsys.readouterr().err
    assert main(["train", "--data", str(cache_dir), "--out", str(tmp_path / "r"), "--config", "ajsq-sesa"]) == 1
    assert "roi" in capsys.readouterr().err  # the 16^3 cache does not fit the paper's 208x208x80 config
    assert main(["train", "--data", str(cache_dir), "--out", str(tmp_path / "r"), "--resume", *ARGS]) == 1
    assert "nothing to resume" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_raw_dataset_that_cannot_be_split_leaves_no_cache_or_run_files(tmp_path, capsys):
    from atrialjsq.phantom.writer import write_phantom_set

    raw = tmp_path / "raw"
    write_phantom_set(2, raw, difficulty="easy", shape=(80, 80, 40), spacing=(1.75, 1.75, 2.75), progress=False)
    run = tmp_path / "run"
    base = ["train", "--data", str(raw), "--out", str(run), *ARGS, "--set", "data.spacing=[3.5,3.5,3.5]"]
    for bad, says in (
        (["--fold", "7"], f"{raw}: a cache built from it would have folds 0..1, not fold 7"),  # two cases, two folds
        (["--val-fraction", "0.9"], f"{raw}: 2 case(s) cannot be split"),
        (["--init-from", str(raw / "phantoms.json")], "phantoms.json"),
    ):
        assert main([*base, *bad]) == 1
        assert says in capsys.readouterr().err
        assert not run.exists()  # no RUN/cache built, no config.json or split.json to block a corrected retry


def test_an_unknown_loss_name_fails_before_any_data_is_read(tmp_path, capsys):
    missing = tmp_path / "missing"  # a data error would show if the data were read first
    assert (
        main(["train", "--data", str(missing), "--out", str(tmp_path / "r"), *ARGS, "--set", "loss.scar_loss=focal"])
        == 1
    )
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: config: loss.scar_loss = 'focal': choose from se, bce, dice"]  # no usage


def test_a_set_typo_is_one_line_naming_the_option(tmp_path, capsys):
    """Reported by a user: a misspelt --set key printed the command's 16-line usage before the one useful line."""
    out = ["--out", str(tmp_path / "r")]
    assert main(["train", "--data", str(tmp_path), *out, *ARGS, "--set", "train.synthtic_scar=0.7"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: config: override 'train.synthtic_scar': no field")
    assert main(["train", "--data", str(tmp_path), *out, *ARGS, "--set", "train.seed"]) == 1
    assert capsys.readouterr().err.splitlines() == ["error: --set: 'train.seed': expected KEY=VALUE"]
    assert not (tmp_path / "r").exists()


def test_raw_phantom_dataset_is_cached_into_the_run_then_reused(tmp_path, capsys):
    from atrialjsq.phantom.writer import write_phantom_set

    raw = tmp_path / "raw"
    write_phantom_set(2, raw, difficulty="easy", shape=(80, 80, 40), spacing=(1.75, 1.75, 2.75), progress=False)
    run = tmp_path / "run"
    grid = ["--set", "data.spacing=[3.5,3.5,3.5]", "--workers", "1", "--iterations", "2"]
    assert main(["train", "--data", str(raw), "--out", str(run), *ARGS, *grid]) == 0
    index = json.loads((run / "cache" / "dataset.json").read_text())
    assert (index["spacing"], index["roi"], index["margin"]) == ([3.5] * 3, [16] * 3, [4] * 3)
    assert sorted(c["id"] for c in index["cases"]) == ["phantom_0000", "phantom_0001"]
    assert all(c["phantom"] for c in index["cases"])  # recorded at caching: the card need not find them again
    stamp = (run / "cache" / "dataset.json").stat().st_mtime_ns
    assert main(["train", "--data", str(raw), "--out", str(run), *ARGS, *grid[:-1], "3", "--resume"]) == 0
    assert (run / "cache" / "dataset.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert load_checkpoint(run / "last.pt")["iteration"] == 3
    # --data now names other scans (a third case added): the run's cache would train on the old two; refused,
    # whether the run is resumed or started again, before anything is touched.
    more = tmp_path / "more"
    write_phantom_set(3, more, difficulty="easy", shape=(80, 80, 40), spacing=(1.75, 1.75, 2.75), progress=False)
    capsys.readouterr()
    for again in ("--resume", "--overwrite"):
        assert main(["train", "--data", str(more), "--out", str(run), *ARGS, *grid[:-1], "4", again]) == 1
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert error.startswith(f"error: {run / 'cache'}: was built from other data than --data gives (1 case(s)")
    assert (run / "cache" / "dataset.json").stat().st_mtime_ns == stamp
    assert load_checkpoint(run / "last.pt")["iteration"] == 3


def test_several_folds_of_a_raw_dataset_share_one_cache(tmp_path):
    """`--folds 0,1` on raw scans preprocesses them once, into RUN/cache, not once per fold folder."""
    from atrialjsq.phantom.writer import write_phantom_set

    raw = tmp_path / "raw"
    write_phantom_set(2, raw, difficulty="easy", shape=(80, 80, 40), spacing=(1.75, 1.75, 2.75), progress=False)
    run = tmp_path / "run"
    grid = ["--set", "data.spacing=[3.5,3.5,3.5]", "--workers", "1", "--iterations", "1", "--validation", "window"]
    assert main(["train", "--data", str(raw), "--out", str(run), *ARGS, *grid, "--folds", "0,1"]) == 0
    assert (run / "cache" / "dataset.json").is_file()
    assert not (run / "fold0" / "cache").exists() and not (run / "fold1" / "cache").exists()
    assert (
        load_checkpoint(run / "fold0" / "last.pt")["iteration"]
        == load_checkpoint(run / "fold1" / "last.pt")["iteration"]
        == 1
    )


def test_a_raw_hdf5_dataset_is_cached_at_the_spacing_given(tmp_path):
    """The LASC 2018 HDF5 release stores no voxel size: `train --h5-spacing` gives it, as `preprocess` does."""
    import h5py
    from scipy import ndimage

    raw = tmp_path / "raw"
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*(np.arange(n) - n / 2 for n in (40, 40, 20)), indexing="ij"))
    for k in range(2):
        ball = (grid[0] ** 2 + grid[1] ** 2 + (2 * grid[2]) ** 2) < (12 + k) ** 2
        texture = ndimage.gaussian_filter(rng.normal(size=ball.shape), 1.5)
        (raw / "cases" / f"h{k}").mkdir(parents=True)
        with h5py.File(raw / "cases" / f"h{k}" / "mri_norm2.h5", "w") as handle:
            handle["image"] = (ball * 2.0 + texture / texture.std() * 0.3).astype(np.float32)
            handle["label"] = ball.astype(np.uint8)
    run = tmp_path / "run"
    options = [
        "--set",
        "data.spacing=[3.5,3.5,3.5]",
        "--workers",
        "1",
        "--iterations",
        "1",
        "--h5-spacing",
        "1.5",
        "1.5",
        "3",
    ]
    assert main(["train", "--data", str(raw), "--out", str(run), *ARGS, *options]) == 0
    index = json.loads((run / "cache" / "dataset.json").read_text())
    assert [case["original_geometry"]["spacing"] for case in index["cases"]] == [[1.5, 1.5, 3.0]] * 2


def test_a_runs_cache_is_refused_when_its_files_changed_or_another_h5_spacing_is_given(tmp_path, capsys):
    """Reported by review: the run's own cache was reused whenever the case paths matched, so another
    --h5-spacing or relabelled scans trained on the old arrays without a word."""
    import os

    import h5py

    raw = tmp_path / "raw"
    for k in range(2):
        (raw / "cases" / f"h{k}").mkdir(parents=True)
        grid = np.stack(np.meshgrid(*(np.arange(n) - n / 2 for n in (40, 40, 20)), indexing="ij"))
        ball = (grid[0] ** 2 + grid[1] ** 2 + (2 * grid[2]) ** 2) < (12 + k) ** 2
        rng = np.random.default_rng(k)
        with h5py.File(raw / "cases" / f"h{k}" / "mri_norm2.h5", "w") as handle:
            handle["image"] = (ball * 2.0 + rng.normal(size=ball.shape) * 0.1).astype(np.float32)
            handle["label"] = ball.astype(np.uint8)
    run = tmp_path / "run"
    base = ["train", "--data", str(raw), "--out", str(run), *ARGS, "--set", "data.spacing=[3.5,3.5,3.5]"]
    base += ["--workers", "1", "--validation", "window", "--iterations"]
    h5 = ["--h5-spacing", "1.5", "1.5", "3"]
    assert main([*base, "1", *h5]) == 0
    capsys.readouterr()
    assert main([*base, "2", "--h5-spacing", "1", "1", "2", "--overwrite"]) == 1
    assert "was built from other versions of these files (changed since, or another --h5-spacing)" in (
        capsys.readouterr().err
    )
    label = raw / "cases" / "h1" / "mri_norm2.h5"
    os.utime(label, ns=(label.stat().st_atime_ns, label.stat().st_mtime_ns + 10**9))  # the scan edited since
    assert main([*base, "2", *h5, "--resume"]) == 1
    assert "e.g. h1" in capsys.readouterr().err
    assert load_checkpoint(run / "last.pt")["iteration"] == 1  # nothing trained on the stale cache


def test_an_existing_run_is_never_restarted_by_accident(cache_dir, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "--data", str(cache_dir), "--out", str(run), *ARGS]
    assert main([*base, "--iterations", "2"]) == 0
    (run / "notes.txt").write_text("kept")
    before = {name: (run / name).read_bytes() for name in ("last.pt", "log.csv", "config.json")}
    other = ["train", "--data", str(cache_dir), "--out", str(tmp_path / "other"), "--iterations", "1", *ARGS]
    assert main([*other, "--set", "model.base_channels=2", "--export", str(tmp_path / "other.pt")]) == 0
    capsys.readouterr()
    assert main([*base, "--iterations", "3"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: {run}: holds a training run (last.pt, log.csv")
    assert "pass --resume to continue it or --overwrite to start again from iteration 0" in err[-1]
    assert {name: (run / name).read_bytes() for name in before} == before  # nothing touched

    # --overwrite with inputs that cannot train removes nothing: the old run is kept until a new one can start.
    for bad, says in (
        (["--data", str(tmp_path / "missing")], "missing: no such file or folder"),
        (["--fold", "7"], "not fold 7"),
        (["--init-from", str(run / "notes.txt")], "notes.txt"),
        (["--set", "data.roi=[24,24,24]"], "cached at spacing [1.0, 1.0, 1.0], roi [16, 16, 16] but config"),
        (["--init-from", str(tmp_path / "other.pt")], "weights do not fit config"),
    ):
        assert main([*base, *bad, "--iterations", "3", "--overwrite"]) == 1
        assert says in capsys.readouterr().err
        assert {name: (run / name).read_bytes() for name in before} == before

    assert main([*base, "--iterations", "3", "--overwrite"]) == 0
    assert "starting again from iteration 0 (removed last.pt" in capsys.readouterr().out
    # A fresh log, not the old one with a second run appended (the loss plot no longer jumps back to 0).
    assert [int(r["iteration"]) for r in read_csv(run / "log.csv")] == [0, 1, 2]
    assert load_checkpoint(run / "last.pt")["iteration"] == 3
    assert (run / "notes.txt").read_text() == "kept"


def test_resume_goes_on_to_the_runs_recorded_target(cache_dir, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "--data", str(cache_dir), "--out", str(run), *ARGS]
    assert main([*base, "--iterations", "4", "--stop-after", "2"]) == 0
    assert load_checkpoint(run / "last.pt")["iteration"] == 2
    capsys.readouterr()
    assert main([*base, "--resume"]) == 0  # no --iterations: the run's own 4, not the config default
    out = capsys.readouterr().out
    assert f"{run}: resuming at iteration 2, training on to 4 (the run's recorded target)" in out
    assert load_checkpoint(run / "last.pt")["iteration"] == 4
    # --init-from only starts a run; a resumed one restores its own weights, so a file gone since is no matter.
    assert main([*base, "--resume", "--iterations", "5", "--init-from", str(tmp_path / "gone.pt")]) == 0
    assert "training on to 5 (--iterations)" in capsys.readouterr().out
    assert [int(r["iteration"]) for r in read_csv(run / "log.csv")] == list(range(5))
    # a finished run resumed: it says there is nothing to train and how to train on, not "resuming ... to 5"
    assert main([*base, "--resume"]) == 0
    out = capsys.readouterr().out
    assert f"{run}: nothing to train: the run ended at iteration 5 (it reached iteration 5)" in out
    assert f"start a new run with --init-from {run / 'last.pt'}" in out and "resuming" not in out


def test_resume_keeps_the_runs_clock_budget_and_its_schedule(cache_dir, tmp_path, capsys):
    """A run started with --seconds and a clock-following schedule, resumed without them: it keeps both (before,
    the budget was silently dropped, or the resume refused over the schedule the budget had chosen)."""
    run = tmp_path / "run"
    base = ["train", "--data", str(cache_dir), "--out", str(run), *ARGS, "--iterations", "4"]
    clocked = ["--seconds", "1000", "--set", 'optim.schedule="poly_clock"']
    assert main([*base, *clocked, "--stop-after", "2"]) == 0
    capsys.readouterr()
    assert main([*base, "--resume"]) == 0
    assert "training on to 4 (--iterations), within its recorded --seconds 1000" in capsys.readouterr().out
    config = load_checkpoint(run / "last.pt")["config"]
    assert load_checkpoint(run / "last.pt")["iteration"] == 4
    assert config["train"]["seconds"] == 1000 and config["optim"]["schedule"] == "poly_clock"


def test_spacing_option_sets_the_model_grid(cache_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--data", str(cache_dir), "--out", str(out), *ARGS, "--spacing", "2", "2", "2"]) == 1
    err = capsys.readouterr().err
    assert "cached at spacing [1.0, 1.0, 1.0]" in err and "wants spacing [2.0, 2.0, 2.0]" in err
    assert not (out / "last.pt").exists()


def test_a_run_records_its_data_so_its_exported_model_is_staged(cache_dir, tmp_path, capsys):
    from atrialjsq.infer.bundles import load_bundle, make_bundle
    from atrialjsq.infer.domain import out_of_domain_warnings

    run = tmp_path / "run"
    args = ["train", "--data", str(cache_dir), "--out", str(run), *ARGS, "--iterations", "7", "--export"]
    assert main([*args, str(tmp_path / "model.pt")]) == 0
    captured = capsys.readouterr()
    assert "no validation cases" in captured.err and "no best.pt" in captured.err
    assert "s per iteration here" in captured.out + captured.err  # the run says how long it will take
    meta = load_checkpoint(run / "last.pt")["meta"]
    assert meta["trained_on"].startswith(f"4 cases of {cache_dir.name} (real scans; all with scar labels")
    assert meta["domain"] == "real LGE MRI"
    for model in (run / "last.pt", tmp_path / "model.pt"):
        assert load_bundle(model)["meta"]["trained_on"] == meta["trained_on"]
    bundle = make_bundle(None, run / "last.pt", tmp_path / "bundle.pt")
    recorded = load_bundle(bundle)["meta"]
    assert recorded["trained_on"] == meta["trained_on"]
    assert not any("does not record" in w for w in out_of_domain_warnings(recorded, "m", None, (1, 1, 1)))


def test_the_cpu_preset_is_the_default_off_a_gpu_and_a_clock_budget_decays_it():
    import argparse

    from atrialjsq.cli.train import build_config, default_config

    assert default_config("cpu") == "ajsq-sesa-cpu" and default_config("cuda:1") == "ajsq-sesa"
    fields = {"iterations": None, "batch_size": None, "lr": None, "optimizer": None, "seed": None, "spacing": None}
    args = argparse.Namespace(config=None, device="cpu", tiny=False, set=[], elastic_mm=None, seconds=120.0, **fields)
    config = build_config(args)
    assert config.name == "ajsq-sesa-cpu" and config.optim.schedule == "poly_clock" and config.train.seconds == 120
    assert config.train.synthetic_scar > 0 and config.data.spacing == (1.5, 1.5, 1.5)
    paper = build_config(argparse.Namespace(**{**vars(args), "config": "ajsq-sesa"}))
    assert paper.optim.schedule == "step"  # the paper's schedule is left alone


def test_duration_estimate_by_hand():
    from atrialjsq.train.trainer import duration_estimate

    assert duration_estimate(0.5, 10, 1210, 5.0, None) == (
        "train: 0.50 s per iteration here; about 10 min more for iterations 10 to 1,210"
    )
    # 120 s budget, 20 s spent: 100 s left at 0.5 s is 200 more iterations, long before 4,500
    assert duration_estimate(0.5, 6, 4500, 20.0, 120.0) == (
        "train: 0.50 s per iteration here; the 2 min budget ends the run at about iteration 206 of 4,500"
    )


def test_cases_without_scar_labels_never_teach_no_scar(cache_dir, tmp_path, capsys):
    """A case with an LA label and no scar label has unknown scar: with the paper's config (no synthetic scar)
    its scar terms are off and the run says so, rather than training the scar head on an all-normal wall."""
    import shutil

    from atrialjsq.train.logging import column

    unlabelled = tmp_path / "cache"
    shutil.copytree(cache_dir, unlabelled)
    index = json.loads((unlabelled / "dataset.json").read_text())
    for entry in index["cases"]:
        entry["has_scar"] = False
    (unlabelled / "dataset.json").write_text(json.dumps(index))
    run = tmp_path / "run"
    assert main(["train", "--data", str(unlabelled), "--out", str(run), *ARGS, "--iterations", "3"]) == 0
    assert "4 of 4 training cases have no scar label" in capsys.readouterr().err
    assert all(float(value) == 0.0 for value in column(read_csv(run / "log.csv"), "loss_scar_se"))


def test_a_run_that_ends_before_its_first_validation_says_there_is_no_best(cache_dir, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--data", str(cache_dir), "--out", str(run), "--fold", "1", *ARGS, "--iterations", "10"]
    assert main([*args, "--stop-after", "3", "--set", "train.val_every=10"]) == 0  # as a clock budget ends a run
    captured = capsys.readouterr()
    assert "before its first validation at iteration 10" in captured.out + captured.err
    assert not (run / "best.pt").exists() and (run / "last.pt").is_file()


def test_a_users_files_with_run_names_are_never_deleted(cache_dir, tmp_path, capsys):
    """A folder with a user's config.json and log.csv is not a run: --overwrite must not remove them, and a
    folder that is not a cache where the run's cache would go is refused before anything is touched."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    (mine / "log.csv").write_text("my,log\n")
    base = ["train", "--data", str(cache_dir), "--out", str(mine), "--iterations", "1", *ARGS]
    for extra in ([], ["--overwrite"]):
        assert main([*base, *extra]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1] == (
            f"error: {mine}: holds log.csv, config.json but no atrialjsq run (its config.json is missing or not a "
            "run's); refusing to touch them: choose a new --out"
        )
        assert (mine / "config.json").read_text() == '{"my": "settings"}' and (
            mine / "log.csv"
        ).read_text() == "my,log\n"
    other = tmp_path / "other"
    (other / "cache").mkdir(parents=True)
    (other / "cache" / "photo.png").write_bytes(b"mine")
    assert main(["train", "--data", str(cache_dir), "--out", str(other), "--iterations", "1", *ARGS]) == 1
    assert "cache: exists and is not an atrialjsq cache" in capsys.readouterr().err
    assert sorted(p.name for p in other.rglob("*")) == ["cache", "photo.png"]


def test_an_output_that_cannot_be_a_folder_or_an_export_over_a_run_file_is_refused(cache_dir, tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("kept")
    run = tmp_path / "run"
    cases = (
        (
            ["--out", str(blocker / "run")],
            f"error: {blocker / 'run'}: output folder cannot be created: {blocker} is a file",
        ),
        (
            ["--out", str(run), "--export", str(run / "last.pt")],
            "is the run's own last.pt; export the model to another file",
        ),
        (["--out", str(run), "--export", str(blocker)], f"error: {blocker}: exists; pass --overwrite to replace it"),
    )
    for args, says in cases:
        assert main(["train", "--data", str(cache_dir), "--iterations", "1", *args, *ARGS]) == 1
        assert says in capsys.readouterr().err.strip().splitlines()[-1]
    assert blocker.read_text() == "kept" and not run.exists()


def test_a_device_or_iteration_count_that_cannot_work_is_refused_before_any_file(cache_dir, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "--data", str(cache_dir), "--out", str(run), "--fold", "0", *ARGS]
    assert main([*base, "--device", "bogus"]) == 1
    assert "unknown device 'bogus' (use cpu or cuda)" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*base, "--device", "cuda"]) == 1
        assert "no CUDA device is available" in capsys.readouterr().err
    for flag in ("--iterations", "--stop-after"):
        with pytest.raises(SystemExit) as stop:
            main([*base, flag, "0"])
        assert stop.value.code == 2 and f"argument {flag}: must be" in capsys.readouterr().err
    assert not run.exists()


def test_a_bad_case_stops_the_cache_with_a_pointer_to_check_data_and_leaves_no_run_folder(tmp_path, capsys):
    """Reported by a user: three bad cases, one reported, and an empty run folder left behind."""
    from atrialjsq.io import Volume, read_volume, write_volume
    from atrialjsq.phantom.writer import write_phantom_set

    raw = tmp_path / "raw"
    write_phantom_set(2, raw, difficulty="easy", shape=(80, 80, 40), spacing=(1.75, 1.75, 2.75), progress=False)
    label = raw / "phantom_0001" / "atriumSegImgMO.nii.gz"
    empty = read_volume(label)
    write_volume(Volume(np.zeros_like(empty.array), empty.geometry), label)
    run = tmp_path / "run"
    assert main(["train", "--data", str(raw), "--out", str(run), *ARGS, "--set", "data.spacing=[3.5,3.5,3.5]"]) == 1
    err = capsys.readouterr().err
    assert f"error: {label}: LA label is empty" in err
    assert f"`atrialjsq check-data {raw}` lists every problem of the data set" in err
    assert not run.exists()
