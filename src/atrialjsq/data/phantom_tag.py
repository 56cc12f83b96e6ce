"""Whether a case is one of this package's phantoms: the tag its params.json carries. A module of its own, light
(no image libraries), so the trainer's model card and the cache can read it where SimpleITK is not installed."""

from __future__ import annotations

import json
from pathlib import Path

PHANTOM_FORMAT = "atrialjsq-phantom-v1"  # written by `phantom.generate`


def is_phantom_source(source: str | None) -> bool:
    """Whether the case at `source` is one of this package's phantoms (its folder's params.json says so)."""
    if not source:
        return False
    path = Path(source)
    folder = path if path.is_dir() else path.parent
    try:
        return json.loads((folder / "params.json").read_text()).get("format") == PHANTOM_FORMAT
    except (OSError, ValueError, AttributeError):
        return False
