"""A voxel array with the geometry it lives on: the unit every stage passes around."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atrialjsq.io.geometry import Geometry


@dataclass
class Volume:
    """`array` is indexed (x, y, z) and matches `geometry.shape`."""

    array: np.ndarray
    geometry: Geometry

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ValueError(f"Volume needs a 3D array, got shape {self.array.shape}")
        if tuple(self.array.shape) != self.geometry.shape:
            raise ValueError(f"array shape {self.array.shape} != geometry shape {self.geometry.shape}")

    @classmethod
    def from_array(cls, array: np.ndarray, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)) -> Volume:
        return cls(array, Geometry(array.shape, spacing, origin))

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.geometry.spacing

    def like(self, array: np.ndarray) -> Volume:
        """A new volume on the same grid (e.g. a prediction for this image)."""
        return Volume(array, self.geometry)
