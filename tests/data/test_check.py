"""check_case: each kind of problem is an error or a warning naming its file; all problems of a case are kept."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import sphere_case_arrays, truncate, write, write_h5, write_lasc2018, write_lascarqs

from atrialjsq.data.check import check_case, check_dataset, format_table
from atrialjsq.data.layouts import index_dataset
from atrialjsq.io import read_volume


def test_plausible_case_is_ok(tmp_path: Path) -> None:
    write_h5(tmp_path, "big")
    (ref,) = index_dataset(tmp_path, spacing=(3.0, 3.0, 5.0))
    report = check_case(ref)
    la = sphere_case_arrays()[1]
    assert report.status == "ok" and not report.errors and not report.warnings
    assert report.la_ml == np.float64(la.sum() * 45 / 1000)
    assert report.shape == la.shape and report.spacing == (3.0, 3.0, 5.0) and not report.has_scar


def test_implausible_spacing_is_an_error(tmp_path: Path) -> None:
    folder = write_h5(tmp_path, "tiny")
    (ref,) = index_dataset(tmp_path, spacing=(0.01, 0.625, 1.25))
    report = check_case(ref)
    assert report.status == "FAIL"
    (error,) = report.errors
    assert error.path == str(folder / "mri_norm2.h5")
    assert error.reason == "implausible spacing (0.01, 0.625, 1.25) mm (expected 0.1-5.0 mm)"


def test_all_problems_of_one_case_are_reported(tmp_path: Path) -> None:
    folder = write_lascarqs(tmp_path, "p1", task=1)
    truncate(folder / "enhanced.nii.gz")
    write(sphere_case_arrays()[1] * 0.5, folder / "scarSegImgM.nii.gz")
    (ref,) = index_dataset(tmp_path)
    report = check_case(ref)
    paths = sorted(Path(e.path).name for e in report.errors)
    assert paths == ["enhanced.nii.gz", "scarSegImgM.nii.gz"]
    # the readable LA label is still measured: its voxels times the voxel volume
    la = read_volume(folder / "atriumSegImgMO.nii.gz")
    expected_ml = float((la.array > 0).sum()) * float(np.prod(la.geometry.spacing)) / 1000
    assert report.la_ml == pytest.approx(expected_ml, rel=1e-6) and expected_ml > 0


def test_empty_scar_is_a_warning_and_table_lists_cases(tmp_path: Path) -> None:
    folder = write_lascarqs(tmp_path, "p1", task=1)
    write(np.zeros_like(sphere_case_arrays()[2]), folder / "scarSegImgM.nii.gz", label=True)
    write_lascarqs(tmp_path, "p2", task=1, seed=1)
    reports = check_dataset(tmp_path)
    assert [r.case_id for r in reports] == ["p1", "p2"]
    assert any(w.reason == "scar label is empty" for w in reports[0].warnings)
    assert not any("scar" in w.reason for w in reports[1].warnings)
    table = format_table(reports).splitlines()
    assert table[0].split() == ["case", "layout", "shape", "spacing", "(mm)", "axes", "LA", "(mL)", "scar", "status"]
    assert table[1].split()[:5] == ["p1", "lascarqs1", "24x22x12", "1.25x1.25x2.5", "LPS"]
    assert table[1].split()[6] == "yes"


def _about_x(degrees: float) -> tuple[float, ...]:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return (1.0, 0.0, 0.0, 0.0, c, -s, 0.0, s, c)


def test_orientation_is_listed_a_tilted_grid_warned_and_a_sheared_one_refused(tmp_path: Path) -> None:
    # NRRD keeps what it is given (NIfTI would coerce a shear away): mirrored x and y (RAS), 30° about x, shear.
    write_lasc2018(tmp_path, "mirrored", direction=(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0))
    tilted = write_lasc2018(tmp_path, "tilted", direction=_about_x(30.0))
    sheared = write_lasc2018(tmp_path, "sheared", direction=(1.0, 0.3, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    reports = {report.case_id: report for report in check_dataset(tmp_path)}
    # (the 2 mL test sphere draws a small-LA warning in every case; only the tilt is about orientation)
    tilts = {case_id: [w for w in report.warnings if "tilted" in w.reason] for case_id, report in reports.items()}
    assert not reports["mirrored"].errors and reports["mirrored"].orientation == "RAS" and tilts["mirrored"] == []
    (warning,) = tilts["tilted"]
    assert warning.path == str(tilted / "lgemri.nrrd") and warning.reason.startswith("the image grid is tilted 30°")
    assert not reports["tilted"].errors and reports["tilted"].orientation == "LPS"
    assert reports["sheared"].status == "FAIL" and reports["sheared"].orientation is None
    assert reports["sheared"].errors[0].path == str(sheared / "lgemri.nrrd")
    assert "not orthonormal" in reports["sheared"].errors[0].reason


def test_an_image_that_is_a_mask_fails_as_predict_would_refuse_it(tmp_path: Path) -> None:
    folder = write_lascarqs(tmp_path, "masked")
    la = read_volume(folder / "atriumSegImgMO.nii.gz")
    write(la.array.astype(np.float32), folder / "enhanced.nii.gz")  # the LA label saved as the image
    (ref,) = index_dataset(tmp_path)
    report = check_case(ref)
    assert report.status == "FAIL"
    assert [str(error.path) for error in report.errors] == [str(folder / "enhanced.nii.gz")]
    assert "label or mask" in report.errors[0].reason


def test_an_la_cut_by_the_image_border_is_a_warning_naming_its_label(tmp_path: Path) -> None:
    """Reported by review: an LA cut at the volume's edge passed; its surface would include the cut face, a wall
    that is not there, and inject-scar drew scar onto it."""
    folder = write_lascarqs(tmp_path, "p1", task=2)  # (no scar label to cut as well)
    la = sphere_case_arrays()[1].copy()
    z = np.nonzero(la.any(axis=(0, 1)))[0]
    la[:, :, : (z.min() + z.max()) // 2] = 0  # the lower half gone ...
    la = la[:, :, (z.min() + z.max()) // 2 :]  # ... and the volume cut through the LA's middle
    image = read_volume(folder / "enhanced.nii.gz").array[:, :, -la.shape[2] :]
    write(image, folder / "enhanced.nii.gz")
    write(la, folder / "atriumSegImgMO.nii.gz", label=True)
    (report,) = check_dataset(tmp_path)
    cut = [w for w in report.warnings if "touches the image border" in w.reason]
    assert len(cut) == 1 and Path(cut[0].path).name == "atriumSegImgMO.nii.gz" and not report.errors
    write_lascarqs(tmp_path / "whole", "p2", task=2)
    (whole,) = check_dataset(tmp_path / "whole")
    assert not any("border" in w.reason for w in whole.warnings)
