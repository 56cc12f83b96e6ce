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

_NAME = "shape_attention_loss"  # the name the argument checks give, whichever part of eq. 6 they guard


def shape_attention_loss(scar_logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 6 on logits [B, 2, ...], DPM targets [B, 2, ...] and a 0/1 mask [B, 1, ...]; per-sample mean."""
    check_channels(_NAME, scar_logits, 2)
    check_same_shape(_NAME, scar_logits, target)
    return masked_sample_mean(squared_order_error(torch.sigmoid(scar_logits.float()), target), mask)


def squared_order_error(probability: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """((p̂_normal − p̂_scar) − (p_normal − p_scar))² [B, 1, ...] from probabilities and DPM targets [B, 2, ...].

    Separate from the mask so that SA(M1) and SA(M2), which differ only in their masks, share it."""
    check_channels(_NAME, probability, 2, "probability")
    check_same_shape(_NAME, probability, target)
    target = target.to(torch.float32)
    difference = (probability[:, 0:1] - probability[:, 1:2]) - (target[:, 0:1] - target[:, 1:2])
    return difference.square()


def masked_sample_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ M·v / max(Σ M, 1) per sample, averaged over the batch, for values and a 0/1 mask [B, 1, ...]."""
    check_channels(_NAME, mask, 1, "mask")
    if mask.shape[0] != values.shape[0] or mask.shape[2:] != values.shape[2:]:
        raise ValueError(
            f"{_NAME}: mask has shape {tuple(mask.shape)}, input {tuple(values.shape)}; "
            "batch and spatial sizes must match"
        )
    weights = mask.to(torch.float32)
    squared = (weights * values).flatten(1).sum(1)
    return (squared / weights.flatten(1).sum(1).clamp_min(1.0)).mean()


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
    dilated = _box_max(inside, radius)
    eroded = -_box_max(-inside, radius)
    return dilated - eroded


def _box_max(volume: torch.Tensor, radius: tuple[int, int, int]) -> torch.Tensor:
    """The maximum over a (2r+1)-box around each voxel (the border padded with -inf), as three 1-D max-pools:
    a box maximum is separable, and three passes of 2r+1 cost less than one pass of (2r+1)³."""
    for axis, r in enumerate(radius):
        size = [1, 1, 1]
        size[axis] = 2 * r + 1
        padding = [0, 0, 0]
        padding[axis] = r
        volume = F.max_pool3d(volume, tuple(size), stride=1, padding=tuple(padding))
    return volume
