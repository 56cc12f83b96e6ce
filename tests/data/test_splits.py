"""k-fold splits: disjoint, covering, balanced, independent of listing order, and round-tripped through JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atrialjsq.data.splits import load_folds, make_folds, save_folds
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
