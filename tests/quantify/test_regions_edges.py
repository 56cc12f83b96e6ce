"""Edges of the region rules (`atrialjsq.quantify.regions`), on hand-built meshes whose answers follow from
their coordinates: which side's antrum takes body wall within reach of both sides' vein sleeves, the reach
itself, and the appendage inside the clipped LA burden."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.quantify.landmarks import BODY_LABEL, Landmark, Landmarks
from atrialjsq.quantify.regions import (
    ANTRUM_MM,
    WALL_REGIONS,
    LAFrame,
    assign_regions,
    clipped_burden,
    region_burdens,
)
from atrialjsq.surface.mesh import Mesh

LSPV_LABEL, RSPV_LABEL, LAA_LABEL = 2, 3, 4


def _landmarks(structures: np.ndarray, names: dict[str, int], centroid) -> Landmarks:
    found = {
        name: Landmark(name, np.zeros(3), np.array([1.0, 0.0, 0.0]), 1.0, 1.0, label) for name, label in names.items()
    }
    return Landmarks(found, np.asarray(centroid, dtype=np.float64), structures=structures)


def _frame(origin) -> LAFrame:
    return LAFrame(np.asarray(origin, dtype=np.float64), np.eye(3), True)


def _mesh(vertices_mm, vertices_index=None, faces=None) -> Mesh:
    """A mesh on a 1 mm grid with origin 0 (index = mm unless `vertices_index` says where each vertex's
    structure label is read)."""
    vertices = np.asarray(vertices_mm, dtype=np.float64)
    index = vertices.copy() if vertices_index is None else np.asarray(vertices_index, dtype=np.float64)
    faces = np.zeros((0, 3), dtype=np.int64) if faces is None else np.asarray(faces, dtype=np.int64)
    return Mesh(vertices, faces, np.zeros_like(vertices), index)


def _line(body_x: list[float], left: bool = True, right: bool = True):
    """Vertices on the line y = z = 1 of a (40, 3, 3) grid: the LSPV sleeve on x = 0..10, the RSPV sleeve on
    x = 26..36 (each a vertex per mm), body voxels between, and one body vertex at each of `body_x` (its label
    read at the body voxel x = 18). The sleeves' nearest vertices to the body are x = 10 and x = 26."""
    structures = np.full((40, 3, 3), BODY_LABEL, dtype=np.int16)
    structures[:11] = LSPV_LABEL
    structures[26:37] = RSPV_LABEL
    sleeves = ([float(x) for x in range(0, 11)] if left else []) + ([float(x) for x in range(26, 37)] if right else [])
    xs = sleeves + body_x
    vertices = [(x, 1.0, 1.0) for x in xs]
    index = [(x, 1.0, 1.0) for x in sleeves] + [(18.0, 1.0, 1.0)] * len(body_x)
    names = {"LSPV": LSPV_LABEL} if left else {}
    names |= {"RSPV": RSPV_LABEL} if right else {}
    mesh = _mesh(vertices, index)
    regions = assign_regions(mesh, _landmarks(structures, names, (18.0, 1.0, 1.0)), _frame((18.0, 1.0, 1.0)))
    return regions[: len(sleeves)], regions[len(sleeves) :]


def test_body_wall_within_reach_of_both_sides_joins_the_nearer_and_the_left_on_a_tie():
    """Body vertices between the left sleeve (nearest vertex x = 10) and the right one (x = 26), both within
    ANTRUM_MM = 10 mm of either for x in [16, 20]: x = 17.99 is 7.99 mm from the left and 8.01 mm from the right,
    so left; x = 18.01 the other way round, so right; x = 18 is 8 mm from both (exact in floating point). On the
    tie the left antrum keeps it: the sides are labelled left first, and the right takes a vertex only when
    strictly nearer. x = 15 (5 mm left, 11 mm right: only the left within reach) is left; x = 21 is right."""
    assert ANTRUM_MM == 10.0
    sleeves, body = _line([17.99, 18.0, 18.01, 15.0, 21.0])
    assert set(sleeves[:11]) == {"LSPV"} and set(sleeves[11:]) == {"RSPV"}
    assert list(body) == ["left_antrum", "left_antrum", "right_antrum", "left_antrum", "right_antrum"]


@pytest.mark.parametrize(("left", "right"), [(True, False), (False, True)])
def test_the_antrum_reaches_10_mm_from_the_sleeve_and_no_further(left, right):
    """One side's sleeve only: a body vertex exactly ANTRUM_MM = 10 mm from its nearest sleeve vertex is antrum
    (the reach is inclusive), one 0.01 mm further is wall of the frame face it points to. The frame is the
    identity at (18, 1, 1) and the vertices lie on its x axis, so x > 18 is `lateral_wall` (left) and x < 18 is
    `septum` (right)."""
    if left:  # nearest sleeve vertex x = 10
        _, body = _line([20.0, 20.01], left=True, right=False)
        assert list(body) == ["left_antrum", "lateral_wall"]
    if right:  # nearest sleeve vertex x = 26
        _, body = _line([16.0, 15.99], left=False, right=True)
        assert list(body) == ["right_antrum", "septum"]


def _square(x0: float) -> tuple[np.ndarray, np.ndarray]:
    """A 1 × 1 mm square at x0..x0 + 1, y 0..1, z = 0: 4 vertices, 2 triangles, area 1 mm²."""
    vertices = np.array([(x0, 0.0, 0.0), (x0 + 1, 0.0, 0.0), (x0 + 1, 1.0, 0.0), (x0, 1.0, 0.0)])
    return vertices, np.array([(0, 1, 2), (0, 2, 3)])


def test_the_appendage_counts_in_the_clipped_burden_and_sleeves_and_valve_do_not():
    """Four disjoint 1 mm² squares (each region's area exact, whatever share of it each vertex holds): the
    appendage (LAA label) and a vein sleeve (LSPV label) all scar, a square of body wall free of scar 30 mm from
    the sleeve (beyond the 10 mm antrum, so a wall face), and a square of body marked as mitral opening, all scar.
    The module's rule: the LAA is LA wall inside the burden, the sleeves and the valve are left out, so the
    clipped LA wall is LAA + body = 2 mm² = 0.02 cm² with 1 mm² = 0.01 cm² of scar: 50 %. (Counting the sleeve
    would give 2/3, the valve too 3/4, and leaving the appendage out 0 %.)"""
    structures = np.zeros((64, 4, 4), dtype=np.int16)
    squares = []
    for k, (x0, label) in enumerate(((0.0, LAA_LABEL), (20.0, BODY_LABEL), (50.0, LSPV_LABEL), (60.0, BODY_LABEL))):
        vertices, triangles = _square(x0)
        squares.append((vertices, triangles + 4 * k))
        structures[int(x0) : int(x0) + 2, 0:2, 0] = label
    mesh = _mesh(np.concatenate([v for v, _ in squares]), faces=np.concatenate([f for _, f in squares]))
    x = mesh.vertices_mm[:, 0]
    mitral = x >= 60
    landmarks = _landmarks(structures, {"LAA": LAA_LABEL, "LSPV": LSPV_LABEL}, (20.5, 0.5, 0.0))
    regions = assign_regions(mesh, landmarks, _frame((20.5, 0.5, 0.0)), mitral)
    assert set(regions[x <= 1]) == {"LAA"} and set(regions[(x >= 50) & (x <= 51)]) == {"LSPV"}
    assert set(regions[mitral]) == {"mitral"}
    body = (x >= 20) & (x <= 21)
    assert set(regions[body]) <= set(WALL_REGIONS) - {"LAA", "left_antrum", "right_antrum"}  # frame faces
    scar = ~body
    burdens = {b.region: b for b in region_burdens(mesh, regions, scar)}
    assert burdens["LAA"].area_cm2 == pytest.approx(0.01, abs=1e-12)
    assert burdens["LAA"].burden_percent == pytest.approx(100.0)
    clipped = clipped_burden(list(burdens.values()))
    assert clipped.area_cm2 == pytest.approx(0.02, abs=1e-12)
    assert clipped.scar_area_cm2 == pytest.approx(0.01, abs=1e-12)
    assert clipped.burden_percent == pytest.approx(50.0, abs=1e-9)
