"""Tiny on-disk datasets of every layout, built from analytic spheres, for the data-stage tests."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import SimpleITK as sitk

from atrialjsq.io import Geometry, Volume, write_volume
from shapes import sphere_mask

SHAPE = (24, 22, 12)
SPACING = (1.25, 1.25, 2.5)
ORIGIN = (-10.0, 5.0, 20.0)


def sphere_case_arrays(seed: int = 0, radius_mm: float = 8.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image float32, LA {0,1}, scar {0,1}): a bright ball with a scar cap on its +x side."""
    la = sphere_mask(SHAPE, radius_mm=radius_mm, spacing=SPACING)
    rng = np.random.default_rng(seed)
    image = (la * 200.0 + rng.normal(50.0, 5.0, SHAPE)).astype(np.float32)
    shell = sphere_mask(SHAPE, radius_mm=radius_mm + 2.5, spacing=SPACING) & ~la.astype(bool)
    scar = np.zeros(SHAPE, np.uint8)
    scar[SHAPE[0] // 2 + 3 :] = shell[SHAPE[0] // 2 + 3 :]
    return image, la, scar


IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def write(
    array: np.ndarray, path: Path, *, label: bool = False, spacing=SPACING, origin=ORIGIN, direction=IDENTITY
) -> Path:
    return write_volume(Volume(array, Geometry(array.shape, spacing, origin, direction)), path, label=label)


def write_lascarqs(root: Path, case_id: str, task: int = 1, seed: int = 0, la_value: int = 1) -> Path:
    image, la, scar = sphere_case_arrays(seed)
    folder = root / case_id
    write(image, folder / "enhanced.nii.gz")
    write(la.astype(np.int16) * la_value, folder / "atriumSegImgMO.nii.gz", label=la_value < 256)
    if task == 1:
        write(scar, folder / "scarSegImgM.nii.gz", label=True)
    return folder


def write_lasc2018(root: Path, case_id: str, seed: int = 0, la_value: int = 255, direction=IDENTITY) -> Path:
    image, la, _ = sphere_case_arrays(seed)
    folder = root / case_id
    write(image.astype(np.uint8), folder / "lgemri.nrrd", direction=direction)
    write(la * la_value, folder / "laendo.nrrd", label=True, direction=direction)
    return folder


def write_h5(root: Path, case_id: str, seed: int = 0) -> Path:
    image, la, _ = sphere_case_arrays(seed)
    folder = root / "cases" / case_id
    folder.mkdir(parents=True)
    with h5py.File(folder / "mri_norm2.h5", "w") as handle:
        handle["image"] = image
        handle["label"] = la
    return folder


def write_images_tr(root: Path, case_id: str, seed: int = 0, with_scar: bool = True) -> None:
    image, la, scar = sphere_case_arrays(seed)
    label = la.copy()
    if with_scar:
        label[scar > 0] = 2
    write(image, root / "imagesTr" / f"{case_id}_0000.nii.gz")
    write(label, root / "labelsTr" / f"{case_id}.nii.gz", label=True)


def write_2d_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((20, 20), np.float32)), str(path))
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.fixture
def lasc2018_set(tmp_path: Path) -> Path:
    root = tmp_path / "lasc"
    for number in range(3):
        write_lasc2018(root, f"case{number}", seed=number)
    return root
