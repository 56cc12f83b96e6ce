"""scar_map.png: the LA surface flattened to a disk (mitral ring at the rim), scar in red, regions outlined.

Where the scar call is unsure (`quantify.confidence`), scar is drawn pale red and wall pale yellow, so a
reader sees which part of the burden could go either way.

Read like a posterior view of the atrium: patient left on the page's left, superior up, the mitral ring as
the disk's edge; vein sleeves beyond the ostia are shaded grey (clipped from the burden), ostia and the
appendage are labelled, the gaps of each PV antrum ring are circled with their size. The side panel lists the
burden per region and whether each antrum ring is closed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from atrialjsq.io.atomic import save_figure
from atrialjsq.quantify.regional import RegionalScar
from atrialjsq.quantify.regions import EXCLUDED
from atrialjsq.surface.mesh import Mesh

_LABELS = {
    "left_antrum": "left PV antrum",
    "right_antrum": "right PV antrum",
    "posterior_wall": "posterior wall",
    "anterior_wall": "anterior wall",
    "lateral_wall": "lateral wall",
    "LAA": "appendage",
}


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.tri import Triangulation

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
    ax.tripcolor(triangulation, facecolors=face_colour, cmap=cmap, vmin=0, vmax=4, edgecolors="none")
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    border = edges[regions[edges[:, 0]] != regions[edges[:, 1]]]
    ax.add_collection(LineCollection(uv[border], colors="k", linewidths=0.6))
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="k", linewidth=1.5))
    ax.text(0, -1.07, "mitral ring", ha="center", va="top", fontsize=9)
    vertices = mesh.vertices_mm
    valid = np.isfinite(uv).all(axis=1)
    for name in np.unique(regions[valid]):
        if name in EXCLUDED:
            continue
        where = np.median(uv[valid & (regions == name)], axis=0)
        ax.text(
            *where, _LABELS.get(name, name), fontsize=7.5, color="#555555", ha="center", va="center", style="italic"
        )
    for name, mark in regional.landmarks.found.items():
        nearest = np.flatnonzero(valid)[np.argmin(np.linalg.norm(vertices[valid] - mark.ostium_mm, axis=1))]
        ax.plot(*uv[nearest], "o", color="#08519c", markersize=6)
        ax.annotate(
            name, uv[nearest], textcoords="offset points", xytext=(5, 5), fontsize=9, color="#08519c", weight="bold"
        )
    for ring in regional.rings:
        for gap in ring.gaps:
            nearest = np.flatnonzero(valid)[np.argmin(np.linalg.norm(vertices[valid] - gap.centre_mm, axis=1))]
            ax.plot(
                *uv[nearest], "o", markersize=14, markerfacecolor="none", markeredgecolor="#ffbf00", markeredgewidth=2
            )
            ax.annotate(
                f"gap {gap.size_mm:.0f} mm",
                uv[nearest],
                textcoords="offset points",
                xytext=(8, -12),
                fontsize=8,
                color="#8c6d00",
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
        if ring.closed is None:
            state = ring.note
        elif ring.closed:
            state = "closed"
        else:
            state = f"open, {len(ring.gaps)} gap(s), largest {ring.largest_gap_mm:.0f} mm"
        lines.append(f"{_LABELS[ring.side]} ring: {state}")
    for problem in regional.problems:
        lines.append(f"! {problem}")
    side.text(0, 1, "\n".join(lines), va="top", fontsize=8.5, family="monospace", wrap=True)
    legend = "red: scar   beige: wall   grey: vein sleeves (clipped)\nlines: region borders"
    if unsure is not None:
        legend += "\npale red / pale yellow: scar / wall, call unsure"
    side.text(0, 0.02, "\n".join(filter(None, [range_text, legend])), fontsize=8, va="bottom", wrap=True)
    figure.tight_layout()
    return save_figure(figure, path, dpi=110)
