"""The LA surface split into named regions, with the PVs clipped at their ostia, and the scar burden of each.

The partition (every mesh vertex gets one region, in this order of precedence):

- ``mitral``: the valve opening (`atrialjsq.quantify.mitral`): no wall, left out of every burden;
- ``LSPV`` / ``LIPV`` / ``RSPV`` / ``RIPV`` / ``LCPV`` and ``other_protrusion``: the vein sleeves beyond their
  ostia (the protrusions of `atrialjsq.quantify.landmarks`). Clinical pipelines clip the veins at the ostia
  before reporting burden, so these are left out of the LA burden, with their own figures kept;
- ``LAA``: the appendage (its own region, inside the LA burden);
- ``left_antrum`` / ``right_antrum``: LA-body wall within `ANTRUM_MM` of that side's vein sleeves, where
  wide-area circumferential ablation draws its rings;
- the rest of the body by the largest component of its direction from the body centroid in the LA's own frame
  (`LAFrame`: left = right veins → left veins, superior = inferior → superior veins, posterior = superior ×
  left), each component scaled by the body's spread along that axis: ``posterior_wall``, ``anterior_wall``,
  ``roof``, ``floor``, ``septum`` (right) and ``lateral_wall`` (left).

This is a simplified form of the regional models used in LGE studies (PV antra, posterior wall, roof, floor,
anterior, septal and lateral walls, appendage; e.g. the 'standardised' segmentations of Benito et al. 2017):
boundaries follow the LA frame, not hand-drawn lines, so they are reproducible but not clinically exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from atrialjsq.quantify.landmarks import BODY_LABEL, Landmarks
from atrialjsq.surface.mesh import Mesh
from atrialjsq.surface.mesh_graph import vertex_areas

ANTRUM_MM = 10.0
LEFT_VEINS = ("LSPV", "LIPV", "LCPV")
RIGHT_VEINS = ("RSPV", "RIPV")
SLEEVES = ("LSPV", "LIPV", "LCPV", "RSPV", "RIPV", "other_protrusion")
WALL_REGIONS = (
    "left_antrum",
    "right_antrum",
    "posterior_wall",
    "roof",
    "floor",
    "anterior_wall",
    "septum",
    "lateral_wall",
    "LAA",
)
EXCLUDED = ("mitral", *SLEEVES)  # not LA wall for the burden
REGIONS = (*WALL_REGIONS, *EXCLUDED)
# The wall face of each frame axis (left, posterior, superior) on its positive and its negative side.
_FACES = np.array([["lateral_wall", "septum"], ["posterior_wall", "anterior_wall"], ["roof", "floor"]], dtype=object)


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


@dataclass
class LAFrame:
    """Origin and orthonormal axes (rows: left, posterior, superior) of the LA, from its landmarks."""

    origin: np.ndarray
    axes: np.ndarray  # (3, 3)
    from_landmarks: bool  # False: the patient axes (LPS) stood in for missing veins

    def coordinates(self, points_mm: np.ndarray) -> np.ndarray:
        return (np.asarray(points_mm, dtype=np.float64) - self.origin) @ self.axes.T


def la_frame(landmarks: Landmarks) -> LAFrame:
    """The LA frame (see the module docstring); LPS axes where the veins needed for an axis are missing."""
    found = landmarks.found
    left_side = [found[name].ostium_mm for name in LEFT_VEINS if name in found]
    right_side = [found[name].ostium_mm for name in RIGHT_VEINS if name in found]
    from_landmarks = bool(left_side and right_side)
    left = _unit(np.mean(left_side, axis=0) - np.mean(right_side, axis=0)) if from_landmarks else np.eye(3)[0]
    pairs = [
        (found[a].ostium_mm, found[b].ostium_mm)
        for a, b in (("LSPV", "LIPV"), ("RSPV", "RIPV"))
        if a in found and b in found
    ]
    superior = np.mean([s - i for s, i in pairs], axis=0) if pairs else np.eye(3)[2]
    superior = superior - (superior @ left) * left
    if np.linalg.norm(superior) < 1e-6:
        superior, from_landmarks = np.eye(3)[2] - left[2] * left, False
    superior = _unit(superior)
    posterior = np.cross(superior, left)
    return LAFrame(
        np.asarray(landmarks.body_centroid_mm, dtype=np.float64),
        np.stack([left, posterior, superior]),
        from_landmarks and bool(pairs),
    )


def vertex_structures(mesh: Mesh, structures: np.ndarray, spacing=(1.0, 1.0, 1.0)) -> np.ndarray:
    """(V,) the `Landmarks.structures` label of the mask voxel nearest each vertex in mm (vertices sit on the
    boundary, often just outside the mask); `spacing` is the grid's."""
    box = tuple(
        slice(max(int(np.floor(lo)) - 2, 0), min(int(np.ceil(hi)) + 3, size))
        for lo, hi, size in zip(mesh.vertices_index.min(0), mesh.vertices_index.max(0), structures.shape, strict=True)
    )
    crop = structures[box]
    nearest = ndimage.distance_transform_edt(
        crop == 0, sampling=tuple(float(s) for s in spacing), return_distances=False, return_indices=True
    )
    index = np.rint(mesh.vertices_index).astype(np.int64) - np.array([s.start for s in box])
    index = np.clip(index, 0, np.array(crop.shape) - 1)
    near = nearest[:, index[:, 0], index[:, 1], index[:, 2]]
    return crop[near[0], near[1], near[2]]


def assign_regions(
    mesh: Mesh,
    landmarks: Landmarks,
    frame: LAFrame,
    mitral: np.ndarray | None = None,
    spacing=(1.0, 1.0, 1.0),
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """(V,) region name of every vertex (see the module docstring); `spacing` is that of the structures' grid;
    `labels` is `vertex_structures(mesh, landmarks.structures, spacing)` when the caller has it already.
    Body wall within `ANTRUM_MM` of both sides' sleeves joins the nearer side's antrum (the left on an exact
    tie)."""
    if landmarks.structures is None:
        raise ValueError("the landmarks carry no structure labels")
    if labels is None:
        labels = vertex_structures(mesh, landmarks.structures, spacing)
    names = {mark.label: mark.name for mark in landmarks.found.values()}
    regions = np.full(mesh.n_vertices, "", dtype=object)
    body = labels == BODY_LABEL
    for label in np.unique(labels[~body]):
        regions[labels == label] = names.get(int(label), "other_protrusion")
    regions[body] = _wall_face(frame.coordinates(mesh.vertices_mm[body]))
    body_index = np.flatnonzero(body)
    nearest_side = np.full(len(body_index), np.inf)
    for side, veins in (("left_antrum", LEFT_VEINS), ("right_antrum", RIGHT_VEINS)):
        # the side's sleeves by structure label (an integer test; comparing the object names is slow)
        sleeve = np.isin(labels, [mark.label for name, mark in landmarks.found.items() if name in veins])
        if sleeve.any() and len(body_index):
            distance, _ = cKDTree(mesh.vertices_mm[sleeve]).query(mesh.vertices_mm[body_index])
            closer = (distance <= ANTRUM_MM) & (distance < nearest_side)
            regions[body_index[closer]] = side
            nearest_side = np.minimum(nearest_side, distance)
    if mitral is not None:
        regions[np.asarray(mitral, dtype=bool)] = "mitral"
    return regions.astype(str)


def _wall_face(coordinates: np.ndarray) -> np.ndarray:
    if len(coordinates) == 0:
        return np.zeros(0, dtype=object)
    scaled = coordinates / np.maximum(coordinates.std(axis=0), 1e-6)
    axis = np.argmax(np.abs(scaled), axis=1)
    negative = scaled[np.arange(len(scaled)), axis] < 0
    return _FACES[axis, negative.astype(np.int64)]


@dataclass
class RegionBurden:
    region: str
    area_cm2: float
    scar_area_cm2: float

    @property
    def burden_percent(self) -> float:
        return 100.0 * self.scar_area_cm2 / self.area_cm2 if self.area_cm2 > 0 else 0.0


def region_burdens(mesh: Mesh, regions: np.ndarray, scar: np.ndarray) -> list[RegionBurden]:
    """Area and scar area of every region present, in `REGIONS` order (area-weighted as the LA burden)."""
    areas = vertex_areas(mesh) / 100.0  # cm²
    scar = np.asarray(scar, dtype=bool)
    return [
        RegionBurden(name, float(areas[regions == name].sum()), float(areas[(regions == name) & scar].sum()))
        for name in REGIONS
        if (regions == name).any()
    ]


def clipped_burden(burdens: list[RegionBurden]) -> RegionBurden:
    """The LA wall's burden with the vein sleeves and the mitral opening left out."""
    wall = [b for b in burdens if b.region in WALL_REGIONS]
    return RegionBurden("la_wall_clipped", sum(b.area_cm2 for b in wall), sum(b.scar_area_cm2 for b in wall))
