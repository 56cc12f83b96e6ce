"""Shape-attention (SA) loss (paper eq. 6) and its two attention masks M1 and M2.

SA = mean over the mask of ((p̂_normal − p̂_scar) − (p_normal − p_scar))², computed per sample as
Σ M·d² / max(Σ M, 1) and then averaged over the batch: an empty mask gives 0 (finite), and one sample's mask
never weighs another sample's voxels (the authors' released code summed over the whole batch and produced NaN
on empty masks).

M1 (ground truth) is the LA wall band (`band > 0`). M2 (prediction) is the boundary of the predicted LA,
{σ(ŷ) > 0.5} dilated minus eroded by `radius` voxels (a (2r+1)³ cube, via max-pooling), i.e. a shell about
2r voxels thick centred on the predicted endocardium, matching the ~3.5 mm ground-truth band at 1 mm spacing.

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


def shape_attention_loss(scar_logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 6 on logits [B, 2, ...], DPM targets [B, 2, ...] and a 0/1 mask [B, 1, ...]; per-sample mean."""
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


def predicted_boundary_mask(la_logits: torch.Tensor, radius: int = 2) -> torch.Tensor:
    """M2: voxels within `radius` (chessboard) of the predicted LA boundary, from detached logits."""
    inside = (la_logits.detach() > 0).to(torch.float32)
    size = 2 * radius + 1
    dilated = F.max_pool3d(inside, size, stride=1, padding=radius)
    eroded = -F.max_pool3d(-inside, size, stride=1, padding=radius)
    return dilated - eroded
