"""The case folder: exact input geometry, readable meshes with their point data, strict JSON, all-or-nothing."""

import json

import meshio
import numpy as np
import pytest
import SimpleITK as sitk
from matplotlib.image import imread

from atrialjsq.io import Volume, read_volume
from atrialjsq.quantify.burden import compute_burden
from atrialjsq.quantify.surface_scar import scar_from_probabilities
from atrialjsq.report import outputs
from atrialjsq.report.figures import simplify_for_display
from atrialjsq.report.outputs import write_case_outputs
from quantify.scar_phantoms import cap_phantom

# Rotated about z, anisotropic, shifted: any header slip between input and outputs shows.
DIRECTION = (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
FILES = {
    "LA_predict.nii.gz",
    "scar_predict.nii.gz",
    "prob_normal.nii.gz",
    "prob_scar.nii.gz",
    "mesh.vtk",
    "mesh.ply",
    "report.json",
    "report.png",
}


@pytest.fixture(scope="module")
def case():
    phantom = cap_phantom(
        half_angle_deg=60.0, spacing=(0.9, 0.8, 1.5), origin=(-41.5, 17.25, -3.0), direction=DIRECTION
    )
    return phantom, scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)


@pytest.fixture(scope="module")
def written(case, tmp_path_factory):
    phantom, result = case
    out = tmp_path_factory.mktemp("outputs") / "case7"
    extra = {"model": "toy-net", "model_version": "1.2", "timings": {"predict": 0.5}, "seed": 3}
    burden = write_case_outputs(out, phantom.image, result, extra, {"normal": phantom.p_normal, "scar": phantom.p_scar})
    return out, burden


def test_writes_every_file(written):
    out, _ = written
    assert {p.name for p in out.iterdir()} == FILES


@pytest.mark.parametrize("name", ["LA_predict.nii.gz", "scar_predict.nii.gz", "prob_scar.nii.gz"])
def test_volumes_carry_the_input_geometry(case, written, name):
    phantom, _ = case
    image = sitk.ReadImage(str(written[0] / name))
    geometry = phantom.image.geometry
    assert image.GetSize() == geometry.shape
    np.testing.assert_allclose(image.GetSpacing(), geometry.spacing, rtol=1e-6)
    np.testing.assert_allclose(image.GetOrigin(), geometry.origin, atol=1e-5)
    np.testing.assert_allclose(image.GetDirection(), geometry.direction, atol=1e-6)


def test_labels_are_binary_uint8_and_match_the_result(case, written):
    phantom, result = case
    la = read_volume(written[0] / "LA_predict.nii.gz").array
    scar = read_volume(written[0] / "scar_predict.nii.gz").array
    assert la.dtype == np.uint8 and scar.dtype == np.uint8
    np.testing.assert_array_equal(la, phantom.la.array)
    np.testing.assert_array_equal(scar, result.scar.array)
    assert set(np.unique(scar)) == {0, 1}
    np.testing.assert_allclose(read_volume(written[0] / "prob_scar.nii.gz").array, phantom.p_scar.array)


@pytest.mark.parametrize("name", ["mesh.vtk", "mesh.ply"])
def test_mesh_loads_with_its_point_data(case, written, name):
    phantom, result = case
    path = written[0] / name
    if name.endswith(".vtk"):
        assert path.read_bytes().startswith(b"# vtk DataFile Version")
    mesh = meshio.read(path)
    assert len(mesh.points) == len(result.mesh.vertices_mm)
    np.testing.assert_allclose(mesh.points, result.mesh.vertices_mm, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(mesh.point_data["scar_label"].ravel(), result.vertex_label.astype(np.uint8))
    np.testing.assert_allclose(mesh.point_data["scar_probability"].ravel(), result.vertex_probability, atol=1e-6)
    # Physical placement: the vertices sit on the sphere around the image's physical centre.
    geometry = phantom.image.geometry
    centre = geometry.index_to_physical((np.asarray(geometry.shape) - 1) / 2)
    radius = np.linalg.norm(mesh.points - centre, axis=1)
    assert abs(np.median(radius) - phantom.radius_mm) < 0.7


def test_report_json_is_strict_and_complete(case, written):
    phantom, result = case
    out, burden = written
    report = json.loads((out / "report.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert report["model"] == {"name": "toy-net", "version": "1.2"}
    assert report["method"] == "ajsqnet"
    assert report["scar"]["burden_percent"] == pytest.approx(100 * phantom.cap_fraction, abs=2.0)
    assert report["scar"]["burden_percent"] == pytest.approx(compute_burden(result).burden_percent)
    assert report["stage"]["utah"] == burden.utah_stage == "III"  # 25 % is in (20, 35]
    assert report["stage"]["decaaf"] == burden.decaaf_stage == "III"  # 25 % is in [20, 30)
    assert report["la"]["volume_ml"] == pytest.approx(4 / 3 * np.pi * phantom.radius_mm**3 / 1000, rel=0.04)
    assert report["la"]["surface_area_cm2"] == pytest.approx(4 * np.pi * phantom.radius_mm**2 / 100, rel=0.04)
    assert report["scar"]["area_cm2"] == pytest.approx(
        report["la"]["surface_area_cm2"] * report["scar"]["burden_percent"] / 100
    )
    assert report["geometry"]["direction"] == list(DIRECTION)
    assert {"predict", "figure", "outputs"} <= set(report["timings_s"])
    assert report["extra"] == {"seed": 3}


def test_report_png_is_an_image(written):
    path = written[0] / "report.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert pixels.shape[0] >= 400 and pixels.shape[1] >= 1000
    assert pixels[..., :3].std() > 0.05  # not a blank canvas


def test_failure_leaves_nothing_and_keeps_an_older_folder(case, tmp_path, monkeypatch):
    phantom, result = case

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(outputs, "render_report_figure", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_case_outputs(tmp_path / "fresh", phantom.image, result)
    assert list(tmp_path.iterdir()) == []
    older = tmp_path / "older"
    older.mkdir()
    (older / "report.json").write_text("{}")
    with pytest.raises(RuntimeError):
        write_case_outputs(older, phantom.image, result)
    assert [p.name for p in tmp_path.iterdir()] == ["older"]
    assert (older / "report.json").read_text() == "{}"


def test_refuses_results_off_the_input_grid(case, tmp_path):
    phantom, result = case
    other = Volume(phantom.image.array, phantom.image.geometry.__class__(phantom.image.geometry.shape))
    with pytest.raises(ValueError, match="grid"):
        write_case_outputs(tmp_path / "x", other, result)
    assert not (tmp_path / "x").exists()


def test_display_simplification_keeps_shape_and_values(case):
    _, result = case
    mesh = result.mesh
    vertices, faces, values = simplify_for_display(mesh.vertices_mm, mesh.faces, result.vertex_label, 1500)
    assert 0 < len(faces) <= 1500 < len(mesh.faces)
    assert values.min() >= 0 and values.max() <= 1
    area = 0.5 * np.linalg.norm(np.cross(*(vertices[faces][:, i] - vertices[faces][:, 0] for i in (1, 2))), axis=1)
    full = 0.5 * np.linalg.norm(
        np.cross(*(mesh.vertices_mm[mesh.faces][:, i] - mesh.vertices_mm[mesh.faces][:, 0] for i in (1, 2))), axis=1
    )
    assert area.sum() == pytest.approx(full.sum(), rel=0.08)
