"""What a prediction itself says about trusting it: a localiser that found nothing, an LA that came in pieces, a
grid tilted far beyond the rotations the network was trained with."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from atrialjsq.infer.localize import Localization
from atrialjsq.infer.predictor import Prediction
from atrialjsq.io import Geometry, Volume
from atrialjsq.workflows.predict import DROPPED_LA_ML, prediction_warnings

GRID = Geometry((40, 40, 40), (1.0, 1.0, 1.0))  # 1 mm voxels: 1000 voxels = 1 mL


def _prediction(kept_voxels: int, dropped_ml: float, found: bool = True, grid: Geometry = GRID) -> Prediction:
    la = np.zeros(grid.shape, np.uint8)
    la.reshape(-1)[:kept_voxels] = 1
    where = Localization((20.0, 20.0, 20.0), None, found)
    return Prediction(None, None, None, Volume(la, grid), where, dropped_la_ml=dropped_ml)


def _tilted(degrees: float) -> Geometry:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return Geometry(GRID.shape, GRID.spacing, direction=(1.0, 0.0, 0.0, 0.0, c, -s, 0.0, s, c))


def test_an_la_in_pieces_is_flagged_beyond_the_larger_of_5_ml_and_a_tenth_of_the_kept_la():
    with_localiser, without = (
        SimpleNamespace(localizer=object(), crop="roi"),
        SimpleNamespace(localizer=None, crop="whole"),
    )
    # 40 mL kept: the bar is max(5 mL, 4 mL) = 5 mL.
    assert prediction_warnings(with_localiser, _prediction(40_000, DROPPED_LA_ML)) == []
    [pieces] = prediction_warnings(with_localiser, _prediction(40_000, 6.0))
    assert pieces.startswith("the LA prediction came in pieces: 6.0 mL outside the largest one (40.0 mL, kept)")
    # 60 mL kept: the bar is a tenth, 6 mL; 5.5 mL of pieces is under it.
    assert prediction_warnings(with_localiser, _prediction(60_000, 5.5)) == []
    # A localiser that found nothing is said; a model without one tiling the whole image needs no centre.
    lost = prediction_warnings(with_localiser, _prediction(40_000, 0.0, found=False))
    assert lost == ["the localiser found no LA: the fine network was run around the image centre instead"]
    assert prediction_warnings(without, _prediction(40_000, 0.0, found=False)) == []
    # Without a localiser but cropping (--crop roi/tight), its own coarse pass may find nothing: said too.
    [centre] = prediction_warnings(SimpleNamespace(localizer=None, crop="roi"), _prediction(40_000, 0.0, found=False))
    assert centre.startswith("the coarse pass over the whole image found no LA: the fine network was run around")


def test_a_grid_tilted_beyond_twice_the_trained_rotation_is_flagged():
    trained = SimpleNamespace(localizer=None, fine=SimpleNamespace(config=SimpleNamespace(train=SimpleNamespace())))
    trained.fine.config.train.rotate_deg = 10.0  # the bar is max(20°, 2 x 10°) = 20°
    assert prediction_warnings(trained, _prediction(40_000, 0.0, grid=_tilted(18.0))) == []
    [tilt] = prediction_warnings(trained, _prediction(40_000, 0.0, grid=_tilted(30.0)))
    assert tilt.startswith("the image grid is tilted 30° from the patient axes") and "at most 10°" in tilt
    trained.fine.config.train.rotate_deg = 20.0  # trained with ±20°: the bar moves to 40°
    assert prediction_warnings(trained, _prediction(40_000, 0.0, grid=_tilted(30.0))) == []
    trained.fine.config.train.augment = False  # no augmentation: it saw no rotation at all, the bar is 20°
    [tilt] = prediction_warnings(trained, _prediction(40_000, 0.0, grid=_tilted(30.0)))
    assert "rotated by at most 0°" in tilt
