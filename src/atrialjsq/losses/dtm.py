"""The distance-map terms of the paper's Table 5 heads (`model.dtm_heads`): the LA decoder's predicted signed
distance map (`outputs["dtm"]`, tanh) regressed onto the normalised ground-truth SDM.

Target (`normalised_sdm`): φ_LA of the batch (mm, negative inside, `surface.distance`), divided per sample by
its largest depth inside and its largest distance outside separately, so it is −1 at the deepest point of the
window's LA, 0 on its surface and +1 at the farthest point outside; Xue et al. normalise this way, and we
assume the same target for Dangi et al. and Audebert et al. (the paper does not give theirs). The windows are
the training crops, so the normalisers are the crop's, not the whole scan's.
- `dtm_mse` (Dangi): mean squared error.
- `dtm_l1` (Audebert): mean absolute error.
- `sdm_xue` (Xue): L1 plus the product loss −mean(ŷy / (ŷy + ŷ² + y²)), which is −1/3 where the prediction
  equals a non-zero target and positive where their signs differ (0/0 at ŷ = y = 0 counts as 0).
All reduce by the mean over every voxel of the batch (shape [B, 1, X, Y, Z] in, scalar out).
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor
EPS = 1e-6


def _check(prediction: Tensor, target: Tensor) -> None:
    if prediction.shape != target.shape:
        raise ValueError(f"predicted DTM {tuple(prediction.shape)} and target {tuple(target.shape)} differ in shape")


def normalised_sdm(phi: Tensor) -> Tensor:
    """φ / max depth inside (φ < 0) and φ / max distance outside (φ > 0), per sample: values in [−1, 1]."""
    flat = phi.detach().reshape(phi.shape[0], -1).float()
    view = (phi.shape[0],) + (1,) * (phi.ndim - 1)
    inside = (-flat).clamp(min=0).amax(dim=1).clamp(min=EPS).view(view)
    outside = flat.clamp(min=0).amax(dim=1).clamp(min=EPS).view(view)
    phi = phi.float()
    return torch.where(phi < 0, phi / inside, phi / outside)


def dtm_mse_loss(dtm: Tensor, phi: Tensor) -> Tensor:
    target = normalised_sdm(phi)
    _check(dtm, target)
    return torch.mean((dtm.float() - target) ** 2)


def dtm_l1_loss(dtm: Tensor, phi: Tensor) -> Tensor:
    target = normalised_sdm(phi)
    _check(dtm, target)
    return torch.mean(torch.abs(dtm.float() - target))


def product_loss(dtm: Tensor, target: Tensor) -> Tensor:
    """Xue et al.'s −mean(ŷy / (ŷy + ŷ² + y²)) (0 where ŷ = y = 0)."""
    _check(dtm, target)
    dtm = dtm.float()
    product = dtm * target
    return -torch.mean(product / (product + dtm**2 + target**2 + EPS))


def sdm_xue_loss(dtm: Tensor, phi: Tensor) -> Tensor:
    target = normalised_sdm(phi)
    _check(dtm, target)
    return torch.mean(torch.abs(dtm.float() - target)) + product_loss(dtm, target)
