"""Load a script that is not a package module (scripts/, studies/.../scripts/) by its path, for its functions
(import as `from script_loader import load_script`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_script(path: Path) -> ModuleType:
    """The module the file at `path` defines, executed once per call under its file name."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
