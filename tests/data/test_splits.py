"""k-fold splits: disjoint, covering, balanced, independent of listing order, and round-tripped through JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atrialjsq.data.splits import ensure_folds, load_folds, make_folds, save_folds
from atrialjsq.errors import InputError

IDS = [f"case{n:02d}" for n in range(23)]


def test_folds_partition_the_ids() -> None:
    folds = make_folds(IDS, k=5, seed=0)
    assert len(folds) == 5
    vals = [set(f["val"]) for f in folds]
    assert set().union(*vals) == set(IDS)
    assert sum(len(v) for v in vals) == len(IDS)  # disjoint validation folds
    assert sorted(len(v) for v in vals) == [4, 4, 5, 5, 5]
    for fold in folds:
        assert set(fold["train"]) | set(fold["val"]) == set(IDS)
        assert not set(fold["train"]) & set(fold["val"])


def test_folds_are_reproducible_and_order_free() -> None:
    assert make_folds(IDS, seed=3) == make_folds(list(reversed(IDS)), seed=3)
    assert make_folds(IDS, seed=3) != make_folds(IDS, seed=4)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unique"):
        make_folds(["a", "a", "b"], k=2)
    with pytest.raises(ValueError, match="k="):
        make_folds(["a", "b"], k=3)


def test_json_round_trip_and_errors(tmp_path: Path) -> None:
    folds = make_folds(IDS, k=4, seed=1)
    path = save_folds(folds, tmp_path / "run" / "splits.json", k=4, seed=1)
    assert json.loads(path.read_text())["seed"] == 1
    assert load_folds(path) == folds
    with pytest.raises(InputError, match="no such file"):
        load_folds(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        load_folds(tmp_path / "bad.json")
    (tmp_path / "overlap.json").write_text(json.dumps([{"train": ["a", "b"], "val": ["b"]}]))
    with pytest.raises(InputError, match="both train and val"):
        load_folds(tmp_path / "overlap.json")
    # a hand-edited fold left with no training cases: named here, not a ValueError deep in the trainer later
    (tmp_path / "empty.json").write_text(json.dumps([{"train": ["a"], "val": ["b"]}, {"train": [], "val": []}]))
    with pytest.raises(InputError, match="fold 1 has no training cases") as caught:
        load_folds(tmp_path / "empty.json")
    assert caught.value.path == str(tmp_path / "empty.json")


def test_ensure_folds_saves_then_reuses_a_split_and_refuses_one_that_does_not_fit(tmp_path):
    ids = [f"c{i}" for i in range(6)]
    path = tmp_path / "folds.json"
    folds = ensure_folds(path, ids, 3, 0)
    assert folds == make_folds(ids, 3, 0) and path.is_file()
    assert ensure_folds(path, reversed(ids), 3, seed=7) == folds  # a saved split wins over the seed
    custom = [{"train": ids[2:], "val": ids[:2]}, {"train": ids[:2] + ids[4:], "val": ids[2:4]},
              {"train": ids[:4], "val": ids[4:]}]  # fmt: skip
    save_folds(custom, path)
    assert ensure_folds(path, ids, 3, 0) == custom  # a custom split over the same cases is used as it is
    with pytest.raises(InputError, match=r"holds other folds \(3 folds over 6 held-out ids; this run has k=2"):
        ensure_folds(path, ids, 2, 0)
    with pytest.raises(InputError, match="over 7 cases"):
        ensure_folds(path, [*ids, "c6"], 3, 0)
