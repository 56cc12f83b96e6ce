"""Training targets of AtrialJSQnet (paper §3.1–3.2), all in millimetres on the (x, y, z) grid.

- φ of eq. (1): `atrialjsq.surface.distance.signed_distance`, negative inside, positive outside, |φ| = d**β,
  clipped to ±clip (the paper clips at 50). φ_LA drives the LA spatial-encoding loss (eq. 4).
- The LA wall band and the implicit surface projection of the scar onto it come from the geometry layer:
  `atrialjsq.surface.band.wall_band` (−inward_mm ≤ φ_LA ≤ outward_mm) and
  `atrialjsq.surface.projection.project_scar_to_band` (a band voxel is scar when the manual scar label lies
  along the LA surface normal through it, within ±reach_mm), with the training band `BandParams()`.
- The DPMs of eq. 5 (p = exp(−|φ|) of the normal-wall and scar parts of the band, the Table 4 variants
  expit(−φ) and the normalised (†) maps) are not cached: `atrialjsq.losses.dpm.dpm_targets` computes them from
  `phi_normal` and `phi_scar` on the training device.
- `compute_targets`: every array the preprocessing cache stores for one case.
"""

from __future__ import annotations

import numpy as np

from atrialjsq.surface.band import DEFAULT_BAND, BandParams, wall_band
from atrialjsq.surface.boundary import boundary_voxels
from atrialjsq.surface.distance import signed_distance
from atrialjsq.surface.projection import project_scar_to_band


def compute_targets(
    la: np.ndarray,
    scar: np.ndarray | None,
    spacing,
    *,
    beta: float = 1.0,
    clip: float = 50.0,
    band_params: BandParams = DEFAULT_BAND,
    exclude: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """All cached targets of one case, on the grid of `la`.

    `band_params` gives the wall band (inward_mm, outward_mm, minus `exclude`) and the projection of the scar
    onto it (reach_mm, step_mm, normal_sigma_mm); the default is the training band `BandParams()`.

    Returns `phi_la` (float16, eq. 1 with β, clipped), `band` (uint8: 0 outside the wall band, 1 normal wall,
    2 scar projected onto the band), `phi_normal`, `phi_scar` (float16 signed distances, β = 1, clipped, of the
    two parts of the band, φ = 0 on each part's boundary voxels as eq. 1; an empty part gives +clip everywhere so
    its DPM is ~0) and `surface` (uint8 LA
    boundary voxels). `scar=None` means no scar label: the whole band is normal wall.
    Raises ValueError when the LA mask is empty or the arrays do not share a shape.
    """
    la = np.asarray(la).astype(bool, copy=False)
    if scar is not None and np.shape(scar) != la.shape:
        raise ValueError(f"scar has shape {np.shape(scar)}, LA has {la.shape}")
    phi_unit = signed_distance(la, spacing, beta=1.0, clip=clip)
    band = wall_band(la, spacing, band_params, exclude, phi_la=phi_unit)
    # With β ≠ 1 the clip applies to d**β, which the β = 1 map (clipped at d = clip) cannot give for β < 1.
    phi_la = phi_unit if beta == 1.0 else signed_distance(la, spacing, beta=beta, clip=clip)

    if scar is None:
        scar_band = np.zeros(la.shape, dtype=bool)
    else:
        scar_band = project_scar_to_band(la, scar, band, spacing, band_params)
    normal_band = band & ~scar_band

    labels = np.zeros(la.shape, dtype=np.uint8)
    labels[normal_band] = 1
    labels[scar_band] = 2
    return {
        "phi_la": phi_la.astype(np.float16),
        "band": labels,
        "phi_normal": part_distance(normal_band, spacing, clip),
        "phi_scar": part_distance(scar_band, spacing, clip),
        "surface": boundary_voxels(la).astype(np.uint8),
    }


def part_distance(part: np.ndarray, spacing, clip: float = 50.0) -> np.ndarray:
    if not part.any():
        return np.full(part.shape, clip, dtype=np.float16)
    return signed_distance(part, spacing, beta=1.0, clip=clip, surface="voxels").astype(np.float16)
