"""SE-scar with per-voxel weights (unknown voxels out of the sum, the mean still over every voxel)."""

from __future__ import annotations

import pytest
import torch

from atrialjsq.losses.se import se_scar_loss


def test_se_scar_weight_removes_unknown_voxels_from_the_sum_not_the_mean():
    logits = torch.zeros(1, 2, 2, 1, 1)  # p = 0.5 everywhere
    target = torch.tensor([1.0, 0.0, 0.0, 1.0]).view(1, 2, 2, 1, 1)  # voxel 0: (1, 0); voxel 1: (0, 1)
    # each voxel: (0.5 - 1)^2 + (0.5 - 0)^2 = 0.5; mean over 2 voxels = 0.5
    assert se_scar_loss(logits, target).item() == pytest.approx(0.5)
    assert se_scar_loss(logits, target, weight=torch.ones(1, 1, 2, 1, 1)).item() == pytest.approx(0.5)
    weight = torch.tensor([1.0, 0.0]).view(1, 1, 2, 1, 1)  # the second voxel unknown: (0.5 + 0) / 2
    assert se_scar_loss(logits, target, weight=weight).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="weight"):
        se_scar_loss(logits, target, weight=torch.ones(1, 1, 3, 1, 1))
