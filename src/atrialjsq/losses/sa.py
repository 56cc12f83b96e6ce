"""Shape-attention (SA) loss (paper eq. 6) and its two attention masks M1 and M2.

SA = mean over the mask of ((p̂_normal − p̂_scar) − (p_normal − p_scar))², computed per sample as
Σ M·d² / max(Σ M, 1) and then averaged over the batch: an empty mask gives 0 (finite), and one sample's mask
never weighs another sample's voxels (the authors' released code summed over the whole batch and produced NaN
on empty masks).

M1 (ground truth) is the LA wall band (`band > 0`). M2 (prediction) is the boundary of the predicted LA,
{σ(ŷ) > 0.5} dilated minus eroded by `radius_mm` along each axis (a box of ±round(radius_mm / spacing) voxels,
at least one, via max-pooling), i.e. a shell about 2·radius_mm thick centred on the predicted endocardium
(4 mm for the default 2 mm, close to the 3.5 mm ground-truth band) whatever the grid.

Gradient path: M2 is built from the *detached* LA logits and is a hard threshold, so SA(M2) sends no gradient
into the LA decoder; it trains the scar decoder (and, through it, the shared encoder) to order p̂_normal and
p̂_scar correctly wherever the current LA prediction puts the surface, which is what the implicit projection
at test time uses. A soft, differentiable M2 would instead let the LA decoder lower the loss by moving or
thinning its boundary away from voxels where the scar head is wrong, a shortcut that degrades the LA.
The LA and scar tasks stay coupled through the shared encoder and through M2 following the LA prediction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from atrialjsq.losses.checks import check_channels, check_same_shape


def shape_attention_loss(scar_logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 6 on logits [B, 2, ...], DPM targets [B, 2, ...] and a 0/1 mask [B, 1, ...]; per-sample mean."""
    check_channels("shape_attention_loss", scar_logits, 2)
    check_same_shape("shape_attention_loss", scar_logits, target)
    check_channels("shape_attention_loss", mask, 1, "mask")
    if mask.shape[0] != scar_logits.shape[0] or mask.shape[2:] != scar_logits.shape[2:]:
        raise ValueError(
            f"shape_attention_loss: mask has shape {tuple(mask.shape)}, input {tuple(scar_logits.shape)}; "
            "batch and spatial sizes must match"
        )
    probability = torch.sigmoid(scar_logits.float())
    target = target.to(torch.float32)
    difference = (probability[:, 0] - probability[:, 1]) - (target[:, 0] - target[:, 1])
    weights = mask.to(torch.float32)[:, 0]
    squared = (weights * difference.square()).flatten(1).sum(1)
    per_sample = squared / weights.flatten(1).sum(1).clamp_min(1.0)
    return per_sample.mean()


def ground_truth_mask(band: torch.Tensor) -> torch.Tensor:
    """M1: the LA wall band of the ground truth (normal wall or scar), as float 0/1 [B, 1, ...]."""
    return (band > 0).to(torch.float32)


def m2_radius_voxels(radius_mm: float, spacing) -> tuple[int, int, int]:
    """Per-axis M2 radius in voxels: round(radius_mm / spacing), at least 1."""
    if radius_mm <= 0:
        raise ValueError(f"radius_mm must be positive, got {radius_mm}")
    if len(spacing) != 3 or any(float(s) <= 0 for s in spacing):
        raise ValueError(f"spacing must be three positive numbers, got {spacing!r}")
    return tuple(max(1, round(float(radius_mm) / float(s))) for s in spacing)  # type: ignore[return-value]


def predicted_boundary_mask(la_logits: torch.Tensor, radius_mm: float = 2.0, spacing=(1.0, 1.0, 1.0)) -> torch.Tensor:
    """M2: voxels within `radius_mm` (per axis, a box) of the predicted LA boundary {σ > 0.5}, from detached
    logits [B, 1, X, Y, Z]; float 0/1 of the same shape."""
    check_channels("predicted_boundary_mask", la_logits, 1, "la_logits")
    radius = m2_radius_voxels(radius_mm, spacing)
    inside = (la_logits.detach() > 0).to(torch.float32)
    size = tuple(2 * r + 1 for r in radius)
    dilated = F.max_pool3d(inside, size, stride=1, padding=radius)
    eroded = -F.max_pool3d(-inside, size, stride=1, padding=radius)
    return dilated - eroded
