"""AtrialJSQnet (paper Fig. 2): one shared 3D U-Net encoder and one decoder per task, each with all the skips.
The LA decoder may end in a Table 5 distance-map head (`model.la_head`, `dtm_heads`), which adds a `dtm`
output next to the LA logits; Dangi et al.'s adds a bottleneck-fed distance decoder instead, evaluated in
training mode only (their regulariser is "removed after training").

`task="joint"` gives the LA decoder (1 channel) and the scar decoder (2 channels: normal wall, scar); the
single-task baselines (U-Net_LA, U-Net_scar) are the same network with one decoder, so every ablation
differs only in its heads and losses. Outputs are logits; probabilities are their sigmoid.

The input must be divisible by 2^(levels−1) on every axis (levels−1 downsamplings; the paper's 208×208×80 ROI
with 5 levels needs multiples of 16). Only convolutions, instance/batch norm, LeakyReLU, max-pool, transposed
convolutions and channel concatenation are used, all of which keep channels_last_3d and bf16 autocast.
"""

from __future__ import annotations

import torch
from torch import nn

from atrialjsq.model.blocks import ConvBlock, Down, Up
from atrialjsq.model.configs import ExperimentConfig, ModelConfig
from atrialjsq.model.dtm_heads import LA_OUTPUT_HEADS, DistanceDecoder, dtm_head


def level_channels(model: ModelConfig) -> list[int]:
    """Channels per resolution level: base·2^i capped at max (default 16, 32, 64, 128, 256)."""
    return [min(model.base_channels * 2**i, model.max_channels) for i in range(model.levels)]


class Decoder(nn.Module):
    """Upsampling path from the bottleneck to full resolution, consuming every encoder skip, then a 1³ head."""

    def __init__(
        self, channels: list[int], out_channels: int, model: ModelConfig, head: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.ups = nn.ModuleList(
            Up(channels[i + 1], channels[i], model.norm, model.negative_slope)
            for i in reversed(range(len(channels) - 1))
        )
        self.head = head if head is not None else nn.Conv3d(channels[0], out_channels, kernel_size=1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor | dict[str, torch.Tensor]:
        x = features[-1]
        for up, skip in zip(self.ups, reversed(features[:-1]), strict=True):
            x = up(x, skip)
        return self.head(x)


class AtrialJSQNet(nn.Module):
    """Shared encoder + named decoders; `forward(x[B,C,X,Y,Z]) -> {head: logits[B,out,X,Y,Z]}` (+ `dtm`)."""

    def __init__(self, model: ModelConfig, heads: dict[str, int]) -> None:
        super().__init__()
        channels = level_channels(model)
        self.levels = model.levels
        self.heads = dict(heads)
        self.stem = ConvBlock(model.in_channels, channels[0], model.norm, model.negative_slope)
        self.downs = nn.ModuleList(
            Down(channels[i], channels[i + 1], model.norm, model.negative_slope, model.downsample)
            for i in range(model.levels - 1)
        )
        self.decoders = nn.ModuleDict(
            {name: Decoder(channels, out, model, self._head(name, channels[0], model)) for name, out in heads.items()}
        )
        self.regulariser = (
            DistanceDecoder(channels, model.norm, model.negative_slope) if model.la_head == "dangi" else None
        )

    @staticmethod
    def _head(name: str, channels: int, model: ModelConfig) -> nn.Module | None:
        """A Table 5 DTM head for the LA decoder when `model.la_head` asks for one (`dtm_heads`)."""
        if name != "la" or model.la_head not in LA_OUTPUT_HEADS:
            return None
        return dtm_head(model.la_head, channels, model.heaviside_k)

    @property
    def input_multiple(self) -> int:
        """Every spatial size must be a multiple of this (2^(levels−1))."""
        return 2 ** (self.levels - 1)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        self.check_input(x)
        features = [self.stem(x)]
        for down in self.downs:
            features.append(down(features[-1]))
        return features

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.encode(x)
        outputs: dict[str, torch.Tensor] = {}
        for name, decoder in self.decoders.items():
            out = decoder(features)
            if isinstance(out, dict):  # a DTM head: the LA logits and the predicted distance map
                outputs.update(out)
            else:
                outputs[name] = out
        if self.regulariser is not None and self.training:
            outputs["dtm"] = self.regulariser(features[-1])
        return outputs

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 5:
            raise ValueError(f"expected input [B, C, X, Y, Z], got shape {tuple(x.shape)}")
        size = tuple(x.shape[2:])
        if any(s % self.input_multiple for s in size):
            raise ValueError(
                f"input size {size} must be divisible by 2^(levels-1) = {self.input_multiple} on every axis "
                f"({self.levels} levels); crop or pad the ROI"
            )


def build_model(config: ExperimentConfig) -> AtrialJSQNet:
    """The network for `config.task`: one decoder per head of `config.heads` (`configs.TASK_HEADS`), with
    `configs.HEAD_CHANNELS` output channels: {"la": 1, "scar": 2} (joint), {"la": 1} or {"scar": 2}."""
    return AtrialJSQNet(config.model, config.heads)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fp16_megabytes(model: nn.Module) -> float:
    """Size of the weights stored as float16 (2 bytes per parameter), in MB (10^6 bytes)."""
    return 2 * count_parameters(model) / 1e6
