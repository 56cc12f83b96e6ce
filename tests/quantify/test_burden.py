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
