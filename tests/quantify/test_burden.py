"""Areas, volumes and area-weighted burden on meshes whose answers are known by hand."""

import numpy as np
import pytest

from atrialjsq.io import Volume
from atrialjsq.quantify.burden import area_fraction, la_volume_ml
from atrialjsq.surface.mesh import Mesh


def _square(size=3.0):
    # Two triangles covering a size x size square in the z = 0 plane.
    vertices = np.array([[0, 0, 0], [size, 0, 0], [size, size, 0], [0, size, 0]], dtype=float)
    return Mesh(vertices, np.array([[0, 1, 2], [0, 2, 3]]), np.tile([0.0, 0.0, 1.0], (4, 1)), vertices.copy())


def test_area_fraction_weights_by_area_not_by_vertex_count():
    # Vertices 0 and 2 touch both triangles (a third of 9 mm² in all), vertices 1 and 3 one (a sixth).
    mesh = _square()
    assert area_fraction(mesh, np.array([True, False, False, False])) == pytest.approx(1 / 3)
    assert area_fraction(mesh, np.array([False, True, False, False])) == pytest.approx(1 / 6)
    assert area_fraction(mesh, np.array([True, True, False, False])) == pytest.approx(1 / 2)
    assert area_fraction(mesh, np.ones(4, dtype=bool)) == pytest.approx(1.0)


def test_la_volume_of_a_box_in_millilitres():
    mask = np.zeros((20, 20, 20), dtype=np.uint8)
    mask[2:12, 2:12, 2:12] = 1  # 1000 voxels of 2 x 2 x 2.5 mm = 10 mL
    assert la_volume_ml(Volume.from_array(mask, spacing=(2.0, 2.0, 2.5))) == pytest.approx(10.0)


def _triangle(leg_mm: float) -> Mesh:
    """One right triangle with two legs of `leg_mm`: area leg² / 2."""
    vertices = np.array([[0, 0, 0], [leg_mm, 0, 0], [0, leg_mm, 0]], dtype=float)
    return Mesh(vertices, np.array([[0, 1, 2]]), np.tile([0.0, 0.0, 1.0], (3, 1)), vertices.copy())


def test_area_fraction_of_a_surface_smaller_than_one_square_millimetre():
    # 0.5 mm² in all: the fraction is still a ratio of areas, whatever their unit size.
    mesh = _triangle(1.0)
    assert area_fraction(mesh, np.ones(3, dtype=bool)) == pytest.approx(1.0)
    assert area_fraction(mesh, np.array([True, False, False])) == pytest.approx(1 / 3)  # mean of the face's vertices


def test_area_fraction_of_a_surface_without_area_is_zero_not_an_error():
    flat = _triangle(0.0)  # a degenerate face: no area at all
    assert area_fraction(flat, np.ones(3, dtype=bool)) == 0.0
    no_faces = Mesh(np.zeros((3, 3)), np.zeros((0, 3), dtype=np.int64), np.zeros((3, 3)), np.zeros((3, 3)))
    assert area_fraction(no_faces, np.ones(3, dtype=bool)) == 0.0


def test_the_burden_record_carries_its_range_and_drops_the_stages_of_an_unstaged_case():
    from atrialjsq.quantify.burden import Burden
    from atrialjsq.quantify.confidence import burden_range

    # Four separate triangles of 1, 2, 3, 4 mm²: sure scar, unsure scar, unsure normal, sure normal (margin 0.15).
    legs = np.sqrt(2 * np.array([1.0, 2.0, 3.0, 4.0]))
    vertices = np.concatenate([[[0, 0, 10 * k], [leg, 0, 10 * k], [0, leg, 10 * k]] for k, leg in enumerate(legs)])
    mesh = Mesh(vertices, np.arange(12).reshape(4, 3), np.tile([0.0, 0.0, 1.0], (12, 1)), vertices.copy())
    probability = np.repeat([0.9, 0.6, 0.4, 0.1], 3)
    span = burden_range(mesh, probability, probability > 0.5)
    burden = Burden(70.0, 100.0, 30.0, 30.0, 30.0, 100, 30, "III", "III", {}, burden_range=span)
    record = burden.to_dict()
    assert record["burden_range"] == burden.range_record() == span.to_dict()
    assert record["burden_range"]["low_percent"] == pytest.approx(10.0)  # sure scar only: 1 of 10 mm²
    assert record["burden_range"]["high_percent"] == pytest.approx(60.0)  # and every unsure element: 1 + 2 + 3
    assert (record["utah_stage"], record["decaaf_stage"]) == ("III", "III")
    burden.untrusted = ["model outside its training domain"]
    record = burden.to_dict()
    assert record["utah_stage"] is None and record["decaaf_stage"] is None and "stages" not in record["burden_range"]
