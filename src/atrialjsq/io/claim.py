"""One writer per output folder: an atomic claim (a lock file made with O_EXCL) held while a case is written.

Two `predict` runs into the same `--out` would otherwise both write a case and the second silently replace the
first. The claim is `<parent>/.<name>.lock`, holding the writer's host and process id; a claim whose process is
gone (same host, pid not running) is stale and taken over, by one run at a time (a flock on the folder while
the stale claim is checked again and removed). A claim from another host cannot be checked and is
respected: the error says which file to remove if that run is known to be dead.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from atrialjsq.errors import InputError
from atrialjsq.io.atomic import remove_abandoned_outputs


def lock_path(folder: str | Path) -> Path:
    folder = Path(folder)
    return folder.parent / f".{folder.name}.lock"


def _holder(lock: Path) -> dict:
    try:
        return json.loads(lock.read_text())
    except (OSError, ValueError):
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _stale(holder: dict) -> bool:
    pid = holder.get("pid")
    return holder.get("host") == socket.gethostname() and isinstance(pid, int) and not _alive(pid)


@contextlib.contextmanager
def _folder_guard(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) on the folder itself for a few file operations: released by the
    kernel if this process dies, and it leaves no file behind. Where flock is missing (Windows) no guard."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # (closing releases the flock)


def _remove_if_still(lock: Path, holder: dict) -> bool:
    """Remove a stale claim only if it is still the one read as stale: two runs that both found it stale would
    otherwise race, the second removing the fresh claim the first had just made, and both write the case."""
    with _folder_guard(lock.parent):
        if _holder(lock) != holder:
            return False
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        return True


@contextlib.contextmanager
def claim(folder: str | Path) -> Iterator[Path]:
    """Hold the claim on `folder` for the block; `InputError` (naming the folder) when another live run holds it."""
    lock = lock_path(folder)
    created = not lock.parent.exists()  # an output root made only for the claim goes again if nothing was written
    lock.parent.mkdir(parents=True, exist_ok=True)
    record = json.dumps({"host": socket.gethostname(), "pid": os.getpid()})
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(lock)
            if _stale(holder):
                _remove_if_still(lock, holder)
                continue
            who = f"process {holder.get('pid')} on {holder.get('host')}" if holder else "another run"
            raise InputError(
                folder, f"is being written by {who} (claim {lock.name}); wait for it, or remove the claim if it died"
            ) from None
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(record)
        except BaseException:  # e.g. a full disk: an empty claim would block the folder for ever
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            raise
        break
    else:  # pragma: no cover - a third writer raced us twice
        raise InputError(folder, "could not claim the folder (another run keeps taking it)")
    remove_abandoned_outputs(folder)  # a run killed mid-write left its temporary folder; no one else can own it now
    try:
        yield lock
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        if created:
            with contextlib.suppress(OSError):  # not empty: the case (or another run) wrote into it
                lock.parent.rmdir()
