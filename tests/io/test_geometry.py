"""Geometry as plain data: to_dict gives JSON-safe lists, from_dict rebuilds the same grid."""

from __future__ import annotations

import json

from atrialjsq.io import Geometry

# a 90° turn about z (row-major, as SimpleITK): the x axis points along −y, the y axis along +x
GEOM = Geometry((7, 6, 5), (0.625, 0.7, 1.25), (10.0, -20.0, 3.5), (0, 1, 0, -1, 0, 0, 0, 0, 1))


def test_to_dict_is_plain_lists():
    assert GEOM.to_dict() == {
        "shape": [7, 6, 5],
        "spacing": [0.625, 0.7, 1.25],
        "origin": [10.0, -20.0, 3.5],
        "direction": [0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
    }
    assert all(type(value) is list for value in GEOM.to_dict().values())


def test_round_trip_through_json_keeps_the_geometry_exactly():
    back = Geometry.from_dict(json.loads(json.dumps(GEOM.to_dict())))
    assert back == GEOM
    assert back.index_to_physical([1, 0, 0]).tolist() == [10.0, -20.625, 3.5]  # index x steps along −y


def test_from_dict_fills_the_defaults():
    assert Geometry.from_dict({"shape": [2, 3, 4]}) == Geometry((2, 3, 4))


def test_a_mismatch_reads_as_a_person_writes_the_numbers():
    """A header's float32 spacing (0.800000011920929) printed whole looked like a different number."""
    import numpy as np

    read = Geometry((7, 6, 5), tuple(float(np.float32(s)) for s in (0.8, 0.8, 2.5)))
    assert read.spacing[0] == 0.800000011920929
    assert read.mismatch(Geometry((7, 6, 5), (1.0, 1.0, 2.5))) == "spacing (0.8, 0.8, 2.5) != (1, 1, 2.5)"
    moved = Geometry((7, 6, 5), read.spacing, (float(np.float32(-30.1)), 0.0, 5.0))
    assert moved.mismatch(read) == "origin (-30.1, 0, 5) != (0, 0, 0)"
    assert read.mismatch(Geometry((7, 6, 5), (0.8, 0.8, 2.5))) is None  # float32 noise is no mismatch
