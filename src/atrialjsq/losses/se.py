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


def se_scar_loss(
    logits: torch.Tensor, target: torch.Tensor, distance: str = "l2", weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 5: per voxel ‖p̂ − p‖² over the (normal, scar) channels, averaged over voxels and batch.

    `distance="hellinger"` (Table 4) uses the squared Hellinger distance ½·Σ_c (√p̂_c − √p_c)² instead;
    √p̂ is exp(½·log σ(x)), which keeps a finite gradient where σ(x) underflows to 0.
    `weight` [B, 1, ...] (ours, not the paper's): per-voxel weights, 0 where the target is unknown (real wall
    enhancement under synthetic scar, `train.scar_synthesis`); the mean stays over all voxels, so a weight of 1
    everywhere is eq. 5 exactly.
    """
    check_channels("se_scar_loss", logits, 2)
    check_same_shape("se_scar_loss", logits, target)
    logits = logits.float()
    target = target.to(torch.float32)
    if distance == "l2":
        per_voxel = (torch.sigmoid(logits) - target).square().sum(dim=1, keepdim=True)
    elif distance == "hellinger":
        root_prediction = torch.exp(0.5 * F.logsigmoid(logits))
        per_voxel = 0.5 * (root_prediction - target.clamp_min(0).sqrt()).square().sum(dim=1, keepdim=True)
    else:
        raise ValueError(f"unknown SE-scar distance {distance!r}: choose from {', '.join(SE_DISTANCES)}")
    if weight is not None:
        check_channels("se_scar_loss", weight, 1, "weight")
        if weight.shape[0] != logits.shape[0] or weight.shape[2:] != logits.shape[2:]:
            raise ValueError(f"se_scar_loss: weight has shape {tuple(weight.shape)}, input {tuple(logits.shape)}")
        per_voxel = per_voxel * weight.to(torch.float32)
    return per_voxel.mean()
