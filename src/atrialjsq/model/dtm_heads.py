"""The LA decoder's last layer for the distance-map (DTM) shape constraints of the paper's Table 5.

Each variant replaces the plain 1³ head of the LA decoder (1 logit channel) and returns the LA logits and the
predicted signed distance map `dtm` (tanh, in [-1, 1]; negative inside, as `surface.distance`'s φ), which
the Table 5 loss terms regress onto the normalised ground-truth SDM (`losses.dtm`). What the paper says of each
(§2; Table 5: "the same parameter setting" as U-Net_LA) and what we assumed where it is silent:

- "dangi" (Dangi et al. 2019, "two-task network for semantic segmentation and pixel-wise distance map
  regression"): one head with two output channels, the LA logit and the DTM. Assumed: the two tasks share the
  whole decoder and split only at the 1³ head; the DTM is signed and normalised (as Xue's), tanh output.
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

DTM_HEADS = ("dangi", "audebert", "xue")


class DangiHead(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels, 2, kernel_size=1)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.conv(features)
        return {"la": out[:, :1], "dtm": torch.tanh(out[:, 1:])}


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
    """The LA head for `model.la_head = kind` (one of `DTM_HEADS`) over `channels` decoder features."""
    if kind == "dangi":
        return DangiHead(channels)
    if kind == "audebert":
        return AudebertHead(channels)
    if kind == "xue":
        return XueHead(channels, k)
    raise ValueError(f"model.la_head = {kind!r}: not a DTM head ({', '.join(DTM_HEADS)})")
