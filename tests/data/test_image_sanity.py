"""Is it an LGE MRI at all: masks, CT, noise and memory, at and around each rule's edge."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from atrialjsq.data.image_sanity import (
    MAX_LABEL_VALUES,
    PEAK_BYTES_PER_VOXEL,
    check_image_values,
    intensity_problem,
    memory_problem,
    neighbour_correlation,
    peak_voxels,
)
from atrialjsq.errors import InputError
from atrialjsq.io.geometry import Geometry


def smooth(shape=(40, 40, 30), seed=0, sigma=2.0) -> np.ndarray:
    field = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=shape), sigma)
    return (100 + 20 * field / field.std()).astype(np.float32)


def test_a_linear_ramp_is_perfectly_correlated_and_white_noise_not_at_all():
    x = np.arange(30, dtype=np.float64)
    ramp = x[:, None, None] + x[None, :, None] + x[None, None, :]
    assert neighbour_correlation(ramp) == pytest.approx(1.0)
    noise = np.random.default_rng(1).normal(size=(60, 60, 60))
    assert abs(neighbour_correlation(noise)) < 0.02  # i.i.d.: r ~ 0 within ~1/sqrt(N)
    # a sampled Gaussian blur of white noise with sigma s: neighbours correlate exp(-1/(4 s^2)) (s = 2: 0.94)
    assert neighbour_correlation(smooth((60, 60, 60), sigma=2.0)) == pytest.approx(np.exp(-1 / 16), abs=0.02)


def test_few_values_are_a_mask_one_more_is_not_by_that_rule():
    labels = np.indices((20, 20, 20)).sum(axis=0) % MAX_LABEL_VALUES  # exactly 8 values, smooth ramps
    assert "a label or mask" in intensity_problem(labels.astype(np.uint8))
    nine = np.indices((20, 20, 20)).sum(axis=0) % (MAX_LABEL_VALUES + 1)
    problem = intensity_problem(nine.astype(np.uint8))
    assert problem is None or "label" not in problem


def test_ct_air_share_edge():
    image = smooth()
    n = image.size
    flat = image.ravel().copy()
    flat[: int(0.06 * n)] = -1000.0  # 6 % air: CT
    assert "looks like CT" in intensity_problem(flat.reshape(image.shape))
    flat = image.ravel().copy()
    flat[: int(0.04 * n)] = -1000.0  # 4 %: below the 5 % rule
    problem = intensity_problem(flat.reshape(image.shape))
    assert problem is None or "CT" not in problem
    z_scored = (image - image.mean()) / image.std()  # z-scored MRI goes a few units below zero, never to -500
    assert intensity_problem(z_scored) is None


def test_memory_estimate_is_voxels_times_the_measured_peak():
    grid = Geometry((512, 512, 200), (0.7, 0.7, 0.7))
    need = 512 * 512 * 200 * PEAK_BYTES_PER_VOXEL
    assert memory_problem(grid, available=int(need) + 1) is None
    problem = memory_problem(grid, available=int(need) - 1)
    assert problem is not None and f"about {need / 2**30:.1f} GiB" in problem
    with pytest.raises(InputError, match="would need about") as caught:
        check_image_values(smooth(), Geometry((4000, 4000, 400), (0.5, 0.5, 0.5)), "big.nii.gz")
    assert str(caught.value).startswith("big.nii.gz")


def test_memory_estimate_counts_the_finer_network_grid():
    # 256 x 256 x 40 slices of 1.5 x 1.5 x 3 mm: 2.6 M voxels as read, twice as many on a 1.5 mm network grid
    thick = Geometry((256, 256, 40), (1.5, 1.5, 3.0))
    read = 256 * 256 * 40
    assert peak_voxels(thick) == read
    assert peak_voxels(thick, (1.5, 1.5, 1.5)) == 2 * read
    assert peak_voxels(thick, (3.0, 3.0, 3.0)) == read  # a coarser network grid never lowers the count
    enough_for_input = int(read * PEAK_BYTES_PER_VOXEL) + 1
    assert memory_problem(thick, available=enough_for_input) is None
    assert memory_problem(thick, available=enough_for_input, network_spacing=(1.5, 1.5, 1.5)) is not None
