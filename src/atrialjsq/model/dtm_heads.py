"""The distance-map (DTM) shape constraints of the paper's Table 5, on the U-Net_LA network.

Each adds a predicted signed distance map `dtm` (tanh, in [-1, 1]; negative inside, as `surface.distance`'s φ)
next to the LA logits, which the Table 5 loss terms regress onto the normalised ground-truth SDM
(`losses.dtm`). Audebert's and Xue's replace the LA decoder's plain 1³ head (`dtm_head`); Dangi's adds a
decoder (`DistanceDecoder`). Their losses (`model.configs` presets): Dangi BCE + MSE, Audebert BCE + L1, Xue
Dice + L1 + product loss, the distance term at weight `loss.lambda_dtm` = 1. What the paper says of each (§2;
Table 5: "the same parameter setting" as U-Net_LA), what the cited paper adds, and what we assumed:

- "dangi" (Dangi et al. 2019: "a decoder network added to the bottleneck layer" that regresses the distance map
  as an auxiliary task, "removed after training"; abstract of their paper): the LA decoder keeps its plain 1³
  head and `DistanceDecoder`, a second decoder fed by the bottleneck alone, predicts the DTM; it runs in
  training mode only, so the trained network costs what U-Net_LA does. Assumed: the regulariser decoder
  mirrors the LA decoder's upsampling (transposed 2³ conv + ConvBlock per level) without the encoder skips
  (the bottleneck must carry the shape, which is what the regulariser is for); a tanh output regressed with
  mean squared error onto the normalised SDM (as Xue's) at a fixed weight (`loss.lambda_dtm`), not a learned
  task weighting.
- "audebert" (Audebert et al. 2019, "first predict the DTM, and then used an additional convolutional layer
  to fuse the inferred DTM and the last layer features"): a 1³ conv gives the DTM from the last features, a
  3³ conv over [features, DTM] gives the LA logit. Assumed: the fusion kernel is 3³ (a 1³ one could only
  reweight per voxel) and the DTM is the normalised SDM with tanh output.
- "xue" (Xue et al. 2020, "directly predicted the segmentation by employing an approximated Heaviside
  function on the inferred DTM"): the head predicts the SDM (tanh) and the LA probability is
  sigmoid(−k·SDM) (k = `model.heaviside_k`, 1500 as Xue et al.), i.e. the LA logit is −k·SDM; no extra layer.
"""

from __future__ import annotations

import torch
from torch import nn

from atrialjsq.model.blocks import ConvBlock

LA_OUTPUT_HEADS = ("audebert", "xue")  # replace the LA decoder's 1³ head; "dangi" adds a decoder instead


class DistanceDecoder(nn.Module):
    """Dangi et al.'s regulariser: bottleneck → (transposed 2³ conv, ConvBlock) per level, no skips → tanh DTM."""

    def __init__(self, channels: list[int], norm: str, negative_slope: float) -> None:
        super().__init__()
        self.ups = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose3d(channels[i + 1], channels[i], kernel_size=2, stride=2),
                ConvBlock(channels[i], channels[i], norm, negative_slope),
            )
            for i in reversed(range(len(channels) - 1))
        )
        self.head = nn.Conv3d(channels[0], 1, kernel_size=1)

    def forward(self, bottleneck: torch.Tensor) -> torch.Tensor:
        x = bottleneck
        for up in self.ups:
            x = up(x)
        return torch.tanh(self.head(x))


class AudebertHead(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.distance = nn.Conv3d(channels, 1, kernel_size=1)
        self.fuse = nn.Conv3d(channels + 1, 1, kernel_size=3, padding=1)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        dtm = torch.tanh(self.distance(features))
        return {"la": self.fuse(torch.cat([features, dtm], dim=1)), "dtm": dtm}


class XueHead(nn.Module):
    def __init__(self, channels: int, k: float) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels, 1, kernel_size=1)
        self.k = float(k)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        sdm = torch.tanh(self.conv(features))
        return {"la": -self.k * sdm, "dtm": sdm}


def dtm_head(kind: str, channels: int, k: float = 1500.0) -> nn.Module:
    """The LA head for `model.la_head = kind` (one of `LA_OUTPUT_HEADS`) over `channels` decoder features."""
    if kind == "audebert":
        return AudebertHead(channels)
    if kind == "xue":
        return XueHead(channels, k)
    raise ValueError(f"model.la_head = {kind!r}: not an LA output head ({', '.join(LA_OUTPUT_HEADS)})")
