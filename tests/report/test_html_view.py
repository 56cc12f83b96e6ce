"""report.html: one self-contained page whose numbers are report.json's; in a real browser (Chromium, skipped where
none is installed) it loads without console errors and draws the surface."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from atrialjsq.quantify.analysis import Provenance, analyse_case
from atrialjsq.quantify.surface_scar import scar_from_probabilities
from atrialjsq.report.html_view import MAX_VIEW_FACES, view_mesh
from atrialjsq.report.outputs import write_case_outputs
from quantify.scar_phantoms import cap_phantom

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory) -> Path:
    phantom = cap_phantom(radius_mm=18.0, half_angle_deg=50.0, spacing=(1.5, 1.5, 1.5))
    result = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)
    out = tmp_path_factory.mktemp("html") / "cap"
    write_case_outputs(out, analyse_case(phantom.image, result, Provenance("cap", model="toy"), regional=False))
    return out


def test_the_page_is_self_contained_and_carries_report_json(case_folder):
    page = (case_folder / "report.html").read_text()
    assert not re.search(r"<script[^>]+src=", page) and "<link" not in page  # nothing fetched at view time
    embedded = re.search(r'<script id="report-json" type="application/json">(.*?)</script>', page, re.S)
    report = json.loads((case_folder / "report.json").read_text())
    shown = json.loads(embedded.group(1))
    assert shown["scar"] == report["scar"] and shown["la"] == report["la"] and shown["stage"] == report["stage"]
    assert f">{report['scar']['burden_percent']:.1f}<" in page
    assert (case_folder / "report.html").stat().st_size < 8e6


def test_the_panel_names_the_model_and_its_weights_release():
    from atrialjsq.report.html_view import _model_label

    assert (
        _model_label({"name": "m", "weights": "v5 (6 December 2026): weak labels"}) == "m, weights v5 (6 December 2026)"
    )
    assert _model_label({"name": "m", "weights": None}) == "m"


def test_the_view_mesh_is_decimated_only_above_the_limit():
    from atrialjsq.surface.mesh import extract_mesh

    phantom = cap_phantom(radius_mm=30.0, half_angle_deg=50.0, spacing=(0.5, 0.5, 0.5))
    mesh = extract_mesh(phantom.la)
    vertices, faces, nearest = view_mesh(mesh, max_faces=len(mesh.faces))
    assert len(faces) == len(mesh.faces) and np.array_equal(nearest, np.arange(len(mesh.vertices_mm)))
    vertices, faces, nearest = view_mesh(mesh, max_faces=len(mesh.faces) // 4)
    assert len(faces) <= len(mesh.faces) // 4 * 1.05 and faces.max() < len(vertices)
    # each kept vertex takes the values of an original vertex within about an edge length of it
    assert np.linalg.norm(vertices - mesh.vertices_mm[nearest], axis=1).max() < 3.0
    assert MAX_VIEW_FACES >= 10_000


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="no Chromium and chromedriver installed")
def test_the_page_loads_in_a_real_browser_draws_and_shows_report_json_numbers(case_folder, tmp_path):
    selenium = pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    del selenium
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,800",
                     "--enable-unsafe-swiftshader", "--use-angle=swiftshader"):  # fmt: skip
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get((case_folder / "report.html").as_uri())
        drawn = False
        for _ in range(200):
            drawn = driver.execute_script(
                "var g = document.querySelector('.js-plotly-plot');"
                "return !!(g && g._fullLayout && g.querySelector('canvas'));"
            )
            if drawn:
                break
            driver.execute_script("return new Promise(r => setTimeout(r, 100))")
        assert drawn
        driver.execute_script("return new Promise(r => setTimeout(r, 1000))")
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
        shot = tmp_path / "shot.png"
        driver.save_screenshot(str(shot))
        numbers = dict(
            driver.execute_script(
                "return [...document.querySelectorAll('[data-key]')].map(e => [e.dataset.key, e.textContent])"
            )
        )
        view = driver.execute_script("return document.getElementById('view').getBoundingClientRect().width")
    finally:
        driver.quit()
    from matplotlib.image import imread

    pixels = imread(shot)[:, : int(view), :3]
    assert pixels.std() > 0.05  # the surface is drawn: not a blank page
    surface_colour = np.abs(pixels - np.array([0.91, 0.85, 0.77])).sum(axis=2) < 0.25  # the wall's beige, shaded
    assert surface_colour.mean() > 0.01
    report = json.loads((case_folder / "report.json").read_text())
    assert numbers["scar.burden_percent"] == f"{report['scar']['burden_percent']:.1f}"
    assert numbers["la.volume_ml"] == f"{report['la']['volume_ml']:.1f}"
    assert numbers["stage.utah"] == (report["stage"]["utah"] or "not staged")


def test_every_region_has_its_own_colour_in_every_case():
    """Neighbouring regions never share a colour (8 colours cycled over the sorted names gave right_antrum
    RIPV's)."""
    from atrialjsq.quantify.regions import REGIONS
    from atrialjsq.report.html_view import region_colour

    colours = [region_colour(name) for name in REGIONS]
    assert len(set(colours)) == len(REGIONS) == 16
    assert region_colour("right_antrum") != region_colour("RIPV")
