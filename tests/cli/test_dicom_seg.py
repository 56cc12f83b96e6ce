"""segmentation.dcm for DICOM inputs: it references the source instances, lies on their frames and decodes to
LA_predict / scar_predict voxel for voxel, for an axial and an oblique series; pydicom alone reads it too."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from atrialjsq.cli import main
from atrialjsq.io import read_volume
from dicom_series import write_mr_series

pytestmark = pytest.mark.filterwarnings("ignore:.*found no LA:RuntimeWarning")
SHAPE = (48, 40, 20)


def lge_codes(seed=0) -> np.ndarray:
    field = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=SHAPE), 1.5)
    return (400 + 60 * field / field.std()).astype(np.int16)


@pytest.fixture(scope="module")
def biased_bundle(tmp_path_factory):
    from cli.test_predict import make_biased_bundle

    return make_biased_bundle(tmp_path_factory.mktemp("model") / "biased.pt")


@pytest.mark.parametrize(
    "orientation",
    [((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)), ((np.cos(0.5), np.sin(0.5), 0.0), (0.0, np.cos(0.3), np.sin(0.3)))],
    ids=["axial", "oblique"],
)
def test_a_dicom_input_gets_a_segmentation_that_round_trips(tmp_path, capsys, biased_bundle, orientation):
    import highdicom as hd
    import pydicom

    row, column = np.asarray(orientation[0]), np.asarray(orientation[1])
    column = column - (column @ row) * row  # orthonormal in-plane directions
    column /= np.linalg.norm(column)
    uids = write_mr_series(tmp_path / "p07" / "series", lge_codes(), row_direction=row, column_direction=column)
    out = tmp_path / "out"
    code = main(["predict", str(tmp_path / "p07" / "series"), "--out", str(out), "--model", str(biased_bundle),
                 "--device", "cpu", "--quiet", "--no-figure", "--no-regional"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    folder = out / "p07"  # the generic `series` folder is named by the case above it
    seg = hd.seg.segread(folder / "segmentation.dcm")
    referenced = [item.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence]
    assert sorted(referenced) == sorted(uids)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["Left atrium cavity", "Atrial scar"]
    assert seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue == "82471001"
    assert seg.SegmentSequence[1].SegmentedPropertyTypeCodeSequence[0].CodeValue == "12402003"
    assert "atrialjsq" in seg.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0].AlgorithmName
    # recommended display colours: report.png's yellow LA outline and red scar (CIELab back to 8-bit RGB)
    shown = [
        hd.color.CIELabColor.from_dicom_value(s.RecommendedDisplayCIELabValue).to_rgb() for s in seg.SegmentSequence
    ]
    assert shown == [(255, 210, 63), (214, 26, 31)]
    la, scar = (read_volume(folder / name).array > 0 for name in ("LA_predict.nii.gz", "scar_predict.nii.gz"))
    assert la.any() and not la.all()
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[1, 2])
    for k in range(SHAPE[2]):
        np.testing.assert_array_equal(pixels[k, :, :, 0], la[:, :, k].T)
        np.testing.assert_array_equal(pixels[k, :, :, 1], scar[:, :, k].T)
    plain = pydicom.dcmread(folder / "segmentation.dcm")  # a second reader, no highdicom
    assert plain.Modality == "SEG" and int(plain.NumberOfFrames) == 2 * SHAPE[2]
    source = pydicom.dcmread(sorted((tmp_path / "p07" / "series").iterdir())[0])
    assert plain.FrameOfReferenceUID == source.FrameOfReferenceUID
    assert plain.StudyInstanceUID == source.StudyInstanceUID and plain.PatientID == "P07"
    positions = [f.PlanePositionSequence[0].ImagePositionPatient for f in plain.PerFrameFunctionalGroupsSequence]
    assert any(np.allclose([float(v) for v in p], [float(v) for v in source.ImagePositionPatient]) for p in positions)


def test_no_dicom_seg_for_other_inputs_or_when_asked(tmp_path, capsys, biased_bundle):
    write_mr_series(tmp_path / "p08", lge_codes(1))
    out = tmp_path / "out"
    args = ["--model", str(biased_bundle), "--device", "cpu", "--quiet", "--no-figure", "--no-regional"]
    assert main(["predict", str(tmp_path / "p08"), "--out", str(out), "--no-dicom-seg", *args]) == 0
    assert not (out / "p08" / "segmentation.dcm").exists() and (out / "p08" / "report.json").is_file()
    read = read_volume(tmp_path / "p08")
    from atrialjsq.io import write_volume

    write_volume(read, tmp_path / "p09.nii.gz")
    assert main(["predict", str(tmp_path / "p09.nii.gz"), "--out", str(out), *args]) == 0
    assert not (out / "p09" / "segmentation.dcm").exists()


def test_a_multi_frame_source_gets_a_reason_not_an_attribute_error(tmp_path):
    """Reported by review: an enhanced (multi-frame) DICOM input printed "segmentation.dcm not written:
    'FileDataset' object has no attribute 'ImagePositionPatient'"."""
    from pydicom.dataset import Dataset

    from atrialjsq.errors import InputError
    from atrialjsq.io import Geometry, Volume
    from atrialjsq.report.dicom_seg import _slice_indices

    enhanced = Dataset()
    enhanced.SOPInstanceUID = "1.2.3"
    volume = Volume(np.zeros((4, 4, 4), np.uint8), Geometry((4, 4, 4)))
    with pytest.raises(InputError, match=r"a multi-frame \(enhanced\) DICOM: segmentation\.dcm is written for"):
        _slice_indices([enhanced], volume, tmp_path)
