"""Analytic shapes built in code, with answers known by hand (import as `from shapes import sphere_mask`)."""

from __future__ import annotations

import numpy as np


def sphere_mask(shape=(48, 48, 40), center=None, radius_mm=12.0, spacing=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Binary ball of `radius_mm` on a grid indexed (x, y, z) with the given spacing."""
    center = np.asarray(center if center is not None else [(s - 1) / 2 for s in shape], dtype=float)
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    r2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, center, spacing, strict=True))
    return (r2 <= radius_mm**2).astype(np.uint8)


def radius_mm(shape, center, spacing) -> np.ndarray:
    """Distance in mm of every voxel centre from `center` (index units)."""
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grids, center, spacing, strict=True)))


def polar_angle_deg(shape, center, spacing, axis=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Angle in degrees between each voxel's offset from `center` (in mm) and `axis`."""
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    vectors = np.stack([(g - c) * s for g, c, s in zip(grids, center, spacing, strict=True)], axis=-1)
    length = np.maximum(np.linalg.norm(vectors, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(vectors @ np.asarray(axis) / length, -1, 1)))


def stored_turned(array: np.ndarray, geometry):
    """The same voxels at the same physical points, stored with index axes (z, -x, y) of the input's: what a
    sagittal-first, mirrored export of a scan looks like. Built by hand (a transpose and a flip), so it is an
    independent check of any reorientation. Returns (array, Geometry)."""
    from atrialjsq.io import Geometry

    columns = geometry.direction_matrix
    turned = np.ascontiguousarray(np.transpose(array[::-1], (2, 0, 1)))  # turned[k, n-1-i, j] = array[i, j, k]
    direction = np.stack([columns[:, 2], -columns[:, 0], columns[:, 1]], axis=1)
    origin = geometry.index_to_physical(np.array([geometry.shape[0] - 1, 0, 0], dtype=np.float64))
    spacing = (geometry.spacing[2], geometry.spacing[0], geometry.spacing[1])
    return turned, Geometry(turned.shape, spacing, tuple(origin), tuple(direction.reshape(-1)))
