"""`atrialjsq predict` end to end on small files: output layout, exact input geometry, clean failures.

The model is a tiny untrained bundle whose LA head is biased so the answer is known: the localiser finds
nothing (so the ROI is centred on the image, with a warning) and the fine model calls the whole ROI LA, so the
predicted LA is the ROI box, well inside the image.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from atrialjsq.cli import main
from atrialjsq.infer.models import untrained_bundle
from atrialjsq.io import Geometry, Volume, read_volume, write_volume
from atrialjsq.model.configs import get_config

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:.*found no LA:RuntimeWarning")

GEOMETRY = Geometry((48, 40, 20), (2.0, 2.5, 4.0), (-60.0, 25.0, 8.0), (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
ROI_MM = np.array([32 * 2.0, 24 * 2.0, 16 * 2.0])  # fine ROI (32, 24, 16) voxels at 2 mm


@pytest.fixture(scope="module")
def biased_bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "biased.pt"
    localizer = get_config("unet-la-bce", tiny=True, data={"spacing": (4.0, 4.0, 4.0), "roi": (16, 16, 8)})
    fine = get_config("ajsq-sesa", tiny=True, data={"spacing": (2.0, 2.0, 2.0), "roi": (32, 24, 16)})
    untrained_bundle(localizer, fine, path)
    bundle = torch.load(path, weights_only=True)
    bundle["localizer"]["model"]["decoders.la.head.bias"].fill_(-30.0)
    bundle["fine"]["model"]["decoders.la.head.bias"].fill_(30.0)
    torch.save(bundle, path)
    return path


def lge_like(seed: int = 0) -> Volume:
    rng = np.random.default_rng(seed)
    return Volume(rng.normal(100, 10, GEOMETRY.shape).astype(np.float32), GEOMETRY)


def run(capsys, *argv):
    code = main(["predict", *map(str, argv), "--device", "cpu", "--quiet"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_outputs_have_the_exact_input_geometry(tmp_path, capsys, biased_bundle):
    write_volume(lge_like(), tmp_path / "in" / "patient7.nrrd")
    with pytest.warns(RuntimeWarning, match="found no LA"):  # the biased localiser finds nothing
        code, out, err = run(
            capsys,
            tmp_path / "in" / "patient7.nrrd",
            "--out",
            tmp_path / "out",
            "--model",
            biased_bundle,
            "--save-probabilities",
        )
    assert code == 0, err
    case = tmp_path / "out" / "patient7"
    names = {p.name for p in case.iterdir()}
    assert names == {
        "LA_predict.nii.gz",
        "scar_predict.nii.gz",
        "prob_la.nii.gz",
        "prob_normal.nii.gz",
        "prob_scar.nii.gz",
        "mesh.vtk",
        "mesh.ply",
        "report.json",
        "report.png",
    }
    reference = sitk.ReadImage(str(tmp_path / "in" / "patient7.nrrd"))
    for name in ("LA_predict.nii.gz", "scar_predict.nii.gz", "prob_la.nii.gz"):
        written = sitk.ReadImage(str(case / name))
        assert written.GetSize() == reference.GetSize()
        np.testing.assert_allclose(written.GetSpacing(), reference.GetSpacing(), rtol=1e-6)
        np.testing.assert_allclose(written.GetOrigin(), reference.GetOrigin(), atol=1e-4)
        np.testing.assert_allclose(written.GetDirection(), reference.GetDirection(), atol=1e-6)
    la = read_volume(case / "LA_predict.nii.gz").array
    assert la.dtype == np.uint8 and set(np.unique(la)) == {0, 1}
    # The LA is the ROI box centred on the image: its volume is the ROI's (up to a voxel layer each side).
    la_mm3 = la.sum() * np.prod(GEOMETRY.spacing)
    assert np.prod(ROI_MM - 4) < la_mm3 < np.prod(ROI_MM + 4)
    report = json.loads((case / "report.json").read_text())
    assert report["geometry"]["shape"] == list(GEOMETRY.shape)
    assert report["extra"]["prediction"]["localized"] is False
    assert set(report["timings_s"]) >= {"read", "localize", "network", "to_input_grid", "quantify", "outputs"}
    assert "patient7" in out


def test_bad_inputs_fail_cleanly_and_good_ones_still_run(tmp_path, capsys, biased_bundle):
    inputs = tmp_path / "in"
    write_volume(lge_like(), inputs / "good.nii.gz")
    flat = sitk.GetImageFromArray(np.zeros((20, 30), np.float32))
    inputs.mkdir(exist_ok=True)
    sitk.WriteImage(flat, str(inputs / "flat2d.nii.gz"))
    sitk.WriteImage(
        sitk.GetImageFromArray(np.zeros((3, 8, 8, 8), np.float32), isVector=False), str(inputs / "movie4d.nii.gz")
    )
    nan = lge_like().array
    nan[3, 4, 5] = np.nan
    write_volume(Volume(nan, GEOMETRY), inputs / "nan.nrrd")  # NIfTI via ITK reads NaN back as 0
    (inputs / "garbage.nii.gz").write_bytes(b"this is not an image")
    bad = ["missing.nii.gz", "flat2d.nii.gz", "movie4d.nii.gz", "nan.nrrd", "garbage.nii.gz"]
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}

    code, _, err = run(
        capsys, *(inputs / n for n in [*bad, "good.nii.gz"]), "--out", tmp_path / "out", "--model", biased_bundle
    )
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(bad)
    for name, line in zip(bad, errors, strict=True):
        assert line.startswith(f"error: {inputs / name}: ")
    assert "2D" in errors[1] and "4D" in errors[2] and "NaN" in errors[3]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good"]  # nothing else, no temp folders
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before  # inputs untouched


def test_dataset_folder_and_torchrun_sharding(tmp_path, capsys, biased_bundle, monkeypatch):
    for case in ("caseA", "caseB", "caseC"):
        write_volume(lge_like(), tmp_path / "set" / case / "enhanced.nii.gz")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    code, _, err = run(capsys, tmp_path / "set", "--out", tmp_path / "out", "--model", biased_bundle, "--no-figure")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["caseB"]  # rank 1 of 2 takes the 2nd case


def test_missing_model_is_one_clear_error(tmp_path, capsys):
    write_volume(lge_like(), tmp_path / "a.nii.gz")
    code, _, err = run(capsys, tmp_path / "a.nii.gz", "--out", tmp_path / "out", "--model", "no-such-model")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("error: ") and "no-such-model" in err
    assert not (tmp_path / "out").exists()


def test_demo_without_shipped_model_fails_before_any_work(tmp_path, capsys, monkeypatch):
    from atrialjsq.infer import models

    monkeypatch.setattr(models, "ASSETS_DIR", tmp_path / "no-assets")
    code = main(["demo", "--out", str(tmp_path / "demo"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and "phantom-ajsq-sesa" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "demo").exists()


@pytest.mark.slow
def test_demo_writes_phantom_input_and_every_output(tmp_path, capsys, biased_bundle):
    code = main(["demo", "--out", str(tmp_path / "demo"), "--model", str(biased_bundle), "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0
    case_in = tmp_path / "demo" / "input" / "phantom_seed0"
    assert {p.name for p in case_in.iterdir()} == {
        "enhanced.nii.gz",
        "atriumSegImgMO.nii.gz",
        "scarSegImgM.nii.gz",
        "params.json",
    }
    case_out = tmp_path / "demo" / "prediction" / "phantom_seed0"
    assert {"LA_predict.nii.gz", "scar_predict.nii.gz", "prob_scar.nii.gz", "report.json", "report.png"} <= {
        p.name for p in case_out.iterdir()
    }
    image = read_volume(case_in / "enhanced.nii.gz")
    assert image.geometry.shape == (576, 576, 44)
    assert read_volume(case_out / "LA_predict.nii.gz").geometry.is_close(image.geometry, tol=1e-5)
    for line in ("LA volume", "scar burden", "Utah", "phantom truth", str(case_out)):
        assert line in out
