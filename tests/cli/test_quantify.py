"""`atrialjsq quantify` end to end on a cap phantom written to disk, and every way its inputs can be wrong."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from atrialjsq.cli import main
from atrialjsq.io import Geometry, Volume, read_volume, write_volume
from quantify.scar_phantoms import cap_phantom

DIRECTION = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0)


@pytest.fixture(scope="module")
def phantom():
    # radius 15 mm: the grid must be able to hold an LA (40 mm a side) for quantify to accept it
    return cap_phantom(
        radius_mm=15.0, half_angle_deg=50.0, spacing=(1.0, 0.9, 1.2), origin=(12.0, -8.0, 30.5), direction=DIRECTION
    )


@pytest.fixture
def inputs(tmp_path, phantom):
    folder = tmp_path / "in"
    write_volume(phantom.image, folder / "lge.nii.gz")
    write_volume(phantom.la, folder / "la.nrrd", label=True)
    return folder


def _run(capsys, *args):
    code = main(["quantify", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_iir_writes_the_case_folder(tmp_path, inputs, phantom, capsys):
    out = tmp_path / "result"
    code, stdout, err = _run(
        capsys, "--image", inputs / "lge.nii.gz", "--la", inputs / "la.nrrd", "--method", "iir", "--out", out
    )
    assert code == 0, err
    assert "Utah" in stdout and str(out) in stdout
    assert {"LA_predict.nii.gz", "scar_predict.nii.gz", "mesh.vtk", "mesh.ply", "report.json", "report.png"} <= {
        p.name for p in out.iterdir()
    }
    report = json.loads((out / "report.json").read_text())
    assert report["method"] == "iir"
    assert report["scar"]["burden_percent"] == pytest.approx(100 * phantom.cap_fraction, abs=2.0)
    # The bright cap (IIR 2) is scar at both published cut-offs.
    for value in report["scar"]["burden_percent_at_thresholds"].values():
        assert value == pytest.approx(100 * phantom.cap_fraction, abs=2.0)
    written = read_volume(out / "LA_predict.nii.gz")
    assert written.geometry.is_close(phantom.image.geometry, tol=1e-5)
    np.testing.assert_array_equal(written.array, phantom.la.array)


@pytest.mark.parametrize("method", ["otsu", "mgmm", "msd"])
def test_other_methods_and_the_default_folder(tmp_path, inputs, phantom, capsys, monkeypatch, method):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(
        capsys,
        "--image",
        inputs / "lge.nii.gz",
        "--la",
        inputs / "la.nrrd",
        "--method",
        method,
        "--k",
        "4",
        "--no-figure",
    )
    assert code == 0, err
    report = json.loads((tmp_path / f"lge_{method}" / "report.json").read_text())
    assert report["scar"]["burden_percent"] == pytest.approx(100 * phantom.cap_fraction, abs=2.0)
    assert not (tmp_path / f"lge_{method}" / "report.png").exists()
    if method == "msd":
        assert report["parameters"]["k"] == 4.0


def test_accepts_0_255_masks(tmp_path, inputs, phantom, capsys):
    write_volume(phantom.la.like(phantom.la.array * 255), inputs / "la255.nii.gz", label=True)
    code, _, err = _run(
        capsys,
        "--image",
        inputs / "lge.nii.gz",
        "--la",
        inputs / "la255.nii.gz",
        "--method",
        "msd",
        "--out",
        tmp_path / "o",
        "--no-figure",
    )
    assert code == 0, err


def _bad_inputs(folder, phantom):
    """Each bad case: (image path, LA path, the file the message must name, a phrase of the reason)."""
    image, la = folder / "lge.nii.gz", folder / "la.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((20, 30), np.float32)), str(folder / "flat.nii.gz"))
    sitk.WriteImage(
        sitk.GetImageFromArray(np.zeros((3, 8, 8, 8), np.float32), isVector=False), str(folder / "movie.nii.gz")
    )
    nan = phantom.image.array.copy()
    nan[4, 5, 6] = np.nan
    # NRRD: SimpleITK's NIfTI writer stores NaN as 0, so a NaN test through .nii would test nothing.
    write_volume(phantom.image.like(nan), folder / "nan.nrrd")
    shifted = Geometry(phantom.la.geometry.shape, phantom.la.geometry.spacing, (0.0, 0.0, 0.0), DIRECTION)
    write_volume(Volume(phantom.la.array, shifted), folder / "la_shifted.nii.gz", label=True)
    write_volume(phantom.la.like(np.zeros_like(phantom.la.array)), folder / "la_empty.nii.gz", label=True)
    labels = phantom.la.array.copy()
    labels[0, 0, 0] = 2
    write_volume(phantom.la.like(labels), folder / "la_three.nii.gz", label=True)
    write_volume(phantom.la.like(phantom.la.array * 0.5), folder / "la_soft.nii.gz")
    speck = np.zeros_like(phantom.la.array)
    speck[20, 20, 15] = 1  # one voxel: nothing is left of it above 0.5 once smoothed
    write_volume(phantom.la.like(speck), folder / "la_speck.nii.gz", label=True)
    write_volume(
        Volume(np.ones((20, 20, 8), np.float32), Geometry((20, 20, 8), (1.0, 1.0, 1.0))), folder / "tiny.nii.gz"
    )
    return {
        "tiny field of view": (folder / "tiny.nii.gz", la, folder / "tiny.nii.gz", "cannot hold an LA"),
        "missing image": (folder / "nope.nii.gz", la, folder / "nope.nii.gz", "no such file"),
        "missing la": (image, folder / "nope.nrrd", folder / "nope.nrrd", "no such file"),
        "2D image": (folder / "flat.nii.gz", la, folder / "flat.nii.gz", "3D"),
        "4D image": (folder / "movie.nii.gz", la, folder / "movie.nii.gz", "3D"),
        "NaN image": (folder / "nan.nrrd", la, folder / "nan.nrrd", "NaN"),
        "2D la": (image, folder / "flat.nii.gz", folder / "flat.nii.gz", "3D"),
        "grid mismatch": (image, folder / "la_shifted.nii.gz", folder / "la_shifted.nii.gz", "grid"),
        "empty la": (image, folder / "la_empty.nii.gz", folder / "la_empty.nii.gz", "empty"),
        "three labels": (image, folder / "la_three.nii.gz", folder / "la_three.nii.gz", "binary"),
        "soft la": (image, folder / "la_soft.nii.gz", folder / "la_soft.nii.gz", "binary"),
        "one-voxel la": (image, folder / "la_speck.nii.gz", folder / "la_speck.nii.gz", "too small to have a surface"),
    }


BAD_CASES = [
    "tiny field of view",
    "missing image",
    "missing la",
    "2D image",
    "4D image",
    "NaN image",
    "2D la",
    "grid mismatch",
    "empty la",
    "three labels",
    "soft la",
    "one-voxel la",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_inputs_fail_cleanly(tmp_path, inputs, phantom, capsys, case):
    image, la, culprit, reason = _bad_inputs(inputs, phantom)[case]
    before = {p: p.read_bytes() for p in inputs.iterdir()}
    out = tmp_path / "out"
    code, _, err = _run(capsys, "--image", image, "--la", la, "--method", "iir", "--out", out)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert str(culprit) in lines[0] and reason in lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no temporary folder left either
    assert {p: p.read_bytes() for p in inputs.iterdir()} == before  # inputs untouched


def test_iir_refuses_z_scored_intensities_and_names_the_image(tmp_path, inputs, phantom, capsys):
    array = phantom.image.array
    write_volume(phantom.image.like((array - array.mean()) / array.std()), inputs / "zscored.nii.gz")
    before = {p: p.read_bytes() for p in inputs.iterdir()}
    out = tmp_path / "out"
    args = ("--image", inputs / "zscored.nii.gz", "--la", inputs / "la.nrrd", "--out", out, "--no-figure")
    code, _, err = _run(capsys, *args, "--method", "iir")
    assert code == 1 and len(err.strip().splitlines()) == 1
    negative = 100 * np.mean(read_volume(inputs / "zscored.nii.gz").array < 0)
    assert err.startswith(f"error: {inputs / 'zscored.nii.gz'}: {negative:.0f} % of the voxels are negative")
    assert "use --method otsu, mgmm or msd" in err
    assert not out.exists() and {p: p.read_bytes() for p in inputs.iterdir()} == before
    # A method that is shift invariant gives the same burden on z-scored and raw intensities.
    assert _run(capsys, *args, "--method", "msd")[0] == 0
    raw = tmp_path / "raw"
    raw_args = ("--image", inputs / "lge.nii.gz", "--la", inputs / "la.nrrd", "--out", raw, "--no-figure")
    assert _run(capsys, *raw_args, "--method", "msd")[0] == 0
    burden = json.loads((out / "report.json").read_text())["scar"]["burden_percent"]
    assert burden == pytest.approx(json.loads((raw / "report.json").read_text())["scar"]["burden_percent"], abs=0.5)


def test_existing_output_folder_needs_overwrite_and_keeps_other_files(tmp_path, inputs, capsys):
    out = tmp_path / "result"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ("--image", inputs / "lge.nii.gz", "--la", inputs / "la.nrrd", "--method", "otsu", "--out", out)
    code, _, err = _run(capsys, *args, "--no-figure")
    assert code == 1 and err.strip() == (
        f"error: {out}: output folder exists; pass --overwrite to replace its outputs (other files are kept)"
    )
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    code, stdout, err = _run(capsys, *args, "--no-figure", "--overwrite")
    assert code == 0, err
    assert (out / "notes.txt").read_text() == "mine" and (out / "report.json").is_file()
    # The 5.6 mL test sphere is no adult LA: flagged on the console and in the report, and not staged.
    assert "Utah/DECAAF not staged: implausible result" in stdout
    assert f"warning: {out}: implausible result: LA volume" in err
    (tmp_path / "file").write_text("x")
    code, _, err = _run(capsys, *args[:-1], tmp_path / "file")
    assert code == 1 and err.strip() == f"error: {tmp_path / 'file'}: output folder exists and is a file"


def test_an_input_that_this_run_would_replace_is_refused(tmp_path, inputs, capsys):
    # re-quantifying predict's own LA_predict in its case folder with --overwrite would rewrite the input
    case = tmp_path / "case"
    case.mkdir()
    la = case / "LA_predict.nii.gz"
    la.write_bytes((inputs / "la.nrrd").read_bytes())  # any bytes: refused before anything is read
    before = la.read_bytes()
    args = ("--image", inputs / "lge.nii.gz", "--la", la, "--method", "otsu", "--out", case, "--overwrite")
    code, _, err = _run(capsys, *args)
    assert code == 1 and err.strip() == (
        f"error: {la}: would be replaced by this run's own LA_predict.nii.gz; write to another --out"
    )
    assert la.read_bytes() == before and [p.name for p in case.iterdir()] == ["LA_predict.nii.gz"]
