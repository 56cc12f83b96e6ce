"""The regional outputs of a case folder on a phantom: report.json's regional section, the mesh's region
labels and scar_map.png; and a sphere (no veins, no valve) says why it has no map instead of failing."""

from __future__ import annotations

import json

import meshio
import numpy as np
import pytest
from matplotlib.image import imread

from atrialjsq.quantify.analysis import Provenance, analyse_case
from atrialjsq.quantify.baselines import scar_from_image
from atrialjsq.quantify.regions import REGIONS, WALL_REGIONS
from atrialjsq.report.outputs import write_case_outputs


@pytest.fixture(scope="module")
def phantom_folder(tmp_path_factory):
    from atrialjsq.phantom.generate import generate_phantom

    case, _ = generate_phantom(101, scar_kind="post-ablation", shape=(288, 288, 44), spacing=(1.25, 1.25, 2.5))
    result = scar_from_image(case.image, case.labels["la"], "iir")
    out = tmp_path_factory.mktemp("regional") / case.case_id
    write_case_outputs(out, analyse_case(case.image, result, Provenance(case.case_id)))
    return out, result, case


def test_the_case_folder_has_a_scar_map_and_regional_figures(phantom_folder):
    out, _, _ = phantom_folder
    image = imread(out / "scar_map.png")
    assert image.ndim == 3 and image.shape[0] > 400 and image.shape[1] > 800
    regional = json.loads((out / "report.json").read_text())["regional"]
    assert {"LAA", "RSPV", "RIPV"} <= set(regional["landmarks"])
    assert "mitral_ring" in regional and set(regional["antrum_rings"]) == {"left_antrum", "right_antrum"}
    wall = [name for name in regional["regions"] if name in WALL_REGIONS]
    area = sum(regional["regions"][name]["area_cm2"] for name in wall)
    scar = sum(regional["regions"][name]["scar_area_cm2"] for name in wall)
    assert regional["clipped_area_cm2"] == pytest.approx(area, abs=0.05)
    assert regional["burden_percent_clipped"] == pytest.approx(100 * scar / area, abs=0.1)
    assert regional["region_codes"] == list(REGIONS)


def test_the_mesh_carries_each_vertex_region(phantom_folder):
    out, result, _ = phantom_folder
    mesh = meshio.read(out / "mesh.vtk")
    codes = np.asarray(mesh.point_data["region"]).astype(int)
    assert len(codes) == result.mesh.n_vertices
    names = np.asarray(REGIONS)[codes]
    assert {"left_antrum", "right_antrum", "roof", "mitral"} <= set(names.tolist())


def test_a_sphere_gets_no_map_and_says_why(tmp_path):
    from atrialjsq.quantify.surface_scar import scar_from_probabilities
    from quantify.scar_phantoms import cap_phantom

    phantom = cap_phantom(radius_mm=18.0, half_angle_deg=60.0)
    result = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)
    write_case_outputs(tmp_path / "ball", analyse_case(phantom.image, result), figure=True)
    assert not (tmp_path / "ball" / "scar_map.png").exists()
    regional = json.loads((tmp_path / "ball" / "report.json").read_text())["regional"]
    assert any("not found" in problem for problem in regional["problems"])
    assert "mitral ring not found" in " ".join(regional["problems"])


def test_no_regional_skips_the_breakdown_and_says_so(phantom_folder, tmp_path):
    _, result, case = phantom_folder
    write_case_outputs(tmp_path / "quick", analyse_case(case.image, result, regional=False))
    assert not (tmp_path / "quick" / "scar_map.png").exists()
    report = json.loads((tmp_path / "quick" / "report.json").read_text())
    assert "not computed" in report["regional"]["unavailable"] and "regional" not in report["timings_s"]
    assert "region" not in meshio.read(tmp_path / "quick" / "mesh.vtk").point_data


def _count_colour(image: np.ndarray, hex_colour: str, tolerance: float = 0.02) -> int:
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int(np.count_nonzero(np.abs(image[..., :3] - rgb).max(axis=-1) < tolerance))


def test_the_unsure_surface_is_drawn_in_pale_colours(phantom_folder, tmp_path):
    from atrialjsq.quantify.breakdown import analyse_regions
    from atrialjsq.report.scar_map import render_scar_map

    _, result, case = phantom_folder
    regional = analyse_regions(case.image, result.la, result.mesh, result.vertex_label)
    everywhere = np.ones(result.mesh.n_vertices, dtype=bool)
    render_scar_map(tmp_path / "sure.png", result.mesh, regional, result.vertex_label)
    render_scar_map(tmp_path / "unsure.png", result.mesh, regional, result.vertex_label, "", everywhere, "range")
    sure, unsure = imread(tmp_path / "sure.png"), imread(tmp_path / "unsure.png")
    red, wall, pale_red, pale_wall = "#d7301f", "#e8d9c5", "#f4a09a", "#fff2a8"
    # Sure: scar red and wall beige, nothing pale. All unsure: every scar and wall face turns pale.
    assert _count_colour(sure, red) > 100 and _count_colour(sure, wall) > 1000
    assert _count_colour(sure, pale_red) == 0 and _count_colour(sure, pale_wall) == 0
    assert _count_colour(unsure, red) < 50 and _count_colour(unsure, wall) < 50  # (legend text antialiasing)
    assert _count_colour(unsure, pale_red) > 100 and _count_colour(unsure, pale_wall) > 1000


def test_the_map_labels_do_not_overlap_and_each_region_is_named_once(phantom_folder, tmp_path):
    """Reported by a user: gap labels printed over vein names, region names repeated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from atrialjsq.quantify.breakdown import analyse_regions
    from atrialjsq.report import scar_map

    _, result, case = phantom_folder
    regional = analyse_regions(case.image, result.la, result.mesh, result.vertex_label)
    captured = {}
    real_save = scar_map.save_figure

    def keep(figure, path, **kwargs):
        captured["figure"] = figure
        return real_save(figure, path, **kwargs)

    scar_map.save_figure = keep
    try:
        scar_map.render_scar_map(tmp_path / "map.png", result.mesh, regional, result.vertex_label)
    finally:
        scar_map.save_figure = real_save
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = captured["figure"]
    renderer = FigureCanvasAgg(figure).get_renderer()
    ax = figure.axes[0]
    labels = [t for t in ax.texts if t.get_text() not in ("mitral ring", "patient left", "patient right")]
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (labels[i].get_text(), labels[j].get_text())
    names = [t.get_text() for t in labels]
    assert len(names) == len(set(names))  # each region, vein and gap once
    assert {"roof", "posterior wall"} <= set(names) and any(n.startswith("G") for n in names) == bool(
        [g for ring in regional.rings for g in ring.gaps]
    )
    plt.close(figure)
