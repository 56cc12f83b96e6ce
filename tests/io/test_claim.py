"""The claim on an output folder: exclusive while held, released after, stale claims of dead processes taken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from atrialjsq.errors import InputError
from atrialjsq.io.claim import claim, lock_path


def test_a_held_claim_refuses_a_second_writer_and_is_released(tmp_path):
    folder = tmp_path / "out" / "case1"
    with claim(folder) as lock:
        assert lock == lock_path(folder) and lock.is_file()
        assert json.loads(lock.read_text()) == {"host": socket.gethostname(), "pid": os.getpid()}
        with pytest.raises(InputError, match="is being written by process") as caught:
            with claim(folder):
                pass
        assert str(folder) in str(caught.value)
    assert not lock_path(folder).exists()
    with claim(folder):  # free again
        pass


def test_a_claim_left_by_a_dead_process_is_taken_over(tmp_path):
    folder = tmp_path / "case2"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock_path(folder).write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    with claim(folder):
        assert json.loads(lock_path(folder).read_text())["pid"] == os.getpid()


def test_two_runs_that_found_the_same_stale_claim_do_not_both_write(tmp_path, monkeypatch):
    """Run B read the dead writer's claim as stale, then run A took it over first. B's takeover must now leave
    A's fresh claim alone (and so be refused), not remove it and write the case beside A."""
    from atrialjsq.io import claim as claim_module

    folder = tmp_path / "case2b"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = {"host": socket.gethostname(), "pid": int(dead.stdout)}
    lock_path(folder).write_text(json.dumps(stale))
    seen_by_b = stale  # what B read before A moved
    with claim(folder) as lock:  # A takes the claim over
        fresh = json.loads(lock.read_text())
        assert claim_module._remove_if_still(lock, seen_by_b) is False  # B's takeover, late
        assert json.loads(lock.read_text()) == fresh
        # B's own attempt, its first read still the stale holder: refused, not written beside A
        reads = iter([seen_by_b])
        real = claim_module._holder
        monkeypatch.setattr(claim_module, "_holder", lambda path: next(reads, None) or real(path))
        with pytest.raises(InputError, match="is being written by process"), claim(folder):
            pass
        assert json.loads(lock.read_text()) == fresh


def test_a_claim_from_another_host_is_respected(tmp_path):
    folder = tmp_path / "case3"
    lock_path(folder).write_text(json.dumps({"host": "other-node", "pid": 1}))
    with pytest.raises(InputError, match="process 1 on other-node"):
        with claim(folder):
            pass


def test_an_output_root_made_for_the_claim_goes_again_when_nothing_was_written(tmp_path):
    with claim(tmp_path / "new_out" / "case4"):
        assert (tmp_path / "new_out").is_dir()
    assert not (tmp_path / "new_out").exists()
    with claim(tmp_path / "kept" / "case5"):
        (tmp_path / "kept" / "case5").mkdir()
    assert (tmp_path / "kept" / "case5").is_dir()


def test_a_claim_that_cannot_be_written_is_not_left_behind(tmp_path, monkeypatch):
    """A full disk while the claim's record is written: the error surfaces and no empty claim is left, which
    (holding no process to check) would refuse every later run on that folder."""
    import atrialjsq.io.claim as claim_module

    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, descriptor, mode):
            self.handle = real_fdopen(descriptor, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, text):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(claim_module.os, "fdopen", FullDisk)
    folder = tmp_path / "case9"
    with pytest.raises(OSError, match="No space left"):
        with claim(folder):
            pass
    assert not lock_path(folder).exists()
    monkeypatch.undo()
    with claim(folder):  # the folder is free
        pass


def test_claiming_a_folder_clears_what_a_killed_writer_left_and_nothing_else(tmp_path):
    """A worker killed mid-case leaves its hidden temporary folder; the next run that claims the case removes
    it. Another case's temporaries (`case1.tmpx` is a case name too) and the user's files are kept."""
    out = tmp_path / "out"
    left = [out / ".case1.tmpk3j_x9q2", out / ".case1.old0a1b2c3d"]
    kept = [out / ".case1.tmpx.tmpk3j_x9q2", out / ".case1.tmp", out / "case1.tmpk3j_x9q2", out / ".case12.tmpk3j_x9q2"]
    for folder in left + kept:
        folder.mkdir(parents=True)
        (folder / "LA_predict.nii.gz").write_bytes(b"partial")
    with claim(out / "case1"):
        assert not any(folder.exists() for folder in left)
    assert all((folder / "LA_predict.nii.gz").is_file() for folder in kept)
