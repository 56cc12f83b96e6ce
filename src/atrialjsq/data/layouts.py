"""Dataset layouts: find the cases under a folder and load each one as a `Case` with binary labels.

Supported layouts (detected from the files present, or named explicitly):

- ``lascarqs1``   LAScarQS 2022 task 1: ``<case>/enhanced.nii.gz``, ``atriumSegImgMO.nii.gz`` (LA) and
  ``scarSegImgM.nii.gz`` (scar). Each label file holds one structure: any non-zero integer value is
  foreground (negative or non-integer values are rejected); values other than {0, 1} or {0, 255} (e.g.
  {0, 3, 7}, a multi-label map under a one-structure name) raise a `LabelValueWarning`, which check-data
  reports.
- ``lascarqs2``   LAScarQS 2022 task 2: the same without the scar file.
- ``lasc2018``    LASC 2018: ``<case>/lgemri.nrrd`` and ``laendo.nrrd`` with values {0, 255} (255 = LA) or {0, 1}.
- ``lasc2018-h5`` the UA-MT HDF5 release: ``[cases/]<case>/mri_norm2.h5`` holding datasets ``image`` (float)
  and ``label`` ({0, 1}, 1 = LA). No geometry is stored: spacing is a parameter (default 0.625×0.625×1.25 mm,
  see the data's README), origin 0, identity direction.
- ``imagesTr``    nnU-Net style: ``imagesTr/<id>_0000.nii.gz`` and ``labelsTr/<id>.nii.gz`` with values
  {0, 1, 2}: 1 = LA, 2 = scar. Scar voxels count as LA too (a one-label map must give each voxel one class,
  and scar drawn over the LA must not punch holes in it); a case has a scar label only if value 2 occurs.
- ``imagesTs``    the same for nnU-Net's test split: ``imagesTs/`` and ``labelsTs/``.
- ``image-label`` the plainest export: ``<case>/image.<ext>`` and ``label.<ext>`` (NIfTI, NRRD or MHA), the
  label coded as ``imagesTr`` (1 = LA, 2 = scar, or {0, 255} for an LA-only mask).

Labels are put on the image's grid: a label whose geometry differs from its image beyond a small tolerance
is an `InputError` naming the label file; within tolerance it takes the image's geometry exactly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from atrialjsq.data.case import Case
from atrialjsq.errors import InputError
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.image_io import read_volume
from atrialjsq.io.volume import Volume

LAYOUTS = ("lascarqs1", "lascarqs2", "lasc2018", "lasc2018-h5", "imagesTr", "imagesTs", "image-label")
PLAIN_EXTENSIONS = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
DEFAULT_H5_SPACING = (0.625, 0.625, 1.25)
GEOMETRY_TOLERANCE = 1e-3

# Folder layouts: (image file name, {label name: file name}).
_FOLDER_FILES: dict[str, tuple[str, dict[str, str]]] = {
    "lascarqs1": ("enhanced.nii.gz", {"la": "atriumSegImgMO.nii.gz", "scar": "scarSegImgM.nii.gz"}),
    "lascarqs2": ("enhanced.nii.gz", {"la": "atriumSegImgMO.nii.gz"}),
    "lasc2018": ("lgemri.nrrd", {"la": "laendo.nrrd"}),
    "lasc2018-h5": ("mri_norm2.h5", {"la": "mri_norm2.h5"}),
}
_NNUNET_SUFFIX = "_0000.nii.gz"
BINARY_MASK_VALUES = ({0, 1}, {0, 255})  # a one-structure mask, as written by most tools


class LabelValueWarning(UserWarning):
    """A label file readable by its layout's rule but holding values the layout does not use."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class CaseRef:
    """Where one case lives. `label_paths` lists the expected label files (they may be missing on disk);
    `spacing` is only used by layouts that store no geometry (``lasc2018-h5``)."""

    case_id: str
    layout: str
    image_path: Path
    label_paths: dict[str, Path] = field(default_factory=dict)
    spacing: tuple[float, float, float] | None = None

    def label_files(self) -> dict[Path, list[str]]:
        """Each distinct label file with the label names read from it."""
        files: dict[Path, list[str]] = {}
        for name, path in self.label_paths.items():
            files.setdefault(path, []).append(name)
        return files


# ---------------------------------------------------------------------------------------------- indexing


def folder_layout(folder: Path) -> str | None:
    """The layout of a single case folder, judged by the file names it holds, or None."""
    if (folder / "enhanced.nii.gz").exists() or (folder / "atriumSegImgMO.nii.gz").exists():
        return "lascarqs1" if (folder / "scarSegImgM.nii.gz").exists() else "lascarqs2"
    if (folder / "lgemri.nrrd").exists() or (folder / "laendo.nrrd").exists():
        return "lasc2018"
    if (folder / "mri_norm2.h5").exists():
        return "lasc2018-h5"
    if _plain_file(folder, "image") is not None:
        return "image-label"
    return None


def _plain_file(folder: Path, stem: str) -> Path | None:
    """`<folder>/<stem>.<ext>` for the first image extension that exists."""
    for extension in PLAIN_EXTENSIONS:
        if (folder / f"{stem}{extension}").is_file():
            return folder / f"{stem}{extension}"
    return None


def _family(layout: str) -> str:
    return "lascarqs" if layout.startswith("lascarqs") else layout


def _folder_ref(folder: Path, layout: str, spacing) -> CaseRef:
    if layout == "image-label":
        image = _plain_file(folder, "image") or folder / "image.nii.gz"
        label = _plain_file(folder, "label") or folder / "label.nii.gz"
        return CaseRef(folder.name, layout, image, {"la": label})
    image_name, label_names = _FOLDER_FILES[layout]
    if layout == "lasc2018-h5":
        spacing = tuple(float(s) for s in (spacing or DEFAULT_H5_SPACING))
    else:
        spacing = None
    return CaseRef(
        case_id=folder.name,
        layout=layout,
        image_path=folder / image_name,
        label_paths={name: folder / file for name, file in label_names.items()},
        spacing=spacing,
    )


def _index_images_tr(root: Path, split: str = "Tr") -> list[CaseRef]:
    """nnU-Net's `images<split>/` and `labels<split>/` (split "Tr" or "Ts")."""
    folder = root / f"images{split}"
    images = sorted(p for p in folder.iterdir() if p.name.endswith(_NNUNET_SUFFIX))
    refs = []
    for image in images:
        case_id = image.name[: -len(_NNUNET_SUFFIX)]
        refs.append(CaseRef(case_id, f"images{split}", image, {"la": root / f"labels{split}" / f"{case_id}.nii.gz"}))
    if not refs:
        raise InputError(folder, f"no images named <id>{_NNUNET_SUFFIX}")
    return refs


def _case_folders(root: Path) -> list[Path]:
    parent = root / "cases" if (root / "cases").is_dir() else root
    return sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))


def index_dataset(root: str | Path, layout: str = "auto", spacing=None) -> list[CaseRef]:
    """List the cases under `root` (a dataset folder or a single case folder), sorted by id.

    `layout` is "auto" or one of LAYOUTS; `spacing` (x, y, z mm) applies to ``lasc2018-h5`` only.
    Raises `InputError` when the folder is missing or no known layout matches.
    """
    root = Path(root)
    if layout != "auto" and layout not in LAYOUTS:
        raise InputError(root, f"unknown layout {layout!r} (choose from auto, {', '.join(LAYOUTS)})")
    if not root.exists():
        raise InputError(root, "no such folder")
    if not root.is_dir():
        raise InputError(root, "expected a dataset folder or a case folder, got a file")

    for split in ("Tr", "Ts"):
        nnunet = f"images{split}"
        # imagesTs/ alone is a folder of scans to predict; with labelsTs/ beside it, a test set with references.
        found = (root / nnunet).is_dir() and (split == "Tr" or (root / f"labels{split}").is_dir())
        if layout == nnunet or (layout == "auto" and found):
            if not (root / nnunet).is_dir():
                raise InputError(root, f"layout {nnunet} needs an {nnunet}/ folder")
            return _index_images_tr(root, split)

    own = folder_layout(root)
    folders = [root] if own is not None else _case_folders(root)
    per_folder = {folder: folder_layout(folder) for folder in folders}
    detected = {folder: found for folder, found in per_folder.items() if found is not None}
    for folder in folders:  # a case whose image went missing is said, not silently dropped
        label = _plain_file(folder, "label") if per_folder[folder] is None else None
        if label is not None:
            warnings.warn(f"{folder}: holds {label.name} but no image.<ext>: left out", RuntimeWarning, stacklevel=2)

    if layout == "auto":
        families = sorted({_family(found) for found in detected.values()})
        if not families:
            raise InputError(
                root,
                "no known dataset layout found (expected case folders with enhanced.nii.gz, lgemri.nrrd, "
                "mri_norm2.h5 or image.nii.gz + label.nii.gz, or imagesTr/ + labelsTr/)",
            )
        if len(families) > 1:
            raise InputError(root, f"case folders of several layouts ({', '.join(families)}); name one with --layout")
        if families[0] == "lascarqs":
            # Each case as its folder holds it: scar-labelled where scarSegImgM is present, LA-only elsewhere (a
            # set where only some cases have scar labels trains the scar terms on those). `--layout lascarqs1`
            # instead requires the scar file of every case and reports those lacking it.
            return sorted((_folder_ref(folder, found, spacing) for folder, found in detected.items()), key=_case_id)
        chosen = next(iter(detected.values()))
    else:
        chosen = layout
        detected = {folder: found for folder, found in detected.items() if _family(found) == _family(layout)}
        if not detected:
            raise InputError(root, f"no case folders of layout {layout}")
    return sorted((_folder_ref(folder, chosen, spacing) for folder in detected), key=_case_id)


def _case_id(ref: CaseRef) -> str:
    return ref.case_id


# ---------------------------------------------------------------------------------------------- reading


def _read_h5(path: Path) -> dict[str, np.ndarray]:

    if not path.exists():
        raise InputError(path, "no such file or folder")
    try:
        with h5py.File(path, "r") as handle:
            missing = [name for name in ("image", "label") if name not in handle]
            if missing:
                raise InputError(path, f"no {' or '.join(missing)} dataset (found: {', '.join(handle.keys())})")
            groups = [name for name in ("image", "label") if not isinstance(handle[name], h5py.Dataset)]
            if groups:
                raise InputError(path, f"{' and '.join(groups)} is a group, not a dataset")
            return {"image": handle["image"][()], "label": handle["label"][()]}
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise InputError(path, f"unreadable HDF5 file ({str(error).splitlines()[0][:120]})") from None


def _h5_geometry(ref: CaseRef, shape: tuple[int, ...]) -> Geometry:
    if len(shape) != 3:
        raise InputError(ref.image_path, f"expected a 3D image, got shape {shape}")
    return Geometry(shape, ref.spacing or DEFAULT_H5_SPACING)


def read_image(ref: CaseRef) -> Volume:
    """The case's image as a `Volume` (raises `InputError` naming the image file)."""
    if ref.layout == "lasc2018-h5":
        image = _read_h5(ref.image_path)["image"]
        geometry = _h5_geometry(ref, image.shape)
        if not np.issubdtype(image.dtype, np.number):
            raise InputError(ref.image_path, f"image dataset has non-numeric type {image.dtype}")
        if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
            raise InputError(ref.image_path, "image contains NaN or Inf values")
        return Volume(image, geometry)
    return read_volume(ref.image_path)


def label_values(array: np.ndarray, path: Path) -> np.ndarray:
    """The distinct values of a label array as integers; rejects NaN/Inf, fractions and negatives."""
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise InputError(path, "label contains NaN or Inf values")
        values = np.unique(array)
        if not np.array_equal(values, np.round(values)):
            raise InputError(path, "label holds non-integer values")
    elif np.issubdtype(array.dtype, np.integer):
        values = np.unique(array)
    else:
        raise InputError(path, f"label has non-numeric type {array.dtype}")
    if values.size and values[0] < 0:
        raise InputError(path, f"label holds negative values (min {values[0]})")
    return values.astype(np.int64)


def _check_values(values: np.ndarray, allowed_sets: list[set[int]], path: Path) -> None:
    found = {int(v) for v in values}
    if not any(found <= allowed for allowed in allowed_sets):
        expected = " or ".join(str(sorted(allowed)) for allowed in allowed_sets)
        raise InputError(path, f"unexpected label values {sorted(found)[:10]} (expected {expected})")


def _decode_labels(ref: CaseRef, names: list[str], array: np.ndarray, path: Path) -> dict[str, np.ndarray]:
    """Turn one label file's values into binary uint8 masks, following the layout's documented convention."""
    values = label_values(array, path)
    if ref.layout in ("lascarqs1", "lascarqs2"):
        found = {int(v) for v in values}
        if not any(found <= allowed for allowed in BINARY_MASK_VALUES):
            reason = (
                f"unexpected label values {sorted(found)[:10]} (expected [0, 1] or [0, 255]); all non-zero read as 1"
            )
            warnings.warn(LabelValueWarning(path, reason), stacklevel=2)
        return {name: (array != 0).astype(np.uint8) for name in names}
    if ref.layout == "lasc2018":
        _check_values(values, [{0, 255}, {0, 1}], path)
        return {"la": (array != 0).astype(np.uint8)}
    if ref.layout == "lasc2018-h5":
        _check_values(values, [{0, 1}], path)
        return {"la": (array != 0).astype(np.uint8)}
    if ref.layout == "image-label" and {int(v) for v in values} <= {0, 255}:
        return {"la": (array != 0).astype(np.uint8)}
    if ref.layout in ("imagesTr", "imagesTs", "image-label"):
        _check_values(values, [{0, 1, 2}], path)
        masks = {"la": (array != 0).astype(np.uint8)}
        if 2 in values:
            masks["scar"] = (array == 2).astype(np.uint8)
        return masks
    raise InputError(path, f"unknown layout {ref.layout!r}")


def read_label_file(ref: CaseRef, path: Path, image_geometry: Geometry | None) -> dict[str, Volume]:
    """Read one label file of `ref` as binary uint8 masks on the image's grid (raises `InputError` naming it).

    With `image_geometry` None (the image itself was unreadable) the file is still checked on its own.
    """
    names = ref.label_files()[path]
    if ref.layout == "lasc2018-h5":
        array = _read_h5(path)["label"]
        if image_geometry is None:
            geometry = _h5_geometry(ref, array.shape)
        elif array.shape != image_geometry.shape:
            raise InputError(path, f"label shape {array.shape} != image shape {image_geometry.shape}")
        else:
            geometry = image_geometry
    else:
        volume = read_volume(path)
        array = volume.array
        geometry = image_geometry or volume.geometry
        mismatch = geometry.mismatch(volume.geometry, GEOMETRY_TOLERANCE)
        if mismatch is not None:
            raise InputError(path, f"geometry differs from its image {ref.image_path.name}: {mismatch}")
    return {name: Volume(mask, geometry) for name, mask in _decode_labels(ref, names, array, path).items()}


def load_case(ref: CaseRef) -> Case:
    """Read a case: its image and every label as binary uint8 volumes on the image's grid."""
    image = read_image(ref)
    labels: dict[str, Volume] = {}
    for path in ref.label_files():
        labels.update(read_label_file(ref, path, image.geometry))
    meta: dict[str, Any] = {"layout": ref.layout, "source": str(ref.image_path)}
    if "la" in ref.label_paths:  # where a problem with the LA label is reported
        meta["la_source"] = str(ref.label_paths["la"])
    if ref.layout == "lasc2018-h5":
        meta["spacing_assumed"] = list(image.geometry.spacing)
    return Case(ref.case_id, image, labels, meta)
