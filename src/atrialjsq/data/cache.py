"""The preprocessing cache: every case resampled, normalised, cropped and with its targets, computed once.

Layout (docs/explanation/ARCHITECTURE.md): ``CACHE/dataset.json`` and one compressed ``CACHE/cases/<id>.npz`` per case.
The whole cache is built in a temporary sibling folder and renamed into place at the end (all or nothing):
a failure on any case leaves no cache and an earlier cache at that path untouched.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from atrialjsq.data.layouts import CaseRef, load_case
from atrialjsq.data.phantom_tag import is_phantom_source
from atrialjsq.data.preprocess import DEFAULT_MARGIN, PAPER_ROI, PAPER_SPACING, preprocess_case
from atrialjsq.data.splits import make_folds, validate_folds
from atrialjsq.errors import InputError
from atrialjsq.io.atomic import atomic_output
from atrialjsq.io.geometry import Geometry, triple
from atrialjsq.io.orientation import NETWORK_ORIENTATION, orientation_code

CACHE_FORMAT = "atrialjsq-cache-v1"
DEFAULT_FOLDS = 5  # cross-validation folds written into a new cache's dataset.json
# Storage types: the image keeps float32 precision, labels are uint8, distance maps float16 (mm, clipped).
ARRAY_DTYPES = {"image": np.float32, "la": np.uint8, "scar": np.uint8, "band": np.uint8, "surface": np.uint8}
FLOAT16_ARRAYS = ("phi_la", "phi_normal", "phi_scar")


@dataclass
class CacheIndex:
    """The parsed ``dataset.json`` of a cache at `root`."""

    root: Path
    spacing: tuple[float, float, float]
    roi: tuple[int, int, int]
    margin: tuple[int, int, int]
    cases: list[dict[str, Any]]
    folds: list[dict[str, list[str]]] = field(default_factory=list)

    @property
    def case_ids(self) -> list[str]:
        return [entry["id"] for entry in self.cases]

    @property
    def window(self) -> tuple[int, int, int]:
        return triple(r + 2 * m for r, m in zip(self.roi, self.margin, strict=True))

    def entry(self, case_id: str) -> dict[str, Any]:
        for entry in self.cases:
            if entry["id"] == case_id:
                return entry
        raise KeyError(f"case {case_id!r} is not in the cache {self.root}")


def _storage_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    stored = {}
    for name, array in arrays.items():
        dtype = np.float16 if name in FLOAT16_ARRAYS else ARRAY_DTYPES.get(name, array.dtype)
        stored[name] = np.ascontiguousarray(array.astype(dtype, copy=False))
    return stored


def source_stamp(ref: CaseRef) -> dict[str, Any]:
    """What identifies the files a case was read from: each file's size and modification time (ns), and the
    voxel size given for a layout that stores none. A cache built from them is stale when any of it changes."""
    files = {}
    for path in sorted({ref.image_path, *ref.label_paths.values()}):
        try:
            stat = Path(path).stat()
        except OSError:
            continue  # an optional label file that is not there
        files[Path(path).name] = [stat.st_size, stat.st_mtime_ns]
    return {"files": files, "spacing": None if ref.spacing is None else [float(s) for s in ref.spacing]}


def _process_case(ref: CaseRef, cases_dir: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Preprocess one case and write its npz; runs in a worker process. Errors come back as plain data because
    `InputError` does not survive pickling with its (path, reason) pair."""
    try:
        prepared = preprocess_case(load_case(ref), **settings)
        file = f"cases/{ref.case_id}.npz"
        # mypy checks the ** arrays against allow_pickle: bool too (no array is named so).
        np.savez_compressed(cases_dir / f"{ref.case_id}.npz", **_storage_arrays(prepared.arrays))  # type: ignore[arg-type]
        return {
            "id": ref.case_id,
            "file": file,
            "has_scar": prepared.has_scar,
            "source": str(ref.image_path),
            "source_stamp": source_stamp(ref),  # a later run checks the files are still these
            "phantom": is_phantom_source(str(ref.image_path)),  # recorded now: the data may move before training
            "layout": ref.layout,
            "original_geometry": prepared.original_geometry.to_dict(),
            "field_of_view_mm": list(prepared.field_of_view_mm or ()),  # padding cut off (the model card's)
            "window_geometry": prepared.geometry.to_dict(),  # the crop's grid: turned and resampled
            "crop": prepared.crop.to_dict(),
        }
    except InputError as error:
        return {"error": [error.path, error.reason]}


CACHE_ENTRIES = frozenset({"dataset.json", "cases"})


def check_cache_folder(out: Path) -> None:
    """Refuse to replace a folder that is not one of our caches: the atomic rename would delete what it holds.

    A cache is recognised by its ``dataset.json`` declaring `CACHE_FORMAT` (nnU-Net's raw datasets have a
    dataset.json too) and by holding nothing else than that file and ``cases/``, so no user file goes with it."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(out, "exists and is not a folder; refusing to overwrite it")
    entries = {entry.name for entry in out.iterdir()}
    if not entries:
        return
    try:
        declared = json.loads((out / "dataset.json").read_text()).get("format")
    except (OSError, ValueError, AttributeError):
        declared = None
    if declared != CACHE_FORMAT:
        raise InputError(out, "exists and is not an atrialjsq cache; refusing to overwrite it (choose a new --out)")
    if entries - CACHE_ENTRIES:
        extra = ", ".join(sorted(entries - CACHE_ENTRIES)[:5])
        raise InputError(out, f"is a cache but also holds other files ({extra}); refusing to replace it")


def build_cache(
    refs: list[CaseRef],
    out: str | Path,
    spacing=PAPER_SPACING,
    roi=PAPER_ROI,
    margin=DEFAULT_MARGIN,
    workers: int = 2,
    center: str = "la",
    zscore_region: str = "volume",
    k: int = DEFAULT_FOLDS,
    seed: int = 0,
) -> CacheIndex:
    """Preprocess `refs` into a cache at `out` with `workers` processes (1 = in this process).

    The first bad case stops the build with its `InputError`; nothing is written then.
    """
    out = Path(out)
    if not refs:
        raise InputError(out, "no cases to preprocess")
    ids = [ref.case_id for ref in refs]
    if len(set(ids)) != len(ids):
        raise InputError(out, "case ids are not unique")
    check_cache_folder(out)
    spacing = tuple(float(s) for s in spacing)
    roi = tuple(int(r) for r in roi)
    margin = tuple(int(m) for m in margin)
    settings = {"spacing": spacing, "roi": roi, "margin": margin, "center": center, "zscore_region": zscore_region}

    entries: list[dict[str, Any]] = []
    with atomic_output(out) as tmp:
        cases_dir = tmp / "cases"
        cases_dir.mkdir()
        progress = tqdm(total=len(refs), desc="preprocess", unit="case", disable=None)
        try:
            if workers <= 1:
                results = (_process_case(ref, cases_dir, settings) for ref in refs)
                for result in results:
                    entries.append(_accept(result))
                    progress.update()
            else:
                with ProcessPoolExecutor(max_workers=workers) as pool:
                    futures = [pool.submit(_process_case, ref, cases_dir, settings) for ref in refs]
                    try:
                        for future in as_completed(futures):
                            entries.append(_accept(future.result()))
                            progress.update()
                    except BaseException:
                        for future in futures:
                            future.cancel()
                        raise
        finally:
            progress.close()
        entries.sort(key=lambda entry: entry["id"])
        k_used = min(k, len(entries))
        folds = make_folds(ids, k=k_used, seed=seed) if k_used >= 2 else []
        payload = {
            "format": CACHE_FORMAT,
            "spacing": list(spacing),
            "roi": list(roi),
            "margin": list(margin),
            "center": center,
            "zscore_region": zscore_region,
            "orientation": NETWORK_ORIENTATION,
            "padding_cut": True,  # constant padding cut off before the z-score (`preprocess.content_box`)
            "folds_k": k_used,
            "folds_seed": seed,
            "cases": entries,
            "folds": folds,
        }
        (tmp / "dataset.json").write_text(json.dumps(payload, indent=1) + "\n")
        check_cache_folder(out)  # again: a folder of someone's files may have appeared there while it built
    return load_cache(out)


def _accept(result: dict[str, Any]) -> dict[str, Any]:
    if "error" in result:
        path, reason = result["error"]
        raise InputError(path, reason)
    return result


def load_cache(path: str | Path) -> CacheIndex:
    """Read a cache's ``dataset.json`` (raises `InputError` naming it when missing or malformed)."""
    root = Path(path)
    index_file = root / "dataset.json"
    if not index_file.is_file():
        raise InputError(root, "not an atrialjsq cache (no dataset.json); build one with `atrialjsq preprocess`")
    try:
        payload = json.loads(index_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(index_file, f"not valid JSON ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT:
        raise InputError(index_file, f"unknown cache format (expected {CACHE_FORMAT})")
    try:
        _check_orientation(payload, index_file)
        folds = payload.get("folds") or []
        ids = [str(case["id"]) for case in payload["cases"]]
        return CacheIndex(
            root=root,
            spacing=triple(float(s) for s in payload["spacing"]),
            roi=triple(int(r) for r in payload["roi"]),
            margin=triple(int(m) for m in payload["margin"]),
            cases=list(payload["cases"]),
            folds=validate_folds(folds, index_file, ids) if folds else [],
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(index_file, f"malformed cache index ({error})") from None


def _check_orientation(payload: dict[str, Any], index_file: Path) -> None:
    """A cache from before caches turned every case to `NETWORK_ORIENTATION` holds its arrays in their files'
    own axis order: fine for identity-direction data, wrong for anything else (a model would learn, and then be
    fed, mirrored or transposed anatomy)."""
    if "orientation" in payload:
        return
    for entry in payload["cases"]:
        geometry = entry.get("original_geometry")
        stored = orientation_code(Geometry.from_dict(geometry)) if geometry is not None else NETWORK_ORIENTATION
        if stored != NETWORK_ORIENTATION:
            raise InputError(
                index_file,
                f"built by an older version that did not turn images to {NETWORK_ORIENTATION} and case "
                f"{entry.get('id')!r} is stored {stored}: rebuild it with `atrialjsq preprocess`",
            )


def load_cached_case(index: CacheIndex, case_id: str) -> dict[str, np.ndarray]:
    """All arrays of one cached case, loaded into memory."""
    entry = index.entry(case_id)
    file = index.root / entry["file"]
    if not file.is_file():
        raise InputError(file, "cached case file is missing; rebuild the cache")
    try:
        with np.load(file, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError) as error:
        raise InputError(file, f"unreadable cached case ({error})") from None
    shapes = {name: array.shape for name, array in arrays.items() if array.shape != index.window}
    if shapes:
        raise InputError(file, f"arrays {shapes} do not match the cache window {index.window}")
    return arrays
