"""Write phantoms in the LAScarQS 2022 task-1 layout, one folder per case, each folder all-or-nothing.

`<out>/phantom_0000/enhanced.nii.gz` (the LGE image, int16), `atriumSegImgMO.nii.gz` (LA blood pool, 1),
`scarSegImgM.nii.gz` (scar, 1) and `params.json` (everything that generated it); `<out>/phantoms.json`
lists the set. Case i of a set depends only on (seed, i), so a set can be extended or regenerated piecewise.

A new set folder appears only complete (it is built in a temporary sibling). Into an existing folder the
cases are written one by one; a case folder that exists is replaced only when asked (`overwrite`), and then
only the files this module writes are replaced: anything a user put into the folder stays.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from tqdm import tqdm

from atrialjsq.data.case import Case
from atrialjsq.errors import InputError
from atrialjsq.io import Volume, atomic_output, atomic_path, write_volume
from atrialjsq.io.atomic import write_json
from atrialjsq.io.image_io import to_sitk
from atrialjsq.phantom.generate import DEFAULT_SHAPE, DEFAULT_SPACING, generate_phantom

IMAGE_FILE = "enhanced.nii.gz"
LA_FILE = "atriumSegImgMO.nii.gz"
SCAR_FILE = "scarSegImgM.nii.gz"
PARAMS_FILE = "params.json"
CASE_FILES = frozenset({IMAGE_FILE, LA_FILE, SCAR_FILE, PARAMS_FILE})
MANIFEST_FILE = "phantoms.json"
MANIFEST_FORMAT = "atrialjsq-phantom-set-v1"
# zlib level 1: the noisy image barely compresses better at higher levels, and writes several times faster.
COMPRESSION_LEVEL = 1


def case_seed(seed: int, index: int) -> int:
    """The seed of case `index` of the set made with `seed` (independent of how many cases the set has)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint32)[0])


def write_image_int16(volume: Volume, path: Path) -> None:
    """LGE magnitudes as int16 (scanner-like integers, half the size of float32), written atomically."""
    array = np.clip(np.rint(volume.array), 0, np.iinfo(np.int16).max).astype(np.int16)
    image = to_sitk(Volume(array, volume.geometry))
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), True, COMPRESSION_LEVEL)


def write_case(case: Case, params: dict | None, folder: str | Path, *, int16_image: bool = True) -> Path:
    """Write one case (image, LA and scar labels, parameters) as a LAScarQS task-1 folder, atomically.

    `int16_image=False` keeps the image's own type (float images such as z-scored ones stay float32)."""
    folder = Path(folder)
    with atomic_output(folder, owned=CASE_FILES.__contains__) as tmp:
        if int16_image:
            write_image_int16(case.image, tmp / IMAGE_FILE)
        else:
            write_volume(case.image, tmp / IMAGE_FILE)
        write_volume(case.labels["la"], tmp / LA_FILE, label=True)
        if "scar" in case.labels:
            write_volume(case.labels["scar"], tmp / SCAR_FILE, label=True)
        if params is not None:
            (tmp / PARAMS_FILE).write_text(json.dumps(params, indent=1))
    return folder


def refuse_existing_cases(out: str | Path, case_ids: Sequence[str], overwrite: bool) -> None:
    """Before any work: refuse case folders that already exist in `out` unless `overwrite` (then only our own
    files in them are replaced)."""
    present = [case_id for case_id in case_ids if (Path(out) / case_id).exists()]
    if present and not overwrite:
        shown = ", ".join(present[:5]) + (f" and {len(present) - 5} more" if len(present) > 5 else "")
        raise InputError(
            out, f"already holds {len(present)} of these cases ({shown}); give --overwrite to replace them"
        )


@contextlib.contextmanager
def set_folder(out: str | Path) -> Iterator[Path]:
    """Where a set is written: a new `out` is built in a temporary sibling and renamed into place only when
    every case is written (refused, not replaced, if a folder of that name appeared meanwhile); an existing
    one is written into directly."""
    out = Path(out)
    if out.exists():
        yield out
    else:
        with atomic_output(out, replace=False) as tmp:
            yield tmp


@dataclass(frozen=True)
class SetManifest:
    """The JSON file listing a written set (phantoms.json, injected.json). `settings` must agree for a set to
    be extended; with overwrite, another set's manifest is replaced only when every case it lists is rewritten."""

    name: str
    format: str
    settings: tuple[str, ...]

    def merged(self, out: Path, manifest: dict[str, Any], rewriting: Sequence[str], overwrite: bool) -> dict[str, Any]:
        """`manifest` (this run's cases) joined with the cases `out`'s manifest already lists."""
        path = out / self.name
        if not path.is_file():
            return manifest
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise InputError(path, f"cannot read the set's manifest ({error})") from None
        if not isinstance(old, dict) or old.get("format") != self.format:
            raise InputError(path, f"is not a set manifest of this kind ({self.format}); choose another --out")
        listed = [case["id"] for case in old.get("cases", [])]
        differ = [key for key in self.settings if old.get(key) != manifest[key]]
        if differ and not (overwrite and set(listed) <= set(rewriting)):
            was = ", ".join(f"{key} {old.get(key)}" for key in differ)
            raise InputError(
                path,
                f"lists a set made with other settings ({was}); choose another --out (or rewrite every case it "
                "lists with --overwrite)",
            )
        if differ:
            return manifest
        cases = {case["id"]: case for case in old.get("cases", [])} | {case["id"]: case for case in manifest["cases"]}
        return {**manifest, "cases": [cases[case_id] for case_id in sorted(cases)]}


PHANTOM_MANIFEST = SetManifest(MANIFEST_FILE, MANIFEST_FORMAT, ("seed", "difficulty", "shape", "spacing"))
INJECTED_MANIFEST = SetManifest("injected.json", "atrialjsq-injected-set-v1", ("source", "seed"))


def write_phantom_set(
    n: int,
    out: str | Path,
    seed: int = 0,
    difficulty: str = "medium",
    shape=None,
    spacing=None,
    start: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    **kwargs,
) -> list[Path]:
    """Generate and write `n` phantoms `phantom_<start>` … into `out`; returns the case folders.

    `shape`/`spacing` default to the clinical geometry (576×576×44 at 0.625×0.625×2.5 mm); other keyword
    arguments go to `generate_phantom` (e.g. scar_kind, burden, snr, iir_range). Existing case folders are
    refused unless `overwrite`; an existing set is extended (its manifest keeps the cases it lists) only with
    the same seed, difficulty, shape and spacing.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    out = Path(out)
    shape = tuple(shape or DEFAULT_SHAPE)
    spacing = tuple(spacing or DEFAULT_SPACING)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "seed": int(seed),
        "difficulty": difficulty,
        "shape": list(shape),
        "spacing": list(spacing),
        "layout": "lascarqs1",
        "cases": [],
    }
    ids = [f"phantom_{i:04d}" for i in range(start, start + n)]
    refuse_existing_cases(out, ids, overwrite)
    PHANTOM_MANIFEST.merged(out, manifest, ids, overwrite)  # refuse another set's folder before minutes of work
    with set_folder(out) as target:
        for i, case_id in tqdm(list(enumerate(ids, start)), desc="phantoms", unit="case", disable=not progress or None):
            sub_seed = case_seed(seed, i)
            case, params = generate_phantom(sub_seed, difficulty, shape, spacing, case_id=case_id, **kwargs)
            params["set"] = {"seed": int(seed), "index": i}
            write_case(case, params, target / case_id)
            manifest["cases"].append(
                {
                    "id": case_id,
                    "seed": sub_seed,
                    "scar_kind": params["scar"]["kind"],
                    "burden": params["scar"]["burden"],
                    "iir": params["appearance"]["iir"],
                }
            )
            # after every case, so that a set stopped part-way still lists what it holds
            write_json(target / MANIFEST_FILE, PHANTOM_MANIFEST.merged(target, manifest, ids, overwrite))
    return [out / case_id for case_id in ids]
