"""The LA grid ceiling: a coarse p_LA comes back on the native grid where linear interpolation crosses 0.5, and a
half-space label survives the soft round trip at its own boundary (positions derived by hand)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from atrialjsq.io.geometry import Geometry
from script_loader import load_script

SCRIPT = Path(__file__).parents[2] / "studies" / "lasc2018" / "scripts" / "la_grid_ceiling.py"
COARSE = Geometry((20, 4, 4), (1.5, 1.5, 1.5))
NATIVE = Geometry((60, 12, 12), (0.5, 0.5, 0.5))


@pytest.fixture(scope="module")
def script():
    return load_script(SCRIPT)


def test_dice_by_hand(script):
    a = np.array([1, 1, 0, 0], dtype=bool)
    b = np.array([0, 1, 1, 1], dtype=bool)
    assert script.dice(a, b) == pytest.approx(2 * 1 / (2 + 3))


def test_round_trip_cuts_where_the_interpolated_probability_crosses_one_half(script):
    probability = np.zeros(COARSE.shape)
    probability[:10] = 1.0  # centres at 0 .. 13.5 mm inside, 15 mm outside: p = 0.5 at 14.25 mm
    native = script.round_trip(probability, COARSE, NATIVE)
    # native centres every 0.5 mm: 14.0 mm (index 28) is inside, 14.5 mm (index 29) outside
    assert native[:29, 2:10, 2:10].all()
    assert not native[29:].any()


def test_a_half_space_keeps_its_boundary_through_the_soft_round_trip(script):
    label = np.zeros(NATIVE.shape, dtype=bool)
    label[:30] = True  # boundary between 14.5 and 15.0 mm
    soft = script.soft_label(label, NATIVE, COARSE, sigma_mm=0.6)
    back = script.round_trip(soft, COARSE, NATIVE)
    interior = (slice(None), slice(3, 9), slice(3, 9))  # away from the coarse grid's lateral edge
    # within one native voxel of the true boundary
    assert back[interior][:29].all() and not back[interior][31:].any()
    assert script.dice(back[interior], label[interior]) > 0.98
