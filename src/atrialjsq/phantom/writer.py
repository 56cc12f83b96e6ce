"""Write phantoms in the LAScarQS 2022 task-1 layout, one folder per case, each folder all-or-nothing.

`<out>/phantom_0000/enhanced.nii.gz` (the LGE image, int16), `atriumSegImgMO.nii.gz` (LA blood pool, 1),
`scarSegImgM.nii.gz` (scar, 1) and `params.json` (everything that generated it); `<out>/phantoms.json`
lists the set. Case i of a set depends only on (seed, i), so a set can be extended or regenerated piecewise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from tqdm import tqdm

from atrialjsq.data.case import Case
from atrialjsq.io import Volume, atomic_output, atomic_path, write_volume
from atrialjsq.io.image_io import to_sitk

IMAGE_FILE = "enhanced.nii.gz"
LA_FILE = "atriumSegImgMO.nii.gz"
SCAR_FILE = "scarSegImgM.nii.gz"
PARAMS_FILE = "params.json"
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
    with atomic_output(folder) as tmp:
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


def write_phantom_set(
    n: int,
    out: str | Path,
    seed: int = 0,
    difficulty: str = "medium",
    shape=None,
    spacing=None,
    start: int = 0,
    progress: bool = True,
    **kwargs,
) -> list[Path]:
    """Generate and write `n` phantoms `phantom_<start>` … into `out`; returns the case folders.

    `shape`/`spacing` default to the clinical geometry (576×576×44 at 0.625×0.625×2.5 mm); other keyword
    arguments go to `generate_phantom` (e.g. scar_kind, burden, snr, iir_range).
    """
    from atrialjsq.phantom.generate import DEFAULT_SHAPE, DEFAULT_SPACING, generate_phantom

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    out = Path(out)
    shape = tuple(shape or DEFAULT_SHAPE)
    spacing = tuple(spacing or DEFAULT_SPACING)
    folders, index = [], []
    for i in tqdm(range(start, start + n), desc="phantoms", unit="case", disable=not progress or None):
        case_id = f"phantom_{i:04d}"
        sub_seed = case_seed(seed, i)
        case, params = generate_phantom(sub_seed, difficulty, shape, spacing, case_id=case_id, **kwargs)
        params["set"] = {"seed": int(seed), "index": i}
        folders.append(write_case(case, params, out / case_id))
        index.append(
            {
                "id": case_id,
                "seed": sub_seed,
                "scar_kind": params["scar"]["kind"],
                "burden": params["scar"]["burden"],
                "iir": params["appearance"]["iir"],
            }
        )
    manifest = {
        "format": "atrialjsq-phantom-set-v1",
        "seed": int(seed),
        "difficulty": difficulty,
        "shape": list(shape),
        "spacing": list(spacing),
        "layout": "lascarqs1",
        "cases": index,
    }
    with atomic_path(out / "phantoms.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))
    return folders
