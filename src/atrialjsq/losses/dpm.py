"""Distance probability maps (paper §3.2, Table 4) from the cached signed distances, on the training device.

φ is a signed distance in mm (negative inside the region). The DPM of a region is exp(−|φ|) (paper) or
expit(−φ) (Table 4). The normalised variants (†) divide by the sum over normal wall, scar and background. The
background is the complement of the band, so its signed distance is φ_bg = −min(φ_normal, φ_scar) (complement of
a union; exact outside the band, a lower bound inside it near the normal/scar interface). Its term is
expit(−φ_bg) for expit, and exp(−max(φ_bg, 0)) for exp: equal to the paper's softmax(−|φ|) inside the band, but 1
rather than ~0 deep in the background, so the normalised maps go to 0 far from the wall instead of to 1/3 each.
This is the one implementation of the DPMs; `atrialjsq.data.targets.compute_targets` caches only the φ maps.
"""

from __future__ import annotations

import torch

DPM_KINDS = ("exp", "expit")


def distance_probability(phi: torch.Tensor, kind: str = "exp") -> torch.Tensor:
    """exp(−|φ|) (1 on the region's surface, decaying both ways) or expit(−φ) (> 0.5 inside the region)."""
    phi = phi.to(torch.float32)
    if kind == "exp":
        return torch.exp(-phi.abs())
    if kind == "expit":
        return torch.sigmoid(-phi)
    raise ValueError(f"unknown DPM kind {kind!r}: choose from {', '.join(DPM_KINDS)}")


def background_term(phi_normal: torch.Tensor, phi_scar: torch.Tensor, kind: str = "exp") -> torch.Tensor:
    """Unnormalised background probability used by the † maps (see the module docstring)."""
    phi_background = -torch.minimum(phi_normal.to(torch.float32), phi_scar.to(torch.float32))
    if kind == "exp":
        return torch.exp(-phi_background.clamp_min(0.0))
    return distance_probability(phi_background, kind)


def dpm_targets(
    phi_normal: torch.Tensor, phi_scar: torch.Tensor, kind: str = "exp", normalized: bool = False
) -> torch.Tensor:
    """[B, 2, ...] targets (p_normal, p_scar) from [B, 1, ...] signed distances of the band's two parts."""
    p_normal = distance_probability(phi_normal, kind)
    p_scar = distance_probability(phi_scar, kind)
    if normalized:
        total = background_term(phi_normal, phi_scar, kind) + p_normal + p_scar
        p_normal, p_scar = p_normal / total, p_scar / total
    return torch.cat([p_normal, p_scar], dim=1)
