"""Is the scan's contrast the one the model learnt? LGE with a bright blood pool and a dark normal wall.

The LA wall on a late-gadolinium scan is mostly darker than the blood pool: on the 80 LASC 2018 scans the median
image intensity ratio (IIR) of the wall 0-3 mm outside the expert LA is 0.66-1.36 (79 scans), and scar is what
rises above 1.2-1.32. One scan there has a dark blood pool under a bright wall (median 1.72: a dark-blood
contrast, or blood that has lost its gadolinium); every cross-validated model segmented its LA badly (Dice 0.50-0.84,
docs/results/synthetic-scar.md). On such a scan neither the LA nor a burden measured relative to the blood means
what it means on the training scans, so `predict` says so and withholds the stage.
"""

from __future__ import annotations

import edt
import numpy as np

from atrialjsq.io.volume import Volume
from atrialjsq.quantify.baselines import blood_pool
from atrialjsq.surface.boundary import bounding_box

WALL_REACH_MM = 3.0  # the outer wall shell the median is taken over (as the calibration of the synthetic scar)
# Above this median wall IIR the blood pool is darker than most of the wall: beyond every bright-blood training
# scan (at most 1.36 on LASC 2018), below the one dark-blood scan (1.72).
WALL_IIR_LIMIT = 1.5


def median_wall_iir(image: Volume, la: Volume) -> float | None:
    """Median over the wall shell 0-`WALL_REACH_MM` outside `la` of (voxel − zero) / (blood-pool mean − zero), zero
    being the image's darkest voxel (air on a magnitude image; it also makes the ratio mean something on an
    offset or z-scored image). None when there is no LA, no shell, or the blood pool is as dark as the air."""
    mask = np.asarray(la.array) > 0
    spacing = tuple(float(s) for s in la.geometry.spacing)
    pad = [int(np.ceil(WALL_REACH_MM / s)) + 1 for s in spacing]
    box = bounding_box(mask, pad=(pad[0], pad[1], pad[2]))
    if box is None:
        return None
    values = np.asarray(image.array, dtype=np.float64)
    zero = float(values.min())
    mask, values = mask[box], values[box]
    blood = float(values[blood_pool(mask, spacing)].mean()) - zero
    outside = edt.edt(np.ascontiguousarray(~mask, dtype=np.uint8), anisotropy=spacing)
    shell = (outside > 0) & (outside <= WALL_REACH_MM)
    if blood <= 0 or not shell.any():
        return None
    return float(np.median(values[shell] - zero)) / blood


def contrast_problem(image: Volume, la: Volume) -> str | None:
    """The warning when the LA's wall is brighter than its blood pool beyond every bright-blood training scan."""
    iir = median_wall_iir(image, la)
    if iir is None or iir <= WALL_IIR_LIMIT:
        return None
    return (
        f"the LA wall is brighter than its blood pool (median wall IIR {iir:.2f}, above {WALL_IIR_LIMIT:g}; "
        "bright-blood LGE keeps it lower, at most 1.36 on 79 of the 80 LASC 2018 scans): a contrast unlike the "
        "training scans' (a dark-blood sequence?), so its LA and scar are not to be trusted"
    )
