"""One exception type for bad user input, so every entry point can print one clear line and exit non-zero."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A user-facing problem with an input: carries the offending path and a short reason."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)

    def __reduce__(self) -> tuple[type[InputError], tuple[str | None, str]]:
        """Rebuilt from (path, reason), so that one raised in an output worker process reaches the batch intact
        (the default rebuilds from the message alone and fails)."""
        return (type(self), (self.path, self.reason))
