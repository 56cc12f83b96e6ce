"""Edges of the ring-gap search (`atrialjsq.quantify.ring_gaps`) on a hand-built tube whose every distance is
known: the smallest gap listed (`MIN_GAP_MM`), and a closed ring's gap search being complete."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.quantify.regions import LAFrame
from atrialjsq.quantify.ring_gaps import MIN_GAP_MM, RING_REACH_MM, ring_analysis
from atrialjsq.surface.mesh import Mesh

HALF_SIDE_MM = 10.0  # the tube's square cross-section, 20 × 20 mm round the x axis
LENGTH_MM = 60  # columns x = 0..60, 1 mm apart; the sleeve is x > 30
SCAR_X = 20.0  # the ring: the whole column x = 20 (11 mm from the ostium rim at x = 31)


def _cross_section(half_gap_mm: float | None) -> np.ndarray:
    """(P, 2) points (y, z) round the square, 1 mm apart, in order; on the side y = 10 the points z = ±1 are
    moved to z = ±`half_gap_mm` (left where they are when None)."""
    s = HALF_SIDE_MM
    steps = np.arange(-s, s)  # -10..9: each side without its last corner
    sides = [
        np.column_stack([np.full_like(steps, s), steps]),  # y = 10, z rising
        np.column_stack([-steps, np.full_like(steps, s)]),  # z = 10, y falling
        np.column_stack([np.full_like(steps, -s), -steps]),  # y = -10, z falling
        np.column_stack([steps, np.full_like(steps, -s)]),  # z = -10, y rising
    ]
    points = np.concatenate(sides).astype(np.float64)
    if half_gap_mm is not None:
        for z in (-1.0, 1.0):
            points[(points[:, 0] == s) & (points[:, 1] == z), 1] = z * half_gap_mm
    return points


def _tube(half_gap_mm: float | None) -> tuple[Mesh, np.ndarray, np.ndarray]:
    """The tube (x = 0..60 along a left vein), its regions (body x ≤ 30, LSPV sleeve beyond) and a scar ring on
    the whole column x = 20 but the point (20, 10, 0), the one gap, when `half_gap_mm` is given."""
    section = _cross_section(half_gap_mm)
    n = len(section)
    columns = np.arange(LENGTH_MM + 1, dtype=np.float64)
    vertices = np.concatenate([np.column_stack([np.full(n, x), section]) for x in columns])
    faces = []
    for i in range(LENGTH_MM):
        for k in range(n):
            a, b, c, d = i * n + k, (i + 1) * n + k, (i + 1) * n + (k + 1) % n, i * n + (k + 1) % n
            faces += [(a, b, c), (a, c, d)]
    mesh = Mesh(vertices, np.array(faces, dtype=np.int64), np.zeros_like(vertices), vertices.copy())
    x = vertices[:, 0]
    regions = np.where(x > 30, "LSPV", "posterior_wall")
    scar = x == SCAR_X
    if half_gap_mm is not None:
        scar &= ~((vertices[:, 1] == HALF_SIDE_MM) & (vertices[:, 2] == 0.0))
    return mesh, regions, scar


FRAME = LAFrame(np.zeros(3), np.eye(3), True)  # origin on the tube's axis; left +x, posterior +y, superior +z
OSTIA = [np.array([31.0, 0.0, 0.0])]  # the side's axis: +x, the tube's


@pytest.mark.parametrize(
    ("half_gap_mm", "listed"),
    [(None, False), (0.3, False), (0.49, False), (0.5, True), (0.51, True), (0.9, True)],
)
def test_a_gap_is_listed_from_the_minimum_size_up_and_a_closed_ring_is_a_complete_search(half_gap_mm, listed):
    """The ostium rim is the sleeve's first column x = 31, so the band (within RING_REACH_MM = 20 mm) is
    x = 11..51, the sleeve beyond it x ≥ 52 and the wall beyond it x ≤ 10: every scar-free path between them
    crosses the column x = 20, whose only scar-free vertex is the gap (20, 10, 0), with the lesion ends at
    (20, 10, ±h) on either side. Its distance to the scar is h (the columns x = 19 and 21 are √(1 + h²) away),
    so the gap reads 2h. MIN_GAP_MM = 1 mm is inclusive: h = 0.49 (0.98 mm) is not listed and the ring reads
    closed; h = 0.5 (exactly 1 mm) and h = 0.51 (1.02 mm) are listed, at 90° (posterior: +y from the +z up of
    a left side along +x). Whenever the ring reads closed the search is complete: no gaps, `gaps_complete`, no
    note; a listed gap is plugged (scar within h + 1.5 mm of it) and the search then finds the ring closed, so
    it too is complete."""
    assert (MIN_GAP_MM, RING_REACH_MM) == (1.0, 20.0)
    mesh, regions, scar = _tube(half_gap_mm)
    ring = ring_analysis(mesh, regions, scar, FRAME, "left_antrum", OSTIA)
    assert ring is not None and ring.note == "" and ring.gaps_complete
    assert ring.closed is (not listed)
    if ring.closed:
        assert ring.gaps == []
    else:
        assert half_gap_mm is not None
        [gap] = ring.gaps
        assert gap.size_mm == pytest.approx(2.0 * half_gap_mm, abs=1e-12)
        np.testing.assert_array_equal(gap.centre_mm, [SCAR_X, HALF_SIDE_MM, 0.0])
        assert gap.centre_deg == pytest.approx(90.0, abs=1e-9)


def test_the_tube_holds_the_distances_the_edge_is_derived_from():
    """The construction itself: with h = 0.49, the gap vertex is 0.49 mm from the nearest scar and every other
    scar-free vertex at least 0.49 mm too (so the gap is the bottleneck, read 0.98 mm wide)."""
    from scipy.spatial import cKDTree

    from atrialjsq.quantify.ring_gaps import widest_gap
    from atrialjsq.surface.mesh_graph import adjacency

    mesh, _, scar = _tube(0.49)
    x = mesh.vertices_mm[:, 0]
    distance, _ = cKDTree(mesh.vertices_mm[scar]).query(mesh.vertices_mm[~scar])
    assert distance.min() == pytest.approx(0.49, abs=1e-12)
    found = widest_gap(mesh, adjacency(mesh), np.ones(len(x), dtype=bool), scar, x >= 52, x <= 10)
    assert found is not None
    vertex, half = found
    np.testing.assert_array_equal(mesh.vertices_mm[vertex], [SCAR_X, HALF_SIDE_MM, 0.0])
    assert half == pytest.approx(0.49, abs=1e-12)


def test_a_sleeve_that_is_scar_throughout_leaves_the_ring_undetermined():
    """Reported by review: scar over the whole distal vein sleeve (and the ring column) left no scar-free vertex
    to start a path from, and the ring read closed, as if isolated. Nothing was tested: closed is null."""
    mesh, regions, scar = _tube(None)
    x = mesh.vertices_mm[:, 0]
    ring = ring_analysis(mesh, regions, scar | (x >= 52), FRAME, "left_antrum", OSTIA)
    assert ring is not None and ring.closed is None and ring.gaps == []
    assert ring.note == "undetermined: the distal vein sleeves are scar throughout"
    closed = ring_analysis(mesh, regions, scar | (x >= 56), FRAME, "left_antrum", OSTIA)  # part of it free
    assert closed is not None and closed.closed is True
