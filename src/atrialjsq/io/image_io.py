"""Read and write 3D medical images with SimpleITK, keeping spacing, origin and direction.

Every reader failure becomes an `InputError` naming the file, so the CLI can print one line and exit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from atrialjsq.errors import InputError
from atrialjsq.io.atomic import atomic_path
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.nifti_check import nifti_problem
from atrialjsq.io.volume import Volume

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
# A DICOM slice gap may differ from the series' typical gap by this share (rounding of stored positions);
# a missing slice doubles it. ITK itself only warns and then reads the series onto a uniform grid.
SLICE_GAP_TOLERANCE = 0.05


def is_image_file(path: str | Path) -> bool:
    name = str(path).lower()
    return any(name.endswith(s) for s in IMAGE_SUFFIXES)


def dicom_series_ids(folder: str | Path) -> tuple[str, ...]:
    """DICOM series in a folder; ITK's "No Series were found" warning is silenced (an empty tuple says it)."""
    previous = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        return tuple(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(previous)


def is_dicom_dir(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and bool(dicom_series_ids(path))


def geometry_from_sitk(image: sitk.Image) -> Geometry:
    return Geometry(image.GetSize(), image.GetSpacing(), image.GetOrigin(), image.GetDirection())


def to_sitk(volume: Volume) -> sitk.Image:
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(volume.array, (2, 1, 0))))
    geometry = volume.geometry
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    return image


def from_sitk(image: sitk.Image, path: str | Path = "<memory>") -> Volume:
    if image.GetDimension() != 3:
        raise InputError(path, f"expected a 3D image, got {image.GetDimension()}D (size {image.GetSize()})")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(path, f"expected a scalar image, got {image.GetNumberOfComponentsPerPixel()} components")
    array = np.transpose(sitk.GetArrayFromImage(image), (2, 1, 0))
    return Volume(array, geometry_from_sitk(image))


# A slice may sit this share of the slice gap off the line through the others' centres (header rounding).
SIDEWAYS_TOLERANCE = 0.02


SliceGeometry = tuple[np.ndarray, set[tuple[float, ...]]]  # positions (n x 3 mm), every orientation given


def _series_headers(files) -> tuple[SliceGeometry | None, set[tuple[str, str]]]:
    """One pass over a series' slice headers: each slice's position and every orientation (row and column
    cosines), or None when a slice does not say; and every (RescaleSlope, RescaleIntercept) ("" where none)."""
    reader = sitk.ImageFileReader()
    positions, orientations, rescales, located = [], set(), set(), True
    for name in files:
        reader.SetFileName(str(name))
        reader.ReadImageInformation()

        def tag(key: str) -> str:
            return reader.GetMetaData(key).strip() if reader.HasMetaDataKey(key) else ""

        position, orientation = tag("0020|0032"), tag("0020|0037")
        if position and orientation:
            positions.append([float(v) for v in position.split("\\")])
            orientations.add(tuple(round(float(v), 4) for v in orientation.split("\\")))
        else:
            located = False
        rescales.add((tag("0028|1053"), tag("0028|1052")))
    return ((np.asarray(positions, dtype=np.float64), orientations) if located else None), rescales


def _is_dicom_file(path: Path) -> bool:
    """By the "DICM" mark after the 128-byte preamble, whatever the file is called."""
    with path.open("rb") as stream:
        return stream.read(132)[128:132] == b"DICM"


def _frame_geometry(path) -> SliceGeometry | None:
    """Each frame's position and every orientation of a multi-frame (enhanced) DICOM file, from its per-frame
    functional groups, or None when it is not one (or does not say)."""
    import pydicom  # DICOM headers only: deferred

    try:
        dataset = pydicom.dcmread(str(path), stop_before_pixels=True)
    except (pydicom.errors.InvalidDicomError, OSError, ValueError, AttributeError, KeyError):
        return None  # not DICOM, or unreadable: the image reader says what is wrong
    frames = dataset.get("PerFrameFunctionalGroupsSequence")
    if int(dataset.get("NumberOfFrames", 1) or 1) < 3 or not frames:
        return None
    shared = dataset.get("SharedFunctionalGroupsSequence")
    shared_orientation = shared[0].get("PlaneOrientationSequence") if shared else None
    positions, orientations = [], set()
    for frame in frames:
        plane = frame.get("PlanePositionSequence")
        orientation = frame.get("PlaneOrientationSequence") or shared_orientation
        if not plane or not orientation:
            return None
        positions.append([float(v) for v in plane[0].ImagePositionPatient])
        orientations.add(tuple(round(float(v), 4) for v in orientation[0].ImageOrientationPatient))
    return np.asarray(positions, dtype=np.float64), orientations


def _stack_problem(found: SliceGeometry | None) -> str | None:
    """Why a DICOM series (or a multi-frame file's frames) is not one uniform stack (a missing slice, two slices
    at one place, slices of several orientations, a stack sheared sideways as by a gantry tilt), or None; None
    too when the headers do not say or there are fewer than 3 slices."""
    if found is None or len(found[0]) < 3:
        return None
    points, orientations = found
    if len(orientations) > 1:
        return f"slices of {len(orientations)} different orientations in one series: not one stack"
    cosines = np.asarray(next(iter(orientations)))
    normal = np.cross(cosines[:3], cosines[3:])
    normal /= np.linalg.norm(normal)
    along = points @ normal
    order = np.argsort(along)
    ordered = along[order]
    gaps = np.diff(ordered)
    typical = float(np.median(gaps))
    if gaps.min() <= 1e-3 * max(typical, 1.0):
        k = int(np.argmin(gaps))
        return f"two slices at the same position ({ordered[k]:.4g} mm): more than one acquisition in the series?"
    deviation = np.abs(gaps - typical)
    if deviation.max() > SLICE_GAP_TOLERANCE * typical:
        k = int(np.argmax(deviation))
        return (
            f"non-uniform slice spacing: slices at {ordered[k]:.4g} and {ordered[k + 1]:.4g} mm are "
            f"{gaps[k]:.3g} mm apart, the others {typical:.3g} mm (a missing slice?)"
        )
    steps = np.diff(points[order], axis=0)
    sideways = np.linalg.norm(steps - np.outer(steps @ normal, normal), axis=1)
    if sideways.max() > SIDEWAYS_TOLERANCE * typical:
        return (
            f"slices shift {sideways.max():.3g} mm sideways from one to the next ({typical:.3g} mm apart): a tilted "
            "or sheared stack, which would be read distorted; resample it to a regular grid first"
        )
    return None


def dicom_series_files(path: str | Path) -> list[str]:
    """The files of the one DICOM series in a folder, in the slice order the volume is read in."""
    path = Path(path)
    series = dicom_series_ids(path)
    if not series:
        raise InputError(path, "folder holds no DICOM series")
    if len(series) > 1:  # say which, by their files: a scout or a second phase kept beside the scan is common
        counts = [len(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path), uid)) for uid in series]
        listed = ", ".join(f"{uid} ({n} file{'s' if n != 1 else ''})" for uid, n in zip(series, counts, strict=True))
        raise InputError(
            path, f"folder holds {len(series)} DICOM series: {listed}; move the scan's files into a folder of their own"
        )
    return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path), series[0]))


def _read_sitk(path: Path) -> sitk.Image:
    if not path.is_dir():
        if _is_dicom_file(path):  # one multi-frame file: its frames form the stack
            _refuse_if_not_a_stack(path, _frame_geometry(path))
        return sitk.ReadImage(str(path))
    files = dicom_series_files(path)
    try:
        found, rescales = _series_headers(files)
    except (RuntimeError, ValueError):  # unreadable headers: the series reader reports them
        found, rescales = None, set()
    _refuse_if_not_a_stack(path, _frame_geometry(files[0]) if len(files) == 1 else found)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    if len(rescales) > 1:  # the first slice's pixel type would truncate or wrap the others' values
        reader.SetOutputPixelType(sitk.sitkFloat32)
    return reader.Execute()


def _refuse_if_not_a_stack(path: Path, found: SliceGeometry | None) -> None:
    problem = _stack_problem(found)
    if problem is not None:
        raise InputError(path, problem)


def _reader_problem(message: str, path: Path) -> str:
    """ITK's reason in a few words: without the path it repeats (which cut long paths off mid-way)."""
    if "Unable to determine ImageIO reader" in message:
        return "not an image format SimpleITK reads; use NIfTI, NRRD, MHA/MHD or a DICOM series folder"
    lines = [line.strip() for line in message.strip().splitlines()]
    detail = next((line for line in lines if "rror" in line), "")
    for text in (f'"{path}"', str(path), f'"{path.resolve()}"', str(path.resolve())):
        detail = detail.replace(text, "the file")
    detail = detail.split("sitk::ERROR:")[-1].strip()
    detail = re.sub(r"\(0x[0-9a-fA-F]+\)", "", detail)  # ITK's object address: noise to a reader
    if len(detail) > 160:
        detail = detail[:160].rsplit(" ", 1)[0] + " …"
    return detail or "SimpleITK could not read it"


def read_volume(path: str | Path, *, check_finite: bool = True) -> Volume:
    """Read a NIfTI / NRRD / MHA / MHD file or a DICOM series folder as a 3D `Volume`.

    Raises `InputError` (with the path) when the file is missing, unreadable, not 3D, or holds NaN/Inf.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(path, "file is empty")
    problem = nifti_problem(path, check_finite)
    if problem is not None:
        raise InputError(path, problem)
    try:
        image = _read_sitk(path)
    except InputError:
        raise
    except RuntimeError as error:
        raise InputError(path, f"unreadable image ({_reader_problem(str(error), path)})") from None
    # 4D images with a singleton last axis are common exports; accept them as 3D.
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
    volume = from_sitk(image, path)
    if check_finite and np.issubdtype(volume.array.dtype, np.floating) and not np.isfinite(volume.array).all():
        raise InputError(path, "holds NaN or Inf values")
    return volume


def write_volume(volume: Volume, path: str | Path, *, label: bool = False, compress: bool = True) -> Path:
    """Write atomically with the volume's exact geometry; labels are stored as uint8."""
    path = Path(path)
    array = volume.array
    if label:
        array = array.astype(np.uint8, copy=False)
    elif array.dtype == np.float64:
        array = array.astype(np.float32)
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8)
    image = to_sitk(Volume(array, volume.geometry))
    if path.name.lower().endswith(DETACHED_HEADERS):
        _write_detached(image, path, compress)
        return path
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), compress)
    return path


# Formats whose header names a separate data file (.raw/.zraw, .img, .raw.gz) by the name it was written under.
DETACHED_HEADERS = (".mhd", ".hdr", ".nhdr")


def _write_detached(image: sitk.Image, path: Path, compress: bool) -> None:
    """A header and its data file, written under their final names in a temporary folder beside `path`, then
    moved in data first and header last: a temporary name would end up inside the header (or, for .hdr/.img,
    leave the header without its image), and a reader never sees a header before its data."""
    import shutil
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp", dir=path.parent))
    try:
        sitk.WriteImage(image, str(folder / path.name), compress)
        for written in sorted(folder.iterdir(), key=lambda file: file.name == path.name):
            os.replace(written, path.parent / written.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
