"""Soft Dice loss, per sample and channel, then averaged: each case weighs the same whatever its size."""

from __future__ import annotations

import torch

from atrialjsq.losses.checks import check_same_shape


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 − (2·Σ p·y + s) / (Σ p + Σ y + s) with p = σ(logits), sums over space, mean over [B, C].

    The smoothing `s` keeps an empty target with an empty prediction at loss 0 instead of 0/0.
    """
    check_same_shape("soft_dice_loss", logits, target)
    probability = torch.sigmoid(logits.float()).flatten(2)
    target = target.to(torch.float32).flatten(2)
    overlap = (probability * target).sum(-1)
    total = probability.sum(-1) + target.sum(-1)
    return (1.0 - (2.0 * overlap + smooth) / (total + smooth)).mean()
