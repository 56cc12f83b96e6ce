"""NIfTI sanity checks that SimpleITK skips: it zero-fills truncated NIfTI files and reads NaN voxels as 0
without complaint. The bytes present are compared with what the header promises, and float voxels are scanned
for NaN/Inf in the same pass (gzip streams are decompressed once for both)."""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_FLOAT_CODES = {16: "f4", 64: "f8"}  # NIfTI datatype codes of float32 / float64


@dataclass(frozen=True)
class _Header:
    endian: str
    datatype: int
    bitpix: int
    offset: int
    count: int
    orientation_codes: tuple[int, int]  # qform_code, sform_code (both 0: the header gives no orientation)

    @property
    def expected_bytes(self) -> int:
        return self.offset + self.count * max(self.bitpix, 0) // 8


def _parse_header(header: bytes) -> _Header | None:
    """The fields of a NIfTI-1/2 header needed to size the voxel data, or None when it is not recognised."""
    for endian in "<>":
        if len(header) >= 348 and struct.unpack(endian + "i", header[:4])[0] == 348:
            dims = struct.unpack(endian + "8h", header[40:56])
            datatype, bitpix = struct.unpack(endian + "hh", header[70:74])
            offset = max(int(struct.unpack(endian + "f", header[108:112])[0]), 348)
            codes = struct.unpack(endian + "hh", header[252:256])
            break
        if len(header) >= 540 and struct.unpack(endian + "i", header[:4])[0] == 540:
            datatype, bitpix = struct.unpack(endian + "hh", header[12:16])
            dims = struct.unpack(endian + "8q", header[16:80])
            offset = max(int(struct.unpack(endian + "q", header[168:176])[0]), 540)
            codes = struct.unpack(endian + "ii", header[344:352])
            break
    else:
        return None
    count = int(np.prod([max(int(d), 1) for d in dims[1 : 1 + max(0, min(int(dims[0]), 7))]]))
    return _Header(endian, int(datatype), int(bitpix), offset, count, (int(codes[0]), int(codes[1])))


GZIP_MAGIC = b"\x1f\x8b"


def _is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and (name.endswith(".nii") or name.endswith(".nii.gz"))


def _is_gzip(path: Path) -> bool:
    """By its first bytes, not its name: a plain `.nii` renamed `.nii.gz` is read as it is (as SimpleITK does)."""
    with path.open("rb") as stream:
        return stream.read(2) == GZIP_MAGIC


def _nifti_bytes(path: Path, limit: int = -1) -> bytes:
    """The file's (decompressed) bytes, the first `limit` of them when given."""
    if _is_gzip(path):
        with gzip.open(path, "rb") as stream:
            return stream.read(limit)
    with path.open("rb") as stream:
        return stream.read(limit)


def orientation_caveat(path: str | Path) -> str | None:
    """The caveat when a NIfTI header gives no orientation (qform_code = sform_code = 0, as some MATLAB and
    nibabel exports write): readers then fall back to an assumed one, which may mirror the scan."""
    path = Path(path)
    if not _is_nifti(path):
        return None
    try:
        header = _parse_header(_nifti_bytes(path, 540))
    except (EOFError, OSError, zlib.error, ValueError, OverflowError):
        return None  # nifti_problem reports an unreadable file or header
    if header is None or any(header.orientation_codes):
        return None
    return (
        "the NIfTI header gives no orientation (qform and sform codes 0): the scan was read in an assumed "
        "orientation, which may mirror it; check the segmentation, or re-export the scan with its orientation "
        "(e.g. dcm2niix from the DICOM)"
    )


# Where the transforms sit: NIfTI-1 (floats) and NIfTI-2 (doubles): pixdim[8], quatern_b/c/d, qoffset_x/y/z, srow x/y/z.
_FORM_LAYOUT = {348: ("f", 76, 256, 268, 280), 540: ("d", 104, 352, 376, 400)}
FORMS_AGREE_MM = 0.5  # qform and sform closer than this at every corner of the grid: the same placement


def _corners(shape) -> np.ndarray:
    """(8, 3) index of a grid's corner voxels."""
    return np.array([[i, j, k] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1) for k in (0, shape[2] - 1)])


def _forms(header: bytes, endian: str, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The grid's 8 corner voxels placed by the qform and by the sform (RAS mm, 8x3 each), NIfTI's formulas."""
    kind, pixdim_at, quatern_at, qoffset_at, srow_at = _FORM_LAYOUT[struct.unpack(endian + "i", header[:4])[0]]
    size = struct.calcsize(kind)
    pixdim = struct.unpack(endian + "8" + kind, header[pixdim_at : pixdim_at + 8 * size])
    b, c, d = struct.unpack(endian + "3" + kind, header[quatern_at : quatern_at + 3 * size])
    offset = np.array(struct.unpack(endian + "3" + kind, header[qoffset_at : qoffset_at + 3 * size]))
    srow = np.array(struct.unpack(endian + "12" + kind, header[srow_at : srow_at + 12 * size])).reshape(3, 4)
    a = np.sqrt(max(1.0 - (b * b + c * c + d * d), 0.0))
    rotation = np.array(
        [
            [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
            [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
            [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
        ]
    )
    qfac = -1.0 if pixdim[0] < 0 else 1.0
    scale = np.array([pixdim[1], pixdim[2], pixdim[3] * qfac])
    corners = _corners(shape)
    by_qform = corners * scale @ rotation.T + offset
    by_sform = corners @ srow[:, :3].T + srow[:, 3]
    return by_qform, by_sform


def forms_caveat(path: str | Path, geometry) -> str | None:
    """The caveat when a NIfTI header's qform and sform place the scan differently (both codes set, as after
    FSL registers a scan: it rewrites the sform only): readers disagree on which to use, and `geometry` (how
    this package read it, LPS) tells which one it took. Outputs carry that one in both forms."""
    path = Path(path)
    if not _is_nifti(path):
        return None
    try:
        data = _nifti_bytes(path, 540)
        header = _parse_header(data)
        if header is None or not all(header.orientation_codes):
            return None
        by_qform, by_sform = _forms(data, header.endian, geometry.shape)
    except (EOFError, OSError, zlib.error, ValueError, OverflowError, struct.error, KeyError):
        return None
    apart = float(np.max(np.linalg.norm(by_qform - by_sform, axis=1)))
    if not np.isfinite(apart) or apart < FORMS_AGREE_MM:
        return None
    read = np.array([geometry.index_to_physical(corner) for corner in _corners(geometry.shape)]) * [-1, -1, 1]  # RAS
    used, other = (
        ("qform", "sform") if np.max(np.abs(read - by_qform)) <= np.max(np.abs(read - by_sform)) else ("sform", "qform")
    )
    return (
        f"the NIfTI header's qform and sform place the scan up to {apart:.0f} mm apart: it was read with the "
        f"{used}, as ITK reads it, and the outputs carry that placement in both; tools that use the {other} "
        "(FSL, nibabel) show the scan elsewhere than the outputs. Check which one is right"
    )


def _pair_problem(header_path: Path) -> str | None:
    """Why a NIfTI or Analyze header/image pair (.hdr + .img) is unusable: the image file missing or shorter than
    the header promises (SimpleITK fills the rest with zeros), or None."""
    try:
        with header_path.open("rb") as stream:
            header = _parse_header(stream.read(348))
    except (OSError, ValueError, OverflowError):
        return None
    if header is None:
        return None
    image = header_path.with_suffix(".img")
    if not image.is_file():
        return f"its image file {image.name} is missing"
    expected = header.count * max(header.bitpix, 0) // 8
    if image.stat().st_size < expected:
        return f"its image file {image.name} is truncated ({image.stat().st_size} of {expected} bytes)"
    return None


def nifti_problem(path: Path, check_finite: bool = True) -> str | None:
    """Why a NIfTI file is unusable (truncated, NaN/Inf voxels), or None when fine or not a NIfTI file."""
    if path.is_file() and path.name.lower().endswith(".hdr"):
        return _pair_problem(path)
    if not _is_nifti(path):
        return None
    try:
        data = _nifti_bytes(path)
    except (EOFError, OSError, zlib.error):
        return "file is truncated or corrupt (compressed stream ends early)"
    try:
        header = _parse_header(data[:540])
    except (ValueError, OverflowError) as error:  # e.g. a NaN or infinite voxel offset
        return f"header is corrupt ({error})"
    if header is None:
        return None  # not a header we know: let SimpleITK decide
    if header.datatype in _FLOAT_CODES and np.dtype(_FLOAT_CODES[header.datatype]).itemsize * 8 != header.bitpix:
        return f"header is corrupt (datatype {header.datatype} with {header.bitpix} bits per voxel)"
    if len(data) < header.expected_bytes:
        return f"file is truncated ({len(data)} of {header.expected_bytes} bytes)"
    if check_finite and header.datatype in _FLOAT_CODES:
        dtype = np.dtype(header.endian + _FLOAT_CODES[header.datatype])
        try:
            voxels = np.frombuffer(data, dtype=dtype, count=header.count, offset=header.offset)
        except ValueError as error:
            return f"header is corrupt ({error})"
        if not np.isfinite(voxels).all():
            return "holds NaN or Inf values"
    return None
