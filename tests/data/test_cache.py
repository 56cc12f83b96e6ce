"""The preprocessing cache: round trip against a direct computation, atomicity, and its CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import truncate, write_images_tr

from atrialjsq.cli import main
from atrialjsq.data.cache import CACHE_FORMAT, build_cache, load_cache, load_cached_case
from atrialjsq.data.layouts import index_dataset, load_case
from atrialjsq.data.preprocess import preprocess_case
from atrialjsq.errors import InputError

SMALL = {"spacing": (1.0, 1.0, 1.0), "roi": (24, 24, 16), "margin": (4, 4, 2)}
WINDOW = (32, 32, 20)
DTYPES = {
    "image": np.float32,
    "la": np.uint8,
    "scar": np.uint8,
    "band": np.uint8,
    "surface": np.uint8,
    "phi_la": np.float16,
    "phi_normal": np.float16,
    "phi_scar": np.float16,
}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for number in range(3):
        write_images_tr(root, f"c{number}", seed=number, with_scar=number != 2)
    return root


def test_cache_round_trip(dataset: Path, tmp_path: Path) -> None:
    refs = index_dataset(dataset)
    index = build_cache(refs, tmp_path / "cache", workers=1, **SMALL)
    assert index.case_ids == ["c0", "c1", "c2"] and index.window == WINDOW
    payload = json.loads((tmp_path / "cache" / "dataset.json").read_text())
    assert payload["format"] == CACHE_FORMAT and payload["roi"] == [24, 24, 16] and payload["margin"] == [4, 4, 2]
    assert payload["orientation"] == "LPS"  # every case was turned so (`preprocess_case`), and inference repeats it
    assert [c["has_scar"] for c in payload["cases"]] == [True, True, False]
    assert [c["phantom"] for c in payload["cases"]] == [False, False, False]  # real-layout files, no phantom tag
    assert len(payload["folds"]) == 3 and sorted(i for f in payload["folds"] for i in f["val"]) == index.case_ids

    arrays = load_cached_case(index, "c0")
    assert {name: a.dtype.type for name, a in arrays.items()} == DTYPES
    assert all(a.shape == WINDOW for a in arrays.values())
    direct = preprocess_case(load_case(refs[0]), **SMALL).arrays
    for name, array in arrays.items():
        np.testing.assert_array_equal(array, direct[name].astype(DTYPES[name]))
    entry = index.entry("c0")
    assert entry["original_geometry"]["shape"] == [24, 22, 12]
    assert entry["crop"]["roi"] == list(WINDOW)
    assert not load_cached_case(index, "c2")["scar"].any()
    assert set(np.unique(load_cached_case(index, "c2")["band"])) <= {0, 1}
    # the extent the network saw, padding cut off (none here): the scan's own, for the model card
    extent = [n * s for n, s in zip([24, 22, 12], entry["original_geometry"]["spacing"], strict=True)]
    assert sorted(entry["field_of_view_mm"]) == pytest.approx(sorted(extent))


def test_a_cache_built_before_padding_was_cut_says_so_when_trained_on(dataset: Path, tmp_path: Path) -> None:
    from atrialjsq.train.run import padding_note

    index = build_cache(index_dataset(dataset), tmp_path / "cache", workers=1, **SMALL)
    assert json.loads((tmp_path / "cache" / "dataset.json").read_text())["padding_cut"] is True
    assert padding_note(index) is None
    payload = json.loads((tmp_path / "cache" / "dataset.json").read_text())
    del payload["padding_cut"]
    (tmp_path / "cache" / "dataset.json").write_text(json.dumps(payload))
    note = padding_note(load_cache(tmp_path / "cache"))
    assert note is not None and note.startswith(f"note: {tmp_path / 'cache'} was built before constant padding")
    # a cache written by hand (no entry records how it was made) gets no note
    for entry in payload["cases"]:
        del entry["original_geometry"]
    (tmp_path / "cache" / "dataset.json").write_text(json.dumps(payload))
    assert padding_note(load_cache(tmp_path / "cache")) is None


@pytest.mark.parametrize("workers", [1, 2])
def test_failed_build_writes_nothing(dataset: Path, tmp_path: Path, workers: int) -> None:
    truncate(dataset / "imagesTr" / "c1_0000.nii.gz")
    out = tmp_path / "cache"
    with pytest.raises(InputError, match=r"c1_0000\.nii\.gz: file is truncated"):
        build_cache(index_dataset(dataset), out, workers=workers, **SMALL)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no temporary folder left behind


def test_refuses_to_replace_a_folder_that_is_not_a_cache(dataset: Path, tmp_path: Path) -> None:
    precious = tmp_path / "results"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not an atrialjsq cache; refusing"):
        build_cache(index_dataset(dataset), precious, workers=1, **SMALL)
    assert (precious / "keep.txt").read_text() == "mine"


def test_a_folder_that_appears_while_the_cache_builds_is_not_replaced(dataset: Path, tmp_path: Path, monkeypatch):
    import atrialjsq.data.cache as cache_module

    out = tmp_path / "cache"
    real = cache_module._process_case

    def meanwhile(ref, cases_dir, settings):  # someone saves their results to that path during a long build
        out.mkdir(exist_ok=True)
        (out / "keep.txt").write_text("mine")
        return real(ref, cases_dir, settings)

    monkeypatch.setattr(cache_module, "_process_case", meanwhile)
    with pytest.raises(InputError, match="not an atrialjsq cache; refusing"):
        build_cache(index_dataset(dataset), out, workers=1, **SMALL)
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "data"]  # no temporary folder left behind


def test_a_dataset_json_alone_does_not_make_a_folder_a_cache(dataset: Path, tmp_path: Path) -> None:
    """nnU-Net's raw datasets have a dataset.json too; replacing one would delete imagesTr/ and labelsTr/."""
    raw = tmp_path / "Dataset001_LA"
    (raw / "imagesTr").mkdir(parents=True)
    (raw / "imagesTr" / "la_001_0000.nii.gz").write_bytes(b"image")
    (raw / "dataset.json").write_text(json.dumps({"channel_names": {"0": "LGE"}, "labels": {"background": 0}}))
    with pytest.raises(InputError, match="not an atrialjsq cache; refusing"):
        build_cache(index_dataset(dataset), raw, workers=1, **SMALL)
    assert (raw / "imagesTr" / "la_001_0000.nii.gz").read_bytes() == b"image"
    # Our own cache with a user's file put into it is not replaced either (the file would go with it).
    cache = tmp_path / "cache"
    build_cache(index_dataset(dataset)[:2], cache, workers=1, **SMALL)
    (cache / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"also holds other files \(notes\.txt\)"):
        build_cache(index_dataset(dataset)[:2], cache, workers=1, **SMALL)
    assert (cache / "notes.txt").read_text() == "mine"


def test_load_cache_errors(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no dataset\.json"):
        load_cache(tmp_path)
    index = build_cache(index_dataset(dataset)[:2], tmp_path / "cache", workers=1, **SMALL)
    # A hand-edited fold naming a case the cache does not hold: one line naming the file, not a KeyError later.
    index_file = tmp_path / "cache" / "dataset.json"
    payload = json.loads(index_file.read_text())
    edited = {**payload, "folds": [{"train": ["c0"], "val": ["c9"]}, {"train": ["c9"], "val": ["c0"]}]}
    index_file.write_text(json.dumps(edited))
    with pytest.raises(InputError, match=r"dataset\.json: fold 0 names case\(s\) not in the data: c9"):
        load_cache(tmp_path / "cache")
    index_file.write_text(json.dumps(payload))
    (tmp_path / "cache" / "cases" / "c1.npz").unlink()
    with pytest.raises(InputError, match=r"c1\.npz: cached case file is missing"):
        load_cached_case(index, "c1")
    (tmp_path / "cache" / "dataset.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(InputError, match="unknown cache format"):
        load_cache(tmp_path / "cache")


def test_an_old_cache_of_cases_stored_otherwise_than_lps_must_be_rebuilt(dataset: Path, tmp_path: Path) -> None:
    build_cache(index_dataset(dataset)[:2], tmp_path / "cache", workers=1, **SMALL)
    index_file = tmp_path / "cache" / "dataset.json"
    payload = json.loads(index_file.read_text())
    del payload["orientation"]  # as written before caches turned cases: identity-direction cases are still fine
    index_file.write_text(json.dumps(payload))
    assert len(load_cache(tmp_path / "cache").cases) == 2
    payload["cases"][1]["original_geometry"]["direction"] = [-1, 0, 0, 0, -1, 0, 0, 0, 1]  # stored RAS
    index_file.write_text(json.dumps(payload))
    case_id = payload["cases"][1]["id"]
    with pytest.raises(InputError, match=f"case '{case_id}' is stored RAS: rebuild it with `atrialjsq preprocess`"):
        load_cache(tmp_path / "cache")


def test_cli_with_workers_rebuilds_in_place(dataset: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cache"
    args = ["preprocess", str(dataset), "--out", str(out), "--roi", "24", "24", "16", "--margin", "4", "4", "2"]
    assert main([*args, "--workers", "2", "--limit", "2"]) == 0
    assert load_cache(out).case_ids == ["c0", "c1"]
    assert "cached 2 cases" in capsys.readouterr().out
    assert main([*args, "--workers", "1"]) == 0  # an existing cache is replaced as a whole
    assert load_cache(out).case_ids == ["c0", "c1", "c2"]
    for bad in (
        ["--spacing", "0", "1", "1"],
        ["--spacing", "nan", "1", "1"],
        ["--roi", "24", "-1", "16"],
        ["--workers", "0"],
        ["--limit", "0"],
    ):
        with pytest.raises(SystemExit) as stop:
            main([*args, *bad])
        assert stop.value.code == 2
        assert f"argument {bad[0]}: must be" in capsys.readouterr().err
    assert load_cache(out).case_ids == ["c0", "c1", "c2"]  # untouched


def test_a_grid_too_coarse_or_too_fine_is_refused_before_anything_is_written(dataset: Path, tmp_path: Path, capsys):
    out = tmp_path / "cache"
    args = ["preprocess", str(dataset), "--out", str(out), "--roi", "24", "24", "16", "--margin", "4", "4", "2"]
    assert main([*args, "--spacing", "6", "1", "1"]) == 1
    assert capsys.readouterr().err.strip().endswith("--spacing over 5 mm is too coarse to show an LA wall")
    # the fixture's scans at 0.01 mm: a million times the voxels of a 1 mm grid, far over the 2²⁸ limit, refused
    # before SimpleITK tries to allocate them
    case = load_case(index_dataset(dataset)[0])
    assert np.prod(np.asarray(case.image.geometry.shape) * np.asarray(case.image.geometry.spacing) / 0.01) > 2**28
    with pytest.raises(InputError, match=r"0\.01x0\.01x0\.01 mm grid over this scan holds \d+ million voxels"):
        preprocess_case(case, spacing=(0.01, 0.01, 0.01), roi=(24, 24, 16), margin=(4, 4, 2))
    assert not out.exists()
    (tmp_path / "file").write_text("mine")
    assert main([*args[:3], str(tmp_path / "file" / "cache"), *args[4:]]) == 1
    assert "output folder cannot be created" in capsys.readouterr().err
