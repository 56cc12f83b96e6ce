"""What `predict` runs on: image files, DICOM series folders and whole dataset folders, as one list of cases.

A folder is a DICOM series, a dataset of a known layout, or a flat folder of image files (one case per file,
e.g. nnU-Net's `imagesTs/`). nnU-Net's channel suffix is dropped from case ids (`la_003_0000.nii.gz` →
`la_003`) so that predictions match the `labelsTr/la_003.nii.gz` names `evaluate` pairs them with. An HDF5
file of the LASC 2018 release (`mri_norm2.h5`) is read with the layout's `--h5-spacing`.

Under torchrun (WORLD_SIZE > 1) each process takes every WORLD_SIZE-th case starting at its RANK, so the
processes split the list without talking to each other and every case is predicted exactly once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from atrialjsq.errors import InputError
from atrialjsq.io.geometry import triple
from atrialjsq.io.image_io import IMAGE_SUFFIXES, is_dicom_dir, is_image_file, read_volume
from atrialjsq.io.volume import Volume

if TYPE_CHECKING:  # layouts is imported where a dataset folder is read, not when this module loads
    from atrialjsq.data.layouts import CaseRef


@dataclass(frozen=True)
class InputCase:
    """One image to predict: its output name, the path to report in errors, and a dataset reference if any."""

    case_id: str
    path: Path
    ref: CaseRef | None = None  # for cases found in a dataset folder
    assumed: tuple[str, ...] = ()  # what was assumed about the input (report.json inputs.assumed)

    def read(self) -> Volume:
        """The image as a Volume; InputError (naming the file) when it is missing, not 3D, or not finite."""
        if self.ref is None:
            return read_volume(self.path)
        from atrialjsq.data.layouts import read_image  # loads SimpleITK: deferred (tests/test_import_graph.py)

        return read_image(self.ref)


# Image names that a dataset layout gives every case (LAScarQS `enhanced`, LASC 2018 `lgemri`): the case is
# then named by its folder, so `predict case01/enhanced.nii.gz` writes `<out>/case01/`.
GENERIC_IMAGE_STEMS = ("enhanced", "lgemri", "image", "img", "mri_norm2", "lge", "mri", "scan")
NNUNET_CHANNEL = "_0000"  # nnU-Net's suffix of the first (here: only) input channel
H5_SUFFIX = ".h5"


def case_id_from_path(path: str | Path) -> str:
    """File name without its image extension (`a.nii.gz` → `a`), the folder name when the file has a layout's
    generic name (`case01/enhanced.nii.gz` → `case01`), or the folder name for a DICOM series."""
    path = Path(path)
    name = path.name
    for suffix in (*IMAGE_SUFFIXES, H5_SUFFIX):
        if name.lower().endswith(suffix):
            stem = name[: -len(suffix)]
            if stem.lower() in GENERIC_IMAGE_STEMS and path.resolve().parent.name:
                return path.resolve().parent.name
            if stem.endswith(NNUNET_CHANNEL) and len(stem) > len(NNUNET_CHANNEL):
                return stem[: -len(NNUNET_CHANNEL)]
            return stem
    return name


def _file_case(path: Path, h5_spacing) -> InputCase:
    """One image file (or LASC 2018 HDF5 file) as a case."""
    if path.name.lower().endswith(H5_SUFFIX):
        from atrialjsq.data.layouts import (  # loads SimpleITK: deferred (tests/test_import_graph.py)
            DEFAULT_H5_SPACING,
            CaseRef,
        )

        spacing = triple(float(s) for s in (h5_spacing or DEFAULT_H5_SPACING))
        ref = CaseRef(case_id_from_path(path), "lasc2018-h5", path, {}, spacing)
        return InputCase(ref.case_id, path, ref, _h5_notes(h5_spacing))
    return InputCase(case_id_from_path(path), path)


def _h5_notes(h5_spacing) -> tuple[str, ...]:
    """An HDF5 file stores no voxel spacing: record which one was assumed unless the user gave it (the LASC 2018
    release's documented spacing, so not a warning on every case of it, but written down)."""
    if h5_spacing is not None:
        return ()
    from atrialjsq.data.layouts import DEFAULT_H5_SPACING  # loads SimpleITK: deferred (tests/test_import_graph.py)

    shown = " x ".join(f"{s:g}" for s in DEFAULT_H5_SPACING)
    return (f"voxel spacing {shown} mm (LASC 2018's; the HDF5 file stores none; --h5-spacing to change it)",)


# Files that hold labels, not scans: a case folder's `label.nii.gz` beside its `image.nii.gz`, the layouts' label
# names, and this package's own outputs. A name made of these words (split at _ - . and spaces) is never an input.
LABEL_WORDS = frozenset(
    {"label", "labels", "seg", "segmentation", "mask", "masks", "gt", "groundtruth", "annotation", "annotations"}
)
LABEL_STEMS = frozenset(
    {"laendo", "lawall", "scarsegimgm", "atriumsegimgmo", "la_predict", "scar_predict", "prob_la", "prob_normal"}
    | {"prob_scar"}
)
# Folder names that say nothing about the case (`<patient>/series/`): the case is named by the folder above.
GENERIC_FOLDER_NAMES = frozenset(
    {"series", "dicom", "dcm", "images", "image", "enhanced", "lge", "lgemri", "mri", "data", "scan", "scans"}
)


def image_stem(path: Path) -> str:
    name = path.name
    for suffix in (*IMAGE_SUFFIXES, H5_SUFFIX):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_label_name(path: Path) -> bool:
    """Whether a file's name marks it as a label or mask (`label.nii.gz`, `p01_seg.nrrd`, `laendo.nrrd`)."""
    stem = image_stem(path).lower()
    return stem in LABEL_STEMS or bool(LABEL_WORDS & set(re.split(r"[_\-. ]+", stem)))


def _flat_images(folder: Path) -> list[Path]:
    """Image files directly in a folder (a flat folder of scans, or nnU-Net's imagesTs/), sorted by name; files
    named as labels or masks are left out."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and is_image_file(p) and not p.name.startswith(".") and not is_label_name(p)
    )


def dicom_case_id(folder: Path) -> str:
    """A DICOM series folder's case id: its name, or the folder above when the name is generic (`p07/series`
    → `p07`; `p07/3` → `p07_3`, a numbered series)."""
    folder = folder.resolve()
    name, parent = folder.name, folder.parent.name
    if name.lower() in GENERIC_FOLDER_NAMES and parent:
        return parent
    if name.isdigit() and parent:
        return f"{parent}_{name}"
    return name


def _dicom_children(folder: Path) -> list[Path]:
    """DICOM series folders directly below `folder` (a case folder holding `series/` and a label)."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and is_dicom_dir(p))


def _folder_cases(path: Path, layout: str, h5_spacing) -> list[InputCase]:
    """The cases of a non-DICOM folder: a known dataset layout first, else its image files."""
    from atrialjsq.data.layouts import index_dataset  # loads SimpleITK: deferred (tests/test_import_graph.py)

    try:
        refs = index_dataset(path, layout, h5_spacing)
    except InputError:
        images = _flat_images(path) if layout == "auto" else []
        if not images and (path / "imagesTs").is_dir() and layout == "auto":
            images = _flat_images(path / "imagesTs")
        series = _dicom_children(path) if layout == "auto" else []
        if not images and not series:
            raise
        return [_file_case(image, h5_spacing) for image in images] + [
            InputCase(dicom_case_id(folder), folder) for folder in series
        ]
    if not refs:
        raise InputError(path, "folder holds neither a DICOM series nor a known dataset layout")
    return [
        InputCase(ref.case_id, Path(ref.image_path), ref, _h5_notes(h5_spacing) if ref.layout == "lasc2018-h5" else ())
        for ref in refs
    ]


def collect_inputs(
    paths: list[str | Path], layout: str = "auto", h5_spacing=None
) -> tuple[list[InputCase], list[InputError]]:
    """Expand command-line inputs into cases; problems found now (unknown folders, clashing names) become errors.

    `layout` and `h5_spacing` are those of `atrialjsq.data.layouts.index_dataset`, for dataset folders.
    Missing files are kept as cases so that reading them reports the usual `no such file` error in order.
    """
    cases: list[InputCase] = []
    errors: list[InputError] = []
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir() and not is_dicom_dir(path):
                cases.extend(_folder_cases(path, layout, h5_spacing))
            elif path.is_dir():
                cases.append(InputCase(dicom_case_id(path), path))
            else:
                cases.append(_file_case(path, h5_spacing))
        except InputError as error:
            errors.append(error)
    seen: dict[str, Path] = {}
    unique: list[InputCase] = []
    for case in cases:
        if not usable_case_id(case.case_id):  # e.g. a file named `.nii.gz`: its folder would be the output folder
            errors.append(InputError(case.path, f"case id {case.case_id!r} from its name is not a usable folder name"))
            continue
        if case.case_id in seen:
            errors.append(InputError(case.path, f"case id {case.case_id!r} already used by {seen[case.case_id]}"))
            continue
        seen[case.case_id] = case.path
        unique.append(case)
    return unique, errors


def usable_case_id(case_id: str) -> bool:
    """Whether a case id names a folder inside the output folder (not empty, not `.`/`..`, no separator)."""
    return bool(case_id) and not any(c in case_id for c in "/\\") and case_id not in (".", "..")


def named(cases: list[InputCase], case_id: str | None) -> list[InputCase]:
    """The cases with `--case-id` applied: it names the one case of a single-case run."""
    if case_id is None:
        return cases
    if len(cases) != 1:
        raise InputError(None, f"--case-id names a single case; the inputs hold {len(cases)}")
    if not usable_case_id(case_id):
        raise InputError(None, f"--case-id {case_id!r} is not a usable folder name")
    return [replace(cases[0], case_id=case_id)]


def part(cases: list[InputCase], num_parts: int, part_id: int) -> list[InputCase]:
    """Part `part_id` of `num_parts` of the cohort (nnU-Net's `-num_parts/-part_id`): the cases sorted by id,
    every `num_parts`-th from `part_id`, so N jobs of an array cover each case exactly once without talking."""
    if num_parts < 1 or not 0 <= part_id < num_parts:
        raise InputError(None, f"--part-id must be within 0..{num_parts - 1} for --num-parts {num_parts}")
    if num_parts == 1:
        return cases  # the whole cohort, in the order given
    return sorted(cases, key=lambda case: case.case_id)[part_id::num_parts]


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when not launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world < 1 or not 0 <= rank < world:
        raise InputError(None, f"invalid torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return rank, world


def shard(items: list, rank: int, world: int) -> list:
    """Every `world`-th item from `rank`: disjoint shards that together hold each item exactly once."""
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not in [0, {world})")
    return items[rank::world]
