"""A DICOM MR series written with pydicom, with every attribute an MR image carries (import as
`from dicom_series import write_mr_series`): for DICOM SEG, which references its source's instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_mr_series(
    folder: Path,
    volume_xyz: np.ndarray,
    spacing=(2.0, 2.5, 4.0),
    origin=(-40.0, 20.0, 10.0),
    row_direction=(1.0, 0.0, 0.0),
    column_direction=(0.0, 1.0, 0.0),
) -> list[str]:
    """One file per slice k of `volume_xyz` (x along `row_direction`, y along `column_direction`, z along their
    cross product); returns the SOP Instance UIDs in slice order."""
    from pydicom.uid import MRImageStorage, generate_uid

    folder.mkdir(parents=True)
    row, column = np.asarray(row_direction, float), np.asarray(column_direction, float)
    normal = np.cross(row, column)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    uids = []
    for k in range(volume_xyz.shape[2]):
        ds = new_dataset(MRImageStorage)
        uid = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "P07", "Test^Patient", "19600101", "O"
        ds.StudyID, ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "1", "20260101", "120000", "A1"
        ds.ReferringPhysicianName, ds.Manufacturer = "", "test"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "MR", 3, k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M"]
        ds.ImagePositionPatient = [float(v) for v in np.asarray(origin) + k * spacing[2] * normal]
        ds.ImageOrientationPatient = [float(v) for v in (*row, *column)]
        ds.PixelSpacing = [float(spacing[1]), float(spacing[0])]  # row spacing (along y), column spacing (x)
        ds.SliceThickness = float(spacing[2])
        ds.Rows, ds.Columns = volume_xyz.shape[1], volume_xyz.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = np.ascontiguousarray(volume_xyz[:, :, k].T.astype(np.int16)).tobytes()
        ds.save_as(folder / f"slice{k:03d}.dcm", enforce_file_format=True)
        uids.append(uid)
    return uids


def new_dataset(sop_class: str):
    """A dataset of `sop_class` with its file meta and a new SOP Instance UID, explicit VR little endian."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop_class, uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, uid
    return ds


def write_enhanced_mr(path: Path, z_positions, shape=(24, 20)) -> None:
    """One enhanced (multi-frame) MR file: a frame per z position (mm), 2 x 2.5 mm pixels, the orientation in
    the shared functional groups, each frame's position in its own."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import generate_uid

    ds = new_dataset("1.2.840.10008.5.1.4.1.1.4.1")  # Enhanced MR Image Storage
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = generate_uid(), generate_uid(), generate_uid()
    ds.PatientID, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "P", "MR", 1, 1
    ds.Rows, ds.Columns, ds.NumberOfFrames = shape[1], shape[0], len(z_positions)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    measures, orientation = Dataset(), Dataset()
    measures.PixelSpacing, measures.SliceThickness = [2.5, 2.0], 4.0
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared = Dataset()
    shared.PixelMeasuresSequence, shared.PlaneOrientationSequence = Sequence([measures]), Sequence([orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for z in z_positions:
        frame, plane = Dataset(), Dataset()
        plane.ImagePositionPatient = [-40.0, 20.0, float(z)]
        frame.PlanePositionSequence = Sequence([plane])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    pixels = np.arange(len(z_positions) * shape[0] * shape[1]).reshape(len(z_positions), shape[1], shape[0]) % 1000
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
