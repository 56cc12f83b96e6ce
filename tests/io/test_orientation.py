"""Orientation: the letters of a grid, the lossless turn to the networks' orientation, shear and tilt checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from atrialjsq.io import Geometry, Volume
from atrialjsq.io.orientation import direction_problem, obliquity_deg, orientation_code, reoriented
from shapes import stored_turned

GRID = Geometry((7, 5, 4), (1.0, 1.5, 2.5), (-20.0, 10.0, 30.0))


def _rotation_about_z(degrees: float) -> tuple[float, ...]:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)


def test_orientation_letters_name_where_each_index_axis_points():
    assert orientation_code(GRID) == "LPS"  # ITK's identity: x to the left, y posterior, z superior
    assert orientation_code(Geometry((4, 4, 4), direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1))) == "RAS"
    _, turned = stored_turned(np.zeros(GRID.shape), GRID)
    assert orientation_code(turned) == "SRP"  # axes (z, -x, y): superior, right (mirrored x), posterior


def test_turning_a_permuted_mirrored_scan_recovers_the_axis_aligned_storage_exactly():
    array = np.arange(np.prod(GRID.shape), dtype=np.float32).reshape(GRID.shape)  # every voxel distinct
    turned_array, turned_grid = stored_turned(array, GRID)
    back = reoriented(Volume(turned_array, turned_grid))
    np.testing.assert_array_equal(back.array, array)  # no interpolation: the very same voxel values
    assert back.geometry.shape == GRID.shape and back.geometry.spacing == GRID.spacing
    np.testing.assert_allclose(back.geometry.origin, GRID.origin, atol=1e-9)
    np.testing.assert_allclose(back.geometry.direction, GRID.direction, atol=1e-12)
    # And the other way: the axis-aligned scan turned to the export's letters is the export.
    again = reoriented(Volume(array, GRID), "SRP")
    np.testing.assert_array_equal(again.array, turned_array)
    np.testing.assert_allclose(again.geometry.origin, turned_grid.origin, atol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_the_turn_agrees_with_simpleitks_dicomorient_on_tilted_permuted_grids(seed):
    # Random orthonormal frames (rotations and reflections, tilted up to ~30° off some permutation) and every
    # target orientation ITK would pick for them: voxels and geometry must match DICOMOrient's.
    import SimpleITK as sitk

    from atrialjsq.io.image_io import from_sitk, to_sitk

    rng = np.random.default_rng(seed)
    permutation = np.eye(3)[rng.permutation(3)] * rng.choice([-1.0, 1.0], size=3)
    angles = rng.uniform(-0.5, 0.5, size=3)
    tilt = _rotation_about_z(np.degrees(angles[0]))
    frame = permutation @ np.asarray(tilt).reshape(3, 3)
    grid = Geometry((7, 5, 4), (1.0, 1.5, 2.5), (-20.0, 10.0, 30.0), tuple(frame.reshape(-1)))
    volume = Volume(rng.normal(size=grid.shape).astype(np.float32), grid)
    for code in ("LPS", "RAS", "SRP", "AIL"):
        ours = reoriented(volume, code)
        theirs = from_sitk(sitk.DICOMOrient(to_sitk(volume), code))
        np.testing.assert_array_equal(ours.array, theirs.array)
        assert ours.geometry.is_close(theirs.geometry, tol=1e-9), code


def test_bool_and_float16_volumes_turn_as_views_without_a_copy():
    _, turned_grid = stored_turned(np.zeros(GRID.shape), GRID)
    for dtype in (bool, np.float16):
        array = (np.arange(np.prod(GRID.shape)).reshape(GRID.shape) % 3 == 0).astype(dtype)
        turned = Volume(stored_turned(array, GRID)[0], turned_grid)
        back = reoriented(turned)
        assert back.array.dtype == dtype and np.shares_memory(back.array, turned.array)
        np.testing.assert_array_equal(back.array, array)


def test_orientation_letters_must_name_three_patient_axes():
    volume = Volume(np.zeros(GRID.shape, np.float32), GRID)
    for bad in ("LPX", "LRS", "LP"):
        with pytest.raises(ValueError, match="three letters"):
            reoriented(volume, bad)


def test_an_already_oriented_volume_is_returned_as_it_is():
    volume = Volume(np.zeros(GRID.shape, np.float32), GRID)
    assert reoriented(volume) is volume


def test_a_sheared_grid_is_named_and_a_rotated_one_is_not():
    assert direction_problem(Geometry((4, 4, 4), direction=_rotation_about_z(30.0))) is None
    sheared = Geometry((4, 4, 4), direction=(1.0, 0.5, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    assert "not orthonormal" in direction_problem(sheared)


@pytest.mark.parametrize("degrees", [0.0, 12.0, 25.0, 40.0])
def test_obliquity_of_a_rotation_about_one_axis_is_its_angle_up_to_45_degrees(degrees):
    assert obliquity_deg(Geometry((4, 4, 4), direction=_rotation_about_z(degrees))) == pytest.approx(degrees)


def test_obliquity_is_zero_for_any_permutation_and_largest_for_a_cube_diagonal():
    _, turned = stored_turned(np.zeros(GRID.shape), GRID)
    assert obliquity_deg(turned) == pytest.approx(0.0, abs=1e-6)
    # An orthonormal basis with every axis along a body diagonal cannot exist; the worst case for one axis is a
    # diagonal, acos(1/sqrt(3)) = 54.7°, reached by the first axis of this rotation (x to (1, 1, 1)/sqrt(3)).
    d = np.array([1.0, 1.0, 1.0]) / math.sqrt(3)
    u = np.array([1.0, -1.0, 0.0]) / math.sqrt(2)
    basis = np.stack([d, u, np.cross(d, u)], axis=1)
    assert obliquity_deg(Geometry((4, 4, 4), direction=tuple(basis.reshape(-1)))) == pytest.approx(54.7356, abs=1e-3)


@pytest.mark.parametrize(("degrees", "expected"), [(44.0, (0, 1, 2)), (45.0, (0, 1, 2)), (46.0, (1, 0, 2))])
def test_axis_assignment_at_and_around_a_45_degree_tie(degrees, expected):
    """A grid turned about z: under 45° each index axis keeps its patient axis; over 45° x and y swap; at exactly
    45° both permutations score |cos 45°|·2 + 1, and the first (identity) is kept, never one patient axis twice."""
    from atrialjsq.io.orientation import _axis_assignment

    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    direction = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])  # columns: the index axes in LPS
    assert _axis_assignment(direction) == expected


def test_axis_assignment_never_gives_one_patient_axis_to_two_index_axes():
    """Index x along the body diagonal (1, 1, 1)/√3, index y along (1, -1, 0)/√2, index z along (1, 1, -2)/√6.
    Per index axis, the largest |cosine| is patient x for both index x (a three-way tie) and index y (a tie
    with y): a per-axis argmax would answer (0, 0, 2). The permutations' totals, by hand: (0, 1, 2) and
    (1, 0, 2) both 1/√3 + 1/√2 + 2/√6 = 2.1, every other at most 1/√3 + 1/√2 + 1/√6 = 1.69; the first is kept."""
    from atrialjsq.io.orientation import _axis_assignment

    d = np.array([1.0, 1.0, 1.0]) / math.sqrt(3)
    u = np.array([1.0, -1.0, 0.0]) / math.sqrt(2)
    direction = np.stack([d, u, np.cross(d, u)], axis=1)
    np.testing.assert_allclose(np.abs(direction[:, 2]), np.array([1.0, 1.0, 2.0]) / math.sqrt(6))
    assert tuple(np.argmax(np.abs(direction), axis=0)) == (0, 0, 2)  # what a per-axis argmax would say
    assert _axis_assignment(direction) == (0, 1, 2)


@pytest.mark.parametrize(("shear", "refused"), [(0.99e-3, False), (1e-3, False), (1.01e-3, True)])
def test_a_shear_is_refused_just_beyond_the_orthonormality_tolerance(shear, refused):
    """Index axis y leaning by `shear` towards x: columns (1, 0, 0) and (s, 1, 0), so DᵀD − I has s off the
    diagonal and s² on it, and the error is s (s < 1). ORTHONORMAL_TOLERANCE = 1e-3 is inclusive: s = 1e-3 passes
    (the error equals the tolerance exactly), s = 1.01e-3 is refused, naming the error."""
    from atrialjsq.io.orientation import ORTHONORMAL_TOLERANCE

    assert ORTHONORMAL_TOLERANCE == 1e-3
    problem = direction_problem(Geometry((4, 4, 4), direction=(1.0, shear, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)))
    if refused:
        assert problem is not None and "not orthonormal (off by 0.00101)" in problem
    else:
        assert problem is None


@pytest.mark.parametrize(("stretch", "refused"), [(4.9e-4, False), (5.1e-4, True)])
def test_a_scaled_axis_is_refused_just_beyond_the_orthonormality_tolerance(stretch, refused):
    """Index axis z of length 1 + e on a grid turned 30° about z: DᵀD − I has (1 + e)² − 1 = 2e + e² at (z, z)
    and zero elsewhere (the rotation keeps x and y orthonormal), so the edge is e = √1.001 − 1 = 4.9988e-4:
    e = 4.9e-4 (error 9.80e-4) passes, e = 5.1e-4 (error 1.020e-3) is refused."""
    direction = np.asarray(_rotation_about_z(30.0)).reshape(3, 3)
    direction[2, 2] = 1.0 + stretch
    problem = direction_problem(Geometry((4, 4, 4), direction=tuple(direction.reshape(-1))))
    assert (problem is not None) is refused
    if refused:
        assert f"off by {2 * stretch + stretch**2:.3g}" in problem


def test_obliquity_normalises_each_direction_column_before_reading_its_angle():
    """A header whose direction columns are not unit length (scaled by 2 and 0.5 here) tilts as much as the unit
    ones: 30° about z. Scaling by the norms instead of dividing, or normalising rows, reads another angle."""
    unit = np.array(_rotation_about_z(30.0)).reshape(3, 3)
    scaled = unit * np.array([2.0, 0.5, 1.0])  # column j scaled by the j-th factor
    assert obliquity_deg(Geometry((4, 4, 4), direction=tuple(scaled.reshape(-1)))) == pytest.approx(30.0)


@pytest.mark.parametrize("code", [None, 123, ["L", "P", "S"]])
def test_an_orientation_that_is_not_text_is_refused_by_name(code):
    from atrialjsq.io.orientation import orientation_problem

    assert orientation_problem(code) == (
        f"orientation must be three letters naming three different patient axes, got {code!r}"
    )


def test_a_tilt_is_reported_only_beyond_the_limit():
    """ "More than the limit": an axis-aligned grid (tilt exactly 0°) is not reported at a limit of 0°; a grid
    turned 20.1° about z is, at the default 20°, with its angle rounded to the degree."""
    from atrialjsq.io.orientation import OBLIQUE_WARNING_DEG, tilt_problem

    assert tilt_problem(Geometry((4, 4, 4)), limit_deg=0.0) is None
    assert OBLIQUE_WARNING_DEG == 20.0
    turned = Geometry((4, 4, 4), direction=_rotation_about_z(20.1))
    assert tilt_problem(turned) == "the image grid is tilted 20° from the patient axes"
    assert tilt_problem(Geometry((4, 4, 4), direction=_rotation_about_z(19.9))) is None
