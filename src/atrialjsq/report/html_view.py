"""report.html: the LA surface in 3D in any browser, one self-contained file (no network needed to view it).

The surface is coloured by scar probability (buttons switch to the scar label and to the regions), with the
region borders drawn as lines, the PV ostia and appendage marked, and the case's headline numbers and warnings in
a side panel taken from the same dict as report.json. The viewer is plotly.js (embedded whole, about 4.8 MB).
For the view only, a mesh over `MAX_VIEW_FACES` faces is decimated (fast-simplification, quadric error) and
each kept vertex takes the values of its nearest original vertex; every measurement uses the full mesh.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import fast_simplification
import numpy as np
import plotly.graph_objects as go
from scipy.spatial import cKDTree

from atrialjsq.io.atomic import atomic_path
from atrialjsq.quantify.regions import REGIONS
from atrialjsq.quantify.staging import burden_text
from atrialjsq.surface.mesh import Mesh

HTML_FILE = "report.html"
MAX_VIEW_FACES = 20_000
SCAR_COLOURS = [[0.0, "#e8d9c5"], [0.5, "#f4a09a"], [1.0, "#b2182b"]]
# One colour per region code (`quantify.regions.REGIONS`, 16 regions): matplotlib's tab20, so neighbours
# such as right_antrum and RIPV never share one.
REGION_COLOURS = [
    "#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896",
    "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7",
    "#bcbd22", "#dbdb8d", "#17becf", "#9edae5",
]  # fmt: skip


def region_colour(name: str) -> str:
    """The fixed colour of a region: the same in every case's view, distinct for every region."""
    code = REGIONS.index(name) if name in REGIONS else len(REGIONS) + sum(map(ord, name))
    return REGION_COLOURS[code % len(REGION_COLOURS)]


def view_mesh(mesh: Mesh, max_faces: int = MAX_VIEW_FACES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices, faces, index of the nearest original vertex per kept vertex) of the mesh to draw."""
    vertices, faces = np.asarray(mesh.vertices_mm, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
    if len(faces) <= max_faces:
        return vertices, faces, np.arange(len(vertices))

    points, kept = fast_simplification.simplify(
        vertices.astype(np.float32), faces.astype(np.int32), target_reduction=1.0 - max_faces / len(faces)
    )
    _, nearest = cKDTree(vertices).query(points)
    return np.asarray(points, dtype=np.float64), np.asarray(kept, dtype=np.int64), np.asarray(nearest)


def _border_lines(vertices: np.ndarray, faces: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(N, 3) points of the border segments: in a face where one vertex lies in another region than the other
    two, the segment joins the midpoints of that vertex's two edges. A NaN row after each segment breaks the line
    there (float32, so the page stores it compactly)."""
    segments = []
    for k in range(3):
        p, q, r = faces[:, k], faces[:, (k + 1) % 3], faces[:, (k + 2) % 3]
        lone = (codes[p] != codes[q]) & (codes[p] != codes[r]) & (codes[q] == codes[r])
        start = (vertices[p[lone]] + vertices[q[lone]]) / 2
        end = (vertices[p[lone]] + vertices[r[lone]]) / 2
        segments.append(np.stack([start, end, np.full_like(start, np.nan)], axis=1).reshape(-1, 3))
    return np.concatenate(segments).astype(np.float32)


def build_figure(
    mesh: Mesh,
    probability: np.ndarray,
    label: np.ndarray,
    regions: Sequence[str] | np.ndarray | None,
    landmarks: Mapping[str, np.ndarray],
):
    """The plotly figure: the surface, region borders, landmarks, and buttons for the three colourings."""

    vertices, faces, nearest = view_mesh(mesh)
    probability = np.asarray(probability, dtype=np.float64)[nearest]
    label = np.asarray(label, dtype=np.float64)[nearest]
    names = sorted(set(regions)) if regions is not None else []
    codes = np.array([names.index(r) for r in np.asarray(regions)[nearest]]) if regions is not None else None
    xyz, ijk = vertices.astype(np.float32), faces.astype(np.int32)  # half the bytes of float64/int64 in the page
    surface = go.Mesh3d(
        x=xyz[:, 0],
        y=xyz[:, 1],
        z=xyz[:, 2],
        i=ijk[:, 0],
        j=ijk[:, 1],
        k=ijk[:, 2],
        intensity=probability.astype(np.float32),
        colorscale=SCAR_COLOURS,
        cmin=0.0,
        cmax=1.0,
        colorbar={"title": {"text": "scar probability"}, "len": 0.6},
        flatshading=False,
        lighting={"ambient": 0.55, "diffuse": 0.7, "specular": 0.1},
        name="LA surface",
        hovertemplate="scar probability %{intensity:.2f}<extra></extra>",
    )
    traces = [surface]
    if codes is not None:
        lines = _border_lines(vertices, faces, codes)
        traces.append(
            go.Scatter3d(
                x=lines[:, 0],
                y=lines[:, 1],
                z=lines[:, 2],
                mode="lines",
                line={"color": "black", "width": 3},
                name="region borders",
                connectgaps=False,
                hoverinfo="skip",
            )
        )
    if landmarks:  # each ostium shown at the nearest surface point: the ostium itself lies inside the LA
        ostia = np.array([np.asarray(p, dtype=np.float64) for p in landmarks.values()])
        points = vertices[np.argmin(np.linalg.norm(vertices[None, :, :] - ostia[:, None, :], axis=2), axis=1)]
        traces.append(
            go.Scatter3d(
                x=points[:, 0],
                y=points[:, 1],
                z=points[:, 2],
                mode="markers+text",
                text=list(landmarks),
                textposition="top center",
                marker={"size": 6, "color": "#08519c"},
                textfont={"color": "#08519c", "size": 14},
                name="ostia",
            )
        )
    buttons = [
        _button("scar probability", probability, SCAR_COLOURS, 1.0),
        _button("scar label", label, [[0, "#e8d9c5"], [1, "#b2182b"]], 1.0),
    ]
    if codes is not None:
        palette = [[k / max(len(names) - 1, 1), region_colour(name)] for k, name in enumerate(names)]
        buttons.append(_button("regions", codes.astype(float), palette, float(max(len(names) - 1, 1))))
    figure = go.Figure(traces)
    figure.update_layout(
        scene={"aspectmode": "data", "xaxis_title": "x (mm)", "yaxis_title": "y (mm)", "zaxis_title": "z (mm)"},
        margin={"l": 0, "r": 90, "t": 30, "b": 0},  # the right margin holds the colour bar
        updatemenus=[{"buttons": buttons, "direction": "right", "x": 0.0, "y": 1.06, "xanchor": "left"}],
        legend={"x": 0.0, "y": 0.0},
    )
    return figure


def _button(title: str, values: np.ndarray, scale: list, top: float) -> dict[str, Any]:
    """A button that recolours the surface (trace 0) by `values` on `scale` from 0 to `top`."""
    restyle = {
        "intensity": [np.asarray(values, dtype=np.float32)],  # plotly writes numpy arrays compactly (base64)
        "colorscale": [scale],
        "cmin": 0.0,
        "cmax": top,
        "colorbar.title.text": title,
    }
    return {"label": title, "method": "restyle", "args": [restyle, [0]]}


def _model_label(model: Mapping[str, Any]) -> str:
    """The model's name and its weights' release (the text before the release's first colon), since one name
    covers several releases of a shipped model."""
    weights = model.get("weights")
    name = str(model.get("name"))
    return f"{name}, weights {str(weights).split(':')[0]}" if weights else name


def _panel(report: Mapping[str, Any]) -> str:
    """The side panel: the numbers of report.json (each in an element with a data-key, for tests and scripts)."""
    scar, la, stage = report.get("scar", {}), report.get("la", {}), report.get("stage", {})
    rows = [
        ("case", report.get("case_id")),
        ("LA volume (mL)", _number(la.get("volume_ml"), 1), "la.volume_ml"),
        ("LA surface (cm²)", _number(la.get("surface_area_cm2"), 1), "la.surface_area_cm2"),
        ("scar burden (% of surface)", _burden(scar.get("burden_percent")), "scar.burden_percent"),
        ("scar area (cm²)", _number(scar.get("area_cm2"), 2), "scar.area_cm2"),
        ("Utah stage", stage.get("utah") or "not staged", "stage.utah"),
        ("DECAAF stage", stage.get("decaaf") or "not staged", "stage.decaaf"),
        ("model", _model_label(report.get("model") or {})),
    ]
    cells = []
    for row in rows:
        key = f' data-key="{row[2]}"' if len(row) > 2 else ""
        cells.append(f"<tr><th>{html.escape(str(row[0]))}</th><td{key}>{html.escape(str(row[1]))}</td></tr>")
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in report.get("warnings", []))
    not_staged = stage.get("not_staged")
    reason = f"<p class='warn'>Not staged: {html.escape(not_staged)}</p>" if not_staged else ""
    legend = (
        "<p>Surface colour (buttons top left): scar probability from 0 "
        f"<span style='background:{SCAR_COLOURS[0][1]}'>&nbsp;&nbsp;&nbsp;</span> to 1 "
        f"<span style='background:{SCAR_COLOURS[-1][1]}'>&nbsp;&nbsp;&nbsp;</span>, the scar label, or the regions; "
        "black lines: region borders; blue: PV ostia and appendage. Drag to turn, scroll to zoom.</p>"
    )
    return (
        f"<table>{''.join(cells)}</table>{reason}{legend}"
        + (f"<h3>Warnings</h3><ul class='warn'>{warnings}</ul>" if warnings else "")
        + f"<p class='notice'>{html.escape(str(report.get('notice', '')))}</p>"
    )


def _burden(value: Any) -> str:
    return "–" if value is None else burden_text(float(value))


def _number(value: Any, decimals: int) -> str:
    return "–" if value is None else f"{float(value):.{decimals}f}"


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ margin: 0; font-family: sans-serif; display: flex; height: 100vh; }}
#view {{ flex: 1 1 auto; min-width: 0; height: 100vh; overflow: hidden; }}
#panel {{ flex: 0 0 22em; padding: 1em; overflow-y: auto; border-left: 1px solid #ccc; font-size: 14px; }}
th {{ text-align: left; font-weight: normal; color: #555; padding-right: 1em; }}
td {{ font-weight: bold; }}
.warn {{ color: #c00000; }}
.notice {{ color: #555; font-size: 12px; }}
</style></head>
<body><div id="view">{plot}</div><div id="panel"><h2>{title}</h2>{panel}</div>
<script id="report-json" type="application/json">{report}</script>
</body></html>
"""


def write_report_html(
    path: str | Path,
    mesh: Mesh,
    probability: np.ndarray,
    label: np.ndarray,
    report: Mapping[str, Any],
    regions: Sequence[str] | np.ndarray | None = None,
    landmarks: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write report.html atomically (see the module docstring)."""
    figure = build_figure(mesh, probability, label, regions, landmarks or {})
    config = {"displaylogo": False, "responsive": True}
    plot = figure.to_html(
        full_html=False, include_plotlyjs=True, config=config, default_width="100%", default_height="100%"
    )
    title = f"{report.get('case_id') or 'LA'}: LA surface and scar"
    payload = json.dumps(report).replace("</", "<\\/")
    page = PAGE.format(title=html.escape(title), plot=plot, panel=_panel(report), report=payload)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
