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
    # predicted cube 4 voxels wide (indices 4..7): dilated by r minus eroded by r (1 mm grid: r mm = r voxels)
    mask = predicted_boundary_mask(cube_logits((12, 12, 12), 4, 8), float(radius))
    assert mask.sum().item() == expected
    assert mask[0, 0, 6, 6, 6] == (0 if radius == 1 else 1)  # centre kept only once erosion empties the cube
    assert mask[0, 0, 0, 0, 0] == 0


def test_predicted_boundary_mask_ignores_the_roi_edge():
    logits = torch.full((1, 1, 8, 8, 8), -10.0)
    logits[:, :, :4] = 10.0  # LA fills x < 4, touching the x = 0 face and the y/z faces
    mask = predicted_boundary_mask(logits, radius_mm=1.0)
    assert mask[0, 0].sum(dim=(1, 2)).tolist() == [0, 0, 0, 64, 64, 0, 0, 0]


def test_predicted_boundary_mask_is_detached_and_empty_without_prediction():
    logits = torch.full((1, 1, 8, 8, 8), -3.0, requires_grad=True)
    mask = predicted_boundary_mask(logits)
    assert not mask.requires_grad and mask.sum() == 0


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 2.0, 2.0), (0.5, 1.0, 2.0)])
def test_predicted_boundary_mask_is_the_same_band_in_millimetres_on_any_grid(spacing):
    # A predicted slab x < 20 mm: M2 must be the voxels whose centres lie within 2 mm (± half a voxel of
    # rounding) of the boundary plane, whatever the grid; 2 voxels would be 8 mm thick on a 2 mm grid.
    n = [round(40 / s) for s in spacing]
    x_mm = (torch.arange(n[0]) + 0.5) * spacing[0]
    logits = torch.where(x_mm < 20, 10.0, -10.0).view(1, 1, -1, 1, 1).expand(1, 1, *n).contiguous()
    mask = predicted_boundary_mask(logits, radius_mm=2.0, spacing=spacing)
    profile = mask[0, 0, :, n[1] // 2, n[2] // 2]
    assert (mask == profile.view(1, 1, -1, 1, 1)).all()  # a plane: the same along y and z
    inside_band = x_mm[profile > 0]
    assert inside_band.min() >= 20 - 2 - spacing[0] / 2 and inside_band.max() <= 20 + 2 + spacing[0] / 2
    thickness_mm = float(profile.sum()) * spacing[0]
    assert 4.0 - spacing[0] <= thickness_mm <= 4.0 + spacing[0]


def test_predicted_boundary_mask_thresholds_at_probability_one_half():
    # Logits falling linearly through 0 at x = 9.5: σ > 0.5 exactly for x ≤ 9. A threshold at logit 2 (σ = 0.88)
    # would move the surface by 2 voxels and with it the whole band.
    x = torch.arange(24, dtype=torch.float32)
    logits = (9.5 - x).view(1, 1, -1, 1, 1).expand(1, 1, 24, 3, 3).contiguous()
    profile = predicted_boundary_mask(logits, radius_mm=1.0)[0, 0, :, 1, 1]
    assert profile.nonzero().flatten().tolist() == [9, 10]


def test_predicted_boundary_mask_rejects_bad_arguments():
    with pytest.raises(ValueError, match="radius_mm"):
        predicted_boundary_mask(torch.zeros(1, 1, 4, 4, 4), radius_mm=0.0)
    with pytest.raises(ValueError, match=r"\[B, 1, X, Y, Z\]"):
        predicted_boundary_mask(torch.zeros(1, 2, 4, 4, 4))


def test_shape_attention_loss_refuses_mismatched_shapes():
    logits, target = torch.zeros(2, 2, 4, 4, 4), torch.zeros(2, 2, 4, 4, 4)
    with pytest.raises(ValueError, match="mask"):
        shape_attention_loss(logits, target, torch.ones(1, 1, 4, 4, 4))
    with pytest.raises(ValueError, match="must match"):
        shape_attention_loss(logits, target[:, :, :2], torch.ones(2, 1, 4, 4, 4))
    with pytest.raises(ValueError, match=r"\[B, 2, X, Y, Z\]"):
        shape_attention_loss(logits[:, :1], target[:, :1], torch.ones(2, 1, 4, 4, 4))


@pytest.mark.parametrize("spacing", [(1.5, 1.5, 1.5), (0.5, 1.0, 2.0)])
def test_predicted_boundary_mask_is_dilation_minus_erosion_by_a_box(spacing):
    # An irregular prediction against scipy's morphology with the box of ±round(2 mm / spacing) voxels; the
    # border counts as neither inside nor outside (scipy: border_value 0 for dilation, 1 for erosion).
    ndimage = pytest.importorskip("scipy.ndimage")
    generator = torch.Generator().manual_seed(3)
    inside = ndimage.binary_opening(torch.rand(20, 18, 16, generator=generator).numpy() > 0.45)
    logits = torch.where(torch.from_numpy(inside), 4.0, -4.0)[None, None]
    radius = [max(1, round(2.0 / s)) for s in spacing]
    box = torch.ones(*(2 * r + 1 for r in radius), dtype=torch.bool).numpy()
    expected = ndimage.binary_dilation(inside, box) & ~ndimage.binary_erosion(inside, box, border_value=1)
    mask = predicted_boundary_mask(logits, radius_mm=2.0, spacing=spacing)[0, 0].numpy()
    assert 0 < expected.sum() < expected.size
    assert (mask.astype(bool) == expected).all()
