"""Check where outputs will go before any work, so a bad `--out` fails in a second, not after the network ran."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from atrialjsq.errors import InputError


def check_output_folder(path: str | Path) -> Path:
    """Refuse an output folder that cannot be created or written: a file in the way, no permission, a
    read-only file system. Creates nothing (the probe is removed again), so a refused run leaves no trace."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(path, "output folder exists and is a file")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(path, f"output folder cannot be created: {existing} is a file")
    try:
        probe = tempfile.mkdtemp(prefix=".atrialjsq-write-test.", dir=existing)
    except OSError as error:
        reason = error.strerror or error.__class__.__name__
        raise InputError(path, f"output folder cannot be written ({reason} in {existing})") from None
    os.rmdir(probe)
    return path


def check_output_file(path: str | Path, inputs: Sequence[str | Path | None] = (), overwrite: bool = False) -> Path:
    """Refuse an output file that is a folder, or that is one of this command's `inputs` (writing the result
    over its own input would destroy the input: e.g. a bundle written onto the checkpoint it packs), or whose
    folder cannot be written, or that exists unless `overwrite` (the command's `--overwrite`): a user's file
    is never replaced by surprise."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "is a folder; give the output's file name")
    for given in inputs:
        if given is not None and Path(given).exists() and path.exists() and path.samefile(given):
            raise InputError(path, f"is also an input ({given}); write the output to another file")
    if path.exists() and not overwrite:
        raise InputError(path, "exists; pass --overwrite to replace it")
    check_output_folder(path.parent if str(path.parent) else Path("."))
    return path
