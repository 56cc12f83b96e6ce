"""Experiment runner (Tables 2 and 4): rows, bad input, held-out predictions that equal `atrialjsq predict`,
and a CI-scale cross-validated run on phantoms that a rerun does not recompute."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from atrialjsq.errors import InputError
from atrialjsq.evaluate.table_files import write_table
from atrialjsq.evaluate.tables import PAPER_COLUMNS, MethodResults, build_table
from atrialjsq.experiments.paper_tables import (
    TABLE2_ROWS,
    TABLE4_ROWS,
    ExperimentSettings,
    run_experiment,
    select_rows,
)
from atrialjsq.io import Geometry, Volume, read_volume, write_volume
from shapes import sphere_mask

HEADERS = [column.header for column in PAPER_COLUMNS]


# ---------------------------------------------------------------------------------------------- tables


def _per_case(values: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    n = len(next(iter(values.values())))
    return {f"case{i:02d}": {metric: column[i] for metric, column in values.items()} for i in range(n)}


def test_table4_has_definition_columns(tmp_path: Path):
    from atrialjsq.experiments.paper_tables import TABLES

    spec = TABLES["dpm"]
    values = {name: [0.5, 0.6] for name in ("Dice_LA", "ASD_mm", "HD_mm", "Accuracy", "Dice_s", "Dice_g")}
    methods = [MethodResults(row.label, _per_case(values), row.reports_la, row.definition) for row in spec.rows]
    table = build_table(spec.title, methods, "AJSQnet-SESA", definition_headers=spec.definition_headers)
    write_table(table, tmp_path / "table4")
    with open(tmp_path / "table4.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Method", "DPM", "L_SE^scar", *HEADERS]
    assert [r[:3] for r in rows[1:]] == [
        ["AJSQnet-SESA", "exp(-|φ|)", "L2"],
        ["SESA-expit", "expit(-φ)", "L2"],
        ["SESA-Hellinger", "exp(-|φ|)", "Hellinger"],
        ["SESA-norm", "exp(-|φ|)†", "L2"],
        ["SESA-expit-norm", "expit(-φ)†", "L2"],
    ]
    assert all(r[3] == "0.550 ± 0.071" for r in rows[1:])
    markdown = (tmp_path / "table4.md").read_text(encoding="utf-8")
    assert "| SESA-Hellinger | exp(-\\|φ\\|) | Hellinger | 0.550 ± 0.071 |" in markdown  # "|" escaped in cells


# ---------------------------------------------------------------------------------------------- rows


def test_rows_and_shared_networks():
    assert [row.label for row in TABLE2_ROWS] == [
        "LA_M+Otsu",
        "LA_M+MGMM",
        "LA_M+LearnGC",
        "LA_U-Net+Otsu",
        "LA_U-Net+MGMM",
        "U-Net_LA/scar-BCE",
        "U-Net_LA/scar-Dice",
        "U-Net_LA/scar-SE",
        "AJSQnet-BCE",
        "AJSQnet-SE",
        "AJSQnet-SESA",
    ]
    networks = [name for row in TABLE2_ROWS for name in row.networks]
    assert networks.count("unet-la-bce") == 3  # LA_U-Net+Otsu, +MGMM and U-Net_LA/scar-BCE share it
    assert len(set(networks)) == 9
    assert [row.networks for row in TABLE4_ROWS] == [[row.key] for row in TABLE4_ROWS]
    from atrialjsq.model.configs import list_configs

    assert set(networks) | {n for row in TABLE4_ROWS for n in row.networks} <= set(list_configs())
    assert [r.key for r in select_rows("ablation", ["AJSQnet-SESA", "lam-otsu"])] == ["lam-otsu", "ajsq-sesa"]
    with pytest.raises(InputError, match="unknown row"):
        select_rows("dpm", ["lam-otsu"])
    with pytest.raises(InputError, match="unknown experiment"):
        select_rows("table9")


def test_bad_input_is_refused_with_the_path_and_nothing_is_written(tmp_path: Path, capsys):
    from atrialjsq.cli import main

    with pytest.raises(InputError, match="at least 2"):
        ExperimentSettings(tmp_path, tmp_path / "out", folds=1)
    with pytest.raises(InputError, match="spacing"):
        ExperimentSettings(tmp_path, tmp_path / "out", spacing=(1.0, 0.0, 1.0))
    data = tmp_path / "data"
    _write_sphere_set(data, 2)
    out = tmp_path / "out"
    settings = ExperimentSettings(data, out, folds=2, tiny=True, progress=False)
    (data / "case1" / "scarSegImgM.nii.gz").unlink()  # the tables need scar labels for every case
    with pytest.raises(InputError, match=r"data: case\(s\) case1 have no scar label; the tables need one"):
        run_experiment("ablation", settings, ["lam-otsu"])  # (read as an LA-only case, then refused by name)
    (data / "case0" / "scarSegImgM.nii.gz").unlink()  # no scar at all: an LA-only dataset
    with pytest.raises(InputError, match="case0, case1 have no scar label"):
        run_experiment("ablation", settings, ["lam-otsu"])
    assert not out.exists() or not any(out.iterdir())  # no cache, no experiment.json, nothing partial
    _write_sphere_set(data, 2)
    with pytest.raises(InputError, match="2 cases cannot make 3 folds"):
        run_experiment("ablation", ExperimentSettings(data, out, folds=3, tiny=True, progress=False), ["lam-otsu"])
    assert main(["experiment", "ablation", "--data", str(tmp_path / "missing"), "--out", str(out)]) == 1
    assert "missing" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("mine")
    under_a_file = tmp_path / "a_file" / "experiment"
    assert main(["experiment", "ablation", "--data", str(data), "--out", str(under_a_file)]) == 1
    assert capsys.readouterr().err.strip().endswith(f"{tmp_path / 'a_file'} is a file")
    assert main(["experiment", "dpm", "--list-rows"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[:2] == ["ajsq-sesa", "AJSQnet-SESA"]


# ---------------------------------------------------------------------------------------------- prediction


def _write_sphere_set(root: Path, n: int, shape=(40, 40, 40)) -> None:
    """Balls of blood (LA) in a 2 mm wall with a bright scar cap on the +x side, in the LAScarQS task-1 layout."""
    for i in range(n):
        rng = np.random.default_rng(i)
        centre = np.array([(s - 1) / 2 for s in shape]) + rng.uniform(-1.5, 1.5, 3)
        la = sphere_mask(shape, centre, 9.0)
        wall = sphere_mask(shape, centre, 11.0).astype(bool) & ~la.astype(bool)
        scar = (wall & (np.arange(shape[0])[:, None, None] > centre[0] + 2 + i)).astype(np.uint8)
        image = 40 + 110 * la + 20 * wall + 200 * scar + rng.normal(0, 5, shape)
        geometry = Geometry(shape, (1.0, 1.0, 1.0), (-20.0, 3.0, 7.0))
        folder = root / f"case{i}"
        write_volume(Volume(image.astype(np.float32), geometry), folder / "enhanced.nii.gz")
        write_volume(Volume(la, geometry), folder / "atriumSegImgMO.nii.gz", label=True)
        write_volume(Volume(scar, geometry), folder / "scarSegImgM.nii.gz", label=True)


def test_held_out_predictions_are_what_atrialjsq_predict_writes(tmp_path: Path):
    """The runner predicts through the Predictor: its held-out LA and scar masks equal, voxel for voxel, what
    `atrialjsq predict --model <the fold's last.pt>` writes for the same case (on the case's own grid)."""
    from atrialjsq.cli import main
    from atrialjsq.data.splits import load_folds

    torch.set_num_threads(1)
    data, out = tmp_path / "data", tmp_path / "exp"
    _write_sphere_set(data, 2)
    settings = ExperimentSettings(data, out, folds=2, iterations=40, tiny=True, spacing=(2, 2, 2), device="cpu")
    settings.progress = False
    run_experiment("ablation", settings, ["ajsq-sesa"])
    held_out = load_folds(out / "folds.json")[0]["val"][0]
    runner = out / "ajsq-sesa" / "fold0" / "pred" / held_out
    args = ["predict", str(data / held_out / "enhanced.nii.gz"), "--out", str(tmp_path / "predict")]
    args += ["--model", str(out / "models" / "ajsq-sesa" / "fold0" / "last.pt"), "--device", "cpu", "--quiet"]
    assert main(args) == 0
    predicted = tmp_path / "predict" / held_out
    for name in ("LA_predict.nii.gz", "scar_predict.nii.gz"):
        mine, theirs = read_volume(runner / name), read_volume(predicted / name)
        assert mine.geometry == theirs.geometry == read_volume(data / held_out / "enhanced.nii.gz").geometry
        np.testing.assert_array_equal(mine.array, theirs.array)
    assert read_volume(runner / "LA_predict.nii.gz").array.any()  # a real comparison, not of two empty masks


def test_the_learngc_row_trains_its_classifier_per_fold_and_reruns_nothing(tmp_path: Path):
    data, out = tmp_path / "data", tmp_path / "exp"
    _write_sphere_set(data, 4)
    settings = dict(data=data, out=out, folds=2, tiny=True, spacing=(2, 2, 2), device="cpu", progress=False)
    log = run_experiment("ablation", ExperimentSettings(**settings), ["lam-learngc", "lam-otsu"])
    assert sorted(log.trained) == ["learngc/fold0", "learngc/fold1"]
    for fold in (0, 1):
        assert (out / "models" / "learngc" / f"fold{fold}" / "learngc.json").is_file()
    table = (out / "table2.md").read_text()
    assert "| LA_M+LearnGC | N/A | N/A | N/A |" in table
    rows = list(csv.DictReader((out / "lam-learngc" / "per_case.csv").open()))
    assert len(rows) == 4 and all(0.0 <= float(row["Dice_s"]) <= 1.0 for row in rows)
    again = run_experiment("ablation", ExperimentSettings(**settings), ["lam-learngc"])
    assert again.trained == [] and again.evaluated == []


def test_table5_rows_are_la_only_and_need_no_scar_labels(tmp_path: Path):
    """Table 5 on balls without scar labels: LA-only rows (no scar file written or scored), the three DTM
    columns, marks against U-Net_LA-SE; a Table 2 row on the same data is refused for the missing scar."""
    torch.set_num_threads(1)
    data, out = tmp_path / "data", tmp_path / "exp"
    _write_sphere_set(data, 2)
    for case in data.iterdir():
        (case / "scarSegImgM.nii.gz").unlink()
    settings = ExperimentSettings(data, out, folds=2, iterations=20, tiny=True, spacing=(2, 2, 2), device="cpu")
    settings.progress = False
    rows = ["unet-la-dangi", "unet-la-se", "unet-la-xue"]  # Dangi: a decoder that only training runs
    log = run_experiment("dtm", settings, rows)
    assert sorted(log.trained) == [f"{row}/fold{k}" for row in rows for k in (0, 1)]
    for row in rows:
        for prediction in (out / row).glob("fold*/pred/*"):
            assert sorted(p.name for p in prediction.iterdir()) == ["LA_predict.nii.gz"]
    table = (out / "table5.md").read_text()
    assert "| Method | DiceLA (LA) | ASSD (mm) (LA) | HD (mm) (LA) |" in table
    assert "Accuracy" not in table and "| U-Net_LA-SE |" in table
    assert "| Xue et al. |" in table and "| Dangi et al. |" in table
    assert "against U-Net_LA-SE" in table
    with pytest.raises(InputError, match="have no scar label"):
        run_experiment("ablation", ExperimentSettings(data, tmp_path / "t2", folds=2, tiny=True), ["unet-bce"])


# ---------------------------------------------------------------------------------------------- CI-scale run


def _mtimes(root: Path, pattern: str) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.glob(pattern))}


def test_ci_run_on_phantoms_then_rerun_recomputes_nothing(tmp_path: Path):
    from atrialjsq.cli import main
    from atrialjsq.phantom.writer import write_phantom_set
    from atrialjsq.train.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    data, out = tmp_path / "phantoms", tmp_path / "exp"
    write_phantom_set(4, data, seed=0, shape=(64, 64, 24), spacing=(2.5, 2.5, 5.0), progress=False)
    settings = dict(data=data, out=out, folds=2, iterations=3, tiny=True, spacing=(3, 3, 3), device="cpu")
    rows = ["lam-otsu", "launet-otsu", "unet-bce"]
    log = run_experiment("ablation", ExperimentSettings(**settings, progress=False), rows)

    # unet-la-bce serves two of the rows and is trained once per fold
    assert sorted(log.trained) == sorted(f"{n}/fold{k}" for n in ("unet-la-bce", "unet-scar-bce") for k in (0, 1))
    assert len(log.evaluated) == 6 and not log.skipped and len(log.predicted) == 3 * 4
    for k in (0, 1):
        assert int(load_checkpoint(out / "models" / "unet-la-bce" / f"fold{k}" / "last.pt")["iteration"]) == 3

    # the table has the paper's columns and the rows that ran, in the paper's order
    with open(out / "table2.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["Method", *HEADERS]
    assert [r[0] for r in table[1:]] == ["LA_M+Otsu", "LA_U-Net+Otsu", "U-Net_LA/scar-BCE"]
    assert table[1][1:4] == ["N/A"] * 3 and table[2][1:4] == ["N/A"] * 3 and "±" in table[3][1]
    assert "Not run yet: LA_M+MGMM" in (out / "table2.md").read_text(encoding="utf-8")

    # every phantom is held out exactly once; the manual-LA row writes the manual LA as its LA
    merged = list(csv.DictReader(open(out / "lam-otsu" / "per_case.csv", newline="")))
    assert sorted(r["case"] for r in merged) == [f"phantom_{i:04d}" for i in range(4)]
    assert all(float(r["Dice_LA"]) == 1.0 and float(r["HD_mm"]) == 0.0 for r in merged)
    case = merged[0]["case"]
    fold = next(k for k in (0, 1) if (out / "lam-otsu" / f"fold{k}" / "pred" / case).is_dir())
    written = read_volume(out / "lam-otsu" / f"fold{fold}" / "pred" / case / "LA_predict.nii.gz")
    manual = read_volume(data / case / "atriumSegImgMO.nii.gz")
    np.testing.assert_array_equal(written.array > 0, manual.array > 0)

    # rerun: nothing is trained, predicted or evaluated again, and no result file is rewritten
    watched = "**/fold*/**/*.*"
    before = _mtimes(out, watched)
    again = run_experiment("ablation", ExperimentSettings(**settings, progress=False), rows)
    assert (again.trained, again.predicted, again.evaluated) == ([], [], [])
    assert len(again.skipped) == 6
    assert _mtimes(out, watched) == before

    # an interrupted cell resumes: only its missing case is predicted, nothing is trained
    cell = out / "unet-bce" / "fold1"
    (cell / "per_case.csv").unlink()
    shutil.rmtree(next((cell / "pred").iterdir()))
    partial = run_experiment("ablation", ExperimentSettings(**settings, progress=False), rows)
    assert partial.evaluated == ["unet-bce/fold1"] and len(partial.predicted) == 1 and partial.trained == []

    # interrupted training resumes from its checkpoint and ends where the uninterrupted run ended
    model_dir = out / "models" / "unet-scar-bce" / "fold0"
    finished = load_checkpoint(model_dir / "last.pt")
    from atrialjsq.data.cache import load_cache, load_cached_case
    from atrialjsq.data.splits import load_folds
    from atrialjsq.train.trainer import TrainOptions, fit

    index = load_cache(out / "cache")
    train_ids = load_folds(out / "folds.json")[0]["train"]
    config = ExperimentSettings(**settings).config("unet-scar-bce")
    scratch = tmp_path / "scratch"
    fit(
        config,
        [load_cached_case(index, i) for i in train_ids],
        None,
        scratch,
        TrainOptions("cpu", stop_after=1, progress=False),
        meta={"train_cases": list(train_ids), "identity": {}},  # what the fold loop records
    )
    os.replace(scratch / "last.pt", model_dir / "last.pt")
    (out / "unet-bce" / "fold0" / "per_case.csv").unlink()
    resumed = run_experiment("ablation", ExperimentSettings(**settings, progress=False), rows)
    assert resumed.trained == ["unet-scar-bce/fold0"] and resumed.evaluated == ["unet-bce/fold0"]
    state = load_checkpoint(model_dir / "last.pt")
    assert int(state["iteration"]) == 3
    for name, tensor in finished["model"].items():
        torch.testing.assert_close(state["model"][name], tensor)

    # other options on the same folder are refused before anything runs
    with pytest.raises(InputError, match="iterations=3"):
        run_experiment("ablation", ExperimentSettings(**{**settings, "iterations": 5}, progress=False), rows)

    # the CLI on the finished folder reports that nothing was left to do
    args = ["experiment", "ablation", "--data", str(data), "--out", str(out), "--folds", "2", "--iterations", "3"]
    args += ["--tiny", "--spacing", "3", "3", "3", "--device", "cpu", "--rows", ",".join(rows)]
    assert main(args) == 0


@pytest.mark.slow
def test_full_tables_on_phantoms(tmp_path: Path):
    """Every row of Table 2 and Table 4 at CI scale; the shared AJSQnet-SESA cells are computed once."""
    from atrialjsq.phantom.writer import write_phantom_set

    torch.set_num_threads(1)
    data, out = tmp_path / "phantoms", tmp_path / "exp"
    write_phantom_set(4, data, seed=1, shape=(64, 64, 24), spacing=(2.5, 2.5, 5.0), progress=False)
    settings = ExperimentSettings(data, out, folds=2, iterations=2, tiny=True, spacing=(3, 3, 3), device="cpu")
    settings.progress = False
    table2 = run_experiment("ablation", settings)
    # 2 folds: every row evaluated; 9 networks and the LearnGC classifier trained per fold
    assert len(table2.evaluated) == 2 * len(TABLE2_ROWS) and len(table2.trained) == 2 * 10
    assert sum(name.startswith("learngc/") for name in table2.trained) == 2
    table4 = run_experiment("dpm", settings)
    assert len(table4.evaluated) == 8 and "ajsq-sesa/fold0" in table4.skipped
    for stem, labels in (("table2", [r.label for r in TABLE2_ROWS]), ("table4", [r.label for r in TABLE4_ROWS])):
        with open(out / f"{stem}.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert [r[0] for r in rows[1:]] == labels
        assert all("–" not in cell for r in rows[1:] for cell in r)
