"""Atomic writes: write to a temporary sibling, then rename, so a crash never leaves a partial output."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from atrialjsq.errors import InputError

PNG_COMPRESS_LEVEL = 1  # zlib level of the figures (fast; see save_figure)


def _suffixes(path: Path) -> str:
    # Keep compound suffixes (".nii.gz") so writers that dispatch on the extension still work.
    return "".join(path.suffixes) if path.suffixes else ""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path next to `path`; on success it is renamed onto `path`, on error removed (with
    the folders made for it, so a refused output leaves nothing behind)."""
    path = Path(path)
    created = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    tmp_path: Path | None = None
    written = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}.", suffix=_suffixes(path), dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should get the usual permissions
        yield tmp_path
        os.replace(tmp_path, path)
        written = True
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()
        if not written:
            for folder in created:  # innermost first; one that another writer filled meanwhile stays
                with contextlib.suppress(OSError):
                    folder.rmdir()


def save_figure(figure: Any, path: str | Path, **options: Any) -> Path:
    """Save a matplotlib figure as a PNG atomically and release it (pyplot keeps every open figure alive, so a
    batch of cases would otherwise accumulate them); `options` go to `savefig` (dpi, facecolor). zlib level 1,
    not 6: the report figure encodes 3x faster for a file 15 % larger."""
    import matplotlib.pyplot as plt  # figures only: deferred, slow to import

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", **{"pil_kwargs": {"compress_level": PNG_COMPRESS_LEVEL}, **options})
    finally:
        plt.close(figure)
    return path


def write_json(path: str | Path, data: Any, *, indent: int = 1, strict: bool = False) -> Path:
    """Write `data` as JSON (with a final newline) atomically; `strict` refuses NaN/inf (write them as null first)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=indent, allow_nan=not strict) + "\n")
    return path


@contextlib.contextmanager
def atomic_output(
    directory: str | Path,
    owned: Callable[[str], bool] | None = None,
    *,
    replace: bool = True,
    marker: str | None = None,
) -> Iterator[Path]:
    """Yield a temporary directory that replaces (or becomes) `directory` only if the block succeeds.

    Used for multi-file outputs (one case of predictions, a generated dataset) so that a failure part-way
    leaves nothing behind. With `owned` (a test on entry names) an existing `directory` is updated instead of
    replaced, so files a user put there survive: each new entry is renamed onto its old name and old entries
    that `owned` claims but the block did not write (e.g. probability maps of an earlier run) are removed.
    `replace=False`: a `directory` that exists when the block ends (it appeared meanwhile) is left as it is
    and the new output discarded, with an `InputError`. `marker`: the entry that says the folder is finished
    (a case's report.json); an update removes the old one first and renames the new one last, so a process
    killed part-way through the renames leaves a folder that says it is unfinished, not old and new files mixed
    under a finished name.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp", dir=directory.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        if directory.exists() and not replace:
            raise InputError(directory, "appeared while this output was written; left as it is, nothing written")
        if directory.exists() and owned is not None:
            _merge_into(tmp, directory, owned, marker)
        elif directory.exists():
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


# tempfile's random part: 8 characters of this alphabet (`tempfile._RandomNameSequence`).
_TEMP_NAME = "[a-z0-9_]" * 8


def remove_abandoned_outputs(directory: str | Path) -> list[Path]:
    """Remove the temporary folders `atomic_output` made for `directory` in a process that died before it could
    (`.<name>.tmpXXXXXXXX`, `.<name>.oldXXXXXXXX`); only for a caller holding the folder's claim, so no live
    writer owns them. Names of other outputs (`.<name>.tmpfoo.tmpXXXXXXXX`) and the user's files never match."""
    directory = Path(directory)
    if not directory.parent.is_dir():
        return []
    found = [
        path
        for kind in ("tmp", "old")
        for path in directory.parent.glob(f".{glob.escape(directory.name)}.{kind}{_TEMP_NAME}")
        if path.is_dir() and not path.is_symlink()
    ]
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


def _merge_into(tmp: Path, directory: Path, owned: Callable[[str], bool], marker: str | None = None) -> None:
    """Move every entry of `tmp` into `directory` (each rename atomic); drop stale owned entries only. The
    `marker` entry, if written, goes first (the old one) and comes back last (the new one)."""
    written = {entry.name for entry in tmp.iterdir()}
    if marker in written and (directory / marker).is_file():
        (directory / marker).unlink()
    for entry in directory.iterdir():
        if entry.name not in written and owned(entry.name) and entry.is_file():
            entry.unlink()
    for name in sorted(written, key=lambda name: (name == marker, name)):
        os.replace(tmp / name, directory / name)  # fails (keeping both) if a folder of that name is in the way
