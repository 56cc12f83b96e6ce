"""The field-of-view study's widening: the original crop sits untouched inside, and the air around it is Rician
noise of the lungs' level, or the scan's minimum (zero-filling) that `predict` cuts off again."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from atrialjsq.data.preprocess import content_box
from atrialjsq.io import Geometry, Volume
from script_loader import load_script

SCRIPT = Path(__file__).parents[2] / "studies" / "lasc2018" / "scripts" / "fov_robustness.py"


def _module():
    return load_script(SCRIPT)


def test_widening_keeps_the_crop_in_place_and_fills_around_it():
    widened = _module().widened
    rng = np.random.default_rng(0)
    array = rng.uniform(-1.0, 3.0, (40, 30, 6)).astype(np.float32)
    image = Volume(array, Geometry(array.shape, (0.625, 0.625, 1.25), (10.0, -4.0, 2.0)))
    for fill in ("constant", "noise"):
        big, inner = widened(image, 2.0, fill, seed=1)
        assert big.geometry.shape == (80, 60, 6)
        np.testing.assert_array_equal(big.array[inner], array)
        # the crop's first voxel is where it was in physical space
        np.testing.assert_allclose(big.geometry.index_to_physical(np.array([20.0, 15, 0])), (10.0, -4.0, 2.0))
        outside = np.ones(big.geometry.shape, bool)
        outside[inner] = False
        air = big.array[outside] - array.min()
        if fill == "constant":
            assert not air.any() and content_box(big.array) == inner  # zero-filling: cut off again by predict
        else:
            sigma = float(np.percentile(array, 5) - array.min())  # the 5th percentile above the minimum
            assert air.min() >= 0 and air.mean() == pytest.approx(sigma * math.sqrt(math.pi / 2), rel=0.02)
