"""Signed distance to a mask's surface in millimetres on the (x, y, z) grid: φ of the paper's eq. (1).

`signed_distance(mask, spacing, beta=1, clip=50, surface="between"|"voxels")`: negative inside, positive
outside, |φ| = d**β clipped to ±clip. It is geometry shared by every stage: the training targets
(`atrialjsq.data.targets`: φ_LA for SE-LA, the DPMs' φ of the band's parts) and the LA wall band
(`atrialjsq.surface.band.wall_band`, which quantification uses on predicted masks too).
"""

from __future__ import annotations

import math

import edt
import numpy as np
from scipy import ndimage

from atrialjsq.surface.boundary import bounding_box

# edt's multi-threading: the EDTs are the bulk of the target computation.
_EDT_THREADS = 2


def _distance_to_zeros(foreground: np.ndarray, spacing) -> np.ndarray:
    """Physical distance from every nonzero voxel to the nearest zero voxel (0 on zeros), float32."""
    foreground = np.ascontiguousarray(foreground)
    if foreground.dtype == np.bool_:
        foreground = foreground.view(np.uint8)
    return edt.edt(
        foreground,
        anisotropy=tuple(float(s) for s in spacing),
        black_border=False,
        parallel=_EDT_THREADS,
    )


def distance_to_outside(mask: np.ndarray, spacing) -> np.ndarray:
    """Physical distance (mm) from every voxel of `mask` to the nearest voxel outside it (0 outside), float32."""
    return _distance_to_zeros(np.asarray(mask, dtype=bool), spacing)


def _unclipped_reach(clip: float | None, beta: float) -> float:
    """The distance d beyond which d**beta exceeds the clip: no need to compute distances farther than that."""
    return math.inf if clip is None or math.isinf(clip) else float(clip) ** (1.0 / beta)


SURFACES = ("between", "voxels")


def signed_distance(
    mask: np.ndarray,
    spacing,
    beta: float = 1.0,
    clip: float | None = 50.0,
    *,
    surface: str = "between",
) -> np.ndarray:
    """Signed distance map of eq. (1) in mm: −d**β inside, +d**β outside, clipped to ±clip; float32.

    `surface="voxels"` is eq. (1) as written, with S = the region's boundary voxels (mask voxels with a
    6-neighbour outside it): φ = 0 on them, −d inside (d to the nearest voxel that is not interior), +d outside
    (d to the nearest mask voxel). The DPMs of the normal wall and the scar use it, so p = exp(−|φ|) is 1 on
    each region's boundary layer and touching scar and normal-wall voxels never tie.

    `surface="between"` (the default, used for the LA's own φ; see docs/explanation/deviations.md): S is placed between
    the boundary voxels and their outside neighbours rather than on the boundary-voxel centres. d is the
    distance to the nearest voxel on the other side of the mask
    minus h = half the largest spacing (clamped at 0), which puts the zero level half a voxel out from the
    boundary voxels. With S on the voxel centres (plain eq. 1) φ of a ball of radius R deviates from r − R by
    up to a full voxel; with this correction it stays within half a voxel diagonal (tested). Boundary voxels
    therefore read −h (−0.5 mm at 1 mm spacing) instead of 0. On anisotropic grids h = half the largest
    spacing is what keeps that bound; neighbours along a finer axis may then read exactly 0 (on the surface).

    Only the bounding box of the mask plus the clip distance is transformed; beyond it φ is +clip.
    Raises ValueError for an empty mask (callers turn it into an InputError naming the file).
    """
    if surface not in SURFACES:
        raise ValueError(f"surface must be one of {SURFACES}, got {surface!r}")
    mask = np.asarray(mask).astype(bool, copy=False)
    if mask.ndim != 3:
        raise ValueError(f"signed_distance needs a 3D mask, got shape {mask.shape}")
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    spacing = np.asarray(spacing, dtype=float)
    if spacing.shape != (3,) or not (spacing > 0).all():
        raise ValueError(f"spacing must be three positive numbers, got {spacing.tolist()}")
    reach = _unclipped_reach(clip, beta)
    fill = np.float32(clip if clip is not None else np.inf)
    half_voxel = 0.5 * float(spacing.max()) if surface == "between" else 0.0
    pad = np.ceil(np.minimum(reach + half_voxel, 1e6) / spacing).astype(int) + 1
    box = bounding_box(mask, pad=pad)
    if box is None:
        raise ValueError("mask is empty: no surface to measure distances from")

    crop = mask[box]
    # Outside: distance to the nearest mask voxel (the crop holds every mask voxel within reach); 0 inside.
    phi_crop = _distance_to_zeros(np.logical_not(crop), spacing)
    # Inside: distance to the nearest non-mask voxel, on the mask's own box padded so that beyond the array
    # counts as outside; subtracted, it makes φ = outside − inside.
    inner = bounding_box(crop)
    region = np.pad(crop[inner], 1)
    if surface == "voxels":
        # Distances inside are taken to the boundary voxels (0 on them): measure to the non-interior voxels.
        region = ndimage.binary_erosion(region)
    inside = _distance_to_zeros(region, spacing)[1:-1, 1:-1, 1:-1]
    phi_crop[inner] -= inside

    magnitude = np.abs(phi_crop)
    if half_voxel:
        # Move the zero level half a voxel out, never across zero.
        magnitude -= half_voxel
        np.maximum(magnitude, 0.0, out=magnitude)
    if beta != 1.0:
        np.power(magnitude, beta, out=magnitude)
    if clip is not None:
        np.minimum(magnitude, clip, out=magnitude)
    np.copysign(magnitude, phi_crop, out=phi_crop)
    # Inside voxels with magnitude 0 must stay non-positive and outside ones non-negative: copysign keeps −0.
    if phi_crop.shape == mask.shape:
        return phi_crop
    phi = np.full(mask.shape, fill, dtype=np.float32)
    phi[box] = phi_crop
    return phi
