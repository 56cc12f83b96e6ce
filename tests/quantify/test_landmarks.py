"""PV ostia and the appendage on LA segmentations: phantoms whose generator knows where its ostia are (with
and without a common left trunk), and a mask with nothing tubular on it."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.io import Geometry, Volume
from atrialjsq.quantify.landmarks import detect_landmarks

GRID = {"shape": (288, 288, 44), "spacing": (1.25, 1.25, 2.5)}


@pytest.mark.parametrize("seed", [4, 5])  # seed 5 has a common left trunk, seed 4 four separate veins
def test_the_ostia_of_a_phantom_are_found_and_named(seed):
    from atrialjsq.phantom.generate import generate_phantom

    case, params = generate_phantom(seed, **GRID)
    found = detect_landmarks(case.labels["la"]).found
    trunk = params["anatomy"]["left_trunk"] is not None
    expected = {"LCPV", "RSPV", "RIPV", "LAA"} if trunk else {"LSPV", "LIPV", "RSPV", "RIPV", "LAA"}
    assert set(found) == expected
    for name, truth in params["pv_ostia_mm"].items():
        key = "LCPV" if trunk and name.startswith("L") else name
        assert np.linalg.norm(found[key].ostium_mm - np.asarray(truth)) < 8.0, name  # within a vein radius
        assert found[key].confidence > 0.85


def test_a_ball_has_no_veins():
    from shapes import sphere_mask

    ball = sphere_mask((48, 48, 48), (23.5, 23.5, 23.5), 18.0, (1.0, 1.0, 1.0))
    result = detect_landmarks(Volume(ball.astype(np.uint8), Geometry(ball.shape, (1.0, 1.0, 1.0))))
    assert result.found == {} and result.unassigned == []
    np.testing.assert_allclose(result.body_centroid_mm, [23.5, 23.5, 23.5], atol=0.1)
