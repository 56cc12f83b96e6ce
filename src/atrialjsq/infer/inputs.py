"""What `predict` runs on: image files, DICOM series folders and whole dataset folders, as one list of cases.

Under torchrun (WORLD_SIZE > 1) each process takes every WORLD_SIZE-th case starting at its RANK, so the
processes split the list without talking to each other and every case is predicted exactly once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from atrialjsq.errors import InputError
from atrialjsq.io.image_io import IMAGE_SUFFIXES, is_dicom_dir, read_volume
from atrialjsq.io.volume import Volume


@dataclass(frozen=True)
class InputCase:
    """One image to predict: its output name, the path to report in errors, and a dataset reference if any."""

    case_id: str
    path: Path
    ref: object | None = None  # atrialjsq.data.layouts.CaseRef for cases found in a dataset folder

    def read(self) -> Volume:
        """The image as a Volume; InputError (naming the file) when it is missing, not 3D, or not finite."""
        if self.ref is None:
            return read_volume(self.path)
        from atrialjsq.data.layouts import read_image

        return read_image(self.ref)


# Image names that a dataset layout gives every case (LAScarQS `enhanced`, LASC 2018 `lgemri`): the case is
# then named by its folder, so `predict case01/enhanced.nii.gz` writes `<out>/case01/`.
GENERIC_IMAGE_STEMS = ("enhanced", "lgemri", "image", "img")


def case_id_from_path(path: str | Path) -> str:
    """File name without its image extension (`a.nii.gz` → `a`), the folder name when the file has a layout's
    generic name (`case01/enhanced.nii.gz` → `case01`), or the folder name for a DICOM series."""
    path = Path(path)
    name = path.name
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            stem = name[: -len(suffix)]
            if stem.lower() in GENERIC_IMAGE_STEMS and path.resolve().parent.name:
                return path.resolve().parent.name
            return stem
    return name


def collect_inputs(paths: list[str | Path]) -> tuple[list[InputCase], list[InputError]]:
    """Expand command-line inputs into cases; problems found now (unknown folders, clashing names) become errors.

    Missing files are kept as cases so that reading them reports the usual `no such file` error in order.
    """
    cases: list[InputCase] = []
    errors: list[InputError] = []
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir() and not is_dicom_dir(path):
                from atrialjsq.data.layouts import index_dataset

                refs = index_dataset(path)
                if not refs:
                    raise InputError(path, "folder holds neither a DICOM series nor a known dataset layout")
                cases.extend(InputCase(ref.case_id, Path(ref.image_path), ref) for ref in refs)
            else:
                cases.append(InputCase(case_id_from_path(path), path))
        except InputError as error:
            errors.append(error)
    seen: dict[str, Path] = {}
    unique: list[InputCase] = []
    for case in cases:
        if case.case_id in seen:
            errors.append(InputError(case.path, f"case id {case.case_id!r} already used by {seen[case.case_id]}"))
            continue
        seen[case.case_id] = case.path
        unique.append(case)
    return unique, errors


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
