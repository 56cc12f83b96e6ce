"""Scar ceilings: the full-surface bound by hand, the enhanced surface counted on a cube whose faces are known,
and the truth's own DPM targets read back through predict's projection as (nearly) the truth."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from atrialjsq.io.geometry import Geometry
from script_loader import load_script

SCRIPT = Path(__file__).parents[2] / "studies" / "lasc2018" / "scripts" / "scar_ceilings.py"


@pytest.fixture(scope="module")
def script():
    return load_script(SCRIPT)


def test_bound_by_hand(script):
    # 30 scar voxels found, half of 20 enhanced ones called: 2·30 / (2·30 + 10) = 6/7
    assert script.dice_bound(30, 20, 0.5) == pytest.approx(6 / 7)
    assert script.dice_bound(30, 20, 0.0) == 1.0
    assert script.dice_bound(30, 20, 1.0) == pytest.approx(0.75)
    assert math.isnan(script.dice_bound(0, 20, 0.5))
    with pytest.raises(ValueError, match="fraction"):
        script.dice_bound(30, 20, 1.5)


def cube(size: int = 40, low: int = 10, high: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 20-voxel LA cube; scar is the layer just beyond its +x face, real enhancement the layer beyond its -x face."""
    la = np.zeros((size, size, size), dtype=bool)
    la[low:high, low:high, low:high] = True
    scar = np.zeros_like(la)
    scar[high, low:high, low:high] = True
    enhanced = np.zeros_like(la)
    enhanced[low - 1, low:high, low:high] = True
    return la, scar, enhanced


def test_enhanced_surface_is_the_face_next_to_it(script):
    la, scar, enhanced = cube()
    counts = script.surface_counts(la, scar, enhanced, (1.0, 1.0, 1.0))
    # the 20 x 20 face voxels at x = 10 touch the enhanced layer; their normals (-x) reach 10 mm, never the scar
    # 20 mm away, so none of them is scar
    assert counts["enhanced"] == 400
    # the +x face's 18 x 18 inner voxels have normals along +x into the scar layer (its rim's normals lean off it)
    assert 18 * 18 <= counts["scar"] <= 400
    none = script.surface_counts(la, scar, np.zeros_like(la), (1.0, 1.0, 1.0))
    assert none == {**counts, "enhanced": 0}


def test_the_truths_own_targets_read_back_as_the_truth(script):
    # a ball LA with a scar cap on its +x side, on a 1.5 mm grid as the study's compact files
    shape, spacing = (44, 44, 44), (1.5, 1.5, 1.5)
    index = np.indices(shape).astype(float)
    radius = np.sqrt(sum((axis - 21.5) ** 2 for axis in index))
    la = radius <= 12
    scar = (radius > 12) & (radius <= 14) & (index[0] > 28)
    geometry = Geometry(shape, spacing)
    case = SimpleNamespace(
        case_id="ball", la_native=la.astype(np.uint8), scar=scar.astype(np.uint8),
        native_geometry=geometry, window_geometry=geometry,
    )  # fmt: skip
    assert script.targets_dice_s(case) > 0.95
    # and the ceiling is not a constant: a case whose scar label is moved to the other side scores the targets of
    # its own scar, so a wrongly read map would show
    case.scar = ((radius > 12) & (radius <= 14) & (index[0] < 15)).astype(np.uint8)
    assert script.targets_dice_s(case) > 0.95
