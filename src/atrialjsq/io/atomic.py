"""Atomic writes: write to a temporary sibling, then rename, so a crash never leaves a partial output."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _suffixes(path: Path) -> str:
    # Keep compound suffixes (".nii.gz") so writers that dispatch on the extension still work.
    return "".join(path.suffixes) if path.suffixes else ""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path next to `path`; on success it is renamed onto `path`, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}.", suffix=_suffixes(path), dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_output(directory: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces (or becomes) `directory` only if the block succeeds.

    Used for multi-file outputs (one case of predictions, a generated dataset) so that a failure part-way
    leaves nothing behind.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp", dir=directory.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        if directory.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old", dir=directory.parent))
            backup.rmdir()
            os.replace(directory, backup)
            os.replace(tmp, directory)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
