"""Every layout read back from tiny files written here; auto-detection; each bad-input case raises InputError."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from data_fixtures import (
    ORIGIN,
    SPACING,
    sphere_case_arrays,
    truncate,
    write,
    write_2d_image,
    write_h5,
    write_images_tr,
    write_lasc2018,
    write_lascarqs,
)

from atrialjsq.data.layouts import DEFAULT_H5_SPACING, LabelValueWarning, index_dataset, load_case
from atrialjsq.errors import InputError


def _assert_sphere_case(case, *, with_scar: bool, spacing=SPACING, origin=ORIGIN) -> None:
    _, la, scar = sphere_case_arrays()
    assert case.image.geometry.spacing == pytest.approx(spacing)
    assert case.image.geometry.origin == pytest.approx(origin)
    assert case.la.array.dtype == np.uint8
    np.testing.assert_array_equal(case.la.array, la)
    assert case.la.geometry == case.image.geometry
    if with_scar:
        np.testing.assert_array_equal(case.scar.array, scar)
    else:
        assert case.scar is None


@pytest.mark.parametrize("la_value", [1, 420])
def test_lascarqs_task1_any_nonzero_value_is_la(tmp_path: Path, la_value: int) -> None:
    write_lascarqs(tmp_path, "p1", task=1, la_value=la_value)
    write_lascarqs(tmp_path, "p2", task=1, seed=1, la_value=la_value)
    refs = index_dataset(tmp_path)
    assert [r.case_id for r in refs] == ["p1", "p2"]
    assert {r.layout for r in refs} == {"lascarqs1"}
    if la_value == 1:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # {0, 1}: nothing to warn about
            case = load_case(refs[0])
    else:  # still read as LA, but a value LAScarQS does not use is worth a warning
        with pytest.warns(LabelValueWarning, match=rf"unexpected label values \[0, {la_value}\]"):
            case = load_case(refs[0])
    _assert_sphere_case(case, with_scar=True)
    np.testing.assert_allclose(case.image.array, sphere_case_arrays()[0], atol=1e-4)


def test_lascarqs_task2_has_no_scar(tmp_path: Path) -> None:
    write_lascarqs(tmp_path, "p1", task=2)
    (ref,) = index_dataset(tmp_path)
    assert ref.layout == "lascarqs2" and set(ref.label_paths) == {"la"}
    _assert_sphere_case(load_case(ref), with_scar=False)


@pytest.mark.parametrize("la_value", [255, 1])
def test_lasc2018_nrrd(tmp_path: Path, la_value: int) -> None:
    write_lasc2018(tmp_path, "A", la_value=la_value)
    (ref,) = index_dataset(tmp_path)
    assert ref.layout == "lasc2018" and ref.image_path.name == "lgemri.nrrd"
    _assert_sphere_case(load_case(ref), with_scar=False)


def test_lasc2018_h5_spacing_is_a_parameter(tmp_path: Path) -> None:
    write_h5(tmp_path, "X1")
    (ref,) = index_dataset(tmp_path)
    assert ref.layout == "lasc2018-h5" and ref.spacing == DEFAULT_H5_SPACING
    _assert_sphere_case(load_case(ref), with_scar=False, spacing=DEFAULT_H5_SPACING, origin=(0, 0, 0))
    (ref,) = index_dataset(tmp_path, spacing=(1.0, 1.0, 2.0))
    assert load_case(ref).image.geometry.spacing == (1.0, 1.0, 2.0)


def test_images_tr_label_two_is_scar_and_counts_as_la(tmp_path: Path) -> None:
    write_images_tr(tmp_path, "la_001", with_scar=True)
    write_images_tr(tmp_path, "la_002", seed=1, with_scar=False)
    refs = index_dataset(tmp_path)
    assert [r.case_id for r in refs] == ["la_001", "la_002"] and refs[0].layout == "imagesTr"
    with_scar, without = load_case(refs[0]), load_case(refs[1])
    _, la, scar = sphere_case_arrays()
    np.testing.assert_array_equal(with_scar.scar.array, scar)
    np.testing.assert_array_equal(with_scar.la.array, la | scar)
    assert without.scar is None


def test_single_case_folder_and_named_layout(tmp_path: Path) -> None:
    folder = write_lasc2018(tmp_path, "only")
    (ref,) = index_dataset(folder)
    assert ref.case_id == "only"
    assert [r.case_id for r in index_dataset(tmp_path, layout="lasc2018")] == ["only"]
    with pytest.raises(InputError, match="no case folders of layout lascarqs1"):
        index_dataset(tmp_path, layout="lascarqs1")


def test_a_set_where_only_some_cases_have_scar_labels_reads_each_as_it_is(tmp_path: Path) -> None:
    write_lascarqs(tmp_path, "p1", task=1)
    write_lascarqs(tmp_path, "p2", task=2)
    refs = index_dataset(tmp_path)
    assert [(r.case_id, r.layout) for r in refs] == [("p1", "lascarqs1"), ("p2", "lascarqs2")]
    assert set(load_case(refs[0]).labels) == {"la", "scar"} and set(load_case(refs[1]).labels) == {"la"}
    # Named as a task-1 set, every case needs its scar file: the one lacking it is reported.
    strict = index_dataset(tmp_path, layout="lascarqs1")
    assert {r.layout for r in strict} == {"lascarqs1"}
    with pytest.raises(InputError, match=r"scarSegImgM\.nii\.gz: no such file"):
        load_case(strict[1])


def test_detection_failures(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        index_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "junk").mkdir()
    with pytest.raises(InputError, match="no known dataset layout"):
        index_dataset(tmp_path / "empty")
    with pytest.raises(InputError, match="unknown layout"):
        index_dataset(tmp_path, layout="decathlon")
    write_lasc2018(tmp_path / "mixed", "a")
    write_lascarqs(tmp_path / "mixed", "b")
    with pytest.raises(InputError, match="several layouts"):
        index_dataset(tmp_path / "mixed")


def test_label_geometry_mismatch_names_the_label(tmp_path: Path) -> None:
    folder = write_lasc2018(tmp_path, "A")
    _, la, _ = sphere_case_arrays()
    write(la * 255, folder / "laendo.nrrd", label=True, spacing=(1.25, 1.25, 3.0))
    (ref,) = index_dataset(tmp_path)
    with pytest.raises(InputError, match=r"laendo\.nrrd: geometry differs from its image lgemri\.nrrd: spacing"):
        load_case(ref)


def test_label_values_are_checked(tmp_path: Path) -> None:
    folder = write_lasc2018(tmp_path, "A")
    _, la, _ = sphere_case_arrays()
    write(la * 7, folder / "laendo.nrrd", label=True)
    (ref,) = index_dataset(tmp_path)
    with pytest.raises(InputError, match=r"laendo\.nrrd: unexpected label values \[0, 7\]"):
        load_case(ref)
    write(la * 0.5, folder / "laendo.nrrd")
    with pytest.raises(InputError, match="non-integer"):
        load_case(ref)


def test_truncated_and_2d_files(tmp_path: Path) -> None:
    folder = write_lascarqs(tmp_path, "p1", task=1)
    truncate(folder / "enhanced.nii.gz")
    (ref,) = index_dataset(tmp_path)
    with pytest.raises(InputError, match=r"enhanced\.nii\.gz: file is truncated"):
        load_case(ref)
    write_2d_image(folder / "enhanced.nii.gz")
    with pytest.raises(InputError, match="expected a 3D image, got 2D"):
        load_case(ref)


def test_h5_errors(tmp_path: Path) -> None:
    folder = write_h5(tmp_path, "X1")
    (ref,) = index_dataset(tmp_path)
    with h5py.File(folder / "mri_norm2.h5", "w") as handle:
        handle["image"] = np.zeros((4, 4, 4), np.float32)
    with pytest.raises(InputError, match="no label dataset"):
        load_case(ref)
    with h5py.File(folder / "mri_norm2.h5", "w") as handle:
        handle.create_group("image")
        handle["label"] = np.zeros((4, 4, 4), np.uint8)
    with pytest.raises(InputError, match="image is a group, not a dataset"):
        load_case(ref)
    truncate(folder / "mri_norm2.h5", keep=0.3)
    with pytest.raises(InputError, match="unreadable HDF5"):
        load_case(ref)


def test_loading_never_modifies_inputs(tmp_path: Path) -> None:
    folder = write_lascarqs(tmp_path, "p1", task=1)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    load_case(index_dataset(tmp_path)[0])
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before


def test_a_case_folder_whose_image_is_missing_is_warned_not_silently_dropped(tmp_path: Path) -> None:
    """Reported by review: in the image-label layout a folder holding only its label had no layout and was left
    out of training without a word."""
    image, la, _ = sphere_case_arrays()
    for case_id in ("x", "y", "z"):
        if case_id != "z":
            write(image, tmp_path / case_id / "image.nii.gz")
        write(la, tmp_path / case_id / "label.nii.gz", label=True)
    with pytest.warns(RuntimeWarning, match=r"z: holds label.nii.gz but no image.<ext>: left out"):
        refs = index_dataset(tmp_path)
    assert [ref.case_id for ref in refs] == ["x", "y"]
