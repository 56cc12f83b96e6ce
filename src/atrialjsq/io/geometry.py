"""Physical geometry of a voxel grid. Arrays in this package are indexed (x, y, z), like spacing and origin."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

_T = TypeVar("_T")


def triple(values: Iterable[_T]) -> tuple[_T, _T, _T]:
    """The items of `values` (a shape, spacing or point of a 3D grid) as a 3-tuple; ValueError unless three."""
    x, y, z = values
    return x, y, z


def _mm(values: Iterable[float]) -> str:
    """(0.8, 0.8, 2.5) for a header's float32 (0.800000011920929, ...): six significant digits, as a person reads."""
    return "(" + ", ".join(f"{float(v):.6g}" for v in values) + ")"


def _identity() -> tuple[float, ...]:
    return (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class Geometry:
    """Shape, spacing (mm), origin (mm) and direction cosines (row-major 3x3, as SimpleITK) of a 3D grid."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = field(default_factory=_identity)

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or len(self.spacing) != 3 or len(self.origin) != 3 or len(self.direction) != 9:
            raise ValueError("Geometry needs a 3D shape, spacing, origin and a 9-element direction")
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "spacing", tuple(float(s) for s in self.spacing))
        object.__setattr__(self, "origin", tuple(float(s) for s in self.origin))
        object.__setattr__(self, "direction", tuple(float(s) for s in self.direction))

    @property
    def direction_matrix(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=np.float64).reshape(3, 3)

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing))

    def index_to_physical(self, index: np.ndarray) -> np.ndarray:
        """Continuous (x, y, z) indices, shape (..., 3) → physical points in mm (ITK convention)."""
        index = np.asarray(index, dtype=np.float64)
        return np.asarray(self.origin) + (index * np.asarray(self.spacing)) @ self.direction_matrix.T

    def physical_to_index(self, point: np.ndarray) -> np.ndarray:
        """Physical points in mm, shape (..., 3) → continuous (x, y, z) indices."""
        point = np.asarray(point, dtype=np.float64) - np.asarray(self.origin)
        return (point @ self.direction_matrix) / np.asarray(self.spacing)

    def is_close(self, other: Geometry, tol: float = 1e-3) -> bool:
        """Same grid up to `tol` (relative for spacing, mm for origin, absolute for direction)."""
        return self.mismatch(other, tol) is None

    def mismatch(self, other: Geometry, tol: float = 1e-3) -> str | None:
        """A short description of how two grids differ, or None when they agree within `tol`."""
        if self.shape != other.shape:
            return f"shape {self.shape} != {other.shape}"
        if not np.allclose(self.spacing, other.spacing, rtol=tol, atol=0):
            return f"spacing {_mm(self.spacing)} != {_mm(other.spacing)}"
        if not np.allclose(self.origin, other.origin, atol=max(tol, tol * max(self.spacing)) * 10):
            return f"origin {_mm(self.origin)} != {_mm(other.origin)}"
        if not np.allclose(self.direction, other.direction, atol=tol):
            return "direction cosines differ"
        return None

    def with_shape(self, shape: tuple[int, int, int]) -> Geometry:
        return Geometry(shape, self.spacing, self.origin, self.direction)

    @property
    def extent_mm(self) -> tuple[float, float, float]:
        """Physical size of the field of view along the index axes (voxels × spacing)."""
        return triple(float(n * s) for n, s in zip(self.shape, self.spacing, strict=True))

    def cropped(self, box: Sequence[slice]) -> Geometry:
        """The grid of an index box of this one (slices with explicit starts and stops inside the grid): the
        same voxels at the same physical places."""
        start = np.array([s.start for s in box], dtype=np.float64)
        shape = triple(int(s.stop - s.start) for s in box)
        return Geometry(shape, self.spacing, tuple(self.index_to_physical(start)), self.direction)

    def to_dict(self) -> dict[str, list[int] | list[float]]:
        """{"shape", "spacing", "origin", "direction"} as plain lists (JSON-safe; `from_dict` reverses it)."""
        return {
            "shape": list(self.shape),
            "spacing": list(self.spacing),
            "origin": list(self.origin),
            "direction": list(self.direction),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float]]) -> Geometry:
        """The geometry written by `to_dict` (lists or tuples; a missing origin/direction takes the default)."""
        # Any: the values are checked and converted by __post_init__, unknown keys are a TypeError of cls().
        kwargs: dict[str, Any] = {key: tuple(value) for key, value in data.items()}
        return cls(**kwargs)
