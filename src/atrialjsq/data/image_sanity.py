"""Is this volume an LGE MRI at all? Checks on the voxel values, run before any network sees them.

A label mask, a CT volume or a file of random numbers all read as valid 3D images, and a network given one
returns an LA and a scar burden that look like a result. Each check below has a physical reason:

- a mask or label holds a handful of values (0/1, a few classes); an MRI magnitude image holds hundreds;
- CT stores Hounsfield units, with air at -1000 and lungs around -800: a large share of voxels far below zero;
  an MRI magnitude image has none (z-scored MRI, as in the LASC 2018 release, goes a few units below zero);
- noise has no spatial structure: neighbouring voxels of a real image are strongly correlated (the point
  spread function and the anatomy), those of noise are not;
- memory: the pipeline holds several float copies of the volume at once; a volume that would not fit in the
  memory available is refused before it runs, with the estimate.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from atrialjsq.errors import InputError
from atrialjsq.io.geometry import Geometry

SAMPLE_VOXELS = 1_000_000  # checks read a regular subsample of at most this many voxels
MAX_LABEL_VALUES = 8  # a mask or label map: at most this many distinct values
CT_AIR_HU = -500.0  # below this is air or lung in Hounsfield units; MRI magnitude (even z-scored) never goes there
CT_AIR_SHARE = 0.05
MIN_NEIGHBOUR_CORRELATION = 0.3  # real LGE scans: 0.7-0.99 (docs: measured on every LASC 2018 scan and phantom)
# Peak memory of `predict` per input voxel, bytes, with every output and the default (whole-volume) model: 2.6 GB
# for the 576 x 576 x 44 demo phantom (178 B/voxel, measured on the 2-core development machine), 12.7 GB for a
# 512 x 512 x 200 CT-like volume (242 B/voxel, as a user reported it); the phantom model, which crops around
# its localiser, needs 48 B/voxel. The larger figure, so that a refusal is never wrong.
PEAK_BYTES_PER_VOXEL = 250.0


def _subsample(array: np.ndarray) -> np.ndarray:
    """A regular subsample of the volume (every k-th voxel along each axis), keeping neighbours adjacent along
    the last axis is not needed: the correlation check takes its own central block."""
    step = max(1, math.ceil((array.size / SAMPLE_VOXELS) ** (1 / 3)))
    return np.asarray(array[::step, ::step, ::step])


def neighbour_correlation(array: np.ndarray, block: int = 96) -> float:
    """Mean correlation of each voxel with its next neighbour along the three axes, on a central block."""
    centre = [n // 2 for n in array.shape]
    box = tuple(slice(max(c - block // 2, 0), c + block // 2) for c in centre)
    values = np.asarray(array[box], dtype=np.float64)
    correlations = []
    for axis in range(3):
        if values.shape[axis] < 2:
            continue
        a = np.take(values, range(values.shape[axis] - 1), axis=axis).ravel()
        b = np.take(values, range(1, values.shape[axis]), axis=axis).ravel()
        if a.std() == 0 or b.std() == 0:
            continue
        correlations.append(float(np.corrcoef(a, b)[0, 1]))
    return float(np.mean(correlations)) if correlations else 1.0


def intensity_problem(array: np.ndarray) -> str | None:
    """Why these voxel values are not an LGE MRI (a mask, CT, noise), or None."""
    sample = _subsample(array)
    values = np.unique(sample)
    if len(values) <= MAX_LABEL_VALUES:
        shown = ", ".join(f"{v:g}" for v in values[:MAX_LABEL_VALUES])
        return f"holds only {len(values)} distinct value(s) ({shown}): a label or mask, not an LGE MRI scan"
    air = float(np.mean(sample < CT_AIR_HU))
    if air >= CT_AIR_SHARE:
        return (
            f"{100 * air:.0f} % of the voxels are below {CT_AIR_HU:g} (air in CT Hounsfield units is -1000): "
            "this looks like CT, not an LGE MRI scan"
        )
    correlation = neighbour_correlation(array)
    if correlation < MIN_NEIGHBOUR_CORRELATION:
        return (
            f"neighbouring voxels are uncorrelated (r = {correlation:.2f}; scans show at least "
            f"{MIN_NEIGHBOUR_CORRELATION:g}): noise, not an image"
        )
    return None


def available_memory_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (Linux); None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_voxels(geometry: Geometry, network_spacing=None) -> int:
    """The larger of the input's voxel count and that of the same field of view on the network's grid: a
    coarse scan (3 mm slices) resampled onto a finer network grid holds more voxels than it was read with."""
    voxels = int(np.prod(geometry.shape))
    if network_spacing is None:
        return voxels
    extent = np.asarray(geometry.shape, dtype=float) * np.asarray(geometry.spacing, dtype=float)
    on_network_grid = np.ceil(extent / np.asarray(network_spacing, dtype=float))
    return max(voxels, int(np.prod(on_network_grid)))


def memory_problem(geometry: Geometry, available: int | None = None, network_spacing=None) -> str | None:
    """Why predicting this grid would exhaust the memory (estimate against what is available), or None;
    `network_spacing` (mm) counts the grid the network resamples the scan onto."""
    available = available_memory_bytes() if available is None else available
    if available is None:
        return None
    need = peak_voxels(geometry, network_spacing) * PEAK_BYTES_PER_VOXEL
    if need <= available:
        return None
    shape = " x ".join(str(n) for n in geometry.shape)
    return (
        f"a {shape} volume would need about {need / 2**30:.1f} GiB of memory to predict, and "
        f"{available / 2**30:.1f} GiB is available: crop or resample it first"
    )


def check_image_values(array: np.ndarray, geometry: Geometry, path: str | Path | None, network_spacing=None) -> None:
    """Raise `InputError` naming the file when the volume is not an LGE MRI or would not fit in memory
    (`network_spacing`: the finest grid a network resamples it onto, when there is one)."""
    for problem in (memory_problem(geometry, network_spacing=network_spacing), intensity_problem(array)):
        if problem is not None:
            raise InputError(path, problem)
