"""Scar on the LA surface: the paper's implicit projection (§3.2) turned into a per-case result.

The LA surface is the boundary of the LA mask, in two forms that are decided the same way:

- surface voxels (`atrialjsq.surface.boundary`), the representation the paper and LAScarQS evaluate on;
- a marching-cubes mesh (`atrialjsq.surface.mesh`), which gives areas in mm² and the 3D map users open.

Every surface element (voxel or mesh vertex) reads the maps along its outward normal over the wall band,
from `inward_mm` inside the LA to `outward_mm` outside (`DEFAULT_BAND`, −2..+3 mm: the endocardium of a
predicted LA may be off by a voxel or two, and the LA wall is 1–3 mm thick). The band, the normals and the
sampling along them come from `atrialjsq.surface` (`BandParams`, `wall_band`, `sample_at_offsets`). The
samples of that profile are reduced to one decision per element by a rule that each method supplies (see
`scar_from_probabilities` here and `atrialjsq.quantify.baselines` for the classic ones).

The volumetric scar label written as `scar_predict.nii.gz` is defined as the wall-band voxels whose nearest
LA surface voxel is scar: the surface decision painted back into the wall, so that a volumetric evaluation
(LAScarQS projects the scar label onto the surface itself) sees the same scar as the surface map.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from atrialjsq.errors import InputError
from atrialjsq.io import Volume
from atrialjsq.surface.band import BandParams, wall_band
from atrialjsq.surface.boundary import bounding_box, outward_normals
from atrialjsq.surface.mesh import Mesh, extract_mesh
from atrialjsq.surface.projection import sample_at_offsets, surface_points_and_normals

# The band quantification reads along the normals: the training band (2 mm in, 0.5 mm steps, normals from the
# mask smoothed by 2 mm) widened to 3 mm outwards, since a predicted LA's endocardium may be off by a voxel or
# two and the wall is 1–3 mm thick. The reach plays no part here.
DEFAULT_BAND = BandParams(inward_mm=2.0, outward_mm=3.0)
# The mesh is the 0.5 level of the mask smoothed by this Gaussian: marching cubes on the binary mask itself
# follows the voxel staircase and overstates the area by ~10 % (more on anisotropic grids, and unevenly with
# the surface's orientation, which would bias area-weighted burdens); 1 mm brings a sphere's area within ~1 %.
DEFAULT_MESH_SIGMA_MM = 1.0

# A reducer turns the profiles of one set of surface elements into (probability, score, label) per element.
Profiles = dict[str, np.ndarray]
Reducer = Callable[[Profiles], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class SurfaceScar:
    """Scar on the LA surface for one case, on the voxels and on the mesh, plus the volumetric label.

    `*_probability` is in [0, 1], `*_score` is the method's own statistic (mean p_scar − p_normal, intensity
    ratio, maximum intensity...) and `*_label` is the boolean decision. `alternative_labels` holds per-vertex
    decisions at other published cut-offs (e.g. IIR 1.2 next to 1.32) so reports can give the burden at each.
    """

    la: Volume
    points: np.ndarray
    normals: np.ndarray
    point_probability: np.ndarray
    point_score: np.ndarray
    point_label: np.ndarray
    mesh: Mesh
    vertex_probability: np.ndarray
    vertex_score: np.ndarray
    vertex_label: np.ndarray
    scar: Volume
    method: str
    parameters: dict[str, Any] = field(default_factory=dict)
    alternative_labels: dict[str, np.ndarray] = field(default_factory=dict)
    # Whether `*_probability` grades the evidence (a network's maps, LearnGC's classifier) rather than being a
    # yes/no classification read through interpolation (the classic threshold methods): only a graded one says
    # how sure each call is (`quantify.confidence`).
    graded: bool = True

    @property
    def geometry(self):
        return self.la.geometry

    def vertex_point_data(self) -> dict[str, np.ndarray]:
        """Per-vertex arrays as written into mesh.vtk / mesh.ply."""
        return {
            "scar_probability": self.vertex_probability.astype(np.float32),
            "scar_label": self.vertex_label.astype(np.uint8),
            "scar_score": self.vertex_score.astype(np.float32),
        }


@dataclass
class SurfaceSampler:
    """The LA surface elements with their normals, and the offsets of the wall-band profile along them.

    Voxel points are integer (x, y, z) indices; mesh vertices are continuous indices. Normals of both are unit
    vectors along the index axes in physical units, as `sample_at_offsets` expects.
    """

    la: Volume
    points: np.ndarray
    normals: np.ndarray
    mesh: Mesh
    vertex_points: np.ndarray
    vertex_normals: np.ndarray
    band: np.ndarray
    offsets_mm: np.ndarray
    band_params: BandParams

    def profiles(self, values: np.ndarray, order: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """`values` sampled along the normals over the band: (N_points, S) and (N_vertices, S)."""
        spacing = self.la.geometry.spacing
        on_points = sample_at_offsets(values, self.points, self.normals, spacing, self.offsets_mm, order=order)
        on_vertices = sample_at_offsets(
            values, self.vertex_points, self.vertex_normals, spacing, self.offsets_mm, order=order
        )
        return on_points, on_vertices


def binary_la(la: Volume, path: str | None = None) -> Volume:
    """The LA mask as uint8 {0, 1}; an empty mask cannot carry a surface and is refused."""
    mask = np.asarray(la.array) > 0
    if not mask.any():
        raise InputError(path or "<LA mask>", "LA mask is empty")
    return la.like(mask.astype(np.uint8))


def surface_sampler(
    la: Volume,
    band_params: BandParams = DEFAULT_BAND,
    mesh_sigma_mm: float = DEFAULT_MESH_SIGMA_MM,
) -> SurfaceSampler:
    """Surface voxels, the mesh of the same mask and their normals, for one LA mask."""
    la = binary_la(la)
    geometry = la.geometry
    normal_sigma_mm = band_params.normal_sigma_mm
    points, normals = surface_points_and_normals(la.array, geometry.spacing, sigma_mm=normal_sigma_mm)
    mesh = extract_mesh(la.array, geometry, level=0.5, smooth_sigma_mm=mesh_sigma_mm)
    vertex_points = mesh.vertices_index
    vertex_normals = outward_normals(la.array, geometry.spacing, vertex_points, sigma_mm=normal_sigma_mm)
    return SurfaceSampler(
        la=la,
        points=points,
        normals=normals,
        mesh=mesh,
        vertex_points=vertex_points,
        vertex_normals=vertex_normals,
        band=np.asarray(wall_band(la.array, geometry.spacing, band_params)) > 0,
        offsets_mm=band_params.offsets(),
        band_params=band_params,
    )


def scar_in_band(sampler: SurfaceSampler, point_label: np.ndarray) -> np.ndarray:
    """Wall-band voxels whose nearest surface voxel is scar (uint8 {0, 1}): the volumetric scar label."""
    la = sampler.la
    spacing = la.geometry.spacing
    band = sampler.band
    result = np.zeros(la.geometry.shape, dtype=np.uint8)
    if not point_label.any() or not band.any():
        return result
    surface_label = np.full(la.geometry.shape, -1, dtype=np.int8)  # −1 off the surface, 0 normal, 1 scar
    surface_label[tuple(sampler.points.T)] = point_label.astype(np.int8)
    # Every surface voxel lies in the band, so the band's box holds all candidates for "nearest".
    box = bounding_box(band | (surface_label >= 0), pad=1)
    crop = surface_label[box]
    nearest = ndimage.distance_transform_edt(crop < 0, sampling=spacing, return_distances=False, return_indices=True)
    nearest_label = crop[tuple(nearest)]
    result[box] = (band[box] & (nearest_label == 1)).astype(np.uint8)
    return result


def build_surface_scar(
    sampler: SurfaceSampler,
    volumes: dict[str, np.ndarray],
    reduce: Reducer,
    method: str,
    parameters: dict[str, Any] | None = None,
    alternatives: dict[str, np.ndarray] | None = None,
    order: int = 1,
) -> SurfaceScar:
    """Sample every volume along the normals, reduce each element's profiles to a decision, assemble.

    `alternatives` maps a name to a voxel-wise scar classification (e.g. IIR ≥ 1.2); a vertex is scar under
    it where the classification, read trilinearly along the normal, reaches 0.5 somewhere in the band.
    """
    point_profiles: Profiles = {}
    vertex_profiles: Profiles = {}
    for name, values in volumes.items():
        point_profiles[name], vertex_profiles[name] = sampler.profiles(values, order=order)
    alternative_labels = {}
    for name, classified in (alternatives or {}).items():
        on_vertices = sampler.profiles(np.asarray(classified, dtype=np.float32), order=1)[1]
        alternative_labels[name] = on_vertices.max(axis=1) >= 0.5  # offsets always include 0
    return assemble_surface_scar(
        sampler, reduce(point_profiles), reduce(vertex_profiles), method, parameters, alternative_labels
    )


Decision = tuple[np.ndarray, np.ndarray, np.ndarray]  # (probability, score, label) per surface element


def assemble_surface_scar(
    sampler: SurfaceSampler,
    on_points: Decision,
    on_vertices: Decision,
    method: str,
    parameters: dict[str, Any] | None = None,
    alternative_labels: dict[str, np.ndarray] | None = None,
) -> SurfaceScar:
    """The `SurfaceScar` of a method's decisions on the sampler's voxels and vertices, with the volumetric
    label painted from the voxel decisions (`scar_in_band`) and the band in the parameters."""
    point_probability, point_score, point_label = on_points
    vertex_probability, vertex_score, vertex_label = on_vertices
    return SurfaceScar(
        la=sampler.la,
        points=sampler.points,
        normals=sampler.normals,
        point_probability=point_probability,
        point_score=point_score,
        point_label=point_label,
        mesh=sampler.mesh,
        vertex_probability=vertex_probability,
        vertex_score=vertex_score,
        vertex_label=vertex_label,
        scar=sampler.la.like(scar_in_band(sampler, point_label)),
        method=method,
        parameters={
            "inward_mm": float(sampler.band_params.inward_mm),
            "outward_mm": float(sampler.band_params.outward_mm),
            "step_mm": float(sampler.band_params.step_mm),
            **(parameters or {}),
        },
        alternative_labels=dict(alternative_labels or {}),
    )


def compare_probabilities(profiles: Profiles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per element: scar where the mean of p_scar − p_normal along the normal is positive.

    Why the mean and not the maximum: the distance probability maps decay away from the wall, so samples in
    the blood pool or outside the heart carry ~0 of both and do not move the sign; the comparison is then a
    vote weighted by the evidence over the whole band, which is what the paper relies on ("the comparison of
    the two probabilities is relatively fixed along the perpendicular direction"). A maximum would call a
    normal element scar as soon as one sample touches the tail of a neighbouring scar.
    The probability Σp_scar / (Σp_scar + Σp_normal) is above 0.5 exactly when the mean difference is positive.
    """
    p_scar = np.clip(profiles["p_scar"].astype(np.float64), 0.0, None)
    p_normal = np.clip(profiles["p_normal"].astype(np.float64), 0.0, None)
    sum_scar = p_scar.sum(axis=1)
    total = sum_scar + p_normal.sum(axis=1)
    probability = np.divide(sum_scar, total, out=np.zeros_like(total), where=total > 1e-12)
    score = (p_scar - p_normal).mean(axis=1) if p_scar.shape[1] else np.zeros(len(p_scar))
    return probability, score, score > 0


def _check_same_grid(la: Volume, other: Volume, name: str) -> None:
    problem = la.geometry.mismatch(other.geometry)
    if problem is not None:
        raise InputError(f"<{name}>", f"not on the LA mask's grid ({problem})")


def scar_from_probabilities(
    la: Volume,
    p_normal: Volume,
    p_scar: Volume,
    band_params: BandParams = DEFAULT_BAND,
    method: str = "ajsqnet",
) -> SurfaceScar:
    """Scar on the surface of `la` from the network's normal-wall and scar probability maps (same grid)."""
    _check_same_grid(la, p_normal, "p_normal")
    _check_same_grid(la, p_scar, "p_scar")
    sampler = surface_sampler(la, band_params)
    volumes = {
        "p_normal": np.asarray(p_normal.array, dtype=np.float32),
        "p_scar": np.asarray(p_scar.array, dtype=np.float32),
    }
    return build_surface_scar(
        sampler,
        volumes,
        compare_probabilities,
        method,
        parameters={"rule": "mean of p_scar - p_normal along the normal > 0"},
    )
