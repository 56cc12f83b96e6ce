"""The LA surface as boundary voxels, and outward normals from the smoothed mask.

The paper represents the LA surface by "the boundary voxels of the LA segmentation" (§3.2) and projects scar
along the surface normal. Normals come from the gradient of the Gaussian-smoothed mask: a binary mask's own
gradient only points along the six axes, smoothing over ~2 mm gives the direction of the underlying surface.

All arrays are indexed (x, y, z); normals are unit vectors expressed along the index axes in physical units
(a step of `t` mm along normal `n` moves `t * n / spacing` voxels).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_SIX_NEIGHBOURS = ndimage.generate_binary_structure(3, 1)
# Gaussian kernels are cut at this many sigmas (scipy's default is 4; 3 keeps >99.7 % of the mass).
_TRUNCATE = 3.0


def bounding_box(mask: np.ndarray, pad: int | tuple[int, int, int] = 0) -> tuple[slice, slice, slice] | None:
    """Slices of the smallest box holding every nonzero voxel, grown by `pad` voxels and clipped to the array.

    None for an empty mask. Used to restrict filters and distance transforms to where the structure is.
    """
    pads = np.broadcast_to(np.asarray(pad, dtype=int), (3,))
    # Two passes over the volume: project out z, then read x and y off the 2D projection.
    mask = np.asarray(mask)
    xy = np.any(mask, axis=2)
    per_axis = (np.any(xy, axis=1), np.any(xy, axis=0), np.any(mask, axis=(0, 1)))
    slices = []
    for axis, occupied in enumerate(per_axis):
        hits = np.flatnonzero(occupied)
        if hits.size == 0:
            return None
        start = max(int(hits[0]) - int(pads[axis]), 0)
        stop = min(int(hits[-1]) + 1 + int(pads[axis]), mask.shape[axis])
        slices.append(slice(start, stop))
    return slices[0], slices[1], slices[2]


def boundary_voxels(mask: np.ndarray) -> np.ndarray:
    """Mask voxels with at least one 6-neighbour outside the mask (voxels on the array's edge count too)."""
    mask = np.asarray(mask).astype(bool, copy=False)
    result = np.zeros(mask.shape, dtype=bool)
    box = bounding_box(mask, pad=1)
    if box is None:
        return result
    crop = mask[box]
    # border_value=0: beyond the array is outside, so a mask touching the edge is still closed by a surface.
    interior = ndimage.binary_erosion(crop, structure=_SIX_NEIGHBOURS, border_value=0)
    result[box] = crop & ~interior
    return result


def _sigma_voxels(sigma_mm: float, spacing) -> np.ndarray:
    return np.full(3, float(sigma_mm)) / np.asarray(spacing, dtype=float)


def outward_normals(
    mask: np.ndarray,
    spacing,
    points: np.ndarray,
    sigma_mm: float = 2.0,
) -> np.ndarray:
    """Unit outward normals (N, 3) at (x, y, z) `points`, from the smoothed mask's gradient.

    Integer points are voxels (surface voxels, band voxels); float points are continuous positions such as
    mesh vertices, where the central differences are interpolated linearly, so voxels and vertices read the
    band along the same directions.

    The mask is smoothed once, only on the bounding box of the points plus the kernel radius (exact: nothing
    farther away reaches them); the gradient is taken by central differences at the points only, divided by the
    spacing so that it is a physical direction. Points where the smoothed mask is flat (farther than about
    3 sigma from any surface) get a zero vector.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3), got {points.shape}")
    normals = np.zeros((len(points), 3), dtype=np.float64)
    mask = np.asarray(mask).astype(bool, copy=False)
    if len(points) == 0 or not mask.any():
        return normals
    continuous = not np.issubdtype(points.dtype, np.integer)
    shape = np.asarray(mask.shape)
    if continuous:  # e.g. mesh vertices of a mask touching the grid's edge may lie up to half a voxel beyond it
        points = np.clip(points, 0, shape - 1)
    elif (points < 0).any() or (points >= shape).any():
        raise ValueError("points lie outside the mask's grid")

    spacing = np.asarray(spacing, dtype=float)
    sigma_vox = _sigma_voxels(sigma_mm, spacing)
    pad = np.ceil(_TRUNCATE * sigma_vox).astype(int) + 1
    low = np.maximum(np.floor(points.min(axis=0)).astype(np.intp) - pad, 0)
    high = np.minimum(np.ceil(points.max(axis=0)).astype(np.intp) + 1 + pad, shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))

    smooth = ndimage.gaussian_filter(mask[box].astype(np.float32), sigma_vox, mode="constant", truncate=_TRUNCATE)
    # One voxel of edge padding so central differences at the box border stay inside the array.
    smooth = np.pad(smooth, 1, mode="edge")
    local = points - low + 1
    gradient = np.empty((len(points), 3), dtype=np.float64)
    for axis in range(3):
        if continuous:
            central = np.gradient(smooth, axis=axis)
            gradient[:, axis] = ndimage.map_coordinates(central, local.T, order=1, mode="nearest") / spacing[axis]
        else:
            step = np.zeros(3, dtype=np.intp)
            step[axis] = 1
            ahead = smooth[tuple((local + step).T)]
            behind = smooth[tuple((local - step).T)]
            gradient[:, axis] = (ahead.astype(np.float64) - behind) / (2.0 * spacing[axis])
    # The mask is 1 inside, so its gradient points inwards; the outward normal is the opposite direction.
    length = np.linalg.norm(gradient, axis=1)
    ok = length > 1e-12
    normals[ok] = -gradient[ok] / length[ok, None]
    return normals
