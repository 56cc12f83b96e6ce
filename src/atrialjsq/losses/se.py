"""Spatially encoded (SE) losses: SE-LA (paper eq. 4) and SE-scar (eq. 5), both as voxel means.

The paper writes sums over the N voxels; we divide by N (and by the batch) so the balancing weights λ do not
depend on the ROI size. Inputs are logits and are computed in float32 even under bf16 autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from atrialjsq.losses.checks import check_channels, check_same_shape

SE_DISTANCES = ("l2", "hellinger")


def se_la_loss(logits: torch.Tensor, phi: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Eq. 4: mean of (σ(logit) − T_LA)·φ with φ the signed distance (negative inside the LA).

    Wrong voxels add a positive penalty proportional to their distance from the true surface; correct ones
    a negative reward, so the loss is bounded below by −0.5·mean|φ| and is not zero at the optimum.
    """
    check_same_shape("se_la_loss", logits, phi, "phi")
    return ((torch.sigmoid(logits.float()) - threshold) * phi.to(torch.float32)).mean()


def se_scar_loss(logits: torch.Tensor, target: torch.Tensor, distance: str = "l2") -> torch.Tensor:
    """Eq. 5: per voxel ‖p̂ − p‖² over the (normal, scar) channels, averaged over voxels and batch.

    `distance="hellinger"` (Table 4) uses the squared Hellinger distance ½·Σ_c (√p̂_c − √p_c)² instead;
    √p̂ is exp(½·log σ(x)), which keeps a finite gradient where σ(x) underflows to 0.
    """
    check_channels("se_scar_loss", logits, 2)
    check_same_shape("se_scar_loss", logits, target)
    logits = logits.float()
    target = target.to(torch.float32)
    if distance == "l2":
        return (torch.sigmoid(logits) - target).square().sum(dim=1).mean()
    if distance == "hellinger":
        root_prediction = torch.exp(0.5 * F.logsigmoid(logits))
        return 0.5 * (root_prediction - target.clamp_min(0).sqrt()).square().sum(dim=1).mean()
    raise ValueError(f"unknown SE-scar distance {distance!r}: choose from {', '.join(SE_DISTANCES)}")
