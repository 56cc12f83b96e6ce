"""The case folder: exact input geometry, readable meshes with their point data, strict JSON, all-or-nothing."""

import json

import meshio
import numpy as np
import pytest
import SimpleITK as sitk
from matplotlib.image import imread

from atrialjsq.io import Volume, read_volume
from atrialjsq.quantify.analysis import Provenance, analyse_case
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
    "report.html",
}


@pytest.fixture(scope="module")
def case():
    # An 18 mm sphere is a small but physiological LA (24 mL), so the result is staged.
    phantom = cap_phantom(
        radius_mm=18.0, half_angle_deg=60.0, spacing=(0.9, 0.8, 1.5), origin=(-41.5, 17.25, -3.0), direction=DIRECTION
    )
    return phantom, scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)


@pytest.fixture(scope="module")
def written(case, tmp_path_factory):
    phantom, result = case
    out = tmp_path_factory.mktemp("outputs") / "case7"
    provenance = Provenance(model="toy-net", model_version="1.2", timings={"predict": 0.51234567}, details={"seed": 3})
    analysis = analyse_case(phantom.image, result, provenance)
    write_case_outputs(out, analysis, {"normal": phantom.p_normal, "scar": phantom.p_scar})
    return out, analysis.burden


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
    # every key present, null when unknown
    unknown = {"weights": None, "trained_on": None, "domain": None, "not_trained_on": None}
    assert report["model"] == {"name": "toy-net", "version": "1.2", **unknown}
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
    assert {"predict", "figure", "files"} <= set(report["timings_s"])
    assert report["timings_s"]["predict"] == 0.512  # every timing rounded to the millisecond
    assert all(round(value, 3) == value for value in report["timings_s"].values())
    assert report["extra"] == {"seed": 3}
    assert "research use only" in report["notice"]
    assert report["warnings"] == []  # a plausible LA and no caller warning: nothing to say, and the key is there
    # A sharp phantom is unsure only near the cap's rim: a narrow range around the burden, one stage at both ends.
    span = report["scar"]["burden_range"]
    assert span["low_percent"] <= report["scar"]["burden_percent"] <= span["high_percent"]
    assert 0.0 < span["unsure_area_percent"] < 10.0
    assert span["margin"] == 0.15 and span["stages"] == {"utah": "III", "decaaf": "III"}


def test_report_json_holds_the_documented_value_in_each_field(case, written):
    """Each field against a value derived without the report: the input's grid as given to the phantom, the
    package version, the LA's boundary voxels counted by erosion (6-neighbours, as documented), and those of
    them within the cap (θ < 60° of +z)."""
    from scipy import ndimage

    import atrialjsq

    phantom, _ = case
    report = json.loads((written[0] / "report.json").read_text())
    assert report["atrialjsq_version"] == atrialjsq.__version__
    assert report["geometry"]["origin_mm"] == [-41.5, 17.25, -3.0]
    assert report["geometry"]["spacing_mm"] == [0.9, 0.8, 1.5]
    assert report["geometry"]["shape"] == [58, 66, 36]  # 2 · ceil((18 + 2 + 6) mm / spacing) per axis
    la = phantom.la.array.astype(bool)
    boundary = la & ~ndimage.binary_erosion(la)
    assert report["scar"]["surface_voxels"] == int(boundary.sum())
    shape, spacing = np.asarray(la.shape), np.asarray([0.9, 0.8, 1.5])
    position = (np.argwhere(boundary) - (shape - 1) / 2) * spacing
    in_cap = position[:, 2] / np.linalg.norm(position, axis=1) > np.cos(np.radians(60.0))
    scar_voxels = report["scar"]["scar_surface_voxels"]
    assert scar_voxels == pytest.approx(int(in_cap.sum()), rel=0.05)  # the decision differs only at the rim
    assert report["scar"]["burden_percent_surface_voxels"] == pytest.approx(100.0 * scar_voxels / boundary.sum())
    # Not the cap's 25 % of the area: on 0.9 x 0.8 x 1.5 mm voxels a surface facing z holds 1.67x more boundary
    # voxels per mm² than one facing x (1 / (0.9 · 0.8) against 1 / (0.8 · 1.5)), and the cap faces z.
    assert report["scar"]["burden_percent_surface_voxels"] > report["scar"]["burden_percent"] + 2.0
    # Each stage convention's text says where its bounds fall; the stage it reports follows the same text.
    conventions = report["stage"]["conventions"]
    assert "II (5, 20] %" in conventions["utah"] and "II [10, 20) %" in conventions["decaaf"]


def test_report_json_keeps_empty_fields_and_names_both_burdens(written):
    """Reported by a user: empty keys were dropped, so a script reading `warnings` got a KeyError."""
    report = json.loads((written[0] / "report.json").read_text())
    assert report["warnings"] == [] and report["scar"]["burden_percent_at_thresholds"] == {}  # the network's: none
    assert report["stage"]["not_staged"] is None and report["model"]["trained_on"] is None
    definitions = report["scar"]["definitions"]
    assert "mesh" in definitions["burden_percent"] and "voxels" in definitions["burden_percent_surface_voxels"]
    assert "scar_pct_auto" in definitions["burden_percent_surface_voxels"]


def test_an_implausible_la_is_flagged_and_not_staged(tmp_path):
    small = cap_phantom(radius_mm=8.0, half_angle_deg=60.0)  # 2 mL: no adult LA is that small
    result = scar_from_probabilities(small.la, small.p_normal, small.p_scar)
    analysis = analyse_case(small.image, result, Provenance(case_id="small"))
    write_case_outputs(tmp_path / "small", analysis, figure=False)
    burden = analysis.burden
    assert not burden.staged and any("LA volume" in flag for flag in burden.implausible)
    report = json.loads((tmp_path / "small" / "report.json").read_text())
    assert report["stage"]["utah"] is None and report["stage"]["decaaf"] is None
    volume_ml = np.count_nonzero(small.la.array) * small.la.geometry.voxel_volume_mm3 / 1000
    assert f"LA volume {volume_ml:.1f} mL is outside the physiological range" in report["stage"]["not_staged"]
    assert any(w.startswith("implausible result: LA volume") for w in report["warnings"])
    assert report["case_id"] == "small"


def test_model_domain_and_case_are_recorded(case, tmp_path):
    phantom, result = case
    meta = {"trained_on": "40 synthetic phantoms", "not_trained_on": "real scans", "weights": "w2 (today)"}
    provenance = Provenance("p9", model="demo-net", model_meta=meta, warnings=["model demo-net is for phantoms"])
    write_case_outputs(tmp_path / "p9", analyse_case(phantom.image, result, provenance), figure=False)
    report = json.loads((tmp_path / "p9" / "report.json").read_text())
    assert report["model"] == {
        "name": "demo-net",
        "version": None,
        "weights": "w2 (today)",
        "trained_on": "40 synthetic phantoms",
        "domain": "phantom",
        "not_trained_on": "real scans",
    }
    assert report["warnings"] == ["model demo-net is for phantoms"] and report["case_id"] == "p9"


def test_rewriting_a_case_keeps_foreign_files_and_drops_stale_outputs(case, tmp_path):
    phantom, result = case
    out = tmp_path / "case"
    write_case_outputs(out, analyse_case(phantom.image, result), {"scar": phantom.p_scar}, figure=False)
    (out / "notes.txt").write_text("my notes")
    (out / "extra_mask.nii.gz").write_bytes(b"user file")
    write_case_outputs(out, analyse_case(phantom.image, result, Provenance(model="second")), figure=False)
    names = {p.name for p in out.iterdir()}
    assert {"notes.txt", "extra_mask.nii.gz"} <= names  # the user's files survive
    assert "prob_scar.nii.gz" not in names  # the earlier run's output that this run did not write is gone
    assert (out / "notes.txt").read_text() == "my notes"
    assert json.loads((out / "report.json").read_text())["model"]["name"] == "second"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


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
        write_case_outputs(tmp_path / "fresh", analyse_case(phantom.image, result))
    assert list(tmp_path.iterdir()) == []
    older = tmp_path / "older"
    older.mkdir()
    (older / "report.json").write_text("{}")
    with pytest.raises(RuntimeError):
        write_case_outputs(older, analyse_case(phantom.image, result))
    assert [p.name for p in tmp_path.iterdir()] == ["older"]
    assert (older / "report.json").read_text() == "{}"


def test_refuses_results_off_the_input_grid(case, tmp_path):
    phantom, result = case
    other = Volume(phantom.image.array, phantom.image.geometry.__class__(phantom.image.geometry.shape))
    with pytest.raises(ValueError, match="grid"):
        write_case_outputs(tmp_path / "x", analyse_case(other, result))
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


def test_report_png_gets_the_case_model_domain_and_warnings(case, tmp_path, monkeypatch):
    phantom, result = case
    seen = {}

    def capture(path, image, result, burden, annotations=None):
        seen.update(annotations)
        path.write_bytes(b"png")

    monkeypatch.setattr(outputs, "render_report_figure", capture)
    meta = {"trained_on": "40 synthetic phantoms"}
    provenance = Provenance("p9", model="demo-net", model_meta=meta, warnings=["not a phantom"])
    write_case_outputs(tmp_path / "p9", analyse_case(phantom.image, result, provenance))
    assert seen == {
        "case_id": "p9",
        "model": "demo-net",
        "trained_on": "40 synthetic phantoms",
        "warnings": ["not a phantom"],
    }


def test_a_model_outside_its_domain_withholds_the_stage_and_says_why(case, tmp_path):
    phantom, result = case
    reason = "model m was trained on synthetic phantoms only and this image is not a phantom"
    analysis = analyse_case(phantom.image, result, Provenance("x", warnings=[reason], untrusted=[reason]))
    write_case_outputs(tmp_path / "x", analysis, figure=False)
    burden = analysis.burden
    assert not burden.staged and burden.not_staged_reason == "model outside its training domain"
    assert burden.stage_text() == "Utah/DECAAF not staged: model outside its training domain"
    report = json.loads((tmp_path / "x" / "report.json").read_text())
    assert report["stage"]["utah"] is None
    assert report["stage"]["not_staged"] == "model outside its training domain (see warnings)"
    assert report["warnings"] == [reason] and "withhold_stage" not in report.get("extra", {})
    assert burden.to_dict()["utah_stage"] is None and burden.to_dict()["decaaf_stage"] is None


def test_an_la_cut_by_the_image_border_is_a_caveat(case):
    from atrialjsq.data.plausibility import MIN_BORDER_AREA_MM2, border_problem

    phantom, _ = case
    la, spacing = phantom.la.array.astype(bool), phantom.la.geometry.spacing
    assert border_problem(la, spacing) is None  # the test sphere lies well inside its grid
    # Cut the grid through the sphere's middle: the LA now fills a disc on the new outer z face, whose pixels
    # are spacing[0] x spacing[1] mm.
    cut = la[:, :, : la.shape[2] // 2]
    disc_mm2 = int(np.count_nonzero(cut[:, :, -1])) * spacing[0] * spacing[1]
    assert disc_mm2 > MIN_BORDER_AREA_MM2
    assert border_problem(cut, spacing) == (
        f"the LA touches the image border over {disc_mm2:.0f} mm²: the field of view may cut it, so its volume, "
        "area and scar burden may be those of the part inside"
    )
    # One slice of that disc: a single face, not counted twice.
    assert border_problem(cut[:, :, -1:], spacing).startswith(
        f"the LA touches the image border over {disc_mm2:.0f} mm²"
    )


def test_an_la_cut_where_the_acquired_slab_ends_is_a_caveat_under_padding_too(case):
    """The sphere cut through its middle, then zero-filled past the cut (as converters pad a slab): the LA no
    longer touches the array's face, but it touches the acquired content's, and that is what the caveat reads."""
    from dataclasses import replace

    phantom, _ = case

    def cut_and_padded(volume: Volume) -> Volume:
        half = volume.array[:, :, : volume.array.shape[2] // 2]
        padded = np.pad(half, ((0, 0), (0, 0), (0, 12)))
        return Volume(padded, replace(volume.geometry, shape=padded.shape))

    image, la = cut_and_padded(phantom.image), cut_and_padded(phantom.la)
    assert not la.array[:, :, -1].any()  # the padded array's face is clear of the LA
    result = scar_from_probabilities(la, cut_and_padded(phantom.p_normal), cut_and_padded(phantom.p_scar))
    caveats = analyse_case(image, result, regional=False).burden.caveats
    assert any(c.startswith("the LA touches the image border over") for c in caveats), caveats


def test_a_field_of_view_wider_than_a_chest_makes_the_spacing_suspect():
    from atrialjsq.data.plausibility import spacing_caveat
    from atrialjsq.io import Geometry

    assert spacing_caveat(Geometry((576, 576, 88), (0.625, 0.625, 1.25))) is None  # LASC 2018: 360 x 360 x 110 mm
    caveat = spacing_caveat(Geometry((576, 576, 88), (1.0, 1.0, 1.0)))  # the same matrix with its spacing lost
    assert caveat.startswith("field of view 576 x 576 x 88 mm is wider than a chest (over 500 mm)")
    assert "the header (1 x 1 x 1 mm) may be wrong" in caveat


def test_each_stage_convention_has_its_own_field_where_they_differ(tmp_path):
    """A cap over 7 % of a sphere: (1 - cos 30.7°) / 2 = 0.07 of its area. 7 % is Utah II (5, 20] but DECAAF I
    (< 10): swapping the two fields, or writing one stage into both, fails here."""
    phantom = cap_phantom(radius_mm=18.0, half_angle_deg=30.7, spacing=(1.0, 1.0, 1.0))
    result = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)
    analysis = analyse_case(phantom.image, result, Provenance("seven"), regional=False)
    write_case_outputs(tmp_path / "seven", analysis, figure=False)
    report = json.loads((tmp_path / "seven" / "report.json").read_text())
    assert 5.5 < report["scar"]["burden_percent"] < 9.0
    assert (report["stage"]["utah"], report["stage"]["decaaf"]) == ("II", "I")


def test_each_stage_is_timed_once(case, tmp_path, monkeypatch):
    """report.json's timings do not nest: the figures' time is not also inside `files`. A clock that moves only
    while the figure is drawn (100 s), so the test reads the accounting, not this machine's speed."""
    from types import SimpleNamespace

    phantom, result = case
    clock = [0.0]

    def slow_figure(path, *args, **kwargs):
        clock[0] += 100.0
        path.write_bytes(b"png")

    monkeypatch.setattr(outputs, "render_report_figure", slow_figure)
    monkeypatch.setattr(outputs, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    analysis = analyse_case(phantom.image, result, Provenance("t", timings={"read": 0.25}), regional=False)
    timings = write_case_outputs(tmp_path / "t", analysis)["timings_s"]
    assert timings["figure"] == 100.0 and timings["files"] == 0.0  # counted in `figure` only
    assert timings["read"] == 0.25 and "outputs" not in timings
    assert set(timings) == {"read", "figure", "files", "html"}
