"""`atrialjsq predict` end to end on small files: output layout, exact input geometry, clean failures.

The model is a tiny untrained bundle whose LA head is biased so the answer is known: the localiser finds
nothing (so the ROI is centred on the image, with a warning) and the fine model calls the whole ROI LA, so the
predicted LA is the ROI box, well inside the image.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from atrialjsq.cli import main
from atrialjsq.infer.bundles import untrained_bundle
from atrialjsq.io import Geometry, Volume, read_volume, write_volume
from atrialjsq.model.configs import get_config

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:.*found no LA:RuntimeWarning")

GEOMETRY = Geometry((48, 40, 20), (2.0, 2.5, 4.0), (-60.0, 25.0, 8.0), (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
ROI_MM = np.array([32 * 2.0, 24 * 2.0, 16 * 2.0])  # fine ROI (32, 24, 16) voxels at 2 mm


def make_biased_bundle(path: Path) -> Path:
    """A tiny untrained bundle whose localiser finds nothing and whose fine model calls its whole ROI LA."""
    localizer = get_config("unet-la-bce", tiny=True, data={"spacing": (4.0, 4.0, 4.0), "roi": (16, 16, 8)})
    fine = get_config("ajsq-sesa", tiny=True, data={"spacing": (2.0, 2.0, 2.0), "roi": (32, 24, 16)})
    untrained_bundle(localizer, fine, path)
    bundle = torch.load(path, weights_only=True)
    bundle["localizer"]["model"]["decoders.la.head.bias"].fill_(-30.0)
    bundle["fine"]["model"]["decoders.la.head.bias"].fill_(30.0)
    torch.save(bundle, path)
    return path


@pytest.fixture(scope="module")
def biased_bundle(tmp_path_factory):
    return make_biased_bundle(tmp_path_factory.mktemp("model") / "biased.pt")


def lge_like(seed: int = 0) -> Volume:
    """Smooth random texture (neighbouring voxels correlated, as in a scan: i.i.d. noise is refused as noise)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=GEOMETRY.shape), 1.5)
    return Volume((100 + 10 * field / field.std()).astype(np.float32), GEOMETRY)


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
        "report.html",
        "scar_map.png",  # a phantom LA: veins and a mitral ring are found, so the flat map is drawn
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
    assert set(report["timings_s"]) >= {"read", "localize", "network", "to_input_grid", "quantify", "files"}
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

    code, out, err = run(
        capsys, *(inputs / n for n in [*bad, "good.nii.gz"]), "--out", tmp_path / "out", "--model", biased_bundle
    )
    assert code == 1
    failed = ", ".join(["missing", "flat2d", "movie4d", "nan", "garbage"])
    assert out.strip().splitlines()[-1] == f"1 of 6 cases written; 5 failed: {failed}"
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(bad)
    for name, line in zip(bad, errors, strict=True):
        assert line.startswith(f"error: {inputs / name}: ")
    assert "2D" in errors[1] and "4D" in errors[2] and "NaN" in errors[3]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "good",
        "summary.csv",
    ]  # nothing else, no temp folders
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before  # inputs untouched


def test_padding_hides_no_thin_scan_and_running_out_of_memory_fails_one_case(
    tmp_path, capsys, biased_bundle, monkeypatch
):
    from atrialjsq.infer.predictor import Predictor

    inputs = tmp_path / "in"
    write_volume(lge_like(), inputs / "good.nii.gz")
    write_volume(lge_like(1), inputs / "huge.nii.gz")
    # 8 slices of 4 mm (32 mm, under the 40 mm an LA needs) zero-filled to the 20 slices (80 mm) of a full scan.
    thin = lge_like(2).array.copy()
    thin[:, :, 8:] = 0.0
    write_volume(Volume(thin, GEOMETRY), inputs / "thin.nii.gz")
    real_predict = Predictor.predict_volume

    def predict(self, image, source="", content=None):
        if "huge" in source:
            raise MemoryError()
        return real_predict(self, image, source, content)

    monkeypatch.setattr(Predictor, "predict_volume", predict)
    code, out, err = run(
        capsys,
        *(inputs / n for n in ("thin.nii.gz", "huge.nii.gz", "good.nii.gz")),
        "--out",
        tmp_path / "out",
        "--model",
        biased_bundle,
        "--no-figure",
    )
    assert code == 1
    assert out.strip().splitlines()[-1] == "1 of 3 cases written; 2 failed: thin, huge"
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors[0].startswith(f"error: {inputs / 'thin.nii.gz'}: field of view ") and "cannot hold an LA" in errors[0]
    assert errors[1] == (
        f"error: {inputs / 'huge.nii.gz'}: ran out of memory while predicting (MemoryError): "
        "crop the scan around the heart"
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good", "summary.csv"]


def test_dataset_folder_and_torchrun_sharding(tmp_path, capsys, biased_bundle, monkeypatch):
    for case in ("caseA", "caseB", "caseC"):
        write_volume(lge_like(), tmp_path / "set" / case / "enhanced.nii.gz")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    code, _, err = run(capsys, tmp_path / "set", "--out", tmp_path / "out", "--model", biased_bundle, "--no-figure")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "caseB",
        "summary_rank1of2.csv",
    ]  # rank 1 of 2: the 2nd case


def test_missing_model_is_one_clear_error(tmp_path, capsys):
    write_volume(lge_like(), tmp_path / "a.nii.gz")
    code, _, err = run(capsys, tmp_path / "a.nii.gz", "--out", tmp_path / "out", "--model", "no-such-model")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("error: ") and "no-such-model" in err
    assert not (tmp_path / "out").exists()


def test_demo_without_shipped_model_fails_before_any_work(tmp_path, capsys, monkeypatch):
    from atrialjsq.infer import bundles as models

    monkeypatch.setattr(models, "ASSETS_DIR", tmp_path / "no-assets")
    code = main(["demo", "--out", str(tmp_path / "demo"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and "phantom-ajsq-sesa" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("flag", ["--save-probabilities", "--no-dicom-seg"])
def test_demo_refuses_flags_it_cannot_honour(tmp_path, capsys, flag):
    # The demo always writes its probability maps and has no DICOM input: such a flag would do nothing.
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--out", str(tmp_path / "demo"), flag])
    assert exited.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
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


def _user_folder(root):
    """A case folder the user already has, with a file of their own in it."""
    folder = root / "patient7"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("reading of 3 May")
    return folder


def test_existing_case_folder_is_refused_before_any_work(tmp_path, capsys, biased_bundle):
    write_volume(lge_like(), tmp_path / "patient7.nrrd")
    folder = _user_folder(tmp_path / "out")
    # The model does not exist: the folder check comes first, so the error is about the folder.
    code, _, err = run(capsys, tmp_path / "patient7.nrrd", "--out", tmp_path / "out", "--model", "no-such-model")
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 1 and errors == [
        f"error: {folder}: output folder exists; pass --overwrite to replace its outputs (other files are kept) "
        "or --skip-existing to keep finished cases"
    ]
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["patient7"]


def test_overwrite_keeps_foreign_files_and_skip_existing_keeps_finished_cases(tmp_path, capsys, biased_bundle):
    write_volume(lge_like(), tmp_path / "patient7.nrrd")
    write_volume(lge_like(1), tmp_path / "patient8.nrrd")
    folder = _user_folder(tmp_path / "out")
    inputs = (tmp_path / "patient7.nrrd", tmp_path / "patient8.nrrd")
    with pytest.warns(RuntimeWarning):
        code, out, err = run(capsys, *inputs, "--out", tmp_path / "out", "--model", biased_bundle, "--overwrite")
    assert code == 0, err
    assert (folder / "notes.txt").read_text() == "reading of 3 May"
    assert {"LA_predict.nii.gz", "report.json", "report.png"} <= {p.name for p in folder.iterdir()}
    assert out.strip().splitlines()[-1] == "2 of 2 cases written"

    (tmp_path / "out" / "patient8" / "report.json").unlink()  # as if patient8 had been interrupted
    stamp = (folder / "report.json").stat().st_mtime_ns
    code, out, err = run(capsys, *inputs, "--out", tmp_path / "out", "--model", biased_bundle, "--skip-existing")
    # patient7 is finished and skipped; patient8's folder exists without a report: not finished, so refused.
    assert code == 1
    assert f"error: {tmp_path / 'out' / 'patient8'}: exists but holds no finished case" in err
    assert (folder / "report.json").stat().st_mtime_ns == stamp
    shutil.rmtree(tmp_path / "out" / "patient8")
    with pytest.warns(RuntimeWarning):
        code, out, err = run(capsys, *inputs, "--out", tmp_path / "out", "--model", biased_bundle, "--skip-existing")
    assert code == 0, err
    assert (folder / "report.json").stat().st_mtime_ns == stamp  # finished case left alone
    assert (tmp_path / "out" / "patient8" / "report.json").is_file()
    assert out.strip().splitlines()[-1] == "1 of 2 cases written, 1 skipped (already finished)"


def test_unwritable_output_location_fails_before_any_work(tmp_path, capsys, biased_bundle):
    write_volume(lge_like(), tmp_path / "a.nii.gz")
    (tmp_path / "taken").write_text("a file, not a folder")
    for out, reason in ((tmp_path / "taken", "exists and is a file"), (tmp_path / "taken" / "sub", "is a file")):
        code, _, err = run(capsys, tmp_path / "a.nii.gz", "--out", out, "--model", "no-such-model")
        assert code == 1 and err.strip().splitlines() == [f"error: {out}: " + err.split(f"{out}: ", 1)[1].strip()]
        assert reason in err and "no-such-model" not in err  # refused before the model is even looked up
    assert (tmp_path / "taken").read_text() == "a file, not a folder"
    read_only = Path("/sys/atrialjsq-test-output")
    try:
        Path(tempfile.mkdtemp(dir="/sys")).rmdir()
        pytest.skip("/sys is writable here")
    except OSError:
        pass
    code, _, err = run(capsys, tmp_path / "a.nii.gz", "--out", read_only, "--model", "no-such-model")
    assert code == 1 and err.startswith(f"error: {read_only}: output folder cannot be written")
    assert len(err.strip().splitlines()) == 1


def test_flat_and_nnunet_image_folders_are_cases(tmp_path, capsys, biased_bundle):
    write_volume(lge_like(), tmp_path / "scans" / "anna.nii.gz")
    write_volume(lge_like(1), tmp_path / "scans" / "bert.nrrd")
    write_volume(lge_like(2), tmp_path / "task" / "imagesTs" / "la_003_0000.nii.gz")
    (tmp_path / "scans" / "readme.txt").write_text("not an image")
    with pytest.warns(RuntimeWarning):
        code, out, err = run(
            capsys, tmp_path / "scans", tmp_path / "task", "--out", tmp_path / "out", "--model", biased_bundle,
            "--no-figure",
        )  # fmt: skip
    assert code == 0, err
    # nnU-Net's channel suffix is dropped, so the id matches labelsTr/la_003.nii.gz in `evaluate`.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["anna", "bert", "la_003", "summary.csv"]
    assert out.strip().splitlines()[-1] == "3 of 3 cases written"


def test_hdf5_file_uses_the_given_spacing(tmp_path, capsys, biased_bundle):
    import h5py

    (tmp_path / "p3").mkdir()
    with h5py.File(tmp_path / "p3" / "mri_norm2.h5", "w") as handle:
        handle["image"] = lge_like().array
        handle["label"] = np.zeros(GEOMETRY.shape, np.uint8)
    with pytest.warns(RuntimeWarning):
        code, _, err = run(
            capsys, tmp_path / "p3" / "mri_norm2.h5", "--out", tmp_path / "out", "--model", biased_bundle,
            "--h5-spacing", "2", "2.5", "4", "--no-figure",
        )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "p3" / "report.json").read_text())
    assert report["geometry"]["spacing_mm"] == [2.0, 2.5, 4.0]
    # Without --h5-spacing the LASC 2018 spacing is assumed, and the case carries that note into the report.
    from atrialjsq.infer.inputs import collect_inputs

    assert report["inputs"]["assumed"] == []  # the spacing was given
    for given, notes in ((None, 1), ((2.0, 2.5, 4.0), 0)):
        [case], _ = collect_inputs([tmp_path / "p3" / "mri_norm2.h5"], h5_spacing=given)
        assert len(case.assumed) == notes
    [case], _ = collect_inputs([tmp_path / "p3"])  # a LASC 2018 case folder, through the dataset layout
    assert case.assumed == ("voxel spacing 0.625 x 0.625 x 1.25 mm (LASC 2018's; the HDF5 file stores none; "
                            "--h5-spacing to change it)",)  # fmt: skip


@pytest.mark.parametrize(
    ("geometry", "reason"),
    [
        (Geometry((8, 8, 8), (1.0, 1.0, 1.0)), "field of view 8 x 8 x 8 mm cannot hold an LA"),
        (Geometry((24, 24, 12), (10.0, 10.0, 10.0)), "voxels of 10 x 10 x 10 mm are too coarse"),
    ],
)
def test_an_image_that_cannot_show_an_la_is_refused(tmp_path, capsys, biased_bundle, geometry, reason):
    rng = np.random.default_rng(0)
    write_volume(Volume(rng.normal(100, 10, geometry.shape).astype(np.float32), geometry), tmp_path / "noise.nii.gz")
    before = (tmp_path / "noise.nii.gz").read_bytes()
    code, out, err = run(capsys, tmp_path / "noise.nii.gz", "--out", tmp_path / "out", "--model", biased_bundle)
    assert code == 1
    assert err.strip().splitlines() == [f"error: {tmp_path / 'noise.nii.gz'}: " + err.split(": ", 2)[2].strip()]
    assert reason in err and "Utah" not in out
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert (tmp_path / "noise.nii.gz").read_bytes() == before


def test_dicom_series_with_a_missing_slice_is_refused(tmp_path, capsys, biased_bundle):
    from infer.test_inputs import write_dicom_series

    volume = np.random.default_rng(0).integers(50, 150, size=(20, 48, 48)).astype(np.int16)
    write_dicom_series(tmp_path / "series", volume, spacing_xy=2.0, slice_mm=4.0)
    (tmp_path / "series" / "slice7.dcm").unlink()
    code, _, err = run(capsys, tmp_path / "series", "--out", tmp_path / "out", "--model", biased_bundle)
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {tmp_path / 'series'}: non-uniform slice spacing")
    assert "24 and 32 mm are 8 mm apart, the others 4 mm" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.fixture(scope="module")
def phantom_trained_bundle(biased_bundle, tmp_path_factory):
    """The biased bundle, labelled as the shipped phantom model is: trained on phantoms, not for patients."""
    path = tmp_path_factory.mktemp("model") / "phantom-net.pt"
    bundle = torch.load(biased_bundle, weights_only=True)
    bundle["name"] = "phantom-net"
    bundle["meta"] = {"trained_on": "40 synthetic LGE phantoms", "not_trained_on": "any real patient image"}
    torch.save(bundle, path)
    return path


def test_phantom_model_on_a_real_scan_warns_and_records_its_domain(tmp_path, capsys, phantom_trained_bundle):
    write_volume(lge_like(), tmp_path / "scan" / "patient9.nii.gz")
    write_volume(lge_like(), tmp_path / "phantom_0000" / "enhanced.nii.gz")
    (tmp_path / "phantom_0000" / "params.json").write_text(json.dumps({"format": "atrialjsq-phantom-v1"}))
    with pytest.warns(RuntimeWarning):
        code, out, err = run(
            capsys, tmp_path / "scan" / "patient9.nii.gz", tmp_path / "phantom_0000" / "enhanced.nii.gz",
            "--out", tmp_path / "out", "--model", phantom_trained_bundle, "--no-figure",
        )  # fmt: skip
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "trained on synthetic phantoms only" in line]
    assert warnings == [
        f"warning: {tmp_path / 'out' / 'patient9'}: model phantom-net was trained on synthetic phantoms only and "
        "this image is not a phantom: its LA, scar burden and stage are not measurements (research use only: not "
        "a medical device, not for clinical decisions)"
    ]
    real = json.loads((tmp_path / "out" / "patient9" / "report.json").read_text())
    assert real["case_id"] == "patient9" and real["model"]["name"] == "phantom-net"
    assert real["model"]["domain"] == "phantom" and real["model"]["trained_on"] == "40 synthetic LGE phantoms"
    localiser = "the localiser found no LA: the fine network was run around the image centre instead"
    assert real["warnings"] == [warnings[0].split(": ", 2)[2], localiser]  # the biased localiser finds nothing
    assert real["stage"]["utah"] is None and real["stage"]["not_staged"].startswith("model outside its training")
    assert "research use only" in real["notice"]
    phantom = json.loads((tmp_path / "out" / "phantom_0000" / "report.json").read_text())
    assert phantom["model"]["domain"] == "phantom" and phantom["warnings"][0] == localiser
    # This barely trained network's scar evidence is nowhere far from even: a staged case says its stage is open.
    [unsure] = phantom["warnings"][1:]
    assert unsure.startswith("the scar call is unsure on") and "Utah I–" in unsure
    assert "utah" in phantom["stage"]  # a phantom model on a phantom is staged
    [line] = [line for line in out.splitlines() if "patient9" in line]
    assert "(Utah not staged: model outside its training domain)" in line
    assert line.endswith("; 2 warning(s), see report.json")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("mask", "holds only 2 distinct value(s) (0, 1): a label or mask"),
        ("ct", "this looks like CT, not an LGE MRI scan"),
        ("noise", "neighbouring voxels are uncorrelated"),
    ],
)
def test_a_mask_ct_or_noise_is_refused_in_one_line_before_the_network(tmp_path, capsys, biased_bundle, kind, reason):
    """Reported by a user: a label predicted as a scan (Utah IV), a CT volume run for 11.7 minutes."""
    rng = np.random.default_rng(3)
    arrays = {
        "mask": (lge_like().array > 100).astype(np.uint8),
        "ct": np.where(rng.random(GEOMETRY.shape) < 0.4, -1000.0, 40.0 + lge_like().array).astype(np.float32),
        "noise": rng.integers(0, 256, GEOMETRY.shape).astype(np.uint8),
    }
    write_volume(Volume(arrays[kind], GEOMETRY), tmp_path / f"{kind}.nii.gz")
    code, out, err = run(capsys, tmp_path / f"{kind}.nii.gz", "--out", tmp_path / "out", "--model", biased_bundle)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{kind}.nii.gz" in errors[0] and reason in errors[0]
    assert not (tmp_path / "out" / kind).exists()
    assert "0 of 1 case written; 1 failed" in out


def test_a_second_run_into_a_case_being_written_is_refused_and_finished_results_kept(tmp_path, capsys, biased_bundle):
    """Reported by a user: two runs into one --out both said "written" and the second replaced the first."""
    from atrialjsq.io.claim import claim

    write_volume(lge_like(), tmp_path / "in" / "p1.nrrd")
    args = [tmp_path / "in" / "p1.nrrd", "--out", tmp_path / "out", "--model", biased_bundle]
    with claim(tmp_path / "out" / "p1"):  # another run holds it
        code, _out, err = run(capsys, *args)
    assert code == 1 and "is being written by process" in err and not (tmp_path / "out" / "p1").exists()
    # A run that finds the folder finished by another run after it planned leaves it alone.
    from atrialjsq.workflows import predict as workflow

    real = workflow.network_half

    def finished_meanwhile(*a, **k):
        (tmp_path / "out" / "p1").mkdir(parents=True)
        (tmp_path / "out" / "p1" / "report.json").write_text("{}")
        return real(*a, **k)

    workflow.network_half = finished_meanwhile
    try:
        code, _out, err = run(capsys, *args)
    finally:
        workflow.network_half = real
    assert code == 1 and "appeared while this output was written" in err
    assert (tmp_path / "out" / "p1" / "report.json").read_text() == "{}"


def test_a_batch_writes_a_summary_table_and_an_interrupted_one_says_how_to_resume(
    tmp_path, capsys, biased_bundle, monkeypatch
):
    """Reported by a user: no table of a batch's cases, and an interrupted batch said only "interrupted"."""
    import csv

    from atrialjsq.workflows import predict as workflow

    for name in ("a", "b", "c"):
        write_volume(lge_like(), tmp_path / "in" / f"{name}.nrrd")
    write_volume(Volume(np.zeros(GEOMETRY.shape, np.uint8), GEOMETRY), tmp_path / "in" / "d.nrrd")  # refused
    code, _out, err = run(capsys, tmp_path / "in", "--out", tmp_path / "out", "--model", biased_bundle)
    assert code == 1
    rows = list(csv.DictReader((tmp_path / "out" / "summary.csv").open()))
    statuses = [(r["case"], r["status"]) for r in rows]
    assert statuses == [("a", "written"), ("b", "written"), ("c", "written"), ("d", "failed")]
    report = json.loads((tmp_path / "out" / "a" / "report.json").read_text())
    assert float(rows[0]["burden_percent"]) == round(report["scar"]["burden_percent"], 2)
    assert float(rows[0]["la_volume_ml"]) == round(report["la"]["volume_ml"], 2)
    assert "a label or mask" in rows[3]["error"]

    real = workflow.network_half
    calls = []

    def stop_at_the_second(*args, **kwargs):
        calls.append(args[1].case_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(workflow, "network_half", stop_at_the_second)
    again = ("--out", tmp_path / "again", "--model", biased_bundle, "--output-workers", "0")
    code, _out, err = run(capsys, tmp_path / "in", *again)
    assert code == 130
    assert "interrupted: 1 of 4 cases written, 3 not run" in err and "--skip-existing" in err
    rows = list(csv.DictReader((tmp_path / "again" / "summary.csv").open()))
    statuses = [(r["case"], r["status"]) for r in rows]
    assert statuses == [("a", "written"), ("b", "not_run"), ("c", "not_run"), ("d", "not_run")]
    assert sorted(p.name for p in (tmp_path / "again").iterdir() if p.is_dir()) == ["a"]

    # With output workers, case a is still being written (or queued) when b is interrupted: queued work is
    # cancelled, running work finishes. Either way the summary and the folders agree and every claim is released.
    calls.clear()
    code, _out, err = run(capsys, tmp_path / "in", "--out", tmp_path / "workers", "--model", biased_bundle)
    assert code == 130 and "--skip-existing" in err
    rows = list(csv.DictReader((tmp_path / "workers" / "summary.csv").open()))
    written = [r["case"] for r in rows if r["status"] == "written"]
    assert written in ([], ["a"]) and [r["status"] for r in rows[len(written) :]] == ["not_run"] * (4 - len(written))
    assert f"interrupted: {len(written)} of 4 cases written, {4 - len(written)} not run" in err
    assert sorted(p.name for p in (tmp_path / "workers").iterdir() if p.is_dir()) == written
    assert not list((tmp_path / "workers").glob(".*.lock"))

    # A case refused before the interruption is reported as failed, not as not run (with workers, its error
    # waits in the queue ahead of the interrupted case).
    write_volume(Volume(np.zeros(GEOMETRY.shape, np.uint8), GEOMETRY), tmp_path / "first" / "a0.nrrd")
    write_volume(lge_like(), tmp_path / "first" / "b0.nrrd")
    calls.clear()
    code, _out, err = run(capsys, tmp_path / "first", "--out", tmp_path / "w2", "--model", biased_bundle)
    assert code == 130 and "a label or mask" in err
    rows = list(csv.DictReader((tmp_path / "w2" / "summary.csv").open()))
    assert [(r["case"], r["status"]) for r in rows] == [("a0", "failed"), ("b0", "not_run")]


def _numbers(report: dict) -> dict:
    """report.json without what may differ between two runs of the same case (times, paths)."""
    return {key: value for key, value in report.items() if key not in ("timings_s", "inputs", "created")}


def test_output_workers_write_the_same_cases_in_the_same_order_as_one_process(tmp_path, capsys, biased_bundle):
    """A batch whose outputs are written by a worker process (the default for a batch on 2+ cores) gives the
    same folders, report numbers, summary rows and error lines, in input order, as one process doing it all."""
    import csv

    for index, name in enumerate(("a", "b", "c")):
        write_volume(lge_like(seed=index), tmp_path / "in" / f"{name}.nrrd")
    write_volume(Volume(np.zeros(GEOMETRY.shape, np.uint8), GEOMETRY), tmp_path / "in" / "b0.nrrd")  # refused
    runs = {}
    for workers in ("0", "1"):
        out = tmp_path / f"out{workers}"
        code, stdout, err = run(
            capsys, tmp_path / "in", "--out", out, "--model", biased_bundle, "--output-workers", workers
        )
        assert code == 1 and "b0.nrrd" in err and "a label or mask" in err
        rows = list(csv.DictReader((out / "summary.csv").open()))
        reports = {c: json.loads((out / c / "report.json").read_text()) for c in ("a", "b", "c")}
        lines = [re.sub(r", [0-9.]+ s", "", line) for line in stdout.splitlines()]  # the seconds differ
        runs[workers] = ([(r["case"], r["status"], r["burden_percent"]) for r in rows], reports, lines)
        assert not list(out.glob(".*.lock"))  # every claim released
        assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["a", "b", "c"]
    (rows0, reports0, lines0), (rows1, reports1, lines1) = runs["0"], runs["1"]
    assert [r[:2] for r in rows1] == [("a", "written"), ("b", "written"), ("b0", "failed"), ("c", "written")]
    assert rows1 == rows0
    assert {c: _numbers(r) for c, r in reports1.items()} == {c: _numbers(r) for c, r in reports0.items()}
    assert [line.replace("out1", "out") for line in lines1] == [line.replace("out0", "out") for line in lines0]


def test_an_input_error_survives_the_trip_from_an_output_worker():
    """An InputError raised in a worker process is pickled back: its path and reason must arrive intact."""
    import pickle

    from atrialjsq.errors import InputError

    error = pickle.loads(pickle.dumps(InputError("/data/p1.nii.gz", "no LA found")))
    assert isinstance(error, InputError)
    assert (error.path, error.reason, str(error)) == ("/data/p1.nii.gz", "no LA found", "/data/p1.nii.gz: no LA found")
    assert pickle.loads(pickle.dumps(InputError(None, "bad"))).path is None


def test_output_workers_by_default_only_for_a_batch_on_several_cores():
    from atrialjsq.workflows.output_pool import OutputPool, auto_output_workers

    assert auto_output_workers(cases=4, cpus=2) == 2
    assert auto_output_workers(cases=4, cpus=2, regional=False) == 2  # the figures still need drawing
    assert auto_output_workers(cases=4, cpus=2, regional=False, figure=False) == 1  # the surface scar and files
    assert auto_output_workers(cases=1, cpus=16) == 0  # a lone case: a worker's start-up overlaps nothing
    assert auto_output_workers(cases=4, cpus=1) == 0
    with pytest.raises(ValueError, match="workers must be >= 0"):
        OutputPool(-1)


def test_the_network_gets_the_cores_the_output_workers_leave():
    from atrialjsq.workflows.output_pool import network_threads

    assert network_threads(2, cpus=2) == 1  # never none
    assert network_threads(2, cpus=16) == 14
    assert network_threads(0, cpus=4) == 4


def test_a_dead_output_worker_stops_the_batch_with_a_line_that_says_what_to_do(tmp_path):
    """An output worker killed (e.g. by the out-of-memory killer) must not leave a traceback about a "broken
    process pool" only, nor the case folder claimed."""
    import contextlib
    from concurrent.futures.process import BrokenProcessPool

    from atrialjsq.infer.inputs import InputCase
    from atrialjsq.io.claim import claim, lock_path
    from atrialjsq.workflows.output_pool import finished
    from atrialjsq.workflows.predict import _InFlight, _settle

    held = contextlib.ExitStack()
    held.enter_context(claim(tmp_path / "out" / "p1"))
    entry = _InFlight(InputCase("p1", tmp_path / "p1.nii.gz"), 0.0, held, finished(error=BrokenProcessPool("gone")))
    with pytest.raises(RuntimeError, match=r"p1\.nii\.gz: an output worker process died.*--output-workers 0"):
        _settle(entry, sys.stderr)
    assert not lock_path(tmp_path / "out" / "p1").exists()


def test_a_scan_far_wider_than_the_training_crops_is_predicted_but_not_staged(tmp_path, capsys, biased_bundle):
    narrow = tmp_path / "narrow-net.pt"
    bundle = torch.load(biased_bundle, weights_only=True)
    bundle["name"] = "narrow-net"
    bundle["meta"] = {"trained_on": "8 crops", "domain": "real LGE MRI", "max_field_of_view_mm": [20, 20, 20]}
    torch.save(bundle, narrow)
    write_volume(lge_like(), tmp_path / "scan" / "wide.nii.gz")
    code, out, err = run(
        capsys, tmp_path / "scan" / "wide.nii.gz", "--out", tmp_path / "out", "--model", narrow, "--no-figure"
    )
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "wide" / "report.json").read_text())
    [wide] = [w for w in report["warnings"] if "field of view" in w]
    assert "is far wider than model narrow-net's training scans (at most 20 x 20 x 20 mm)" in wide
    assert report["stage"]["utah"] is None and report["stage"]["not_staged"].startswith("model outside its training")
    assert "(Utah not staged: model outside its training domain)" in out


def test_a_case_the_system_cannot_write_fails_alone_and_the_batch_goes_on(tmp_path, capsys, biased_bundle, monkeypatch):
    """A full disk (or any OSError) while a case's outputs are written is that case's error line, not a traceback
    that loses the rest of the batch; the case leaves no folder."""
    import errno

    from atrialjsq.workflows import case as case_module

    real = case_module.analyse_and_write

    def full_disk_for_b(out_dir, *args, **kwargs):
        if Path(out_dir).name == "b":
            raise OSError(errno.ENOSPC, "No space left on device", str(Path(out_dir) / "report.json"))
        return real(out_dir, *args, **kwargs)

    monkeypatch.setattr(case_module, "analyse_and_write", full_disk_for_b)
    for name in ("a", "b", "c"):
        write_volume(lge_like(), tmp_path / "in" / f"{name}.nrrd")
    code, out, err = run(
        capsys, tmp_path / "in", "--out", tmp_path / "out", "--model", biased_bundle, "--output-workers", "0"
    )
    assert code == 1
    assert (
        f"error: {tmp_path / 'in' / 'b.nrrd'}: No space left on device ({tmp_path / 'out' / 'b' / 'report.json'})"
        in err
    )
    assert out.strip().splitlines()[-1] == "2 of 3 cases written; 1 failed: b"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a", "c", "summary.csv"]


def test_a_scan_whose_network_grid_would_not_fit_in_memory_is_refused(tmp_path, capsys, biased_bundle, monkeypatch):
    """The estimate counts the 2 mm network grid, not only the 2 x 2.5 x 4 mm voxels the scan was read with."""
    from atrialjsq.data import image_sanity

    read = int(np.prod(GEOMETRY.shape))
    on_network_grid = 48 * 50 * 40  # the same field of view at the fine network's 2 mm
    assert on_network_grid > 2 * read
    between = int((read + on_network_grid) / 2 * image_sanity.PEAK_BYTES_PER_VOXEL)
    monkeypatch.setattr(image_sanity, "available_memory_bytes", lambda: between)
    write_volume(lge_like(), tmp_path / "thick.nii.gz")
    code, _, err = run(capsys, tmp_path / "thick.nii.gz", "--out", tmp_path / "out", "--model", biased_bundle)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "thick.nii.gz" in errors[0] and "would need about" in errors[0]
    assert not (tmp_path / "out" / "thick").exists()


def test_nan_probabilities_fail_their_case_not_the_batch(tmp_path, capsys, biased_bundle, monkeypatch):
    """Reported by review: NaN scar probabilities (a diverged model) read as a confident 0 % burden."""
    import dataclasses

    from atrialjsq.infer.predictor import Predictor

    real = Predictor.predict_volume

    def nan_for_b(self, image, source="", content=None):
        prediction = real(self, image, source, content)
        if Path(source).name != "b.nii.gz":
            return prediction
        p_scar = prediction.p_scar.array.copy()
        p_scar[0, 0, 0] = np.nan
        return dataclasses.replace(prediction, p_scar=Volume(p_scar, prediction.p_scar.geometry))

    monkeypatch.setattr(Predictor, "predict_volume", nan_for_b)
    for name in ("a", "b"):
        write_volume(lge_like(), tmp_path / "in" / f"{name}.nii.gz")
    code, out, err = run(capsys, tmp_path / "in", "--out", tmp_path / "out", "--model", biased_bundle)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "b.nii.gz: the network's p_scar hold NaN or infinite values" in errors[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a", "summary.csv"]
    assert out.strip().splitlines()[-1] == "1 of 2 cases written; 1 failed: b"


def test_a_batch_with_output_workers_gives_the_thread_count_back(tmp_path, capsys, biased_bundle):
    """The network gets the cores the output workers leave for the batch only: a caller's later work in the
    same process (a second batch, training) keeps the thread count it had."""
    import os

    for name in ("a", "b"):
        write_volume(lge_like(), tmp_path / "in" / f"{name}.nii.gz")
    before = torch.get_num_threads()
    chosen = (os.cpu_count() or 1) + 3  # never what the batch sets: cores - workers
    torch.set_num_threads(chosen)
    try:
        code, _, _ = run(
            capsys, tmp_path / "in", "--out", tmp_path / "out", "--model", biased_bundle, "--output-workers", "1"
        )
        assert code == 0 and torch.get_num_threads() == chosen
    finally:
        torch.set_num_threads(before)
