"""The false-positive breakdown: each normal surface voxel lands in the brightest IIR stratum next to it, else in
the rim or the plain wall by its distance to the scar, and the rates are counted by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from script_loader import load_script

SCRIPT = Path(__file__).parents[2] / "studies" / "lasc2018" / "scripts" / "scar_false_positives.py"


@pytest.fixture(scope="module")
def script():
    return load_script(SCRIPT)


def test_strata_prefer_the_brightest_wall_then_the_rim(script):
    shape = (6, 1, 1)
    points = np.array([[i, 0, 0] for i in range(6)])
    near = {name: np.zeros(shape, dtype=bool) for name in ("enhanced", "iir_1.2_1.32", "iir_1.1_1.2")}
    near["enhanced"][0] = True
    near["iir_1.2_1.32"][[0, 1]] = True  # voxel 0 is also next to wall above 1.32: enhanced wins
    near["iir_1.1_1.2"][[1, 2]] = True
    distance = np.array([0.0, 0.0, 0.0, 2.0, 5.0, 3.0]).reshape(shape)
    strata = script.stratify(points, near, distance, rim_mm=3.0)
    names = [script.STRATA[s] for s in strata]
    assert names == ["enhanced", "iir_1.2_1.32", "iir_1.1_1.2", "rim", "plain", "rim"]


def test_rates_over_the_normal_surface_only(script):
    strata = np.array([0, 0, 3, 3, 3, 4, 4])  # enhanced x2, rim x3, plain x2
    manual = np.array([False, False, False, False, True, False, False])  # one rim voxel is scar: not counted
    auto = np.array([True, False, True, False, True, False, False])
    row = script.false_positive_rates(strata, manual, auto)
    assert row["enhanced_share"] == pytest.approx(2 / 6) and row["enhanced_fp"] == pytest.approx(1 / 2)
    assert row["rim_share"] == pytest.approx(2 / 6) and row["rim_fp"] == pytest.approx(1 / 2)
    assert row["plain_share"] == pytest.approx(2 / 6) and row["plain_fp"] == 0.0
    assert row["iir_1.1_1.2_share"] == 0.0 and math.isnan(row["iir_1.1_1.2_fp"])


def test_surface_mask_is_the_evaluations_six_neighbourhood(script):
    exclude = np.zeros((5, 5, 5), dtype=bool)
    exclude[2, 2, 2] = True
    mask = script.surface_mask(exclude)
    assert mask.sum() == 7 and mask[1, 2, 2] and not mask[1, 1, 2]


def test_the_gate_keeps_scar_only_where_the_wall_is_enhanced():
    gate = load_script(SCRIPT.with_name("scar_iir_gate.py"))
    scar = np.array([True, True, False, True])
    enhanced = np.array([True, False, True, True])
    np.testing.assert_array_equal(gate.gated(scar, enhanced), [True, False, False, True])
    assert gate.gated(scar, None) is scar  # gate 0: the network as it is
