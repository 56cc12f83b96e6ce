"""The study scripts' case selection: a fold's held-out cases, or the first N of the cases it trained on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from studies.lasc2018 import held_out

from atrialjsq.data.splits import save_folds
from atrialjsq.errors import InputError


@pytest.fixture
def release(monkeypatch):
    ids = [f"case{i}" for i in range(6)]
    monkeypatch.setattr(held_out, "index_dataset", lambda data: [SimpleNamespace(case_id=i) for i in ids])
    return ids


def test_held_out_or_the_first_training_cases(tmp_path, release):
    folds = [
        {"train": ["case5", "case1", "case3", "case4"], "val": ["case0", "case2"]},
        {"train": ["case0", "case2", "case4", "case5"], "val": ["case1", "case3"]},
    ]
    path = save_folds(folds, tmp_path / "folds.json")
    names = lambda refs: [ref.case_id for ref in refs]  # noqa: E731
    assert names(held_out.held_out_refs(tmp_path, path, 0)) == ["case0", "case2"]
    assert names(held_out.held_out_refs(tmp_path, path, 1)) == ["case1", "case3"]
    # the first two training cases by id, never a held-out one
    assert names(held_out.held_out_refs(tmp_path, path, 0, training=2)) == ["case1", "case3"]
    assert names(held_out.held_out_refs(tmp_path, path, 1, training=10)) == ["case0", "case2", "case4", "case5"]
    with pytest.raises(InputError, match="not fold 2"):
        held_out.held_out_refs(tmp_path, path, 2)
    with pytest.raises(InputError, match="--training"):
        held_out.held_out_refs(tmp_path, path, 0, training=-1)


def test_a_bad_input_is_one_line_and_exit_status_2(capsys):
    def main() -> int:
        raise InputError("cases.npz", "no such compact file")

    assert held_out.run_script(main) == 2
    assert capsys.readouterr().err == "error: cases.npz: no such compact file\n"
    assert held_out.run_script(lambda: 0) == 0
