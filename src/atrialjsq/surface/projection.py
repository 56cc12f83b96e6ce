"""Projection along LA surface normals: the paper's way of turning volumes into surface maps (§3.2, §4.1).

Scar is quantified on the LA surface, not in the wall: a surface voxel counts as scar when scar lies along
its normal, which removes the wall-thickness dependence. Targets, prediction and evaluation all use this.

API (arrays indexed (x, y, z), distances in mm, normals as from `outward_normals`; the band and sampling
parameters travel as one `atrialjsq.surface.band.BandParams`):

- `sample_along_normals(values, points, normals, spacing, max_mm=10, step_mm=0.5, order=0) -> (N, S)`:
  S = 2*max_mm/step_mm + 1 samples at offsets -max_mm..+max_mm (negative = inside the LA).
- `sample_at_offsets(values, points, normals, spacing, offsets_mm, order=0) -> (N, len(offsets_mm))`:
  the same for any offsets, e.g. an asymmetric band (`band_offsets`).
- `project_mask_to_surface(la_mask, region_mask, spacing, band_params) -> SurfaceProjection` whose `values`
  is a bool per LA boundary voxel: the region lies along the normal within ±reach_mm (scar on the surface).
- `project_values_to_surface(la_mask, values, spacing, reduce="max", band_params) -> SurfaceProjection` whose
  `values` is the maximum (or mean) of e.g. intensity or probability along the normal from -inward_mm to
  +outward_mm.
- `project_scar_to_band(la, scar, band, spacing, band_params) -> bool volume`: the band voxels whose LA
  normal meets the volumetric scar within ±reach_mm (the training targets' implicit surface projection).
- `SurfaceProjection.to_volume(shape)` paints the per-point values back onto a grid (0 off the surface).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from atrialjsq.surface.band import (
    DEFAULT_BAND,
    PROJECTION_REACH_MM,
    PROJECTION_STEP_MM,
    BandParams,
    band_offsets,
)
from atrialjsq.surface.boundary import boundary_voxels, bounding_box, outward_normals

# Samples per map_coordinates call: bounds the memory of the (3, chunk) coordinate array.
_CHUNK_SAMPLES = 1 << 21

# `project_values_to_surface`'s default band: 1 mm into the LA, 3 mm out over the wall.
VALUE_PROJECTION_BAND = BandParams(inward_mm=1.0, outward_mm=3.0)


def offsets_mm(max_mm: float = PROJECTION_REACH_MM, step_mm: float = PROJECTION_STEP_MM) -> np.ndarray:
    """Symmetric offsets -max_mm..+max_mm in steps of step_mm (always including 0)."""
    return band_offsets(max_mm, max_mm, step_mm)


def sample_at_offsets(
    values: np.ndarray,
    points: np.ndarray,
    normals: np.ndarray,
    spacing,
    offsets: np.ndarray,
    order: int = 0,
) -> np.ndarray:
    """Read `values` at `points + offset * normal` (mm) for every offset: an (N, len(offsets)) array.

    order 0 = nearest voxel (labels; keeps the dtype), 1 = trilinear (intensities, probabilities; float).
    Samples outside the volume read 0. Nearest sampling rounds the coordinates and indexes directly (several
    times faster than map_coordinates(order=0)); higher orders use map_coordinates in chunks.
    """
    values = np.asarray(values)
    if order > 0 and values.dtype == np.bool_:
        values = values.astype(np.float32)
    points = np.asarray(points, dtype=np.float64)
    normals = np.asarray(normals, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64).ravel()
    if points.shape != normals.shape or points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points and normals must both be (N, 3), got {points.shape} and {normals.shape}")
    out_dtype = values.dtype if order == 0 else np.result_type(values.dtype, np.float32)
    n_points, n_offsets = len(points), len(offsets)
    result = np.zeros((n_points, n_offsets), dtype=out_dtype)
    if n_points == 0 or n_offsets == 0:
        return result
    # Physical offset t along unit n moves t * n_i / spacing_i voxels along index axis i.
    step_vox = (normals / np.asarray(spacing, dtype=np.float64)).astype(np.float32)
    points32 = points.astype(np.float32)
    offsets32 = offsets.astype(np.float32)
    if order == 0:
        flat_values = np.ascontiguousarray(values).reshape(-1)
    rows_per_chunk = max(1, _CHUNK_SAMPLES // n_offsets)
    for start in range(0, n_points, rows_per_chunk):
        stop = min(start + rows_per_chunk, n_points)
        coords = points32[start:stop, None, :] + offsets32[None, :, None] * step_vox[start:stop, None, :]
        if order == 0:
            result[start:stop] = _nearest(flat_values, values.shape, coords)
        else:
            chunk = ndimage.map_coordinates(
                values, coords.reshape(-1, 3).T, output=out_dtype, order=order, mode="constant", cval=0
            )
            result[start:stop] = chunk.reshape(stop - start, n_offsets)
    return result


def _nearest(flat_values: np.ndarray, shape: tuple[int, ...], coords: np.ndarray) -> np.ndarray:
    """Nearest-voxel lookup of (..., 3) coordinates through flat indices; 0 outside the grid."""
    index = np.rint(coords).astype(np.intp)
    dims = np.asarray(shape, dtype=np.intp)
    flat = (index[..., 0] * dims[1] + index[..., 1]) * dims[2] + index[..., 2]
    lowest, highest = index.reshape(-1, 3).min(axis=0), index.reshape(-1, 3).max(axis=0)
    if (lowest >= 0).all() and (highest < dims).all():
        return flat_values[flat]  # the common case: every sample on the grid, no per-sample check needed
    inside = np.all((index >= 0) & (index < dims), axis=-1)
    np.clip(flat, 0, flat_values.size - 1, out=flat)
    samples = flat_values[flat]
    samples[~inside] = 0
    return samples


def sample_along_normals(
    values: np.ndarray,
    points: np.ndarray,
    normals: np.ndarray,
    spacing,
    max_mm: float = PROJECTION_REACH_MM,
    step_mm: float = PROJECTION_STEP_MM,
    order: int = 0,
) -> np.ndarray:
    """(N, S) samples at S = 2*max_mm/step_mm + 1 offsets from -max_mm to +max_mm along each normal."""
    return sample_at_offsets(values, points, normals, spacing, offsets_mm(max_mm, step_mm), order=order)


@dataclass
class SurfaceProjection:
    """Per LA boundary voxel: its (x, y, z) index, its outward unit normal, and the projected value."""

    points: np.ndarray  # (N, 3) int
    normals: np.ndarray  # (N, 3) float
    values: np.ndarray  # (N,) bool for a projected mask, float for projected values

    @property
    def hit(self) -> np.ndarray:
        """Points whose projected value is nonzero (for a mask projection: the region lies along the normal)."""
        return np.asarray(self.values) != 0

    def __len__(self) -> int:
        return len(self.points)

    def to_volume(self, shape, fill=0) -> np.ndarray:
        """The per-point values painted on a grid of `shape`; voxels off the surface get `fill`."""
        volume = np.full(tuple(shape), fill, dtype=np.asarray(self.values).dtype)
        volume[tuple(self.points.T)] = self.values
        return volume


def surface_points_and_normals(la_mask: np.ndarray, spacing, sigma_mm: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """The LA boundary voxels (N, 3) and their outward normals (N, 3)."""
    points = np.argwhere(boundary_voxels(la_mask))
    return points, outward_normals(la_mask, spacing, points, sigma_mm=sigma_mm)


def project_mask_to_surface(
    la_mask: np.ndarray,
    region_mask: np.ndarray,
    spacing,
    band_params: BandParams = DEFAULT_BAND,
) -> SurfaceProjection:
    """Which LA surface voxels have `region_mask` (e.g. scar) along their normal within ±reach_mm.

    Uses `band_params.reach_mm`, `step_mm` and `normal_sigma_mm` (the band's width plays no part).
    """
    _check_same_shape(la_mask, region_mask)
    points, normals = surface_points_and_normals(la_mask, spacing, band_params.normal_sigma_mm)
    region = np.asarray(region_mask).astype(bool, copy=False)
    hit = np.zeros(len(points), dtype=bool)
    if region.any() and len(points):
        samples = sample_along_normals(region, points, normals, spacing, band_params.reach_mm, band_params.step_mm)
        hit = np.any(samples, axis=1)
    return SurfaceProjection(points, normals, hit)


def project_values_to_surface(
    la_mask: np.ndarray,
    values: np.ndarray,
    spacing,
    reduce: str = "max",
    band_params: BandParams = VALUE_PROJECTION_BAND,
    order: int = 1,
) -> SurfaceProjection:
    """Per LA surface voxel, the max (or mean) of `values` along the normal from -inward_mm to +outward_mm.

    Typical use: maximum intensity projection of the LGE image over the wall (classic scar methods), or the
    maximum scar probability over the band the network predicts on. Uses `band_params.inward_mm`,
    `outward_mm`, `step_mm` and `normal_sigma_mm`.
    """
    if reduce not in ("max", "mean"):
        raise ValueError(f"reduce must be 'max' or 'mean', got {reduce!r}")
    _check_same_shape(la_mask, values)
    points, normals = surface_points_and_normals(la_mask, spacing, band_params.normal_sigma_mm)
    offsets = band_params.offsets()
    samples = sample_at_offsets(values, points, normals, spacing, offsets, order=order)
    if len(points) == 0:
        reduced = np.zeros(0, dtype=samples.dtype)
    elif reduce == "max":
        reduced = samples.max(axis=1)
    else:
        reduced = samples.mean(axis=1, dtype=np.float64).astype(np.result_type(samples.dtype, np.float32))
    return SurfaceProjection(points, normals, reduced)


def project_scar_to_band(
    la: np.ndarray,
    scar: np.ndarray,
    band: np.ndarray,
    spacing,
    band_params: BandParams = DEFAULT_BAND,
) -> np.ndarray:
    """Band voxels whose LA surface normal meets the volumetric scar label within ±reach_mm (bool volume).

    The implicit surface projection of the training targets (§3.2): a band voxel is scar when the manual scar
    lies along the LA normal through it, so the target ignores the wall thickness. Normals at the band voxels
    come from the LA smoothed by `normal_sigma_mm` (as `outward_normals`); the line is sampled every
    step_mm with nearest-voxel lookup. Only band voxels that can reach scar (near it on a coarse 4-voxel grid)
    are sampled, which skips most of the wall when the scar is patchy.
    """
    scar = np.asarray(scar).astype(bool, copy=False)
    band = np.asarray(band).astype(bool, copy=False)
    result = np.zeros(band.shape, dtype=bool)
    spacing = np.asarray(spacing, dtype=float)
    # Per-axis reach in voxels, +1 for the rounding of nearest-voxel sampling.
    reach = np.ceil(band_params.reach_mm / spacing).astype(int) + 1
    scar_box = bounding_box(scar, pad=reach)
    if scar_box is None or not band.any():
        return result
    local = np.argwhere(band[scar_box])
    if len(local) == 0:
        return result
    scar_local = scar[scar_box]
    local = local[_near_region(scar_local, local, reach)]
    points = local + np.array([s.start for s in scar_box])
    normals = outward_normals(la, spacing, points, sigma_mm=band_params.normal_sigma_mm)
    # Sample a copy of the scar box padded by the reach: every sample lands on it (no bounds checks), and
    # beyond the box there is no scar anyway.
    padded = np.pad(scar_local, [(int(r), int(r)) for r in reach])
    samples = sample_at_offsets(padded, local + reach, normals, spacing, band_params.reach_offsets(), order=0)
    hit = samples.any(axis=1)
    result[tuple(points[hit].T)] = True
    return result


def _near_region(region: np.ndarray, points: np.ndarray, reach: np.ndarray, block: int = 4) -> np.ndarray:
    """Which points may lie within `reach` voxels (per axis) of `region`: a cheap superset on a coarse grid."""
    blocks = -(-np.asarray(region.shape) // block)
    padded = np.zeros(tuple(blocks * block), dtype=bool)
    padded[tuple(slice(0, n) for n in region.shape)] = region
    coarse = padded.reshape(blocks[0], block, blocks[1], block, blocks[2], block).any(axis=(1, 3, 5))
    # A point within r voxels of a region voxel is within r // block + 1 blocks of the region's block.
    size = tuple(2 * (np.asarray(reach) // block + 1) + 1)
    near = ndimage.maximum_filter(coarse, size=size, mode="constant", cval=False)
    return near[tuple((points // block).T)]


def _check_same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if np.shape(a) != np.shape(b):
        raise ValueError(f"arrays must share a grid: {np.shape(a)} != {np.shape(b)}")
