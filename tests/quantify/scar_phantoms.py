"""Analytic scar phantoms: a spherical LA whose wall carries a scar cap of known area fraction.

A cap of half-angle α on a sphere covers (1 − cos α) / 2 of its area, whatever the radius; the cap here is
the cone θ < α around the +z index axis, so the fraction is exact up to voxelisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atrialjsq.io import Geometry, Volume

# LGE-like intensities: healthy wall nulled (dark), blood moderately bright, scar brighter than blood.
BACKGROUND, BLOOD, WALL, SCAR = 0.25, 1.0, 0.35, 2.0


@dataclass
class CapPhantom:
    image: Volume
    la: Volume
    p_normal: Volume
    p_scar: Volume
    cap_fraction: float
    radius_mm: float


def cap_fraction(half_angle_deg: float) -> float:
    return (1.0 - np.cos(np.radians(half_angle_deg))) / 2.0


def cap_phantom(
    radius_mm: float = 11.0,
    half_angle_deg: float = 60.0,
    spacing=(1.0, 1.0, 1.0),
    wall_mm: float = 2.0,
    noise: float = 0.04,
    seed: int = 0,
    origin=(0.0, 0.0, 0.0),
    direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
) -> CapPhantom:
    """Sphere of `radius_mm` (LA), a wall shell `wall_mm` thick outside it, scar in the cone θ < α."""
    spacing = np.asarray(spacing, dtype=float)
    half_extent = radius_mm + wall_mm + 6.0
    # An even number of voxels puts the centre between voxels, so no voxel sits exactly on the cap's rim.
    shape = tuple(2 * int(np.ceil(half_extent / s)) for s in spacing)
    grids = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing, strict=True)], indexing="ij")
    r = np.sqrt(sum(g**2 for g in grids))
    cos_theta = np.divide(grids[2], r, out=np.ones_like(r), where=r > 0)
    in_cap = cos_theta > np.cos(np.radians(half_angle_deg))
    la = r <= radius_mm
    wall = (r > radius_mm) & (r <= radius_mm + wall_mm)

    rng = np.random.default_rng(seed)
    image = np.full(shape, BACKGROUND)
    image[la] = BLOOD
    image[wall] = WALL
    image[wall & in_cap] = SCAR
    image += rng.normal(0.0, noise, size=shape)

    # Distance probability maps as the network is trained to predict them: exp(−distance to the region).
    distance_to_wall = np.maximum(np.abs(r - (radius_mm + wall_mm / 2)) - wall_mm / 2, 0.0)
    wall_probability = np.exp(-distance_to_wall)
    geometry = Geometry(shape, tuple(spacing), origin, direction)
    return CapPhantom(
        image=Volume(image.astype(np.float32), geometry),
        la=Volume(la.astype(np.uint8), geometry),
        p_normal=Volume((wall_probability * ~in_cap).astype(np.float32), geometry),
        p_scar=Volume((wall_probability * in_cap).astype(np.float32), geometry),
        cap_fraction=cap_fraction(half_angle_deg),
        radius_mm=radius_mm,
    )
