"""Read and write 3D medical images with SimpleITK, keeping spacing, origin and direction.

Every reader failure becomes an `InputError` naming the file, so the CLI can print one line and exit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from atrialjsq.errors import InputError
from atrialjsq.io.atomic import atomic_path
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.nifti_check import nifti_problem
from atrialjsq.io.volume import Volume

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


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


def _read_sitk(path: Path) -> sitk.Image:
    if path.is_dir():
        series = dicom_series_ids(path)
        if not series:
            raise InputError(path, "folder holds no DICOM series")
        if len(series) > 1:
            raise InputError(path, f"folder holds {len(series)} DICOM series; point to one series folder")
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path), series[0]))
        return reader.Execute()
    return sitk.ReadImage(str(path))


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
        first = str(error).strip().splitlines()
        detail = next((line.strip() for line in first if "ERROR" in line or "rror" in line), "")
        raise InputError(path, f"unreadable image ({detail[:120] or 'SimpleITK could not read it'})") from None
    # 4D images with a singleton last axis are common exports; accept them as 3D.
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
    volume = from_sitk(image, path)
    if check_finite and np.issubdtype(volume.array.dtype, np.floating) and not np.isfinite(volume.array).all():
        raise InputError(path, "image contains NaN or Inf values")
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
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), compress)
    return path
