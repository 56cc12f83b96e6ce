"""Is each side's PV antrum encircled by scar, and where are the gaps? (the question after PV isolation)

Wide-area circumferential ablation draws one ring around each ipsilateral vein pair, on the antrum or the
proximal sleeves. The ring of a side is closed when no path of scar-free wall leads from the side's distal vein
sleeves (beyond `RING_REACH_MM` of the ostium rim, where sleeve meets body) to the wall beyond `RING_REACH_MM`
of the sleeves: the surface analogue of electrical isolation, exact for any ring shape. A path through an opening
narrower than `MIN_GAP_MM` (below what an LGE mesh resolves) does not count: such a ring reads closed.

An open ring's gaps are found as bottlenecks. Let d be each vertex's straight (not geodesic) distance to the
nearest scar; the mitral opening and other sleeves do not bound a gap, so a gap that runs into them reads
wider than it is. Of all scar-free paths from the distal sleeves to the far wall, the widest (the one whose
vertex nearest to the scar is farthest from it) has its bottleneck there: the middle of the widest gap, with d
= half the gap (the two lesion ends face each other at 2d). That gap is then plugged (scar within d +
`PLUG_MARGIN_MM` of its middle) and the search repeated (a bottleneck next to an earlier gap widens that gap's
plug instead) until the ring closes, the next gap is narrower than `MIN_GAP_MM` (below the mesh's resolution),
or `MAX_GAPS` were found.
A side whose antrum band (the wall within `RING_REACH_MM` of its ostium rim) has scar at fewer than
`MIN_RING_COVERAGE` of the angles round the side's axis (in `COVERAGE_BINS` sectors) has no ring at all: open, no
gaps listed, and a note saying so. A lesion that goes less than a quarter of the way round the veins is not a
ring (a stray patch of fibrosis would otherwise read as a ring with one 76 mm gap).

Each gap also gets an angle round the side's axis (body centroid → mean of the side's ostia), from the side's
superior direction (0°) through posterior (90°), inferior (180°) and anterior (270°), for both sides. A lesion
set that encloses both sides at once (a box) is not a closed ring of either side here: the wall beyond one
side's reach lies inside the box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree
from scipy.spatial import cKDTree

from atrialjsq.quantify.regions import EXCLUDED, LEFT_VEINS, RIGHT_VEINS, LAFrame
from atrialjsq.surface.mesh import Mesh
from atrialjsq.surface.mesh_graph import adjacency

RING_REACH_MM = 20.0
PLUG_MARGIN_MM = 1.5
MIN_GAP_MM = 1.0
MAX_GAPS = 8
MIN_RING_COVERAGE = 0.25  # share of the sectors round the side's axis that must hold scar
COVERAGE_BINS = 36  # 10° sectors


@dataclass
class RingGap:
    centre_deg: float  # round the side's axis (see the module docstring)
    size_mm: float  # between the lesion ends across the gap
    centre_mm: np.ndarray  # the middle of the gap, on the surface


@dataclass
class AntrumRing:
    side: str  # "left_antrum" or "right_antrum"
    closed: bool | None  # None: cannot be told (no wall beyond the ring's reach to be isolated from)
    gaps: list[RingGap] = field(default_factory=list)  # largest first
    gaps_complete: bool = True  # False: the search stopped with the ring still open
    note: str = ""

    @property
    def largest_gap_mm(self) -> float:
        return self.gaps[0].size_mm if self.gaps else 0.0


def antrum_axes(frame: LAFrame, ostia_mm: list[np.ndarray]) -> np.ndarray:
    """(3, 3) rows: the side's axis w, its superior e1 and posterior e2 directions perpendicular to w."""
    w = np.mean(ostia_mm, axis=0) - frame.origin
    w /= max(float(np.linalg.norm(w)), 1e-9)
    _, posterior, superior = frame.axes
    e1 = superior - (superior @ w) * w
    e1 /= max(float(np.linalg.norm(e1)), 1e-9)
    e2 = posterior - (posterior @ w) * w - (posterior @ e1) * e1
    if np.linalg.norm(e2) < 1e-6:
        e2 = np.cross(w, e1)
    e2 /= max(float(np.linalg.norm(e2)), 1e-9)
    return np.stack([w, e1, e2])


def angular_coverage(offsets: np.ndarray, e1: np.ndarray, e2: np.ndarray) -> float:
    """Share of the `COVERAGE_BINS` sectors round the side's axis (angle in the e1-e2 plane) holding a point."""
    if not len(offsets):
        return 0.0
    angle = np.arctan2(offsets @ e2, offsets @ e1) % (2 * np.pi)
    sectors = np.minimum((angle / (2 * np.pi) * COVERAGE_BINS).astype(int), COVERAGE_BINS - 1)
    return len(np.unique(sectors)) / COVERAGE_BINS


def ring_analysis(
    mesh: Mesh,
    regions: np.ndarray,
    scar: np.ndarray,
    frame: LAFrame,
    side: str,
    ostia_mm: list[np.ndarray],
) -> AntrumRing | None:
    """The ring of one side (see the module docstring), or None when that side has no sleeve or ostium."""
    sleeve = np.isin(regions, LEFT_VEINS if side == "left_antrum" else RIGHT_VEINS)
    graph = adjacency(mesh)
    rim = sleeve & (graph @ (~sleeve).astype(np.float64) > 0)
    if not rim.any() or not ostia_mm:
        return None
    from_rim, _ = cKDTree(mesh.vertices_mm[rim]).query(mesh.vertices_mm)
    wall = ~np.isin(regions, EXCLUDED) | sleeve
    band = wall & (from_rim <= RING_REACH_MM)
    source = sleeve & ~band
    if not source.any():  # a short sleeve: its distal fifth
        source = sleeve & (from_rim >= np.quantile(from_rim[sleeve], 0.8))
    sink = wall & ~sleeve & ~band
    if not sink.any():
        return AntrumRing(side, None, note=f"undetermined: no wall beyond {RING_REACH_MM:.0f} mm of the sleeves")
    scar = np.asarray(scar, dtype=bool) & wall
    _, e1, e2 = antrum_axes(frame, ostia_mm)
    coverage = angular_coverage(mesh.vertices_mm[scar & band] - frame.origin, e1, e2)
    if coverage < MIN_RING_COVERAGE:
        what = "no scar" if coverage == 0 else f"scar round {100 * coverage:.0f} % of the way"
        return AntrumRing(
            side,
            False,
            note=f"no ring: {what} within {RING_REACH_MM:.0f} mm of the ostia (a ring goes at least "
            f"{100 * MIN_RING_COVERAGE:.0f} % round)",
        )
    for ends, where in ((source, "the distal vein sleeves"), (sink, "the wall beyond the antrum")):
        if not (ends & ~scar).any():  # no scar-free path can start or end there: closure cannot be tested
            return AntrumRing(side, None, note=f"undetermined: {where} are scar throughout")
    gaps: list[RingGap] = []
    plugs: list[float] = []  # each gap's plug radius, less the margin
    # The distance to the scar, kept up to date as plugs are added (the nearer of the old scar and the plug).
    distance = distance_to_scar(mesh, scar)
    for _ in range(4 * MAX_GAPS):
        found = widest_gap(mesh, graph, wall, scar, source, sink, distance)
        if found is None or 2.0 * found[1] < MIN_GAP_MM or len(gaps) == MAX_GAPS:
            break
        vertex, half = found
        centre = mesh.vertices_mm[vertex]
        reach = np.array(plugs) + 2 * PLUG_MARGIN_MM
        earlier = [k for k, g in enumerate(gaps) if np.linalg.norm(g.centre_mm - centre) <= reach[k]]
        if earlier:  # what the last plug left of an earlier gap: plug it wider, not a gap of its own
            plugs[earlier[0]] += PLUG_MARGIN_MM
            centre, half = gaps[earlier[0]].centre_mm, plugs[earlier[0]]
        else:
            offset = centre - frame.origin
            angle = float(np.degrees(np.arctan2(offset @ e2, offset @ e1)) % 360.0)
            gaps.append(RingGap(angle, 2.0 * half, centre.copy()))
            plugs.append(half)
        plug = np.linalg.norm(mesh.vertices_mm - centre, axis=1) <= half + PLUG_MARGIN_MM
        added = plug & wall & ~scar
        scar = scar | added
        if added.any():
            distance = np.minimum(distance, distance_to_scar(mesh, added))
    left = widest_gap(mesh, graph, wall, scar, source, sink, distance)
    complete = left is None or 2.0 * left[1] < MIN_GAP_MM
    return AntrumRing(
        side,
        closed=not gaps,
        gaps=sorted(gaps, key=lambda g: g.size_mm, reverse=True),
        gaps_complete=complete,
        note="" if complete else f"more gaps than the {len(gaps)} listed",
    )


def distance_to_scar(mesh: Mesh, scar: np.ndarray) -> np.ndarray:
    """(V,) straight distance in mm from each vertex to the nearest scar vertex (`RING_REACH_MM` without scar)."""
    if not scar.any():
        return np.full(mesh.n_vertices, RING_REACH_MM)
    distance, _ = cKDTree(mesh.vertices_mm[scar]).query(mesh.vertices_mm)
    return distance


def widest_gap(
    mesh: Mesh,
    graph,
    wall: np.ndarray,
    scar: np.ndarray,
    source: np.ndarray,
    sink: np.ndarray,
    distance: np.ndarray | None = None,
) -> tuple[int, float] | None:
    """The bottleneck vertex of the widest scar-free wall path from `source` to `sink` and its distance to
    the scar, or None when no such path exists; `distance` is `distance_to_scar(mesh, scar)` when the caller
    keeps it up to date.

    The widest (max–min) path between two vertices runs along the maximum spanning tree of the graph whose
    edges weigh the smaller distance of their two ends (with a super-source and a super-sink tied to the
    `source` and `sink` vertices), so one spanning tree and one tree walk find it (scipy.sparse.csgraph);
    its bottleneck is the path's vertex nearest to the scar.
    """
    free = wall & ~np.asarray(scar, dtype=bool)
    if not (free & source).any() or not (free & sink).any():
        return None
    if distance is None:
        distance = distance_to_scar(mesh, scar)
    index = np.flatnonzero(free)
    d = distance[index]
    sub = sparse.triu(graph[index][:, index], k=1).tocoo()
    n = len(index)
    top = float(d.max()) + 1.0
    ends_source = np.flatnonzero(source[index])
    ends_sink = np.flatnonzero(sink[index])
    rows = np.concatenate([sub.row, np.full(len(ends_source), n), np.full(len(ends_sink), n + 1)])
    cols = np.concatenate([sub.col, ends_source, ends_sink])
    weight = np.concatenate([np.minimum(d[sub.row], d[sub.col]), np.full(len(ends_source) + len(ends_sink), top)])
    # A minimum spanning tree of (2·top − weight) > 0 is a maximum spanning tree of `weight`.
    flipped = sparse.coo_matrix((2.0 * top - weight, (rows, cols)), shape=(n + 2, n + 2)).tocsr()
    tree = minimum_spanning_tree(flipped)
    _, predecessor = breadth_first_order(tree + tree.T, n, directed=False, return_predecessors=True)
    if predecessor[n + 1] < 0:
        return None
    path = []
    node = int(predecessor[n + 1])
    while node != n:
        path.append(node)
        node = int(predecessor[node])
    path_nodes = np.asarray(path)
    bottleneck = int(path_nodes[np.argmin(d[path_nodes])])
    return int(index[bottleneck]), float(d[bottleneck])
