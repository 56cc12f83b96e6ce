"""Shape-attention loss (eq. 6): hand value, empty masks, per-sample means, and the two masks."""

from __future__ import annotations

import math

import pytest
import torch

from atrialjsq.losses.sa import ground_truth_mask, predicted_boundary_mask, shape_attention_loss

LN3 = math.log(3.0)


def sample(normal_logits, scar_logits, p_normal, p_scar, mask):
    """One sample as ([1, 2, n, 1, 1] logits, [1, 2, n, 1, 1] targets, [1, 1, n, 1, 1] mask)."""

    def shaped(*rows):
        return torch.tensor(rows, dtype=torch.float32)[None, :, :, None, None]

    return shaped(normal_logits, scar_logits), shaped(p_normal, p_scar), shaped(mask)


# p̂_normal − p̂_scar = [0, 0.25, 0.25, 0]; p_normal − p_scar = [1, 0, −0.5, 0]; d² = [1, 1/16, 9/16, 0]
A = sample([0, LN3, 0, 0], [0, 0, -LN3, 0], [1, 0.5, 0, 0.2], [0, 0.5, 0.5, 0.2], [1, 1, 0, 1])
A_VALUE = (1 + 1 / 16 + 0) / 3
# p̂ difference = [0.5, 0, 0, −0.5] (logits ±100); target difference = [0, 0, 0, 0]; only voxel 0 masked
B = sample([100, 0, 0, -100], [-100, 0, 0, 100], [0.3] * 4, [0.3] * 4, [1, 0, 0, 0])
B_VALUE = 1.0  # (1 − 0)² on one voxel


def test_hand_value_is_the_mean_over_the_mask():
    assert shape_attention_loss(*A).item() == pytest.approx(A_VALUE, abs=1e-6)
    assert shape_attention_loss(*B).item() == pytest.approx(B_VALUE, abs=1e-6)


def test_empty_mask_is_finite_zero_with_finite_gradient():
    logits, target, mask = A
    logits = logits.clone().requires_grad_()
    loss = shape_attention_loss(logits, target, torch.zeros_like(mask))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(logits.grad).all() and not logits.grad.any()


def test_batch_of_two_is_the_mean_of_the_single_samples():
    batch = [torch.cat([a, b]) for a, b in zip(A, B, strict=True)]
    value = shape_attention_loss(*batch).item()
    assert value == pytest.approx((A_VALUE + B_VALUE) / 2, abs=1e-6)
    pooled = (1 + 1 / 16 + 1.0) / 4  # what summing over the whole batch would give: mixing samples
    assert value != pytest.approx(pooled, abs=1e-3)


def test_batch_with_one_empty_mask_is_finite_and_unmixed():
    logits, target, mask = (torch.cat([a, b]) for a, b in zip(A, B, strict=True))
    mask = mask.clone()
    mask[1] = 0
    assert shape_attention_loss(logits, target, mask).item() == pytest.approx(A_VALUE / 2, abs=1e-6)


def test_ground_truth_mask_is_the_band():
    band = torch.tensor([0, 1, 2, 0], dtype=torch.uint8).reshape(1, 1, 4, 1, 1)
    assert ground_truth_mask(band).flatten().tolist() == [0.0, 1.0, 1.0, 0.0]


def cube_logits(shape, low, high):
    logits = torch.full((1, 1, *shape), -10.0)
    logits[0, 0, low:high, low:high, low:high] = 10.0
    return logits


@pytest.mark.parametrize(("radius", "expected"), [(1, 6**3 - 2**3), (2, 8**3 - 0)])
def test_predicted_boundary_mask_is_a_shell_around_the_predicted_surface(radius, expected):
    # predicted cube 4 voxels wide (indices 4..7): dilated by r minus eroded by r
    mask = predicted_boundary_mask(cube_logits((12, 12, 12), 4, 8), radius)
    assert mask.sum().item() == expected
    assert mask[0, 0, 6, 6, 6] == (0 if radius == 1 else 1)  # centre kept only once erosion empties the cube
    assert mask[0, 0, 0, 0, 0] == 0


def test_predicted_boundary_mask_ignores_the_roi_edge():
    logits = torch.full((1, 1, 8, 8, 8), -10.0)
    logits[:, :, :4] = 10.0  # LA fills x < 4, touching the x = 0 face and the y/z faces
    mask = predicted_boundary_mask(logits, radius=1)
    assert mask[0, 0].sum(dim=(1, 2)).tolist() == [0, 0, 0, 64, 64, 0, 0, 0]


def test_predicted_boundary_mask_is_detached_and_empty_without_prediction():
    logits = torch.full((1, 1, 8, 8, 8), -3.0, requires_grad=True)
    mask = predicted_boundary_mask(logits)
    assert not mask.requires_grad and mask.sum() == 0
