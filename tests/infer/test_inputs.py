"""Input expansion (files, DICOM folders, dataset folders), case ids and torchrun sharding."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.errors import InputError
from atrialjsq.infer.inputs import case_id_from_path, collect_inputs, distributed_rank, shard
from atrialjsq.io import Volume, write_volume
from locale_guard import keeping_locale


def test_case_ids_drop_image_extensions():
    assert case_id_from_path("/a/p01.nii.gz") == "p01"
    assert case_id_from_path("p.02.nrrd") == "p.02"
    assert case_id_from_path("/data/dicom_series") == "dicom_series"
    assert case_id_from_path("/data/case01/enhanced.nii.gz") == "case01"  # a layout's generic image name
    assert case_id_from_path("/data/pat7/lgemri.nrrd") == "pat7"


def test_shards_are_disjoint_and_complete():
    items = list(range(11))
    shards = [shard(items, rank, 3) for rank in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]
    assert sorted(x for part in shards for x in part) == items
    with pytest.raises(ValueError):
        shard(items, 3, 3)


def test_distributed_rank_reads_torchrun_environment(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    assert distributed_rank() == (0, 1)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    assert distributed_rank() == (2, 4)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(InputError):
        distributed_rank()


def test_collect_files_dataset_folders_and_clashes(tmp_path):
    image = Volume.from_array(np.zeros((4, 4, 4), np.float32))
    write_volume(image, tmp_path / "single.nii.gz")
    for case in ("c1", "c2"):
        write_volume(image, tmp_path / "set" / case / "enhanced.nii.gz")
    (tmp_path / "empty").mkdir()
    cases, errors = collect_inputs(
        [
            tmp_path / "single.nii.gz",
            tmp_path / "set",
            tmp_path / "missing.nrrd",
            tmp_path / "empty",
            tmp_path / "set" / "c1" / "enhanced.nii.gz",
            tmp_path / "set" / "c2" / "enhanced.nii.gz",
        ]
    )
    # c1/enhanced.nii.gz is named by its folder, so given again it clashes with the dataset's c1 (and c2)
    assert [c.case_id for c in cases] == ["single", "c1", "c2", "missing"]
    assert cases[1].ref is not None and cases[1].read().array.shape == (4, 4, 4)
    assert len(errors) == 3
    assert "empty" in str(errors[0])
    assert all("already used" in error.reason for error in errors[1:])
    with pytest.raises(InputError, match="no such file"):
        cases[3].read()


@pytest.mark.realdata
def test_real_dataset_folder_expands_to_its_cases(lasc_dir):
    cases, errors = collect_inputs([lasc_dir])
    listed = (lasc_dir / "cases.list").read_text().split()
    assert not errors
    assert sorted(c.case_id for c in cases) == sorted(listed)
    image = cases[0].read()
    assert image.array.ndim == 3 and image.array.shape[2] == 88
    assert image.geometry.spacing[2] > image.geometry.spacing[0]  # anisotropic default spacing of the release


def write_dicom_series(folder, volume_zyx: np.ndarray, spacing_xy=0.8, slice_mm=2.5) -> None:
    """One MR series, a file per slice, sharing its series UID (what GDCM groups a folder by)."""
    with keeping_locale():  # GDCM's writer sets the process locale to "C"
        _write_dicom_slices(folder, volume_zyx, spacing_xy, slice_mm)


def _write_dicom_slices(folder, volume_zyx: np.ndarray, spacing_xy: float, slice_mm: float) -> None:
    import SimpleITK as sitk

    folder.mkdir(parents=True)
    for k, plane in enumerate(volume_zyx):
        image = sitk.GetImageFromArray(plane)
        image.SetSpacing((spacing_xy, spacing_xy))
        tags = {
            "0020|000e": "1.2.826.0.1.3680043.2.1125.1",
            "0020|000d": "1.2.826.0.1.3680043.2.1125.2",
            "0008|0060": "MR",
            "0020|0032": f"0\\0\\{k * slice_mm}",
            "0020|0037": "1\\0\\0\\0\\1\\0",
            "0020|0013": str(k + 1),
        }
        for tag, value in tags.items():
            image.SetMetaData(tag, value)
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        writer.SetFileName(str(folder / f"slice{k}.dcm"))
        writer.Execute(image)


def test_dicom_folder_is_one_case_named_after_the_folder(tmp_path):
    volume = np.arange(5 * 16 * 12, dtype=np.int16).reshape(5, 16, 12)
    write_dicom_series(tmp_path / "series_a", volume)
    cases, errors = collect_inputs([tmp_path / "series_a"])
    assert not errors and [c.case_id for c in cases] == ["series_a"]
    image = cases[0].read()
    assert image.geometry.shape == (12, 16, 5)
    np.testing.assert_allclose(image.geometry.spacing, (0.8, 0.8, 2.5))
    np.testing.assert_array_equal(image.array, np.transpose(volume, (2, 1, 0)))


def test_nnunet_channel_suffix_and_hdf5_case_ids():
    assert case_id_from_path("/d/imagesTs/la_003_0000.nii.gz") == "la_003"
    assert case_id_from_path("/d/imagesTs/la_003_0001.nii.gz") == "la_003_0001"  # only the first channel
    assert case_id_from_path("/d/p3/mri_norm2.h5") == "p3"
    assert case_id_from_path("/d/scan7.h5") == "scan7"


def test_flat_folders_hdf5_files_and_an_explicit_layout(tmp_path):
    image = Volume.from_array(np.zeros((4, 4, 4), np.float32))
    write_volume(image, tmp_path / "flat" / "b_0000.nii.gz")
    write_volume(image, tmp_path / "flat" / "a.mha")
    (tmp_path / "flat" / "notes.txt").write_text("x")
    (tmp_path / "h5").mkdir()
    (tmp_path / "h5" / "mri_norm2.h5").write_bytes(b"")
    cases, errors = collect_inputs([tmp_path / "flat", tmp_path / "h5" / "mri_norm2.h5"], h5_spacing=(1, 2, 3))
    assert not errors
    assert [c.case_id for c in cases] == ["a", "b", "h5"]
    assert cases[2].ref.layout == "lasc2018-h5" and cases[2].ref.spacing == (1.0, 2.0, 3.0)
    # A named layout is a promise about the folder: a flat folder is then not silently taken as images.
    cases, errors = collect_inputs([tmp_path / "flat"], layout="lasc2018")
    assert not cases and len(errors) == 1 and "no case folders of layout lasc2018" in str(errors[0])


def test_a_case_folder_predicts_its_image_never_its_label(tmp_path):
    """Reported by a user: `predict case/` predicted image.nii.gz and label.nii.gz both."""
    image = Volume.from_array(np.zeros((4, 4, 4), np.float32))
    for name in ("image.nii.gz", "label.nii.gz", "p01_seg.nrrd", "LA_predict.nii.gz", "mask.mha"):
        write_volume(image, tmp_path / "case7" / name)
    cases, errors = collect_inputs([tmp_path / "case7"])
    assert not errors and [(c.case_id, c.path.name) for c in cases] == [("case7", "image.nii.gz")]


def test_a_dicom_series_below_a_case_folder_is_found_and_named_by_the_case(tmp_path):
    """Finding 1 and 3: `<case>/series/` beside a label predicted only the label; `series` named every case."""
    volume = np.arange(5 * 16 * 12, dtype=np.int16).reshape(5, 16, 12)
    for patient in ("p01", "p02"):
        write_dicom_series(tmp_path / patient / "series", volume)
        write_volume(Volume.from_array(np.zeros((4, 4, 4), np.uint8)), tmp_path / patient / "label.nii.gz")
    cases, errors = collect_inputs([tmp_path / "p01", tmp_path / "p02" / "series"])
    assert not errors
    assert [(c.case_id, c.path.name) for c in cases] == [("p01", "series"), ("p02", "series")]
    write_dicom_series(tmp_path / "p03" / "4", volume)  # a numbered series keeps its number
    assert collect_inputs([tmp_path / "p03" / "4"])[0][0].case_id == "p03_4"


def test_case_id_names_a_single_case_only(tmp_path):
    from atrialjsq.infer.inputs import named

    image = Volume.from_array(np.zeros((4, 4, 4), np.float32))
    write_volume(image, tmp_path / "a.nii.gz")
    write_volume(image, tmp_path / "b.nii.gz")
    one, _ = collect_inputs([tmp_path / "a.nii.gz"])
    assert [c.case_id for c in named(one, "patient_12")] == ["patient_12"]
    both, _ = collect_inputs([tmp_path / "a.nii.gz", tmp_path / "b.nii.gz"])
    with pytest.raises(InputError, match="single case; the inputs hold 2"):
        named(both, "x")
    with pytest.raises(InputError, match="not a usable folder name"):
        named(one, "../x")


@pytest.mark.parametrize("num_parts", [1, 3, 4])
def test_parts_of_a_cohort_are_disjoint_and_cover_it(tmp_path, num_parts):
    from atrialjsq.infer.inputs import part

    image = Volume.from_array(np.zeros((4, 4, 4), np.float32))
    for k in (7, 2, 9, 0, 5, 3, 8, 1, 6, 4):  # written out of order: parts follow the sorted ids
        write_volume(image, tmp_path / "cohort" / f"case{k}.nii.gz")
    cases, _ = collect_inputs([tmp_path / "cohort"])
    parts = [[c.case_id for c in part(cases, num_parts, k)] for k in range(num_parts)]
    flat = [case for p in parts for case in p]
    assert sorted(flat) == [f"case{k}" for k in range(10)] and len(flat) == len(set(flat))
    assert parts[0][0] == "case0" and max(len(p) for p in parts) - min(len(p) for p in parts) <= 1
    with pytest.raises(InputError, match="--part-id"):
        part(cases, num_parts, num_parts)


def test_a_file_whose_name_gives_no_usable_case_id_is_refused_alone(tmp_path):
    """`.nii.gz` would be case id '' (its folder: the output folder itself); the other inputs still run."""
    from atrialjsq.io.geometry import Geometry

    nameless, good = tmp_path / ".nii.gz", tmp_path / "patient1.nii.gz"
    write_volume(Volume(np.zeros((4, 4, 4), np.float32), Geometry((4, 4, 4))), good)
    nameless.write_bytes(good.read_bytes())
    cases, errors = collect_inputs([nameless, good])
    assert [case.case_id for case in cases] == ["patient1"]
    assert [str(error) for error in errors] == [f"{nameless}: case id '' from its name is not a usable folder name"]
