"""Training targets of AtrialJSQnet (paper §3.1–3.2), all in millimetres on the (x, y, z) grid.

- φ of eq. (1): `atrialjsq.surface.distance.signed_distance`, negative inside, positive outside, |φ| = d**β,
  clipped to ±clip (the paper clips at 50). φ_LA drives the LA spatial-encoding loss (eq. 4).
- The LA wall band and the implicit surface projection of the scar onto it come from the geometry layer:
  `atrialjsq.surface.band.wall_band` (−inward_mm ≤ φ_LA ≤ outward_mm) and
  `atrialjsq.surface.projection.project_scar_to_band` (a band voxel is scar when the manual scar label lies
  along the LA surface normal through it, within ±reach_mm), with the training band `BandParams()`.
- `distance_probability_maps`: the DPMs p = exp(−|φ|) of the normal-wall and scar parts of the band (eq. 5),
  or the Table 4 variants expit(−φ) and the normalised (†) maps. `dpm_torch` is the same formula in torch.
- `compute_targets`: every array the preprocessing cache stores for one case.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from atrialjsq.surface.band import DEFAULT_BAND, BandParams, wall_band
from atrialjsq.surface.boundary import boundary_voxels
from atrialjsq.surface.distance import signed_distance
from atrialjsq.surface.projection import project_scar_to_band

_KINDS = ("exp", "expit")


def _dpm(phi: np.ndarray, kind: str) -> np.ndarray:
    phi = np.asarray(phi, dtype=np.float32)
    if kind == "exp":
        return np.exp(-np.abs(phi))
    if kind == "expit":
        return expit(-phi)
    raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")


def _background_term(phi_normal: np.ndarray, phi_scar: np.ndarray, kind: str) -> np.ndarray:
    # Background = neither normal wall nor scar: its signed distance is −φ of the band (union: min of the two).
    phi_background = -np.minimum(np.asarray(phi_normal, np.float32), np.asarray(phi_scar, np.float32))
    if kind == "exp":
        # exp(−|φ_bg|) inside the band, 1 in the background (see distance_probability_maps).
        return np.exp(-np.maximum(phi_background, 0.0))
    return _dpm(phi_background, kind)


def distance_probability_maps(
    phi_normal: np.ndarray,
    phi_scar: np.ndarray,
    kind: str = "exp",
    normalize: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """DPMs (p_normal, p_scar) from the signed distances of the normal-wall and scar parts of the band.

    kind="exp": p = exp(−|φ|) (the paper's choice, eq. 5); kind="expit": p = expit(−φ) = 1 / (1 + e^φ)
    (Table 4). normalize=True gives the † maps: p_k / (p_bg + p_normal + p_scar), i.e. softmax(−|φ|) over
    {background, normal, scar} for "exp". The background's φ_bg = −min(φ_normal, φ_scar) (outside the band is
    background). Its term is exp(−max(φ_bg, 0)) for "exp": identical to exp(−|φ_bg|) inside the band, but 1
    (not ~0) deep in the background, so that far from the wall the normalised maps go to 0 rather than to an
    arbitrary split between normal and scar. For "expit" it is expit(−φ_bg). float32, never NaN.
    """
    p_normal, p_scar = _dpm(phi_normal, kind), _dpm(phi_scar, kind)
    if normalize:
        total = _background_term(phi_normal, phi_scar, kind) + p_normal + p_scar
        p_normal, p_scar = p_normal / total, p_scar / total
    return p_normal, p_scar


def dpm_torch(phi, kind: str = "exp"):
    """The unnormalised DPM of one torch tensor φ, same formula as `distance_probability_maps`.

    exp: exp(−|φ|); expit: sigmoid(−φ). For the † maps combine with `distance_probability_maps`'s background
    term: bg = exp(−clamp(−min(φ_normal, φ_scar), min=0)) (exp) or sigmoid(min(φ_normal, φ_scar)) (expit),
    then p_k / (bg + p_normal + p_scar).
    """
    import torch

    phi = phi.float()
    if kind == "exp":
        return torch.exp(-phi.abs())
    if kind == "expit":
        return torch.sigmoid(-phi)
    raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")


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
        "phi_normal": _part_distance(normal_band, spacing, clip),
        "phi_scar": _part_distance(scar_band, spacing, clip),
        "surface": boundary_voxels(la).astype(np.uint8),
    }


def _part_distance(part: np.ndarray, spacing, clip: float) -> np.ndarray:
    if not part.any():
        return np.full(part.shape, clip, dtype=np.float16)
    return signed_distance(part, spacing, beta=1.0, clip=clip, surface="voxels").astype(np.float16)
