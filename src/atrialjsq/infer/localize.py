"""Find the LA on a new image with nothing else: a coarse pass of the localiser network on the whole volume.

The fine model is trained on LA-centred crops, so prediction needs to know where the LA is. The authors' code
cropped around the ground-truth LA; here a small network sees the whole image at a coarse spacing (e.g. 4 mm,
where even a large field of view is a few tens of voxels a side) and its largest LA component gives the box.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from atrialjsq.io.geometry import Geometry, triple


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component of a binary mask (bool); all False when the mask is empty.

    Only the mask's bounding box is labelled, which keeps this fast on large, mostly empty input grids.
    """
    mask = np.asarray(mask, dtype=bool)
    out = np.zeros(mask.shape, dtype=bool)
    if not mask.any():
        return out
    box = tuple(slice(int(idx.min()), int(idx.max()) + 1) for idx in np.nonzero(mask))
    labels, count = ndimage.label(mask[box], structure=np.ones((3, 3, 3), dtype=bool))
    if count <= 1:
        out[box] = labels > 0
        return out
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    out[box] = labels == int(np.argmax(sizes))
    return out


@dataclass(frozen=True)
class Localization:
    """Where the LA is, in physical mm. `corners_mm` (8, 3) are the corners of its voxel bounding box (None
    when nothing was found and the image centre is used instead)."""

    centre_mm: tuple[float, float, float]
    corners_mm: np.ndarray | None
    found: bool

    def box_in(self, grid: Geometry) -> tuple[np.ndarray, np.ndarray] | None:
        """(low, high) continuous indices of the LA box on another grid (e.g. the fine model's), or None."""
        if self.corners_mm is None:
            return None
        corners = grid.physical_to_index(self.corners_mm)
        return corners.min(axis=0), corners.max(axis=0)


def image_centre_mm(geometry: Geometry) -> tuple[float, float, float]:
    """Physical position of the centre of the grid (half-way between its first and last voxel centres)."""
    centre = geometry.index_to_physical((np.asarray(geometry.shape, dtype=np.float64) - 1) / 2)
    return triple(float(c) for c in centre)


# An adult LA holds 50-200 mL; a smaller "largest component" is noise, not a missed-by-a-bit LA.
MIN_LA_VOLUME_ML = 5.0


def localization_from_mask(
    mask: np.ndarray, grid: Geometry, fallback: Geometry, source: str = "", min_volume_ml: float = MIN_LA_VOLUME_ML
) -> Localization:
    """Box and centre of the largest component of `mask` (on `grid`); the centre of `fallback` when there is
    no component of at least `min_volume_ml`."""
    component = largest_component(mask)
    volume_ml = np.count_nonzero(component) * grid.voxel_volume_mm3 / 1000.0
    if volume_ml < min_volume_ml:
        found = f"only {volume_ml:.1f} mL" if volume_ml else "no LA"
        warnings.warn(
            f"{source or 'image'}: the localiser found {found}; cropping around the image centre instead",
            RuntimeWarning,
            stacklevel=2,
        )
        return Localization(image_centre_mm(fallback), None, False)
    indices = np.nonzero(component)
    low = np.array([axis.min() for axis in indices], dtype=np.float64) - 0.5
    high = np.array([axis.max() for axis in indices], dtype=np.float64) + 0.5
    corners = np.array(list(itertools.product(*zip(low, high, strict=True))))
    corners_mm = grid.index_to_physical(corners)
    centre = grid.index_to_physical((low + high) / 2)
    return Localization(triple(float(c) for c in centre), corners_mm, True)
