"""One exception type for bad user input, so every entry point can print one clear line and exit non-zero."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A user-facing problem with an input: carries the offending path and a short reason."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)
