"""What the machine offers: the torch device to use, and native bf16 on the CPU (which changes the fastest settings).

On a CPU with AVX-512-BF16 or AMX, oneDNN runs bf16 convolutions natively, and bf16 autocast measured 1.8x
faster for a training step of the real-data network (1.7x for the trainer's full step; README, benchmarks) and
2.6x for its inference; without those instructions bf16 is emulated and slower than fp32, so it is only a default
where the flags are present.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from atrialjsq.errors import InputError

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when /proc/cpuinfo lists AVX-512-BF16 or AMX-BF16 (False where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return any(flag in flags for flag in NATIVE_BF16_FLAGS)
    return False


def resolve_device(requested: str | None = None) -> str:
    """The torch device to use: cpu, or cuda[:LOCAL_RANK] (one GPU per torchrun process); None = CUDA if present."""
    import torch  # torch: deferred, slow to import

    if requested is None:
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(None, "--device cuda was requested but no CUDA device is available")
        if requested == "cuda" and "LOCAL_RANK" in os.environ:
            return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    elif requested != "cpu":
        raise InputError(None, f"unknown device {requested!r} (use cpu or cuda)")
    return requested
