"""What an LGE scan of a human left atrium can look like, so garbage in is refused instead of staged.

Inputs: the field of view must be able to hold an LA (the LA body alone is 40-50 mm across) and the voxels
must be fine enough to see it (3D LGE is acquired at 0.6-2.5 mm, rarely 4 mm slices; 10 mm voxels are a
2D stack or a mistake). Results: an LA volume or surface area outside the adult range means the
segmentation (or the input) is wrong, so the result is flagged and not given a Utah or DECAAF stage.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from atrialjsq.errors import InputError
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.orientation import direction_problem

MIN_FIELD_OF_VIEW_MM = 40.0
MAX_SPACING_MM = 5.0
# Adult LA blood pool with the vein antra and appendage as segmented in LGE MRI (LASC 2018: about 40-200 mL).
PLAUSIBLE_LA_ML = (20.0, 300.0)
# A 20 mL sphere has 36 cm²; any other shape has more. Pulmonary veins and appendage add area, not volume.
PLAUSIBLE_SURFACE_CM2 = (30.0, 500.0)


def field_of_view_problem(geometry: Geometry) -> str | None:
    """Why this grid cannot show an LA (too small a field of view, too coarse voxels, a sheared grid), or None."""
    sheared = direction_problem(geometry)
    if sheared is not None:
        return sheared
    if not all(math.isfinite(s) and s > 0 for s in geometry.spacing):
        return f"voxel spacing {' x '.join(f'{s:g}' for s in geometry.spacing)} mm is not positive and finite"
    extent = geometry.extent_mm
    coarse = max(geometry.spacing)
    if coarse > MAX_SPACING_MM:
        spacing = " x ".join(f"{s:g}" for s in geometry.spacing)
        return f"voxels of {spacing} mm are too coarse to show the LA wall (at most {MAX_SPACING_MM:g} mm per axis)"
    if min(extent) < MIN_FIELD_OF_VIEW_MM:
        shown = " x ".join(f"{e:.0f}" for e in extent)
        return f"field of view {shown} mm cannot hold an LA (at least {MIN_FIELD_OF_VIEW_MM:g} mm on every axis)"
    return None


def check_field_of_view(geometry: Geometry, path: str | Path | None) -> None:
    """Raise `InputError` naming the file when the image cannot hold an LA."""
    problem = field_of_view_problem(geometry)
    if problem is not None:
        raise InputError(path, problem)


# No chest is wider than this: a larger field of view means the header's spacing is wrong (often 1 mm defaults
# written by a converter that lost it), and every volume, area and distance with it.
MAX_FIELD_OF_VIEW_MM = 500.0


def spacing_caveat(geometry: Geometry) -> str | None:
    """The caveat when the image's extent is wider than a human thorax: its voxel spacing is suspect."""
    extent = [n * s for n, s in zip(geometry.shape, geometry.spacing, strict=True)]
    if max(extent) <= MAX_FIELD_OF_VIEW_MM:
        return None
    shown = " x ".join(f"{e:.0f}" for e in extent)
    spacing = " x ".join(f"{s:g}" for s in geometry.spacing)
    return (
        f"field of view {shown} mm is wider than a chest (over {MAX_FIELD_OF_VIEW_MM:g} mm): the voxel spacing in "
        f"the header ({spacing} mm) may be wrong, and volumes, areas and distances with it"
    )


# An LA mask covering more than this area of the image's outer faces runs out of the field of view (a few
# voxels are noise); about a 8 mm disc, e.g. a pulmonary vein cut by the first or last slice.
MIN_BORDER_AREA_MM2 = 50.0


def border_problem(mask: np.ndarray, spacing: tuple[float, float, float]) -> str | None:
    """The caveat when an LA mask touches the image border: the field of view may cut the LA, so its volume,
    area and scar burden are those of the part inside (None when it stays clear of the border). The touching
    area sums each outer face's mask pixels times that face's pixel area (an axis one voxel long has one face)."""
    mask = np.asarray(mask).astype(bool, copy=False)
    area = 0.0
    for axis in range(3):
        pixel_mm2 = float(np.prod([s for i, s in enumerate(spacing) if i != axis]))
        faces = (0,) if mask.shape[axis] == 1 else (0, -1)
        area += sum(int(np.count_nonzero(np.take(mask, index, axis=axis))) for index in faces) * pixel_mm2
    if area <= MIN_BORDER_AREA_MM2:
        return None
    return (
        f"the LA touches the image border over {area:.0f} mm²: the field of view may cut it, so its volume, area "
        "and scar burden may be those of the part inside"
    )


def implausible_results(la_volume_ml: float, surface_area_cm2: float) -> list[str]:
    """One sentence per result outside the physiological range (empty when all are plausible)."""
    flags = []
    low, high = PLAUSIBLE_LA_ML
    if not low <= la_volume_ml <= high:
        flags.append(f"LA volume {la_volume_ml:.1f} mL is outside the physiological range {low:g}-{high:g} mL")
    low, high = PLAUSIBLE_SURFACE_CM2
    if not low <= surface_area_cm2 <= high:
        flags.append(
            f"LA surface area {surface_area_cm2:.1f} cm² is outside the physiological range {low:g}-{high:g} cm²"
        )
    return flags
