"""Pulmonary-vein ostia and the left atrial appendage found on an LA segmentation, with a confidence each.

The LA body is what a ball of radius r (larger than a vein or the appendage, smaller than the body) can sweep
inside the mask: the morphological opening, computed with two distance transforms. No one r fits every
atrium (a small ball lets a wide antrum into the body, a large one merges neighbouring veins into one
protrusion), so each of `BODY_RADII_MM` is tried and the best-explained result kept: the largest sum of the
named structures' confidences, a common left trunk counting for its two veins. What the
ball cannot reach are the tubular protrusions — the veins with their antra and the appendage. Each protrusion
(26-connected, at least `min_volume_ml`) gets an ostium, the centre of its interface with the body, and a
direction, from the body's centroid to that ostium in patient coordinates (LPS: +x left, +y posterior, +z
superior, as the image geometry gives them). Protrusions are named by matching their directions to the
typical ones of the anatomy (`TEMPLATES`: veins posterior, left veins to the left, superior veins up; the
appendage anterior and to the left) with one-to-one assignment (`scipy.optimize.linear_sum_assignment`);
the confidence of a name is the cosine between the protrusion's direction and its template's (1 = exactly the
typical direction). A single left protrusion where two are expected is reported as a common left trunk
("LCPV"). `Landmarks.structures` keeps the partition of the mask (body, each protrusion), from which the
surface is clipped at the ostia (`atrialjsq.quantify.regions`). The mitral ring is found from the image, in
`atrialjsq.quantify.mitral`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from atrialjsq.io import Volume
from atrialjsq.surface.distance import distance_to_outside

# Typical directions from the LA centre in LPS (left, posterior, superior), normalised below.
TEMPLATES = {
    "LSPV": (1.0, 0.8, 0.8),
    "LIPV": (1.0, 0.9, -0.5),
    "RSPV": (-1.0, 0.7, 0.8),
    "RIPV": (-1.0, 0.8, -0.5),
    "LAA": (0.7, -1.0, 0.5),
}
BODY_RADII_MM = (7.0, 8.0, 9.0, 10.0)
DEFAULT_MIN_VOLUME_ML = 0.3
TRUNK_SECOND_VEIN = 0.9  # what a common trunk adds for its second vein (a vein found apart adds its confidence)
BODY_LABEL = 1


@dataclass
class Landmark:
    name: str
    ostium_mm: np.ndarray  # physical (LPS) coordinates of the ostium centre
    direction: np.ndarray  # unit vector from the body centroid to the ostium
    volume_ml: float
    confidence: float  # cosine to the template direction of `name`
    label: int = 0  # this protrusion's value in `Landmarks.structures`


@dataclass
class Landmarks:
    found: dict[str, Landmark]
    body_centroid_mm: np.ndarray
    unassigned: list[Landmark] = field(default_factory=list)  # protrusions no template matched
    body_radius_mm: float = 0.0  # the opening radius that explained the anatomy best
    # The mask's partition on its grid: 0 outside, BODY_LABEL for the body, `Landmark.label` for a protrusion.
    structures: np.ndarray | None = None

    @property
    def score(self) -> float:
        """Σ confidence of the named structures; a common left trunk counts for its two veins, a little less
        than two veins found apart (`TRUNK_SECOND_VEIN`): a wider opening merges two close veins into one bump,
        and at equal fit the separate veins are the better reading (4 of 35 four-vein phantoms read as trunks)."""
        trunk = self.found.get("LCPV")
        return sum(mark.confidence for mark in self.found.values()) + (
            TRUNK_SECOND_VEIN * trunk.confidence if trunk is not None else 0.0
        )


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def la_body(mask: np.ndarray, spacing, radius_mm: float, depth: np.ndarray | None = None) -> np.ndarray:
    """The opening of `mask` by a ball of `radius_mm` (what the ball can sweep inside it); `depth` is
    `distance_to_outside(mask)` when the caller has it already."""
    depth = distance_to_outside(mask, spacing) if depth is None else depth
    core = depth >= radius_mm
    if not core.any():
        return np.zeros_like(mask, dtype=bool)
    reach = distance_to_outside(~core, spacing)  # distance to the core
    return (reach <= radius_mm) & mask


def detect_landmarks(
    la: Volume, body_radii_mm=BODY_RADII_MM, min_volume_ml: float = DEFAULT_MIN_VOLUME_ML
) -> Landmarks:
    """PV ostia and the appendage of the LA mask `la` (see the module docstring): the best of the radii."""
    depth = distance_to_outside(np.asarray(la.array) > 0, la.geometry.spacing)  # shared by every radius
    results = [landmarks_at_radius(la, float(radius), min_volume_ml, depth) for radius in body_radii_mm]
    return max(results, key=lambda result: result.score)


def landmarks_at_radius(
    la: Volume, body_radius_mm: float, min_volume_ml: float = DEFAULT_MIN_VOLUME_ML, depth: np.ndarray | None = None
) -> Landmarks:
    """PV ostia and the appendage with the body opened by one ball radius."""
    geometry = la.geometry
    spacing = np.asarray(geometry.spacing, dtype=np.float64)
    mask = np.asarray(la.array) > 0
    body = la_body(mask, spacing, body_radius_mm, depth)
    if not body.any():  # the ball does not fit: too small an LA to tell veins from body, all of it is body
        centroid = np.asarray(geometry.index_to_physical(np.argwhere(mask).mean(axis=0)), dtype=np.float64)
        return Landmarks({}, centroid, [], body_radius_mm, np.where(mask, BODY_LABEL, 0).astype(np.int16))
    labels, count = ndimage.label(body, structure=np.ones((3, 3, 3)))
    if count > 1:  # the largest component is the body
        sizes = ndimage.sum(body, labels, index=range(1, count + 1))
        body = labels == 1 + int(np.argmax(sizes))
    voxel_ml = float(np.prod(spacing)) / 1000.0
    centroid = np.asarray(geometry.index_to_physical(np.argwhere(body).mean(axis=0)), dtype=np.float64)
    rest = mask & ~body
    parts, n_parts = ndimage.label(rest, structure=np.ones((3, 3, 3)))
    near_body = distance_to_outside(~body, spacing) <= 1.5 * float(spacing.max())
    # Every part's size and interface centroid at once (a scan per part costs seconds with many small bumps).
    sizes = np.bincount(parts.ravel(), minlength=n_parts + 1)
    interface_labels = np.where(near_body, parts, 0)
    interface_sizes = np.bincount(interface_labels.ravel(), minlength=n_parts + 1)
    kept = [i for i in range(1, n_parts + 1) if sizes[i] * voxel_ml >= min_volume_ml and interface_sizes[i] > 0]
    centres = _label_centres(interface_labels, interface_sizes, kept)
    lookup = np.full(n_parts + 1, BODY_LABEL, dtype=np.int16)  # a bump too small to be a vein: body wall
    lookup[0] = 0
    candidates: list[Landmark] = []
    for index, centre in zip(kept, centres, strict=True):
        ostium = np.asarray(geometry.index_to_physical(np.asarray(centre)), dtype=np.float64)
        label = BODY_LABEL + 1 + len(candidates)
        lookup[index] = label
        candidates.append(Landmark("", ostium, _unit(ostium - centroid), float(sizes[index]) * voxel_ml, 0.0, label))
    structures = np.where(body, np.int16(BODY_LABEL), lookup[parts]).astype(np.int16)
    found, unassigned = _assign(candidates)
    return Landmarks(found, centroid, unassigned, body_radius_mm, structures)


def _label_centres(labels: np.ndarray, sizes: np.ndarray, kept: list[int]) -> list[np.ndarray]:
    """The mean voxel index of each label in `kept` (`sizes`: voxels per label): `ndimage.center_of_mass`
    with one pass over the labelled voxels instead of one per label."""
    if not kept:
        return []
    where = np.nonzero(labels)
    values = labels[where]
    sums = np.stack([np.bincount(values, weights=axis, minlength=len(sizes)) for axis in where], axis=1)
    return [sums[index] / sizes[index] for index in kept]


def _assign(candidates: list[Landmark]) -> tuple[dict[str, Landmark], list[Landmark]]:
    if not candidates:
        return {}, []
    names = list(TEMPLATES)
    templates = np.stack([_unit(TEMPLATES[name]) for name in names])
    cosines = np.stack([c.direction for c in candidates]) @ templates.T  # (candidates, templates)
    rows, cols = linear_sum_assignment(-cosines)
    found: dict[str, Landmark] = {}
    taken = set()
    for row, col in zip(rows, cols, strict=True):
        if cosines[row, col] <= 0:  # pointing away from every free template: not a named structure
            continue
        candidate = candidates[row]
        candidate.name, candidate.confidence = names[col], float(cosines[row, col])
        found[names[col]] = candidate
        taken.add(row)
    left = [name for name in ("LSPV", "LIPV") if name in found]
    if len(left) == 1:  # one left vein where two are expected: a common left trunk
        trunk = found.pop(left[0])
        trunk.name = "LCPV"
        trunk.confidence = float(trunk.direction @ _unit(np.add(TEMPLATES["LSPV"], TEMPLATES["LIPV"])))
        found["LCPV"] = trunk
    return found, [c for i, c in enumerate(candidates) if i not in taken]
