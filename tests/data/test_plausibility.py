"""What a scan of a human LA can look like: fields of view, voxel sizes, LA volume and surface area."""

import pytest

from atrialjsq.data.plausibility import (
    MAX_SPACING_MM,
    MIN_FIELD_OF_VIEW_MM,
    check_field_of_view,
    field_of_view_problem,
    implausible_results,
)
from atrialjsq.errors import InputError
from atrialjsq.io import Geometry


def test_clinical_grids_pass_and_the_limits_are_inclusive():
    assert field_of_view_problem(Geometry((576, 576, 44), (0.625, 0.625, 2.5))) is None
    assert field_of_view_problem(Geometry((640, 640, 88), (0.625, 0.625, 1.25))) is None
    edge = MIN_FIELD_OF_VIEW_MM / MAX_SPACING_MM
    assert field_of_view_problem(Geometry((int(edge),) * 3, (MAX_SPACING_MM,) * 3)) is None


def test_small_fields_of_view_and_coarse_voxels_are_refused():
    assert "cannot hold an LA" in field_of_view_problem(Geometry((8, 8, 8), (1.0, 1.0, 1.0)))
    assert "cannot hold an LA" in field_of_view_problem(Geometry((576, 576, 10), (0.625, 0.625, 2.5)))  # 25 mm
    assert "too coarse" in field_of_view_problem(Geometry((40, 40, 40), (1.0, 1.0, 5.5)))
    # A header whose axes are not perpendicular describes no scanner's grid (volumes would be wrong too).
    sheared = Geometry((64, 64, 40), (1.0, 1.0, 2.0), direction=(1.0, 0.3, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    assert "not orthonormal" in field_of_view_problem(sheared)
    with pytest.raises(InputError) as info:
        check_field_of_view(Geometry((8, 8, 8)), "noise.nii.gz")
    assert info.value.path == "noise.nii.gz"


def test_results_outside_the_physiological_ranges_are_flagged():
    assert implausible_results(80.0, 110.0) == []
    flags = implausible_results(0.1, 1.2)
    assert len(flags) == 2 and "LA volume 0.1 mL" in flags[0] and "surface area 1.2 cm²" in flags[1]
    assert len(implausible_results(900.0, 120.0)) == 1


@pytest.mark.parametrize(
    ("volume_ml", "area_cm2", "flagged"),
    [
        (20.0, 100.0, []),  # both edges of each range are plausible (inclusive)
        (300.0, 500.0, []),
        (30.0, 30.0, []),
        (19.99, 100.0, ["volume"]),
        (300.01, 100.0, ["volume"]),
        (80.0, 29.99, ["area"]),
        (80.0, 500.01, ["area"]),
    ],
)
def test_each_physiological_range_edge(volume_ml, area_cm2, flagged):
    """The documented ranges, LA volume 20-300 mL and surface 30-500 cm², at and just past both edges."""
    flags = implausible_results(volume_ml, area_cm2)
    assert ["volume" if "volume" in f else "area" for f in flags] == flagged


def test_the_border_caveat_starts_just_above_50_square_millimetres():
    """A mask touching the x = 0 face over n voxels of 1 x 2 mm (2 mm² each): 25 voxels are 50 mm², no caveat;
    26 are 52 mm², a caveat naming the area."""
    import numpy as np

    from atrialjsq.data.plausibility import MIN_BORDER_AREA_MM2, border_problem

    assert MIN_BORDER_AREA_MM2 == 50.0
    mask = np.zeros((10, 30, 30), dtype=bool)
    mask[0:3, 5:10, 5:10] = True  # 25 voxels on the face x = 0; the y and z faces untouched
    assert border_problem(mask, (0.5, 1.0, 2.0)) is None
    mask[0:3, 10, 5] = True
    assert "over 52 mm²" in border_problem(mask, (0.5, 1.0, 2.0))
