"""U-Net building blocks: 2× (Conv3d 3³ → norm → LeakyReLU), downsampling, and transposed-conv upsampling."""

from __future__ import annotations

import torch
from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Instance norm with affine parameters (the default: batch size is 2, so batch statistics are noisy)."""
    if kind == "instance":
        return nn.InstanceNorm3d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm3d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}: choose from instance, batch, none")


class ConvBlock(nn.Sequential):
    """Two 3³ convolutions, each followed by normalisation and LeakyReLU; keeps the spatial size."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, negative_slope: float = 0.01) -> None:
        bias = norm == "none"  # a following norm layer cancels a conv bias
        super().__init__(
            nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1, bias=bias),
            norm_layer(norm, out_channels),
            nn.LeakyReLU(negative_slope, inplace=True),
            nn.Conv3d(out_channels, out_channels, kernel_size=3, padding=1, bias=bias),
            norm_layer(norm, out_channels),
            nn.LeakyReLU(negative_slope, inplace=True),
        )


class Down(nn.Sequential):
    """Halve the resolution (2³ max-pool or stride-2 2³ conv), then a ConvBlock."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, negative_slope: float, mode: str) -> None:
        if mode == "maxpool":
            pool: nn.Module = nn.MaxPool3d(kernel_size=2)
        elif mode == "conv":
            pool = nn.Conv3d(in_channels, in_channels, kernel_size=2, stride=2)
        else:
            raise ValueError(f"unknown downsample {mode!r}: choose from maxpool, conv")
        super().__init__(pool, ConvBlock(in_channels, out_channels, norm, negative_slope))


class Up(nn.Module):
    """Double the resolution with a 2³ transposed conv, concatenate the encoder skip, then a ConvBlock."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, negative_slope: float) -> None:
        super().__init__()
        self.up = nn.ConvTranspose3d(in_channels, out_channels, kernel_size=2, stride=2)
        self.block = ConvBlock(2 * out_channels, out_channels, norm, negative_slope)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.block(torch.cat([self.up(x), skip], dim=1))
