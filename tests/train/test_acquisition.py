"""Acquisition augmentation: blur, bias field and Rician noise against values derived by hand."""

from __future__ import annotations

import math

import pytest
import torch

from atrialjsq.train.acquisition import AcquisitionParams, bias_field, degrade, gaussian_blur


def test_blur_keeps_a_constant_and_spreads_an_impulse_as_a_gaussian():
    constant = torch.full((1, 1, 9, 9, 9), 3.0)
    assert torch.allclose(gaussian_blur(constant, (1.0, 1.0, 2.0)), constant)
    impulse = torch.zeros((1, 1, 21, 1, 1))
    impulse[0, 0, 10] = 1.0
    spread = gaussian_blur(impulse, (2.0, 0.0, 0.0))[0, 0, :, 0, 0]
    assert spread.sum() == pytest.approx(1.0, abs=1e-6)
    # A sampled Gaussian of sigma 2: neighbours at distance 2 read exp(-1/2) of the centre.
    assert float(spread[12] / spread[10]) == pytest.approx(math.exp(-0.5), rel=1e-5)
    variance = float(((torch.arange(21.0) - 10) ** 2 * spread).sum())
    assert variance == pytest.approx(4.0, rel=0.02)


def test_bias_field_is_the_exponential_of_its_polynomial():
    coefficients = torch.zeros(9)
    assert torch.allclose(bias_field((3, 4, 5), coefficients, torch.device("cpu")), torch.ones(3, 4, 5))
    coefficients[0] = 0.3  # exp(0.3·x), x from -1 to 1 along the first axis
    field = bias_field((3, 2, 2), coefficients, torch.device("cpu"))
    assert field[:, 0, 0].tolist() == pytest.approx([math.exp(-0.3), 1.0, math.exp(0.3)], rel=1e-6)


def test_rician_noise_on_air_has_the_rayleigh_mean():
    image = torch.zeros((1, 1, 40, 40, 40))
    image[0, 0, 0, 0, 0] = -1.0  # the minimum: air sits 1 above it
    out = degrade(image, [7], AcquisitionParams(rician=1.0), (1.0, 1.0, 1.0))
    values = out[0, 0, 1:] + 1.0
    # Signal 1 with complex noise of std s: the magnitude exceeds 1 on average by about s²/2 and never goes negative.
    assert float(values.min()) >= 0.0
    std = float(values.std())
    assert 0.02 * 0.9 < std < 0.15 * 1.1
    assert float(values.mean()) == pytest.approx(1.0 + std**2 / 2, abs=0.01)
    zero = torch.zeros((1, 1, 40, 40, 40))
    zero[0, 0, 0, 0, 0] = 0.0
    rayleigh = degrade(zero, [3], AcquisitionParams(rician=1.0), (1.0, 1.0, 1.0))[0, 0]
    sigma = math.sqrt(float((rayleigh**2).mean()) / 2)  # E[R²] = 2σ² for a Rayleigh magnitude
    assert float(rayleigh.mean()) == pytest.approx(sigma * math.sqrt(math.pi / 2), rel=0.02)


def test_degrade_is_seeded_and_off_when_all_probabilities_are_zero():
    image = torch.rand((2, 1, 8, 8, 8))
    assert degrade(image, [1, 2], AcquisitionParams(), (1, 1, 1)) is image
    params = AcquisitionParams(blur=0.5, bias=0.5, rician=0.5)
    first = degrade(image, [1, 2], params, (1, 1, 1))
    assert torch.equal(first, degrade(image, [1, 2], params, (1, 1, 1)))
    assert not torch.equal(first, degrade(image, [3, 4], params, (1, 1, 1)))
    with pytest.raises(ValueError, match="blur"):
        AcquisitionParams(blur=1.2)


def _ball_window(shape=(40, 32, 24), centre=(20, 16, 12), radius=5) -> torch.Tensor:
    grid = torch.stack(torch.meshgrid(*[torch.arange(n, dtype=torch.float32) for n in shape], indexing="ij"))
    distance = torch.sqrt(sum((grid[a] - centre[a]) ** 2 for a in range(3)))
    return (distance <= radius).float()


def test_air_slabs_lie_at_the_faces_and_stop_short_of_the_la():
    from atrialjsq.train.acquisition import AIR_MARGIN_MM, air_slabs

    la = _ball_window()
    spacing = (1.5, 1.5, 2.0)
    low = [int(torch.nonzero(la.any(dim=tuple(b for b in range(3) if b != a))).min()) for a in range(3)]
    high = [int(torch.nonzero(la.any(dim=tuple(b for b in range(3) if b != a))).max()) for a in range(3)]
    seen_faces = set()
    for seed in range(40):
        slabs = air_slabs(la, torch.Generator().manual_seed(seed), spacing)
        assert slabs.any() and not (slabs & (la > 0)).any()
        for axis in range(3):
            margin = math.ceil(AIR_MARGIN_MM / spacing[axis])
            covered = torch.nonzero(slabs.all(dim=tuple(b for b in range(3) if b != axis))).flatten().tolist()
            # a slab spans its whole face, from the border inwards, and ends at least the margin before the LA box
            for index in covered:
                assert index <= low[axis] - margin - 1 or index >= high[axis] + margin + 1
            if covered and covered[0] == 0:
                seen_faces.add((axis, 0))
            if covered and covered[-1] == la.shape[axis] - 1:
                seen_faces.add((axis, 1))
    assert len(seen_faces) == 6  # every face is drawn sometimes


def test_air_is_rician_noise_on_the_window_minimum_and_leaves_every_other_draw_alone():
    la = _ball_window()[None, None]
    image = 2.0 + torch.rand((1, 1, *la.shape[2:]), generator=torch.Generator().manual_seed(0))
    image[0, 0, 20, 16, 12] = 0.5  # the window minimum
    out = degrade(image, [5], AcquisitionParams(air=1.0), (1.5, 1.5, 2.0), la)
    changed = out != image
    assert changed.any() and not changed[la > 0].any()
    air = out[changed] - 0.5
    assert float(air.min()) >= 0.0  # a magnitude
    sigma = math.sqrt(float((air**2).mean()) / 2)  # Rayleigh: E[R²] = 2σ²
    assert 0.05 * 0.9 < sigma < 0.4 * 1.1
    assert float(air.mean()) == pytest.approx(sigma * math.sqrt(math.pi / 2), rel=0.05)
    # Off without labels or at probability 0; seeded; the other degradations' draws do not move.
    assert torch.equal(degrade(image, [5], AcquisitionParams(air=1.0), (1, 1, 1)), image)
    noisy = AcquisitionParams(rician=1.0)
    plain = degrade(image, [5], noisy, (1.5, 1.5, 2.0), la)
    both = degrade(image, [5], AcquisitionParams(rician=1.0, air=1.0), (1.5, 1.5, 2.0), la)
    assert torch.equal(both[~changed], plain[~changed])
    with pytest.raises(ValueError, match="air"):
        AcquisitionParams(air=-0.1)
