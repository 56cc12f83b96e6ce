"""Sliding-window blending and mirroring TTA on toy networks whose exact answers are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from atrialjsq.infer.sliding_window import gaussian_weights, sliding_window_probabilities, window_starts
from atrialjsq.infer.tta import flip_combinations, with_mirroring


def pointwise_net(image: torch.Tensor) -> dict[str, torch.Tensor]:
    """Translation-equivariant with a 1-voxel receptive field: windows must reproduce a full pass exactly."""
    return {"la": torch.sigmoid(2 * image - 1), "scar": torch.cat([torch.sigmoid(image), torch.sigmoid(-image)], 1)}


def box_filter_net(image: torch.Tensor) -> dict[str, torch.Tensor]:
    """3x3x3 mean filter with zero padding: differs from a full pass only on interior window faces."""
    kernel = torch.full((1, 1, 3, 3, 3), 1 / 27)
    return {"la": torch.sigmoid(torch.nn.functional.conv3d(image, kernel, padding=1))}


def test_window_starts_by_hand():
    assert window_starts(10, 16, 0.5) == [0]
    assert window_starts(16, 16, 0.5) == [0]
    assert window_starts(24, 16, 0.5) == [0, 8]
    assert window_starts(25, 16, 0.5) == [0, 4, 9]  # step 8 -> 3 windows spread evenly, last ends at 25
    starts = window_starts(100, 32, 0.25)
    assert starts[0] == 0 and starts[-1] + 32 == 100
    assert all(b - a <= 24 for a, b in itertools.pairwise(starts))


def test_gaussian_weights_peak_symmetry_floor():
    weights = gaussian_weights((9, 8, 5))
    assert weights.shape == (9, 8, 5)
    assert weights[4, 3:5, 2].max() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(weights, weights[::-1, ::-1, ::-1], rtol=1e-6)
    assert weights.min() >= 1e-3
    # σ = 0.125 × size: along x (size 9, centre 4, σ = 1.125) two voxels off the centre weigh exp(−½(2/1.125)²)
    assert weights[6, 3, 2] / weights[4, 3, 2] == pytest.approx(0.2059, rel=1e-3)
    # the corner is exp(−½((4/1.125)² + (3.5/1)² + (2/0.625)²)) ≈ 4e-6 of the peak: lifted to the floor exactly
    assert weights[0, 0, 0] == np.float32(1e-3)


def test_pointwise_network_matches_full_pass():
    torch.manual_seed(0)
    image = torch.randn(1, 1, 37, 29, 21)
    full = pointwise_net(image)
    tiled = sliding_window_probabilities(image, (16, 16, 8), pointwise_net, overlap=0.5)
    for name in ("la", "scar"):
        assert tiled[name].shape == full[name].shape
        torch.testing.assert_close(tiled[name], full[name], rtol=1e-5, atol=1e-6)


def test_image_smaller_than_window_is_padded_and_cropped_back():
    image = torch.randn(1, 1, 6, 20, 5)
    tiled = sliding_window_probabilities(image, (8, 8, 8), pointwise_net)
    torch.testing.assert_close(tiled["la"], pointwise_net(image)["la"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sw_batch_size", [2, 5, 100])
def test_batched_windows_blend_exactly_like_one_at_a_time(sw_batch_size):
    """The conv network makes every window's output depend on its own crop, so a window paired with the wrong
    region or a batch split the wrong way would show; each call sees at most sw_batch_size windows."""
    torch.manual_seed(2)
    image = torch.randn(2, 1, 30, 26, 20)  # two images: windows of both travel in each call
    sizes = []

    def counting(batch):
        sizes.append(batch.shape[0])
        return box_filter_net(batch)

    single = sliding_window_probabilities(image, (12, 12, 10), box_filter_net)
    batched = sliding_window_probabilities(image, (12, 12, 10), counting, sw_batch_size=sw_batch_size)
    torch.testing.assert_close(batched["la"], single["la"], rtol=1e-6, atol=1e-7)
    n_windows = 4 * 4 * 3  # step = half a window: ceil((30 - 12) / 6) + 1 = 4, ceil(14 / 6) + 1 = 4, 10 / 5 + 1 = 3
    assert sum(sizes) == 2 * n_windows and max(sizes) == 2 * min(sw_batch_size, n_windows)
    with pytest.raises(ValueError, match="sw_batch_size"):
        sliding_window_probabilities(image, (12, 12, 10), box_filter_net, sw_batch_size=0)


def _unsafe_positions(length: int, window: int, overlap: float) -> np.ndarray:
    """Voxels on a window face that lies inside the volume (where a 3-wide filter sees padding, not image)."""
    unsafe = np.zeros(length, bool)
    for start in window_starts(length, window, overlap):
        if start > 0:
            unsafe[start] = True
        if start + window < length:
            unsafe[start + window - 1] = True
    return unsafe


def test_conv_network_differs_only_on_interior_window_faces():
    torch.manual_seed(1)
    shape, window = (30, 26, 20), (12, 12, 10)
    image = torch.randn(1, 1, *shape)
    full = box_filter_net(image)["la"][0, 0].numpy()
    tiled = sliding_window_probabilities(image, window, box_filter_net, overlap=0.5)["la"][0, 0].numpy()
    unsafe = [_unsafe_positions(n, w, 0.5) for n, w in zip(shape, window, strict=True)]
    safe = ~(unsafe[0][:, None, None] | unsafe[1][None, :, None] | unsafe[2][None, None, :])
    np.testing.assert_allclose(tiled[safe], full[safe], rtol=1e-5, atol=1e-6)
    assert np.abs(tiled - full)[~safe].max() > 1e-4  # the faces do differ, so the check above is meaningful


def test_flip_combinations():
    assert flip_combinations((0, 1, 2)) == [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
    assert flip_combinations((2,)) == [(), (2,)]


def test_mirroring_is_identity_for_flip_equivariant_network():
    image = torch.randn(1, 1, 7, 6, 5)
    mirrored = with_mirroring(pointwise_net)(image)
    torch.testing.assert_close(mirrored["scar"], pointwise_net(image)["scar"], rtol=1e-5, atol=1e-6)


def test_mirroring_averages_shift_and_its_mirror():
    # f(x)[i] = s(x[i+1]) (periodic); its x-mirrored version is s(x[i-1]); TTA must give their mean exactly.
    def shift_net(image):
        return {"la": torch.sigmoid(torch.roll(image, -1, dims=2))}

    image = torch.randn(1, 1, 9, 4, 3)
    expected = 0.5 * (torch.sigmoid(torch.roll(image, -1, 2)) + torch.sigmoid(torch.roll(image, 1, 2)))
    torch.testing.assert_close(with_mirroring(shift_net, axes=(0,))(image)["la"], expected, rtol=1e-5, atol=1e-6)
    # Axes the network is symmetric along change nothing: (y, z) flips added keep the same answer.
    torch.testing.assert_close(with_mirroring(shift_net)(image)["la"], expected, rtol=1e-5, atol=1e-6)
