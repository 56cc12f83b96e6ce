"""The mitral valve opening on the LA surface, found where the blood pool runs on into the left ventricle.

The LA segmentation stops at the mitral valve, but the image does not: just outside that part of the LA
surface lies LV blood, as bright as the LA's own, all the way out, where everywhere else the wall (dark
myocardium, or scar brighter than blood) and then other tissue (fat, lung, myocardium) follow. So a vertex is
open when its image profile along the outward normal over `OUTSIDE_MM` (0.5–6 mm) stays within
`max_deviation` of the LA blood level (the image smoothed by `SMOOTH_MM` first: LGE blood alone varies by
~25 % voxel to voxel), and the opening is the largest connected patch of open LA-body
vertices within `cone_deg` of the typical direction of the valve from the LA centre (`MITRAL_DIRECTION`, LPS:
anterior, inferior and a little to the left). Its rim is the mitral ring. The confidence is the cosine
between the patch's direction and the typical one. PV sleeves and the appendage, which also continue into
blood, are left out by the caller (only body vertices are searched).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from atrialjsq.io import Volume
from atrialjsq.surface.distance import distance_to_outside
from atrialjsq.surface.mesh import Mesh
from atrialjsq.surface.mesh_graph import patches, vertex_areas
from atrialjsq.surface.projection import sample_at_offsets

MITRAL_DIRECTION = (0.3, -0.75, -0.6)
OUTSIDE_MM = tuple(np.arange(0.5, 6.01, 0.5))
SMOOTH_MM = 1.0  # Gaussian sigma
BLOOD_DEPTH_MM = 3.0  # the blood level is the median of the LA at least this deep inside its mask
DEFAULT_MAX_DEVIATION = 0.3  # |image / blood − 1| along the whole profile
DEFAULT_CONE_DEG = 60.0
MIN_AREA_MM2 = 100.0  # a valve opening is 2-4 cm across; smaller bright patches are not it


@dataclass
class MitralOpening:
    vertices: np.ndarray  # bool (V,): the mesh vertices of the opening
    centre_mm: np.ndarray
    normal: np.ndarray  # unit, out of the LA
    radius_mm: float  # of the disk with the opening's area
    area_mm2: float
    confidence: float


def blood_deviation(mesh: Mesh, image: Volume, la_mask: np.ndarray) -> np.ndarray:
    """(V,) the largest |image / LA blood level − 1| along each vertex's outward profile (≈0 where blood
    continues through the surface)."""
    geometry = image.geometry
    depth = distance_to_outside(la_mask, geometry.spacing)
    core = depth >= BLOOD_DEPTH_MM
    blood = float(np.median(np.asarray(image.array)[core if core.any() else la_mask]))
    normals_index = mesh.normals @ geometry.direction_matrix
    sigma = SMOOTH_MM / np.asarray(geometry.spacing)
    smooth = ndimage.gaussian_filter(np.asarray(image.array, dtype=np.float32), sigma)
    outside = sample_at_offsets(
        smooth,
        mesh.vertices_index,
        normals_index,
        geometry.spacing,
        np.asarray(OUTSIDE_MM),
        order=1,
    )
    return np.abs(outside / max(blood, 1e-6) - 1.0).max(axis=1)


def detect_mitral(
    mesh: Mesh,
    deviation: np.ndarray,
    searchable: np.ndarray,
    centroid_mm: np.ndarray,
    *,
    max_deviation: float = DEFAULT_MAX_DEVIATION,
    cone_deg: float = DEFAULT_CONE_DEG,
) -> MitralOpening | None:
    """The mitral opening among the `searchable` vertices (see the module docstring), or None."""
    template = np.asarray(MITRAL_DIRECTION, dtype=np.float64)
    template /= np.linalg.norm(template)
    offsets = mesh.vertices_mm - np.asarray(centroid_mm, dtype=np.float64)
    directions = offsets / np.maximum(np.linalg.norm(offsets, axis=1, keepdims=True), 1e-9)
    candidate = searchable & (deviation <= max_deviation) & (directions @ template >= np.cos(np.radians(cone_deg)))
    labels = patches(mesh, candidate)
    if labels.max() < 0:
        return None
    areas = vertex_areas(mesh)
    patch_areas = np.bincount(labels[labels >= 0], weights=areas[labels >= 0])
    best = int(np.argmax(patch_areas))
    if patch_areas[best] < MIN_AREA_MM2:
        return None
    members = labels == best
    weights = areas[members] / patch_areas[best]
    centre = weights @ mesh.vertices_mm[members]
    normal = weights @ mesh.normals[members]
    normal /= max(float(np.linalg.norm(normal)), 1e-9)
    heading = centre - centroid_mm
    confidence = float(heading @ template / max(float(np.linalg.norm(heading)), 1e-9))
    return MitralOpening(
        members, centre, normal, float(np.sqrt(patch_areas[best] / np.pi)), float(patch_areas[best]), confidence
    )
