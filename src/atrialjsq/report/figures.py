"""report.png: what a reader checks first — does the LA outline fit, where is the scar, how much is there.

Three panels: an axial and a coronal slice through the LA centre (image, LA contour, scar overlay), and a 3D
view of the LA mesh coloured by the scar decision. Slices are cut from the image turned to LPS
(`io.orientation`; x to the right, y down for axial, z up for coronal: the radiological view), so an axial
panel is axial however the file stores its axes; the patient directions at each edge are read from the
turned grid's direction cosines (a tilted scan keeps its tilt and is labelled by its nearest directions) and
a scale bar gives millimetres. A footer names the case, the model and what it was trained on, and says
"research use only"; warnings (model domain, implausible results) are in red.
The mesh is simplified for display only (vertex clustering) so the figure renders in about a second.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from atrialjsq.infer.domain import RESEARCH_USE
from atrialjsq.io import Volume
from atrialjsq.io.atomic import save_figure
from atrialjsq.io.orientation import reoriented
from atrialjsq.quantify.burden import Burden
from atrialjsq.quantify.staging import burden_text
from atrialjsq.quantify.surface_scar import SurfaceScar
from atrialjsq.report.colours import LA_RGB, SCAR_RGB, WALL_RGB

WALL_COLOUR = np.array(WALL_RGB)
SCAR_COLOUR = np.array(SCAR_RGB)
LA_CONTOUR_COLOUR = LA_RGB
# Target number of faces in the 3D panel; matplotlib draws ~10k polygons in well under a second.
_DISPLAY_FACES = 8000
_MARGIN_MM = 12.0
# ITK physical space is LPS: +x points to the patient's left, +y posterior, +z superior.
_POSITIVE, _NEGATIVE = "LPS", "RAI"
_SCALE_BARS_MM = (5, 10, 20, 50, 100)

MAX_WARNING_LINES = 6  # red lines above the panels
WARNING_WIDTH = 150  # characters per warning line, and per footer line
FOOTER_WIDTH = 190
LINE_INCHES = 0.17


def simplify_for_display(
    vertices: np.ndarray, faces: np.ndarray, values: np.ndarray, target_faces: int = _DISPLAY_FACES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertex clustering: merge vertices sharing a cubic cell, average their values, drop collapsed faces."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) <= target_faces:
        return vertices, faces, np.asarray(values, dtype=np.float64)
    low = vertices.min(axis=0)
    corners = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1).sum()
    # A surface clustered on cubic cells of side c keeps about 2·area / c² triangles: start there, grow if needed.
    cell = max(np.sqrt(2.0 * area / target_faces), 1e-6)
    for _ in range(20):
        cells = np.floor((vertices - low) / cell).astype(np.int64)
        dims = cells.max(axis=0) + 1
        keys = (cells[:, 0] * dims[1] + cells[:, 1]) * dims[2] + cells[:, 2]
        _, cluster, counts = np.unique(keys, return_inverse=True, return_counts=True)
        merged = cluster[faces]
        keep = (merged[:, 0] != merged[:, 1]) & (merged[:, 1] != merged[:, 2]) & (merged[:, 0] != merged[:, 2])
        if keep.sum() <= target_faces:
            break
        cell *= 1.15
    new_vertices = np.zeros((len(counts), 3))
    np.add.at(new_vertices, cluster, vertices)
    new_vertices /= counts[:, None]
    new_values = np.zeros(len(counts))
    np.add.at(new_values, cluster, np.asarray(values, dtype=np.float64))
    new_values /= counts
    return new_vertices, merged[keep], new_values


def _shade(triangles: np.ndarray, base: np.ndarray) -> np.ndarray:
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    light = np.array([0.4, -0.5, 0.75])
    light /= np.linalg.norm(light)
    intensity = 0.35 + 0.65 * np.abs(normals @ light)
    return np.clip(base * intensity[:, None], 0, 1)


def draw_scar_surface(
    ax,
    vertices_mm: np.ndarray,
    faces: np.ndarray,
    vertex_scar: np.ndarray,
    *,
    elev: float = 20,
    azim: float = -60,
    zoom: float = 1.35,
    target_faces: int = _DISPLAY_FACES,
) -> None:
    """Shaded LA surface on a 3D matplotlib axis, each face coloured by the scar share of its vertices
    (0 = normal wall, 1 = scar); shared by the prediction report and the phantom figure."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # figures only: deferred

    vertices, faces, values = simplify_for_display(vertices_mm, faces, np.asarray(vertex_scar, float), target_faces)
    if len(faces) == 0:
        ax.set_axis_off()
        return
    triangles = vertices[faces]
    scar_share = values[faces].mean(axis=1)[:, None]
    colours = _shade(triangles, (1 - scar_share) * WALL_COLOUR + scar_share * SCAR_COLOUR)
    # Edges in the face colour hide the hairline seams antialiasing leaves between neighbouring triangles.
    ax.add_collection3d(Poly3DCollection(triangles, facecolors=colours, edgecolors=colours, linewidths=0.3))
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    centre, half = (low + high) / 2, (high - low).max() / 2
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre, strict=True):
        setter(c - half, c + half)
    ax.set_box_aspect((1, 1, 1), zoom=zoom)
    ax.view_init(elev=elev, azim=azim)
    ax.set_axis_off()


def orientation_letter(direction: tuple[float, ...], axis: int, sign: int = 1) -> str:
    """The patient direction (L/R, P/A, S/I) that index axis `axis` points to (its dominant LPS component)."""
    column = np.asarray(direction, dtype=np.float64).reshape(3, 3)[:, axis] * sign
    k = int(np.argmax(np.abs(column)))
    return _POSITIVE[k] if column[k] > 0 else _NEGATIVE[k]


def scale_bar_mm(width_mm: float) -> int:
    """A round bar length, about a fifth of the panel's width."""
    return min(_SCALE_BARS_MM, key=lambda length: abs(length - width_mm / 5))


def _label_edges(ax, direction, horizontal: int, vertical: int, vertical_up: bool) -> None:
    """Patient directions at the four edges of a slice panel (array axis `horizontal` runs to the right)."""
    style = {"color": "white", "fontsize": 9, "fontweight": "bold", "transform": ax.transAxes}
    up = 1 if vertical_up else -1
    ax.text(0.98, 0.5, orientation_letter(direction, horizontal, 1), ha="right", va="center", **style)
    ax.text(0.02, 0.5, orientation_letter(direction, horizontal, -1), ha="left", va="center", **style)
    ax.text(0.5, 0.98, orientation_letter(direction, vertical, up), ha="center", va="top", **style)
    ax.text(0.5, 0.02, orientation_letter(direction, vertical, -up), ha="center", va="bottom", **style)


def _scale_bar(ax, columns: int, column_mm: float) -> None:
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar  # figures only: deferred

    length = scale_bar_mm(columns * column_mm)
    bar = AnchoredSizeBar(
        ax.transData,
        length / column_mm,
        f"{length} mm",
        "lower right",
        color="white",
        frameon=False,
        size_vertical=0.5,
        fontproperties={"size": 8},
        pad=0.3,
    )
    ax.add_artist(bar)


def _crop(mask2d: np.ndarray, spacing2d: tuple[float, float]) -> tuple[slice, slice]:
    hits = np.argwhere(mask2d)
    if len(hits) == 0:
        return slice(None), slice(None)
    margin = [int(np.ceil(_MARGIN_MM / s)) for s in spacing2d]
    low = np.maximum(hits.min(axis=0) - margin, 0)
    high = np.minimum(hits.max(axis=0) + 1 + margin, mask2d.shape)
    return slice(low[0], high[0]), slice(low[1], high[1])


def _draw_slice(ax, image2d, la2d, scar2d, spacing2d, title: str, z_up: bool, window) -> int:
    """Draw one slice panel; returns the number of columns shown (for the scale bar)."""
    box = _crop(la2d, spacing2d)
    image2d, la2d, scar2d = image2d[box].T, la2d[box].T, scar2d[box].T
    origin = "lower" if z_up else "upper"
    aspect = spacing2d[1] / spacing2d[0]
    ax.imshow(image2d, cmap="gray", vmin=window[0], vmax=window[1], origin=origin, aspect=aspect)
    from matplotlib.colors import ListedColormap  # figures only: deferred, slow to import

    scar_layer = np.ma.masked_where(scar2d == 0, scar2d.astype(float))
    ax.imshow(scar_layer, cmap=ListedColormap([SCAR_COLOUR]), alpha=0.7, vmin=0, vmax=1, origin=origin, aspect=aspect)
    if la2d.any() and not la2d.all():
        # on imshow's own pixel centres (integers, row i at y = i): contour's `origin` would mirror an "upper"
        # panel top to bottom and shift both by half a pixel
        rows, columns = la2d.shape
        ax.contour(
            np.arange(columns),
            np.arange(rows),
            la2d.astype(float),
            levels=[0.5],
            colors=LA_CONTOUR_COLOUR,
            linewidths=1.2,
        )
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return image2d.shape[1]


def footer_text(annotations: dict | None) -> str:
    """Case, model and training domain, and the research-use notice (whole: the figure wraps it)."""
    annotations = annotations or {}
    parts = []
    if annotations.get("case_id"):
        parts.append(f"case {annotations['case_id']}")
    if annotations.get("model"):
        trained = annotations.get("trained_on")
        trained = " ".join(str(trained).split()) if trained else None
        parts.append(f"model {annotations['model']}" + (f" (trained on {trained})" if trained else ""))
    parts.append(RESEARCH_USE)
    return "  ·  ".join(parts)


def build_report_figure(image: Volume, result: SurfaceScar, burden: Burden, annotations: dict | None = None):
    """The report figure (a matplotlib Figure, not yet saved). `annotations`: "case_id", "model", "trained_on"
    and "warnings" (list of sentences), as `report.outputs` passes them."""
    import matplotlib  # figures only: deferred, slow to import

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # figures only: deferred, slow to import
    from matplotlib.patches import Patch  # figures only: deferred, slow to import

    annotations = annotations or {}
    # Slices of the image turned to LPS (views, no copy), so "axial" is axial whichever way the file stores its
    # axes (a sagittal-first export included); the edge letters come from the turned grid's direction.
    shown = reoriented(image)
    la = reoriented(result.la).array > 0
    scar = reoriented(result.scar).array > 0
    array = np.asarray(shown.array, dtype=np.float32)
    centre = np.round(np.argwhere(la).mean(axis=0)).astype(int)
    sx, sy, sz = shown.geometry.spacing
    direction = shown.geometry.direction
    near_la = array[tuple(slice(max(c - 40, 0), c + 40) for c in centre)]
    window = np.percentile(near_la, [1.0, 99.5]) if near_la.size else (array.min(), array.max())

    figure = plt.figure(figsize=(13.5, 5.4), dpi=100)
    axial = figure.add_subplot(1, 3, 1)
    coronal = figure.add_subplot(1, 3, 2)
    view = figure.add_subplot(1, 3, 3, projection="3d")
    k, j = centre[2], centre[1]
    columns = _draw_slice(axial, array[:, :, k], la[:, :, k], scar[:, :, k], (sx, sy), f"axial, z = {k}", False, window)
    _label_edges(axial, direction, 0, 1, vertical_up=False)
    _scale_bar(axial, columns, sx)
    columns = _draw_slice(
        coronal, array[:, j, :], la[:, j, :], scar[:, j, :], (sx, sz), f"coronal, y = {j}", True, window
    )
    _label_edges(coronal, direction, 0, 2, vertical_up=True)
    _scale_bar(coronal, columns, sx)
    draw_scar_surface(view, result.mesh.vertices_mm, result.mesh.faces, result.vertex_label)
    view.set_title("LA surface: scar in red", fontsize=10)
    figure.legend(
        handles=[
            Patch(facecolor="none", edgecolor=LA_CONTOUR_COLOUR, label="LA"),
            Patch(facecolor=tuple(SCAR_COLOUR), label="scar"),  # an RGB tuple: matplotlib's ColorType
            Patch(facecolor=tuple(WALL_COLOUR), label="normal wall"),
        ],
        loc="lower center",
        bbox_to_anchor=(0.5, 0.04),
        ncol=3,
        frameon=False,
        fontsize=9,
    )
    stage = (
        f"Utah {burden.utah_stage}  ·  DECAAF {burden.decaaf_stage}"
        if burden.staged
        else f"not staged ({burden.not_staged_reason})"
    )
    figure.suptitle(
        f"{result.method}: scar burden {burden_text(burden.burden_percent)} % of {burden.surface_area_cm2:.1f} cm²  ·  "
        f"{stage}  ·  LA volume {burden.la_volume_ml:.1f} mL",
        fontsize=11,
    )
    warnings = list((annotations or {}).get("warnings", []))  # the case's warnings, as report.json lists them
    # Each warning whole, wrapped (never cut mid-sentence); past MAX_WARNING_LINES lines the rest are counted.
    lines: list[str] = []
    for shown_count, warning in enumerate(warnings):
        wrapped = textwrap.wrap(f"WARNING: {warning}", WARNING_WIDTH, subsequent_indent="    ")
        if len(lines) + len(wrapped) > MAX_WARNING_LINES - (shown_count < len(warnings) - 1):
            lines.append(f"... and {len(warnings) - shown_count} more warning(s): see report.json")
            break
        lines.extend(wrapped)
    footer = textwrap.wrap(footer_text(annotations), FOOTER_WIDTH)
    # The panels keep their size; the figure grows by one text line's height per warning and footer line.
    height = figure.get_figheight() + LINE_INCHES * (len(lines) + len(footer) - 1)
    figure.set_figheight(height)
    if lines:
        text = "\n".join(lines)
        figure.text(0.5, 1 - 0.51 / height, text, ha="center", va="top", color="#c00000", fontsize=9, fontweight="bold")
    figure.text(0.01, 0.06 / height, "\n".join(footer), ha="left", va="bottom", fontsize=8, color="#333333")
    footer_inches = 0.06 + LINE_INCHES * len(footer)
    figure.legends[0].set_bbox_to_anchor((0.5, (footer_inches + 0.05) / height))
    top = 1 - (0.76 + LINE_INCHES * len(lines)) / height
    figure.subplots_adjust(left=0.02, right=0.98, top=top, bottom=(footer_inches + 0.5) / height, wspace=0.06)
    return figure


def render_report_figure(
    path: str | Path, image: Volume, result: SurfaceScar, burden: Burden, annotations: dict | None = None
) -> Path:
    """Write report.png (atomically)."""
    figure = build_report_figure(image, result, burden, annotations)
    return save_figure(figure, path, facecolor="white")
