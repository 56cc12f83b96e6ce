"""The contrast check: the median wall IIR of an analytic atrium (a blood ball in a wall shell) is the ratio of
the two intensities drawn, whatever the image's offset, and only a wall brighter than the limit withholds trust,
in predict's provenance too."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from atrialjsq.infer.inputs import InputCase
from atrialjsq.infer.localize import Localization
from atrialjsq.infer.predictor import Prediction
from atrialjsq.io import Geometry, Volume
from atrialjsq.quantify.contrast import WALL_IIR_LIMIT, contrast_problem, median_wall_iir
from atrialjsq.workflows.predict import _provenance
from shapes import radius_mm

GRID = Geometry((48, 48, 40), (1.0, 1.0, 1.25))
CENTRE = (24.0, 24.0, 20.0)


def atrium(blood: float, wall: float, offset: float = 0.0) -> tuple[Volume, Volume]:
    """Blood inside a 12 mm ball, wall out to 16 mm (past the 3 mm shell the check reads), air (0) beyond."""
    radius = radius_mm(GRID.shape, CENTRE, GRID.spacing)
    la = radius <= 12
    image = np.where(la, blood, np.where(radius <= 16, wall, 0.0)) + offset
    return Volume(image.astype(np.float32), GRID), Volume(la.astype(np.uint8), GRID)


@pytest.mark.parametrize(("blood", "wall"), [(200.0, 160.0), (100.0, 172.0), (50.0, 40.0)])
def test_median_wall_iir_is_the_drawn_ratio_at_any_offset(blood, wall):
    image, la = atrium(blood, wall)
    assert median_wall_iir(image, la) == pytest.approx(wall / blood)
    offset, _ = atrium(blood, wall, offset=300.0)  # the darkest voxel is zero: a constant offset changes nothing
    assert median_wall_iir(offset, la) == pytest.approx(wall / blood)


def test_only_a_wall_brighter_than_the_limit_is_a_problem():
    assert contrast_problem(*atrium(200.0, 160.0)) is None  # a bright blood pool: IIR 0.8
    assert contrast_problem(*atrium(100.0, 100.0 * WALL_IIR_LIMIT)) is None  # at the limit
    problem = contrast_problem(*atrium(100.0, 172.0))  # the dark-blood LASC scan's 1.72
    assert problem is not None and "median wall IIR 1.72, above 1.5" in problem


def test_no_atrium_or_a_blood_pool_as_dark_as_air_says_nothing():
    image, la = atrium(200.0, 160.0)
    assert median_wall_iir(image, Volume(np.zeros(GRID.shape, np.uint8), GRID)) is None
    dark, la = atrium(0.0, 160.0)
    assert median_wall_iir(dark, la) is None


def test_predicts_provenance_withholds_the_stage_for_a_dark_blood_scan():
    predictor = SimpleNamespace(
        info={"name": "m", "meta": {"domain": "real LGE MRI"}}, crop=None, tta=False, localizer=None
    )
    predictor.fine = SimpleNamespace(device="cpu", config=SimpleNamespace(train=SimpleNamespace(rotate_deg=10.0)))
    case = InputCase("c", Path("scan.nii.gz"))
    for blood, wall, trusted in ((200.0, 160.0, True), (100.0, 172.0, False)):
        image, la = atrium(blood, wall)
        prediction = Prediction(None, None, None, la, Localization(CENTRE, None, True))
        provenance = _provenance(predictor, case, prediction, {}, image)
        dark = [w for w in provenance.untrusted if "brighter than its blood pool" in w]
        assert (dark == []) is trusted
        assert dark == [w for w in provenance.warnings if "brighter than its blood pool" in w]
