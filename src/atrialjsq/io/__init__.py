"""Image I/O with physical geometry kept next to the voxel array."""

from atrialjsq.io.atomic import atomic_output, atomic_path
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.image_io import read_volume, write_volume
from atrialjsq.io.volume import Volume

__all__ = ["Geometry", "Volume", "atomic_output", "atomic_path", "read_volume", "write_volume"]
