"""scar_map.png: the LA surface flattened to a disk (mitral ring at the rim), scar in red, regions outlined.

Where the scar call is unsure (`quantify.confidence`), scar is drawn pale red and wall pale yellow, so a
reader sees which part of the burden could go either way.

Read like a posterior view of the atrium: patient left on the page's left, superior up, the mitral ring as
the disk's edge; vein sleeves beyond the ostia are shaded grey (clipped from the burden), ostia and the
appendage are labelled, the gaps of each PV antrum ring are circled with their size. The side panel lists the
burden per region and whether each antrum ring is closed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from atrialjsq.io.atomic import save_figure
from atrialjsq.quantify.breakdown import RegionalScar
from atrialjsq.quantify.regions import EXCLUDED
from atrialjsq.surface.mesh import Mesh
from atrialjsq.surface.mesh_graph import adjacency

_LABELS = {
    "left_antrum": "left PV antrum",
    "right_antrum": "right PV antrum",
    "posterior_wall": "posterior wall",
    "anterior_wall": "anterior wall",
    "lateral_wall": "lateral wall",
    "LAA": "appendage",
}


RIM_RADIUS = 0.95  # a landmark mapped this close to the disk's edge sits on the mitral ring
SIDE_WIDTH = 46  # characters per line of the side panel
BORDER_SMOOTHING = 4  # neighbour-averaging passes on each region's indicator before its 0.5 contour is drawn
LABEL_HEIGHT = 0.075  # a label's box in disk units (the disk has radius 1): height, and width per character
LABEL_CHAR_WIDTH = 0.028


def _region_order(regions: np.ndarray) -> list[str]:
    """Each region drawn on the map once (not the clipped sleeves), largest first: big regions place first."""
    names, counts = np.unique(regions, return_counts=True)
    return [str(n) for n, _ in sorted(zip(names, counts, strict=True), key=lambda item: -item[1]) if n not in EXCLUDED]


def _draw_region_borders(ax, uv: np.ndarray, faces: np.ndarray, mesh: Mesh, regions: np.ndarray) -> None:
    """Each region's outline as the 0.5 level of its indicator, averaged over mesh neighbours a few times: a
    smooth curve between the regions instead of a zigzag along triangle edges.

    All indicators are smoothed at once, and each contour is traced on the faces it crosses only (a level
    passes through a triangle only where its corners straddle it, so the curve is the same as on the whole
    map, at a fraction of the cost on a mesh of tens of thousands of faces)."""
    from matplotlib.tri import Triangulation  # figures only: deferred, slow to import

    graph = adjacency(mesh)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    average = sparse.diags(1.0 / np.maximum(degree + 1.0, 1.0)) @ (graph + sparse.identity(graph.shape[0]))
    names, codes = np.unique(regions, return_inverse=True)
    indicators = np.zeros((len(regions), len(names)))
    indicators[np.arange(len(regions)), codes] = 1.0
    for _ in range(BORDER_SMOOTHING):
        indicators = average @ indicators
    for column in range(len(names)):
        corners = indicators[faces, column]  # (F, 3)
        crossing = faces[(corners.min(axis=1) < 0.5) & (corners.max(axis=1) > 0.5)]
        if not len(crossing):
            continue
        used = np.unique(crossing)
        local = np.full(len(uv), -1, dtype=np.int64)
        local[used] = np.arange(len(used))
        strip = Triangulation(uv[used, 0], uv[used, 1], local[crossing])
        ax.tricontour(strip, indicators[used, column], levels=[0.5], colors="k", linewidths=0.6)


def border_distance(uv: np.ndarray, members: np.ndarray, valid: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Each member vertex's distance on the map to the nearest mapped vertex of another region (or the rim)."""
    others = np.flatnonzero(valid & (regions != regions[members[0]]))
    to_rim = 1.0 - np.linalg.norm(uv[members], axis=1)
    if not len(others):
        return to_rim
    distance, _ = cKDTree(uv[others]).query(uv[members])
    return np.minimum(distance, to_rim)


def _interior_points(uv: np.ndarray, members: np.ndarray, clearance: np.ndarray, n: int = 40) -> list[np.ndarray]:
    """Candidate label positions inside a region, deepest first (farthest from its border)."""
    order = np.argsort(-clearance)[: max(n, 1) * 4 : 4]
    return [uv[members[k]] for k in order]


def _near(point: np.ndarray) -> list[np.ndarray]:
    """Label positions around a marker: right, left, above, below (a few marker widths away)."""
    return [point + offset for offset in (np.array(v) for v in ((0.05, 0.04), (-0.05, 0.04), (0, 0.07), (0, -0.08)))]


class _Labels:
    """Greedy placement: each label takes the first candidate position whose box overlaps no placed label."""

    def __init__(self) -> None:
        self.boxes: list[tuple[float, float, float, float]] = []

    def add(self, ax, text: str, anchor, candidates: list[np.ndarray], **style) -> bool:
        width, height = LABEL_CHAR_WIDTH * len(text) * style.get("fontsize", 8) / 8, LABEL_HEIGHT
        for position in candidates:
            x, y = float(position[0]), float(position[1])
            box = (x - width / 2, y - height / 2, x + width / 2, y + height / 2)
            if np.hypot(x, y) > 1.15 or any(_overlap(box, other) for other in self.boxes):
                continue
            self.boxes.append(box)
            ax.text(x, y, text, ha="center", va="center", **style)
            return True
        return False  # no free place: left out rather than printed over another label


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def render_scar_map(
    path: str | Path,
    mesh: Mesh,
    regional: RegionalScar,
    scar: np.ndarray,
    title: str = "",
    unsure: np.ndarray | None = None,
    range_text: str = "",
) -> Path:
    """Write the flat scar map (see the module docstring) atomically; needs `regional.flat_uv`. `unsure` marks
    the vertices whose scar call is unsure; `range_text` (e.g. the burden range) goes under the side panel."""
    import matplotlib  # figures only: deferred, slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # figures only: deferred, slow to import
    from matplotlib.tri import Triangulation  # figures only: deferred, slow to import

    if regional.flat_uv is None:
        raise ValueError("no flat map for this case (no mitral ring)")
    uv = regional.flat_uv
    faces = mesh.faces[np.isfinite(uv[mesh.faces]).all(axis=(1, 2))]
    regions = regional.regions
    # A face takes the class most of its vertices have: scar first, then clipped sleeve, else wall; an unsure
    # majority moves scar and wall to their pale variants (3 and 4).
    face_colour = np.where(
        np.asarray(scar, dtype=bool)[faces].sum(axis=1) >= 2,
        2.0,
        np.where(np.isin(regions, EXCLUDED)[faces].sum(axis=1) >= 2, 1.0, 0.0),
    )
    if unsure is not None:
        unsure_face = np.asarray(unsure, dtype=bool)[faces].sum(axis=1) >= 2
        face_colour = np.where(unsure_face & (face_colour == 2.0), 3.0, face_colour)
        face_colour = np.where(unsure_face & (face_colour == 0.0), 4.0, face_colour)
    figure, (ax, side) = plt.subplots(1, 2, figsize=(11, 6.6), gridspec_kw={"width_ratios": [3, 1.25]})
    used = np.unique(faces)  # the triangulation gets only the mapped vertices, re-indexed
    local = np.full(len(uv), -1, dtype=np.int64)
    local[used] = np.arange(len(used))
    triangulation = Triangulation(uv[used, 0], uv[used, 1], local[faces])
    cmap = matplotlib.colors.ListedColormap(["#e8d9c5", "#9a9a9a", "#d7301f", "#f4a09a", "#fff2a8"])
    ax.tripcolor(triangulation, facecolors=face_colour, cmap=cmap, vmin=0, vmax=4, edgecolors="none", antialiased=False)
    _draw_region_borders(ax, uv, faces, mesh, regions)
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="k", linewidth=1.5))
    ax.text(0, -1.07, "mitral ring", ha="center", va="top", fontsize=9)
    placed = _Labels()
    notes: list[str] = []
    vertices = mesh.vertices_mm
    valid = np.isfinite(uv).all(axis=1)
    for name, mark in regional.landmarks.found.items():
        nearest = np.flatnonzero(valid)[np.argmin(np.linalg.norm(vertices[valid] - mark.ostium_mm, axis=1))]
        if np.linalg.norm(uv[nearest]) > RIM_RADIUS:  # an ostium on the mitral ring is a misplaced landmark
            notes.append(f"{name}: ostium maps onto the mitral ring, not drawn (check the landmarks)")
            continue
        ax.plot(*uv[nearest], "o", color="#08519c", markersize=6)
        placed.add(ax, name, uv[nearest], _near(uv[nearest]), fontsize=9, color="#08519c", weight="bold")
    gap_lines: list[str] = []
    for ring in regional.rings:
        for gap in ring.gaps:
            number = len(gap_lines) + 1
            nearest = np.flatnonzero(valid)[np.argmin(np.linalg.norm(vertices[valid] - gap.centre_mm, axis=1))]
            ax.plot(
                *uv[nearest], "o", markersize=14, markerfacecolor="none", markeredgecolor="#ffbf00", markeredgewidth=2
            )
            placed.add(ax, f"G{number}", uv[nearest], _near(uv[nearest]), fontsize=8, color="#8c6d00", weight="bold")
            gap_lines.append(f"G{number}: {gap.size_mm:.0f} mm gap, {_LABELS[ring.side]} ring")
    for name in _region_order(regions[valid]):
        members = np.flatnonzero(valid & (regions == name))
        placed.add(
            ax,
            _LABELS.get(name, name),
            None,
            _interior_points(uv, members, border_distance(uv, members, valid, regions)),
            fontsize=7.5,
            color="#555555",
            style="italic",
        )
    ax.set_xlim(-1.2, 1.2)
    ax.set_ylim(-1.2, 1.2)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title or "LA scar map (posterior view: patient left on the left, superior up)", fontsize=10)
    ax.text(-1.18, 1.15, "patient left", fontsize=8, va="top")
    ax.text(1.18, 1.15, "patient right", fontsize=8, va="top", ha="right")
    side.set_axis_off()
    lines = [f"LA wall, veins clipped: {regional.clipped.burden_percent:.1f} % scar", ""]
    for burden in regional.burdens:
        if burden.region == "mitral":
            continue
        label = _LABELS.get(burden.region, burden.region)
        suffix = " (clipped)" if burden.region in EXCLUDED else ""
        lines.append(f"{label}{suffix}: {burden.burden_percent:.0f} %  ({burden.area_cm2:.1f} cm²)")
    lines.append("")
    for ring in regional.rings:
        if ring.closed is None or (not ring.closed and not ring.gaps):
            state = ring.note  # undetermined, or no ring at all
        elif ring.closed:
            state = "closed"
        else:
            state = f"open, {len(ring.gaps)} gap(s), largest {ring.largest_gap_mm:.0f} mm"
        lines.extend(textwrap.wrap(f"{_LABELS[ring.side]} ring: {state}", SIDE_WIDTH, subsequent_indent="  "))
    lines.extend(gap_lines)
    for problem in [*regional.problems, *notes]:
        lines.extend(textwrap.wrap(f"! {problem}", SIDE_WIDTH, subsequent_indent="  "))
    side.text(0, 1, "\n".join(lines), va="top", fontsize=8.5, family="monospace")
    legend = ["red: scar   beige: wall   grey: vein sleeves (clipped)", "lines: region borders   G: ring gaps"]
    if unsure is not None:
        legend.append("pale red / pale yellow: scar / wall, call unsure")
    wrapped = [*textwrap.wrap(range_text, SIDE_WIDTH + 8), *legend] if range_text else legend
    side.text(0, 0.02, "\n".join(wrapped), fontsize=8, va="bottom")
    figure.tight_layout()
    return save_figure(figure, path, dpi=110)
