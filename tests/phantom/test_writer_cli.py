"""Writing phantom sets (LAScarQS task-1 layout accepted by check-data) and the two CLI commands."""

from __future__ import annotations

import json

import numpy as np
import pytest

from atrialjsq.cli import console, main
from atrialjsq.data.check import check_dataset
from atrialjsq.data.layouts import LabelValueWarning, index_dataset, load_case
from atrialjsq.errors import InputError
from atrialjsq.io import read_volume, write_volume
from atrialjsq.phantom import writer
from atrialjsq.phantom.generate import generate_phantom
from atrialjsq.surface.band import BandParams
from atrialjsq.surface.projection import project_mask_to_surface

TINY = {"shape": (80, 80, 40), "spacing": (1.75, 1.75, 2.75)}


def test_written_set_passes_check_data_and_round_trips(tmp_path):
    folders = writer.write_phantom_set(2, tmp_path, seed=4, progress=False, **TINY)
    assert [f.name for f in folders] == ["phantom_0000", "phantom_0001"]
    reports = check_dataset(tmp_path)
    assert [r.status for r in reports] == ["ok", "ok"] and all(r.has_scar for r in reports)
    assert all(r.layout == "lascarqs1" for r in reports)
    # Case 1 is exactly the phantom of its sub-seed, labels bit for bit, the image to int16 rounding.
    ref = index_dataset(tmp_path)[1]
    loaded = load_case(ref)
    case, _ = generate_phantom(writer.case_seed(4, 1), **TINY)
    np.testing.assert_array_equal(loaded.la.array, case.la.array)
    np.testing.assert_array_equal(loaded.scar.array, case.scar.array)
    np.testing.assert_allclose(loaded.image.array, np.rint(case.image.array), atol=0)
    assert loaded.image.geometry.is_close(case.image.geometry)
    params = json.loads((folders[1] / "params.json").read_text())
    assert params["set"] == {"seed": 4, "index": 1} and params["seed"] == writer.case_seed(4, 1)
    manifest = json.loads((tmp_path / "phantoms.json").read_text())
    assert [c["id"] for c in manifest["cases"]] == ["phantom_0000", "phantom_0001"]


def test_a_case_does_not_depend_on_the_set_size(tmp_path):
    """Case k of a set is the same phantom however many cases the set has (sets can be grown later)."""
    small = writer.write_phantom_set(1, tmp_path / "one", seed=4, progress=False, **TINY)
    large = writer.write_phantom_set(3, tmp_path / "three", seed=4, progress=False, **TINY)
    first_small, first_large = (load_case(index_dataset(folders[0].parent)[0]) for folders in (small, large))
    np.testing.assert_array_equal(first_small.la.array, first_large.la.array)
    np.testing.assert_array_equal(first_small.scar.array, first_large.scar.array)
    np.testing.assert_array_equal(first_small.image.array, first_large.image.array)
    seeds = [json.loads((f / "params.json").read_text())["seed"] for f in large]
    assert len(set(seeds)) == 3  # the other cases of the larger set are different phantoms
    assert writer.case_seed(4, 1) != writer.case_seed(5, 1)


def _surface_burden(folder) -> float:
    """The written case's scar share of its LA surface, measured on the files as the generator tests do."""
    case = load_case(index_dataset(folder)[0])
    spacing = case.image.geometry.spacing
    return float(project_mask_to_surface(case.la.array, case.scar.array, spacing, BandParams(reach_mm=4.0)).hit.mean())


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    case, params = generate_phantom(1, **TINY)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "write_volume", broken)
    with pytest.raises(OSError):
        writer.write_case(case, params, tmp_path / "phantom_0000")
    assert list(tmp_path.iterdir()) == []


def test_phantom_cli_writes_cases(tmp_path, capsys):
    out = tmp_path / "set"
    code = main(
        [
            "phantom",
            "--n",
            "1",
            "--out",
            str(out),
            "--seed",
            "2",
            "--shape",
            *("80", "80", "40"),
            "--spacing",
            *("1.75", "1.75", "2.75"),
            "--difficulty",
            "hard",
            "--scar",
            "pre-ablation",
            "--burden",
            "0.1",
        ]
    )
    assert code == 0
    params = json.loads((out / "phantom_0000" / "params.json").read_text())
    assert params["difficulty"] == "hard" and params["scar"]["kind"] == "pre-ablation"
    assert _surface_burden(out) == pytest.approx(0.1, abs=0.02)
    assert "wrote 1 phantom" in capsys.readouterr().out


def test_phantom_cli_rejects_bad_burden(tmp_path, capsys):
    assert main(["phantom", "--out", str(tmp_path / "x"), "--burden", "0.9"]) == 1
    assert "burden" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_inject_scar_cli_on_a_phantom_set(tmp_path):
    source = tmp_path / "source"
    writer.write_phantom_set(1, source, seed=6, progress=False, **TINY)
    out = tmp_path / "injected"
    assert main(["inject-scar", str(source), "--out", str(out), "--seed", "1", "--burden", "0.2"]) == 0
    reports = check_dataset(out)
    assert [r.status for r in reports] == ["ok"] and reports[0].has_scar
    injected = load_case(index_dataset(out)[0])
    original = load_case(index_dataset(source)[0])
    np.testing.assert_array_equal(injected.la.array, original.la.array)
    assert injected.image.geometry.is_close(original.image.geometry)
    # the phantom's own scar stays labelled (it stays bright in the image) beside the injected 20 %
    own = original.labels["scar"].array > 0
    assert own.any() and np.all(injected.labels["scar"].array[own] > 0)
    params = json.loads((out / injected.case_id / "params.json").read_text())
    assert params["existing_scar_voxels_kept"] == int(own.sum())
    assert params["scar"]["burden_measured"] == pytest.approx(0.2, abs=0.02)
    assert _surface_burden(out) > 0.2


@pytest.mark.slow
def test_default_clinical_geometry_case_passes_check_data(tmp_path):
    from atrialjsq.phantom.generate import DEFAULT_SHAPE, DEFAULT_SPACING

    folders = writer.write_phantom_set(1, tmp_path, seed=0, progress=False)
    report = check_dataset(tmp_path)[0]
    assert report.status == "ok" and report.has_scar
    assert report.shape == DEFAULT_SHAPE and report.spacing == pytest.approx(DEFAULT_SPACING)
    assert 50 < report.la_ml < 200
    params = json.loads((folders[0] / "params.json").read_text())
    assert params["geometry"]["acquisition_spacing"] == pytest.approx([1.25, 1.25, 2.5])


def test_existing_case_folders_are_refused_then_updated_keeping_a_users_files(tmp_path, capsys):
    out = tmp_path / "set"
    writer.write_phantom_set(1, out, seed=3, progress=False, **TINY)
    notes = out / "phantom_0000" / "my_notes.txt"
    notes.write_text("mine")
    before = (out / "phantom_0000" / writer.LA_FILE).read_bytes()
    base = ["phantom", "--out", str(out), "--shape", "80", "80", "40", "--spacing", "1.75", "1.75", "2.75"]
    assert main([*base, "--seed", "3"]) == 1
    assert "already holds 1 of these cases (phantom_0000); give --overwrite" in capsys.readouterr().err
    assert (out / "phantom_0000" / writer.LA_FILE).read_bytes() == before and notes.read_text() == "mine"
    # --overwrite replaces this module's files only: the user's notes stay.
    assert main([*base, "--seed", "3", "--overwrite"]) == 0
    assert notes.read_text() == "mine"
    assert sorted(p.name for p in (out / "phantom_0000").iterdir()) == sorted([*writer.CASE_FILES, "my_notes.txt"])


def test_extending_a_set_keeps_its_manifest_and_another_sets_manifest_is_refused(tmp_path):
    out = tmp_path / "set"
    writer.write_phantom_set(1, out, seed=3, progress=False, **TINY)
    writer.write_phantom_set(1, out, seed=3, start=1, progress=False, **TINY)
    manifest = json.loads((out / writer.MANIFEST_FILE).read_text())
    assert [case["id"] for case in manifest["cases"]] == ["phantom_0000", "phantom_0001"]
    with pytest.raises(InputError, match=r"phantoms\.json: lists a set made with other settings \(seed 3\)"):
        writer.write_phantom_set(1, out, seed=4, start=2, progress=False, **TINY)
    assert not (out / "phantom_0002").exists()


def test_a_new_set_appears_only_complete(tmp_path, monkeypatch):
    calls = []

    def fail_on_the_second(case, params, folder, **kwargs):
        calls.append(folder)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(case, params, folder, **kwargs)

    real = writer.write_case
    monkeypatch.setattr(writer, "write_case", fail_on_the_second)
    with pytest.raises(OSError, match="disk full"):
        writer.write_phantom_set(2, tmp_path / "set", seed=1, progress=False, **TINY)
    assert list(tmp_path.iterdir()) == []  # neither the set nor a temporary folder is left


def test_inject_scar_refuses_an_output_that_holds_its_input_or_lies_inside_it(tmp_path, capsys):
    source = tmp_path / "source"
    writer.write_phantom_set(1, source, seed=6, progress=False, **TINY)
    image = source / "phantom_0000" / writer.IMAGE_FILE
    before = image.read_bytes()
    for data, out in ((source / "phantom_0000", source), (source, source / "injected")):
        assert main(["inject-scar", str(data), "--out", str(out)]) == 1
        assert "output folder must lie outside the input data" in capsys.readouterr().err
    assert image.read_bytes() == before and not (source / "injected").exists()


def test_inject_scar_writes_no_partial_set(tmp_path, capsys):
    source = tmp_path / "source"
    writer.write_phantom_set(2, source, seed=6, progress=False, **TINY)
    (source / "phantom_0001" / writer.LA_FILE).write_bytes(b"not an image")
    out = tmp_path / "injected"
    assert main(["inject-scar", str(source), "--out", str(out)]) == 1
    assert writer.LA_FILE in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]  # phantom_0000 was not left behind


def test_non_finite_values_are_refused_by_the_parser(tmp_path, capsys):
    for flag, values in (("--snr", ["nan"]), ("--spacing", ["nan", "1", "1"]), ("--burden", ["inf"])):
        with pytest.raises(SystemExit) as stop:
            main(["phantom", "--out", str(tmp_path / "x"), flag, *values])
        assert stop.value.code == 2
        assert f"argument {flag}: must be a finite number" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_set_with_other_settings_is_replaced_only_when_every_case_it_lists_is_rewritten(tmp_path):
    out = tmp_path / "set"
    writer.write_phantom_set(2, out, seed=3, progress=False, **TINY)
    with pytest.raises(InputError, match="other settings"):  # phantom_0001 would stay, listed as seed 3
        writer.write_phantom_set(1, out, seed=4, overwrite=True, progress=False, **TINY)
    writer.write_phantom_set(2, out, seed=4, overwrite=True, progress=False, **TINY)
    manifest = json.loads((out / writer.MANIFEST_FILE).read_text())
    assert manifest["seed"] == 4 and [c["seed"] for c in manifest["cases"]] == [writer.case_seed(4, i) for i in (0, 1)]


def test_a_folder_that_appears_while_a_new_set_is_written_is_left_alone(tmp_path, monkeypatch):
    out = tmp_path / "set"
    real = writer.write_case

    def meanwhile(case, params, folder, **kwargs):
        out.mkdir()  # another run (or the user) creates the folder before this set is complete
        (out / "theirs.txt").write_text("theirs")
        return real(case, params, folder, **kwargs)

    monkeypatch.setattr(writer, "write_case", meanwhile)
    with pytest.raises(InputError, match="appeared while this output was written"):
        writer.write_phantom_set(1, out, seed=1, progress=False, **TINY)
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]  # the discarded set's temporary folder is gone


def test_inject_scar_into_an_existing_set_keeps_its_manifest(tmp_path):
    source = tmp_path / "source"
    writer.write_phantom_set(2, source, seed=6, progress=False, **TINY)
    out = tmp_path / "injected"
    assert main(["inject-scar", str(source), "--out", str(out), "--seed", "1", "--limit", "1"]) == 0
    assert main(["inject-scar", str(source), "--out", str(out), "--seed", "1", "--overwrite"]) == 0
    listed = [case["id"] for case in json.loads((out / "injected.json").read_text())["cases"]]
    assert listed == ["phantom_0000", "phantom_0001"]
    assert main(["inject-scar", str(source), "--out", str(out), "--seed", "2", "--limit", "1", "--overwrite"]) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--iir-range", "0.3", "0.5"], "--iir-range LOW must be above 1 (scar is brighter than the blood pool)"),
        (["--spacing", "20", "20", "20"], "--spacing over 5 mm is too coarse to show an LA wall"),
    ],
)
def test_phantom_settings_that_give_no_usable_scan_are_refused(tmp_path, capsys, args, message):
    assert main(["phantom", "--out", str(tmp_path / "x"), *args]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_negative_seeds_and_counts_are_named_by_the_parser(tmp_path, capsys):
    for command, flag in (("phantom", "--start"), ("phantom", "--seed"), ("inject-scar", "--limit")):
        value = "0" if flag == "--limit" else "-1"
        with pytest.raises(SystemExit) as stop:
            main(
                [
                    command,
                    *([str(tmp_path)] if command == "inject-scar" else []),
                    "--out",
                    str(tmp_path / "x"),
                    flag,
                    value,
                ]
            )
        assert stop.value.code == 2 and f"argument {flag}:" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_an_output_folder_that_cannot_be_created_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    out = tmp_path / "file" / "set"
    assert main(["phantom", "--out", str(out)]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"error: {out}: output folder cannot be created: {tmp_path / 'file'} is a file"
    )
    source = tmp_path / "source"
    writer.write_phantom_set(1, source, seed=6, progress=False, **TINY)
    assert main(["inject-scar", str(source), "--out", str(out)]) == 1
    assert "output folder cannot be created" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "mine"


def test_a_label_warning_is_one_warning_line(tmp_path, capsys):
    source = tmp_path / "source"
    writer.write_phantom_set(1, source, seed=6, progress=False, **TINY)
    la_path = source / "phantom_0000" / writer.LA_FILE
    la = read_volume(la_path)
    labels = la.array.astype(np.uint8)
    index = np.argwhere(labels > 0)[:10]
    labels[tuple(index.T)] = 2  # {0, 1, 2} under a one-structure name: read as LA, with a warning
    write_volume(la.like(labels), la_path, label=True)
    # the console command (not `main`, which leaves warnings to the caller: here pytest records them)
    assert console(["inject-scar", str(source), "--out", str(tmp_path / "injected")]) == 0
    err = capsys.readouterr().err
    assert f"warning: {la_path}: unexpected label values [0, 1, 2]" in err
    assert "LabelValueWarning" not in err and "layouts.py" not in err
    with pytest.warns(LabelValueWarning, match="unexpected label values"):  # main: the caller's handling
        assert main(["inject-scar", str(source), "--out", str(tmp_path / "again")]) == 0
