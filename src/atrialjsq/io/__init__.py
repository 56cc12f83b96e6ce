"""Image I/O with physical geometry kept next to the voxel array.

`read_volume` / `write_volume` are imported on first use, so code that only needs `Geometry`, `Volume` or the
atomic writers (e.g. training on a GPU machine without SimpleITK) does not import SimpleITK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from atrialjsq.io.atomic import atomic_output, atomic_path
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.volume import Volume

if TYPE_CHECKING:
    from atrialjsq.io.image_io import read_volume, write_volume

__all__ = ["Geometry", "Volume", "atomic_output", "atomic_path", "read_volume", "write_volume"]


def __getattr__(name: str) -> Any:
    if name in ("read_volume", "write_volume"):
        from atrialjsq.io import image_io  # loads SimpleITK: deferred (tests/test_import_graph.py)

        return getattr(image_io, name)
    raise AttributeError(f"module 'atrialjsq.io' has no attribute {name!r}")
