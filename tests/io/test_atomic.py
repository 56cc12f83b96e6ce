"""A folder of outputs updated in place: what survives a process killed between the renames (the finished
mark is named done.json here: the suite checks every report.json a test writes against the report schema)."""

from __future__ import annotations

import os

import pytest

from atrialjsq.io import atomic
from atrialjsq.io.atomic import atomic_output

OURS = {"done.json", "la.nii.gz", "scar.nii.gz", "probabilities.nii.gz"}


def _old_case(folder):
    folder.mkdir()
    for name in ("done.json", "la.nii.gz", "probabilities.nii.gz", "notes.txt"):
        (folder / name).write_text(f"old {name}")


def _write_new(tmp):
    for name in ("la.nii.gz", "done.json", "scar.nii.gz"):
        (tmp / name).write_text(f"new {name}")


def test_an_update_replaces_ours_drops_our_stale_files_and_keeps_the_users(tmp_path):
    case = tmp_path / "p01"
    _old_case(case)
    with atomic_output(case, owned=OURS.__contains__, marker="done.json") as tmp:
        _write_new(tmp)
    assert {p.name: p.read_text() for p in case.iterdir()} == {
        "la.nii.gz": "new la.nii.gz",
        "done.json": "new done.json",
        "scar.nii.gz": "new scar.nii.gz",
        "notes.txt": "old notes.txt",  # the user's
    }  # probabilities.nii.gz of the earlier run: stale, removed


def test_a_kill_between_the_renames_leaves_no_finished_mark_over_mixed_files(tmp_path, monkeypatch):
    """The mark sorts before scar.nii.gz (as a case's report.json does): renamed in name order, a kill after the
    first renames left the new mark over the old scar file, a case that --skip-existing would keep."""
    case = tmp_path / "p01"
    _old_case(case)
    renames = []

    def killed_after_one(src, dst):
        if renames:
            raise KeyboardInterrupt
        renames.append(os.path.basename(dst))
        os.rename(src, dst)

    monkeypatch.setattr(atomic.os, "replace", killed_after_one)
    with pytest.raises(KeyboardInterrupt), atomic_output(case, owned=OURS.__contains__, marker="done.json") as tmp:
        _write_new(tmp)
    names = {p.name for p in case.iterdir()}
    assert renames == ["la.nii.gz"] and "done.json" not in names
    assert (case / "la.nii.gz").read_text() == "new la.nii.gz" and (case / "notes.txt").exists()
