"""NIfTI completeness check: SimpleITK zero-fills truncated NIfTI files without complaint, so the bytes present
are compared with what the header promises (gzip streams are decompressed to count them)."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np


def _nifti_expected_bytes(header: bytes) -> int | None:
    """Header + voxel bytes a NIfTI-1/2 file should hold, or None when the header is not recognised."""
    for endian in "<>":
        if len(header) >= 348 and struct.unpack(endian + "i", header[:4])[0] == 348:
            dims = struct.unpack(endian + "8h", header[40:56])
            bitpix = struct.unpack(endian + "h", header[72:74])[0]
            offset = int(struct.unpack(endian + "f", header[108:112])[0])
            break
        if len(header) >= 540 and struct.unpack(endian + "i", header[:4])[0] == 540:
            bitpix = struct.unpack(endian + "h", header[14:16])[0]
            dims = struct.unpack(endian + "8q", header[16:80])
            offset = struct.unpack(endian + "q", header[168:176])[0]
            break
    else:
        return None
    count = int(np.prod([max(int(d), 1) for d in dims[1 : 1 + max(0, min(int(dims[0]), 7))]]))
    return max(offset, 348) + count * max(int(bitpix), 0) // 8


def nifti_truncation(path: Path) -> str | None:
    """Why a NIfTI file is incomplete, or None when it is complete or not a NIfTI file."""
    name = path.name.lower()
    if not path.is_file() or not (name.endswith(".nii") or name.endswith(".nii.gz")):
        return None
    try:
        if name.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                header = stream.read(540)
                total = len(header)
                while chunk := stream.read(1 << 20):
                    total += len(chunk)
        else:
            with open(path, "rb") as stream:
                header = stream.read(540)
            total = path.stat().st_size
    except (EOFError, OSError, zlib.error):
        return "file is truncated or corrupt (compressed stream ends early)"
    expected = _nifti_expected_bytes(header)
    if expected is not None and total < expected:
        return f"file is truncated ({total} of {expected} bytes)"
    return None
