"""Argument checks shared by the losses: a silent broadcast (a 2-channel prediction against a 1-channel target)
would train on the wrong pairs without any error, so every loss compares shapes first, as MONAI's losses do."""

from __future__ import annotations

import torch


def check_same_shape(loss: str, logits: torch.Tensor, target: torch.Tensor, target_name: str = "target") -> None:
    """ValueError naming the loss when `logits` and `target` differ in shape (no broadcasting)."""
    if logits.shape != target.shape:
        raise ValueError(
            f"{loss}: input has shape {tuple(logits.shape)} but {target_name} has {tuple(target.shape)}; "
            "they must match exactly (no broadcasting)"
        )


def check_channels(loss: str, tensor: torch.Tensor, channels: int, name: str = "input") -> None:
    """ValueError unless `tensor` is [B, channels, X, Y, Z]."""
    if tensor.ndim != 5 or tensor.shape[1] != channels:
        raise ValueError(f"{loss}: {name} must be [B, {channels}, X, Y, Z], got {tuple(tensor.shape)}")
