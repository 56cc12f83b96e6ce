"""Binary cross-entropy (paper eq. 3), averaged over voxels and channels.

Eq. 3 is printed without its leading minus sign; this is the usual negative log-likelihood. It is computed from
logits (log-sum-exp form) so saturated predictions never produce log(0).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from atrialjsq.losses.checks import check_same_shape


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over every element of −[y·log σ(x) + (1 − y)·log(1 − σ(x))]; `target` in {0, 1} (or soft), same shape."""
    check_same_shape("bce_loss", logits, target)
    return F.binary_cross_entropy_with_logits(logits.float(), target.to(torch.float32))
