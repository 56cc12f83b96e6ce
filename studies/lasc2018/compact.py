"""A compact, single-file copy of a labelled LA data set, small enough to travel to a GPU machine.

The LASC 2018 HDF5 release stores 8-bit MR images as z-scored float32: every image sits on an affine grid of
at most 256 levels, so `codes = round((image - offset) / step)` recovers the 8-bit codes losslessly (the
data's README). Each case is stored as

- `image`: the codes resampled (linearly) to the training spacing and cropped in z to the LA ± `z_margin_mm`
  (x and y are kept whole: the release is already cropped to the LA there), rounded back to uint8;
- `la`: the LA label on that window (label-aware resampling of `data.preprocess`), bit-packed;
- `la_native`: the LA label on the native grid, bit-packed, so held-out predictions are scored on the grid the
  literature scores on;

("native": as stored, with the axes turned to the networks' orientation, `io.orientation`; a no-op for the
release, whose direction is the identity)

each array lzma-compressed, together with the geometry of both grids and the window, `offset`/`step` (image
units per code) and the mean/std of the whole resampled image (what `infer.predictor` z-scores with, so a
network trained on this file sees the inputs it will see at prediction time). The file is a packed file
(`atrialjsq.io.packed`: an uncompressed ``.npz`` of lzma byte arrays plus a JSON index, `allow_pickle=False`
loads it) with the arrays ``<case id>/<name>``. Files written before the index listed its arrays' dtypes and
shapes still load: `_legacy_table` rebuilds that table from the case entries (same format string).

Decoding needs only NumPy (no SimpleITK): `load_compact` runs on a bare GPU image, building needs the full
package. The z crop uses the label's extent (documented in studies/lasc2018/DEVELOPMENT.md); scoring always uses
the whole native volume.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from atrialjsq.errors import InputError
from atrialjsq.io.geometry import Geometry, triple
from atrialjsq.io.packed import PackedArray, array_spec, pack_array, read_packed, write_packed

COMPACT_FORMAT = "atrialjsq-compact-v1"
DEFAULT_SPACING = (1.0, 1.0, 1.0)
DEFAULT_Z_MARGIN_MM = 10.0
MAX_LEVELS = 256
GRID_TOLERANCE = 1e-3  # largest allowed |image - decoded| in units of the step
LZMA_PRESET = 6


# ---------------------------------------------------------------------------------------------- 8-bit codes


def encode_uint8(image: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(codes uint8, offset, step) with image ≈ offset + step·codes to within GRID_TOLERANCE·step.

    The step is the smallest gap between distinct values, refined over the whole range so float rounding in
    the stored values does not accumulate. Raises ValueError when the image is not on such a grid.
    """
    values = np.unique(np.asarray(image, dtype=np.float64))
    if not np.isfinite(values).all():
        raise ValueError("image holds NaN or Inf values")
    offset = float(values[0])
    if values.size == 1:
        return np.zeros(np.shape(image), dtype=np.uint8), offset, 1.0
    span = float(values[-1] - offset)
    gaps = np.diff(values)
    levels = round(span / float(gaps.min()))
    if levels >= MAX_LEVELS:
        raise ValueError(f"image spans {levels + 1} levels of its smallest step; not an 8-bit image")
    step = span / levels
    codes = np.rint((values - offset) / step)
    error = float(np.abs(values - (offset + step * codes)).max()) / step
    if error > GRID_TOLERANCE:
        raise ValueError(f"image values are not on an affine 8-bit grid (off by {error:.3g} steps)")
    encoded = np.rint((np.asarray(image, dtype=np.float64) - offset) / step)
    return encoded.astype(np.uint8), offset, step


def decode_uint8(codes: np.ndarray, offset: float, step: float) -> np.ndarray:
    """offset + step·codes as float32 (the inverse of `encode_uint8`)."""
    return (offset + step * np.asarray(codes, dtype=np.float64)).astype(np.float32)


def _pack(array: np.ndarray, bits: bool = False) -> PackedArray:
    """One compact array: uint8 codes, or (`bits`) a mask stored as bit-packed 0/1 uint8 (non-zero is 1)."""
    array = np.asarray(array, dtype=bool) if bits else np.asarray(array)
    return pack_array(array.astype(np.uint8), bits=bits, preset=LZMA_PRESET)


# ---------------------------------------------------------------------------------------------- one case


@dataclass
class CompactCase:
    """One decoded case: uint8 `codes` and `la` on the training-grid window, `la_native` on the native grid."""

    case_id: str
    codes: np.ndarray
    la: np.ndarray
    la_native: np.ndarray
    info: dict[str, Any]
    scar: np.ndarray | None = None

    @property
    def window_geometry(self) -> Geometry:
        return Geometry.from_dict(self.info["window_geometry"])

    @property
    def native_geometry(self) -> Geometry:
        return Geometry.from_dict(self.info["native_geometry"])

    def image(self) -> np.ndarray:
        """The window in image units (float32), as the resampled original image."""
        return decode_uint8(self.codes, self.info["offset"], self.info["step"])

    def normalised(self) -> np.ndarray:
        """The window z-scored with the statistics of the whole resampled image (float32)."""
        std = self.info["std"] if self.info["std"] > 1e-8 else 1.0
        return ((self.image() - np.float32(self.info["mean"])) / np.float32(std)).astype(np.float32)


def requantize_uint8(image: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(codes, offset, step) spreading the image's range over 256 levels: lossy (error ≤ step/2), for images
    that are not 8-bit, such as a real image with scar drawn into it."""
    image = np.asarray(image, dtype=np.float64)
    offset = float(image.min())
    step = float(image.max() - offset) / 255.0 or 1.0
    return np.rint((image - offset) / step).astype(np.uint8), offset, step


def compact_entry(
    case, spacing=DEFAULT_SPACING, z_margin_mm: float = DEFAULT_Z_MARGIN_MM, lossy: bool = False
) -> tuple[dict, dict]:
    """(index entry, {name: compressed array}) of one `Case`; raises InputError naming the case's source.

    An image that is not 8-bit is an error unless `lossy`, which requantises it (`requantize_uint8`)."""
    from atrialjsq.data.case import reoriented_case
    from atrialjsq.data.preprocess import CropInfo, resample, resample_to_geometry, resampled_geometry
    from atrialjsq.io.volume import Volume

    source = case.meta.get("source", case.case_id)
    case = reoriented_case(case)  # "native" below: the case as stored, axes turned as networks expect
    if case.la is None or not case.la.array.any():
        raise InputError(source, "no LA label (or an empty one): the compact set needs it")
    try:
        codes, offset, step = encode_uint8(case.image.array)
    except ValueError as error:
        if not lossy:
            raise InputError(source, str(error)) from None
        codes, offset, step = requantize_uint8(case.image.array)
    native = case.image.geometry
    target = resampled_geometry(native, spacing)
    fine = resample_to_geometry(Volume(codes.astype(np.float32), native), target).array
    la_fine = resample(case.la, spacing, is_label=True).array
    if not la_fine.any():
        raise InputError(source, "LA vanishes when resampled to the training spacing")
    z_slices = np.flatnonzero(la_fine.any(axis=(0, 1)))
    margin = int(np.ceil(z_margin_mm / target.spacing[2]))
    low, high = max(int(z_slices[0]) - margin, 0), min(int(z_slices[-1]) + margin + 1, target.shape[2])
    crop = CropInfo(target.shape, (0, 0, low), (target.shape[0], target.shape[1], high - low))
    window = crop.window_geometry(target)
    fine_float = offset + step * fine.astype(np.float64)
    entry = {
        "id": case.case_id,
        "source": str(source),
        "offset": offset,
        "step": step,
        "levels": int(codes.max()) + 1,
        "mean": float(fine_float.mean()),
        "std": float(fine_float.std()),
        "native_geometry": native.to_dict(),
        "resampled_geometry": target.to_dict(),
        "window_geometry": window.to_dict(),
        "crop": crop.to_dict(),
        "has_scar": case.scar is not None,
        "meta": dict(case.meta.get("compact_meta", {})),
    }
    blobs = {
        "image": _pack(np.clip(np.rint(fine[:, :, low:high]), 0, 255)),
        "la": _pack(la_fine[:, :, low:high], bits=True),
        "la_native": _pack(case.la.array, bits=True),
    }
    if case.scar is not None:
        scar_fine = resample(case.scar, spacing, is_label=True).array
        blobs["scar"] = _pack(scar_fine[:, :, low:high], bits=True)
    return entry, blobs


def _entry_from_ref(ref, spacing, z_margin_mm) -> tuple[dict, dict] | tuple[str | None, str]:
    """Worker: load and compact one case; an InputError comes back as (path, reason) (it does not pickle)."""
    from atrialjsq.data.layouts import load_case

    try:
        return compact_entry(load_case(ref), spacing, z_margin_mm)
    except InputError as error:
        return error.path, error.reason


# ---------------------------------------------------------------------------------------------- the file


def _write(entries: list[tuple[dict, dict]], out: Path, header: dict[str, Any]) -> Path:
    entries = sorted(entries, key=lambda item: item[0]["id"])
    ids = [entry["id"] for entry, _ in entries]
    if len(set(ids)) != len(ids):
        raise InputError(out, "case ids are not unique")
    index = {"format": COMPACT_FORMAT, **header, "cases": [entry for entry, _ in entries]}
    arrays = {f"{entry['id']}/{name}": blob for entry, blobs in entries for name, blob in blobs.items()}
    return write_packed(out, arrays, index)


def _legacy_table(header: dict[str, Any], members: frozenset[str]) -> dict[str, dict[str, Any]]:
    """The array table of a compact file written before packed files listed their arrays: every array is uint8
    on the window grid (`la_native` on the native grid), the masks bit-packed; `scar` only where stored."""
    table = {}
    for entry in header["cases"]:
        key, window, native = entry["id"], entry["window_geometry"]["shape"], entry["native_geometry"]["shape"]
        table[f"{key}/image"] = array_spec(np.uint8, window)
        table[f"{key}/la"] = array_spec(np.uint8, window, bits=True)
        table[f"{key}/la_native"] = array_spec(np.uint8, native, bits=True)
        if f"{key}/scar" in members:
            table[f"{key}/scar"] = array_spec(np.uint8, window, bits=True)
    return table


def _checked_out(out: str | Path) -> Path:
    out = Path(out)
    if out.suffix != ".npz":
        raise InputError(out, "the compact file must end in .npz")
    if out.is_dir():
        raise InputError(out, "is a folder; give a file name ending in .npz")
    return out


def build_compact(
    cases: Iterable,
    out: str | Path,
    spacing=DEFAULT_SPACING,
    z_margin_mm: float = DEFAULT_Z_MARGIN_MM,
    lossy: bool = False,
    header: dict[str, Any] | None = None,
) -> Path:
    """Compact in-memory `Case`s (phantoms, synthetic or scar-injected cases) into `out` (an .npz file,
    written atomically); `header` adds fields to the file's index."""
    out = _checked_out(out)
    entries = [compact_entry(case, spacing, z_margin_mm, lossy) for case in tqdm(cases, desc="compact", disable=None)]
    if not entries:
        raise InputError(out, "no cases to compact")
    fields = {"spacing": [float(s) for s in spacing], "z_margin_mm": float(z_margin_mm), "source": "in-memory"}
    return _write(entries, out, {**fields, **(header or {})})


def build_compact_lasc(
    src: str | Path,
    out: str | Path,
    spacing=DEFAULT_SPACING,
    z_margin_mm: float = DEFAULT_Z_MARGIN_MM,
    native_spacing=None,
    workers: int = 2,
    limit: int | None = None,
) -> Path:
    """Compact the LASC 2018 HDF5 release at `src` (first `limit` cases by id when given) into `out`.

    `native_spacing` defaults to the layout's (0.625, 0.625, 1.25) mm. The first bad case stops the build
    with its InputError and nothing is written.
    """
    from atrialjsq.data.layouts import DEFAULT_H5_SPACING, index_dataset

    out = _checked_out(out)
    refs = index_dataset(src, layout="lasc2018-h5", spacing=native_spacing)
    refs = refs[:limit] if limit is not None else refs
    entries: list[tuple[dict, dict]] = []
    with tqdm(total=len(refs), desc="compact", unit="case", disable=None) as bar:
        if workers <= 1:
            results: Iterable = (_entry_from_ref(ref, spacing, z_margin_mm) for ref in refs)
            for result in results:
                entries.append(_accepted(result))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(_entry_from_ref, refs, [spacing] * len(refs), [z_margin_mm] * len(refs)):
                    entries.append(_accepted(result))
                    bar.update()
    header = {
        "spacing": [float(s) for s in spacing],
        "z_margin_mm": float(z_margin_mm),
        "source": Path(src).name,  # the release's folder name: a local path is no record worth committing
        "layout": "lasc2018-h5",
        "native_spacing": list(refs[0].spacing or DEFAULT_H5_SPACING) if refs else None,
    }
    return _write(entries, out, header)


def _accepted(result) -> tuple[dict, dict]:
    if isinstance(result[0], str) or result[0] is None:
        raise InputError(*result)
    return result


@dataclass
class CompactSet:
    """A loaded compact file: the training spacing, the header and the decoded cases (sorted by id)."""

    path: Path
    spacing: tuple[float, float, float]
    header: dict[str, Any]
    cases: list[CompactCase] = field(default_factory=list)

    @property
    def case_ids(self) -> list[str]:
        return [case.case_id for case in self.cases]

    def case(self, case_id: str) -> CompactCase:
        for case in self.cases:
            if case.case_id == case_id:
                return case
        raise KeyError(f"case {case_id!r} is not in {self.path}")


def load_compact(path: str | Path, ids: Sequence[str] | None = None) -> CompactSet:
    """Decode a compact file (all cases, or those in `ids`); raises InputError naming it when malformed."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such compact file; build it with `python -m studies.lasc2018 build`")
    wanted = set(ids) if ids is not None else None
    selected = None if wanted is None else (lambda name: name.rpartition("/")[0] in wanted)
    index, arrays = read_packed(path, selected, expect_format=COMPACT_FORMAT, what="compact file", legacy=_legacy_table)
    try:
        cases = []
        for entry in index["cases"]:
            key = entry["id"]
            if wanted is not None and key not in wanted:
                continue
            cases.append(
                CompactCase(
                    key,
                    arrays[f"{key}/image"],
                    arrays[f"{key}/la"],
                    arrays[f"{key}/la_native"],
                    entry,
                    arrays.get(f"{key}/scar"),
                )
            )
        spacing = triple(float(s) for s in index["spacing"])
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(path, f"unreadable compact file ({type(error).__name__}: {error})") from None
    if wanted is not None and len(cases) != len(wanted):
        missing = sorted(wanted - {case.case_id for case in cases})
        raise InputError(path, f"lacks case(s) {', '.join(missing[:5])}")
    header = {key: value for key, value in index.items() if key != "cases"}
    return CompactSet(path, spacing, header, cases)


# ---------------------------------------------------------------------------------------------- trainer form


def centred_window(
    array: np.ndarray, centre: Sequence[float] | np.ndarray, size: Sequence[int], fill: float = 0
) -> np.ndarray:
    """The `size` window of `array` centred at continuous index `centre`, padded with `fill` beyond the array
    (the same placement as `data.preprocess.crop_window`: start = round(centre) − size // 2)."""
    out = np.full(tuple(int(s) for s in size), fill, dtype=array.dtype)
    source, target = [], []
    for length, c, n in zip(array.shape, centre, size, strict=True):
        start = int(np.floor(c + 0.5)) - int(n) // 2
        low, high = max(start, 0), min(start + int(n), length)
        high = max(high, low)
        source.append(slice(low, high))
        target.append(slice(low - start, high - start))
    out[tuple(target)] = array[tuple(source)]
    return out


def la_centre(la: np.ndarray) -> np.ndarray:
    """Centre of the LA's bounding box in index units (the cache's `center="la"` rule)."""
    nonzero = np.nonzero(la)
    return np.array([(axis.min() + axis.max()) / 2 for axis in nonzero], dtype=np.float64)


def trainer_arrays(case: CompactCase, size: Sequence[int], spacing, joint: bool = False) -> dict[str, np.ndarray]:
    """The trainer's in-memory arrays of one case (`data.cache` names and dtypes), all of shape `size`
    (roi + 2·margin) around the LA centre: `image` (z-scored float32), `la`, `phi_la` and, for `joint`
    configs, the wall-band targets (scar projected when the case has a scar label) and `scar_known` (1 when
    it has one, else 0: the loss then trains only the LA on this case, since a real image's own scar is
    unlabelled, not absent)."""
    from atrialjsq.data.targets import compute_targets
    from atrialjsq.surface.distance import signed_distance

    centre = la_centre(case.la)
    image = case.normalised()
    arrays = {
        "image": centred_window(image, centre, size, fill=float(image.min())),
        "la": centred_window(case.la, centre, size),
    }
    if joint:
        scar = centred_window(case.scar, centre, size) if case.scar is not None else None
        targets = compute_targets(arrays["la"], scar, tuple(spacing))
        arrays.update({key: targets[key] for key in ("phi_la", "band", "phi_normal", "phi_scar")})
        arrays["scar_known"] = np.array(1.0 if case.scar is not None else 0.0, dtype=np.float32)
    else:
        arrays["phi_la"] = signed_distance(arrays["la"], tuple(spacing)).astype(np.float16)
    return arrays
