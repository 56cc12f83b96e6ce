"""The LA threshold sweep: each cut keeps the largest component of p_LA > cut, scored against the manual label."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from script_loader import load_script

SCRIPT = Path(__file__).parents[2] / "studies" / "lasc2018" / "scripts" / "la_threshold_sweep.py"


def test_cuts_of_a_radial_ramp_give_the_balls_they_should():
    # p falls linearly from 1 at the centre to 0 at radius 20 voxels: p > c is the ball of radius 20·(1 − c)
    grid = np.indices((48, 48, 48)).astype(np.float64) - 23.5
    radius = np.sqrt((grid**2).sum(axis=0))
    probability = np.clip(1 - radius / 20, 0, 1).astype(np.float32)
    manual = radius < 10  # the cut at 0.5 is exact
    probability[2:5, 2:5, 2:5] = 0.9  # a speck far away: not in the largest component
    rows = load_script(SCRIPT).sweep_case(probability, manual, (1.0, 1.0, 1.0), [0.3, 0.5, 0.7])
    by_cut = {row["threshold"]: row for row in rows}
    assert by_cut[0.5]["Dice_LA"] == 1.0 and by_cut[0.5]["volume_ratio"] == 1.0
    # radii 14 and 6: volume ratios (14/10)³ and (6/10)³ up to the voxelisation of the spheres
    np.testing.assert_allclose(by_cut[0.3]["volume_ratio"], 1.4**3, rtol=0.03)
    np.testing.assert_allclose(by_cut[0.7]["volume_ratio"], 0.6**3, rtol=0.05)
    # a ball inside a ball: Dice = 2·small / (small + large)
    np.testing.assert_allclose(by_cut[0.7]["Dice_LA"], 2 * 0.216 / 1.216, rtol=0.05)
    assert by_cut[0.3]["HD95_vox"] > 3.0 > by_cut[0.5]["HD95_vox"]
