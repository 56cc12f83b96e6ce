"""Synthetic LGE MRI phantoms of the left atrium and scar injection onto real anatomy."""

from __future__ import annotations

import importlib

# Public API, imported lazily so `import atrialjsq.phantom` stays cheap.
_EXPORTS = {
    "generate_phantom": "atrialjsq.phantom.generate",
    "write_phantom_set": "atrialjsq.phantom.writer",
    "write_case": "atrialjsq.phantom.writer",
    "case_seed": "atrialjsq.phantom.writer",
    "inject_scar": "atrialjsq.phantom.inject",
    "surface_burden": "atrialjsq.phantom.scar",
    "DIFFICULTY": "atrialjsq.phantom.appearance",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'atrialjsq.phantom' has no attribute {name!r}")
