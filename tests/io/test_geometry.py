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
