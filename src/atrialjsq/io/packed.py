"""One packed-array file: lzma-compressed arrays and a JSON index in an uncompressed ``.npz``.

What `np.load(path, allow_pickle=False)` sees in a packed file:

- `index`: the UTF-8 bytes (uint8) of one JSON object, the caller's header plus ``"arrays"``:
  ``{name: {"dtype": "<f4", "shape": [..], "bits": false}}`` (the NumPy dtype string with its byte order), so a
  file reads back with no outside knowledge;
- one uint8 member per array: the lzma (xz) compression of the array's C-order bytes, or for a `bits` array
  (a 0/1 mask) of ``np.packbits`` of it (8 voxels a byte, before compression).

Only NumPy and the standard library are needed to read one (no SimpleITK, no torch), so it travels to a bare GPU
machine. `write_packed` writes atomically (`atrialjsq.io.atomic.atomic_path`); `read_packed` decodes all the
arrays or only the named ones (the others are never decompressed) and turns every way a file can be foreign,
truncated or corrupt into one `InputError(path, reason)`.

Files written before the index held the ``"arrays"`` table (the compact data set `atrialjsq-compact-v1`, the LA
predictions `atrialjsq-la-predictions-v1`) use the same member encoding; their readers pass `legacy`, which
rebuilds the table from the header, and read them byte for byte.
"""

from __future__ import annotations

import json
import lzma
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atrialjsq.errors import InputError
from atrialjsq.io.atomic import atomic_path

INDEX_KEY = "index"
TABLE_KEY = "arrays"
DEFAULT_PRESET = 6
_KINDS = "biuf"  # bool, signed and unsigned integers, floats

# (header, member names in the file) -> {name: {"dtype", "shape", "bits"}} for files without the table.
Legacy = Callable[[dict[str, Any], frozenset[str]], Mapping[str, Mapping[str, Any]]]


def array_spec(dtype, shape, bits: bool = False) -> dict[str, Any]:
    """The index entry of one array: {"dtype": NumPy dtype string, "shape": [..], "bits": bool}."""
    return {"dtype": np.dtype(dtype).str, "shape": [int(s) for s in shape], "bits": bool(bits)}


@dataclass(frozen=True)
class PackedArray:
    """One array already compressed for `write_packed` (e.g. in a worker process): its index entry and bytes."""

    spec: dict[str, Any]
    blob: np.ndarray


def pack_array(array, *, bits: bool = False, preset: int = DEFAULT_PRESET, name: str = "array") -> PackedArray:
    """Compress one bool, integer or float array (`bits`: a 0/1 mask, stored 8 a byte); `name` is for errors.

    Raises ValueError for another dtype, or a `bits` array holding values other than 0 and 1."""
    array = np.asarray(array)  # tobytes() and packbits() read it in C order, contiguous or not
    if array.dtype.kind not in _KINDS:
        raise ValueError(f"array {name!r} has dtype {array.dtype}; only bool, integer and float arrays pack")
    if bits:
        mask = array.astype(bool)
        if not np.array_equal(mask, array):
            raise ValueError(f"array {name!r} is bit-packed but holds values other than 0 and 1")
        raw = np.packbits(mask, axis=None)
    else:
        raw = array
    blob = np.frombuffer(lzma.compress(raw.tobytes(), preset=preset), dtype=np.uint8)
    return PackedArray(array_spec(array.dtype, array.shape, bits), blob)


def write_packed(
    path: str | Path,
    arrays: Mapping[str, np.ndarray | PackedArray],
    header: Mapping[str, Any],
    *,
    bits: Iterable[str] | None = None,
    preset: int = DEFAULT_PRESET,
) -> Path:
    """Write `arrays` (in their order) and the JSON-serialisable `header` to `path`, atomically; returns it.

    The arrays named in `bits` must hold only 0 and 1 (any bool, integer or float dtype): they are stored 8 a
    byte and read back as 0/1 in their own dtype. Every array keeps its dtype and shape exactly. A value may
    also be a `PackedArray` from `pack_array` (compressed beforehand, keeping its own encoding). `header` may
    not use the key "arrays" (the index's table). Raises ValueError for arrays or names that cannot be stored.
    """
    path = Path(path)
    bits = set(bits or ())
    if unknown := bits - set(arrays):
        raise ValueError(f"bits names arrays that are not given: {sorted(unknown)}")
    if TABLE_KEY in header:
        raise ValueError(f"the header may not hold the key {TABLE_KEY!r} (the index's table of arrays)")
    table: dict[str, dict[str, Any]] = {}
    members: dict[str, np.ndarray] = {}
    for name, array in arrays.items():
        if not isinstance(name, str) or not name or name == INDEX_KEY:
            raise ValueError(f"cannot store an array named {name!r}")
        if not isinstance(array, PackedArray):
            array = pack_array(array, bits=name in bits, preset=preset, name=name)
        elif name in bits and not array.spec["bits"]:
            raise ValueError(f"array {name!r} is in bits but was packed without them")
        table[name], members[name] = array.spec, array.blob
    index = json.dumps({**header, TABLE_KEY: table}).encode()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            # mypy checks the ** arrays against savez's allow_pickle: bool too (a name no array here has).
            np.savez(handle, **{INDEX_KEY: np.frombuffer(index, dtype=np.uint8)}, **members)  # type: ignore[arg-type]
    return path


def _checked_spec(name: str, spec: Any) -> tuple[np.dtype, tuple[int, ...], bool]:
    if not isinstance(spec, Mapping):
        raise ValueError(f"the index entry of array {name!r} is not an object")
    dtype = np.dtype(spec["dtype"])
    shape = tuple(int(s) for s in spec["shape"])
    if dtype.kind not in _KINDS or any(s < 0 for s in shape):
        raise ValueError(f"the index entry of array {name!r} is not a numeric array ({spec})")
    return dtype, shape, bool(spec.get("bits", False))


def _decode(name: str, blob: np.ndarray, spec: Any) -> np.ndarray:
    dtype, shape, bits = _checked_spec(name, spec)
    if blob.dtype != np.uint8 or blob.ndim != 1:
        raise ValueError(f"member {name!r} is not a packed byte array")
    raw = lzma.decompress(blob.tobytes())
    count = int(np.prod(shape, dtype=np.int64))
    if bits:
        if len(raw) != (count + 7) // 8:
            raise ValueError(f"array {name!r} holds {len(raw)} bytes, expected {(count + 7) // 8} for {count} bits")
        array = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=count).astype(dtype)
    else:
        if len(raw) != count * dtype.itemsize:
            raise ValueError(f"array {name!r} holds {len(raw)} bytes, expected {count * dtype.itemsize}")
        array = np.frombuffer(bytearray(raw), dtype=dtype)
    return array.reshape(shape)


def read_packed(
    path: str | Path,
    names: Iterable[str] | Callable[[str], bool] | None = None,
    *,
    expect_format: str | None = None,
    what: str = "packed file",
    legacy: Legacy | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(header, {name: array}) of a packed file, the arrays in the file's order, each a writable copy.

    `names`: None reads every array; an iterable reads those (each must be in the file; an empty one reads
    only the header); a predicate reads the names it accepts. Arrays not asked for are never decompressed.
    `expect_format` refuses a file whose header "format" differs; `what` names the kind of file in the errors
    (e.g. "compact file"); `legacy` gives the table of a file whose index has none (see the module docstring).
    Raises InputError(path, reason) when the file is missing, foreign, truncated or corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"no such {what}")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise InputError(path, f"not a {what} (a single .npy array, not an .npz archive)")
        with data:
            header, table = _read_index(path, data, expect_format, what, legacy)
            if names is None:
                wanted = list(table)
            elif callable(names):
                wanted = [name for name in table if names(name)]
            else:
                asked = set(names)
                if missing := sorted(asked - set(table)):
                    raise InputError(path, f"lacks array(s) {', '.join(missing[:5])}")
                wanted = [name for name in table if name in asked]
            if absent := [name for name in wanted if name not in data.files]:
                raise InputError(path, f"lacks the data of array(s) {', '.join(absent[:5])}")
            arrays = {name: _decode(name, data[name], table[name]) for name in wanted}
    except InputError:
        raise
    except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as error:
        raise InputError(path, f"unreadable {what} ({type(error).__name__}: {error})") from None
    return header, arrays


def _read_index(path: Path, data, expect_format: str | None, what: str, legacy: Legacy | None):
    """(header without the table, table) of an open npz; InputError when it is not a packed file."""
    if INDEX_KEY not in data.files:
        raise InputError(path, f"not a {what} (the .npz has no {INDEX_KEY!r} member)")
    raw = data[INDEX_KEY]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise InputError(path, f"not a {what} (its {INDEX_KEY!r} member is not JSON bytes)")
    try:
        index = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(path, f"not a {what} (its {INDEX_KEY!r} member is not JSON)") from None
    if not isinstance(index, dict):
        raise InputError(path, f"not a {what} (its index is not a JSON object)")
    if expect_format is not None and index.get("format") != expect_format:
        raise InputError(path, f"not a {what} (format is not {expect_format})")
    table = index.pop(TABLE_KEY, None)
    if table is None:
        if legacy is None:
            raise InputError(path, f"not a {what} (its index has no {TABLE_KEY!r} table)")
        members = frozenset(name for name in data.files if name != INDEX_KEY)
        table = dict(legacy(index, members))
    if not isinstance(table, dict):
        raise InputError(path, f"not a {what} (its {TABLE_KEY!r} table is not a JSON object)")
    return index, table
