"""Triangle meshes of the LA for reports and surface maps: marching cubes, areas, vertex sampling, .vtk/.ply.

Vertices are kept twice: `vertices_index` (continuous (x, y, z) index, to sample volumes on the grid) and
`vertices_mm` (physical, through the Geometry including its direction cosines, for viewers and areas).
`normals` are physical too (rotated by the direction cosines); to step along them on the grid, as
`sample_at_offsets` does, use `normals @ geometry.direction_matrix` (the index-axis components in mm).
Faces are wound so that the right-hand rule gives the outward normal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import meshio
import numpy as np
from scipy import ndimage
from skimage.measure import marching_cubes

from atrialjsq.io.atomic import atomic_path
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.volume import Volume
from atrialjsq.surface.boundary import bounding_box

_FORMATS = {".vtk": "vtk", ".ply": "ply"}


@dataclass
class Mesh:
    """A triangle surface: physical vertices (mm), faces (vertex indices), unit outward vertex normals
    (physical), and the vertices as continuous (x, y, z) grid indices."""

    vertices_mm: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64
    normals: np.ndarray  # (V, 3) float64
    vertices_index: np.ndarray  # (V, 3) float64

    @property
    def n_vertices(self) -> int:
        return len(self.vertices_mm)


class NothingToMeshError(ValueError):
    """A mask too small (or too thin) to leave a surface once smoothed: a caller with a user's file says which."""


def extract_mesh(
    mask_or_prob: np.ndarray | Volume,
    geometry: Geometry | None = None,
    level: float = 0.5,
    smooth_sigma_mm: float = 0.0,
) -> Mesh:
    """The `level` iso-surface of a mask or probability map, as a closed mesh in physical space.

    Marching cubes runs on the bounding box of the voxels ≥ level, padded by one voxel of zeros (plus the
    smoothing radius) so that a structure touching the array edge is still closed. `smooth_sigma_mm` > 0
    Gaussian-smooths the volume first (a less staircased surface from a binary mask).
    Raises ValueError when no voxel reaches the level.
    """

    if isinstance(mask_or_prob, Volume):
        geometry = geometry or mask_or_prob.geometry
        mask_or_prob = mask_or_prob.array
    array = np.asarray(mask_or_prob)
    if geometry is None:
        geometry = Geometry(array.shape)
    if tuple(array.shape) != geometry.shape:
        raise ValueError(f"array shape {array.shape} != geometry shape {geometry.shape}")
    spacing = np.asarray(geometry.spacing)
    sigma_vox = np.full(3, float(smooth_sigma_mm)) / spacing
    pad = 1 + np.ceil(3.0 * sigma_vox).astype(int)
    box = bounding_box(array >= level, pad=pad)
    if box is None:
        raise NothingToMeshError(f"no voxel reaches the level {level}: nothing to mesh")
    crop = np.pad(array[box].astype(np.float32), [(int(p), int(p)) for p in pad])
    if smooth_sigma_mm > 0:
        crop = ndimage.gaussian_filter(crop, sigma_vox, mode="constant", truncate=3.0)
        if crop.max() < level:
            raise NothingToMeshError(f"after smoothing no voxel reaches the level {level}: nothing to mesh")

    # Spacing-aware marching cubes: vertices come out scaled by the spacing (not yet rotated or shifted).
    verts_scaled, faces, gradient_normals, _ = marching_cubes(crop, level=level, spacing=tuple(spacing))
    faces = faces.astype(np.int64)
    normals = _vertex_normals(verts_scaled, faces)
    # skimage's gradient normals (gradient_direction="descent") point out of the structure; they are not exact
    # with anisotropic spacing, so they only decide the orientation. Wind the faces to match the normals.
    if np.sum(normals * gradient_normals) < 0:
        normals = -normals
        faces = faces[:, ::-1]
    offset = np.array([s.start for s in box]) - pad
    vertices_index = verts_scaled / spacing + offset
    direction = geometry.direction_matrix
    normals = normals @ direction.T
    if np.linalg.det(direction) < 0:
        # A mirroring direction matrix flips the winding; keep triangles oriented the same way as the normals.
        faces = faces[:, ::-1]
    return Mesh(geometry.index_to_physical(vertices_index), np.ascontiguousarray(faces), normals, vertices_index)


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit vertex normals: the area-weighted mean of the adjacent faces' normals (right-hand winding)."""
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])  # length = 2 * area
    normals = np.empty((len(vertices), 3), dtype=np.float64)
    flat = faces.reshape(-1)
    for axis in range(3):
        normals[:, axis] = np.bincount(flat, weights=np.repeat(face_normals[:, axis], 3), minlength=len(vertices))
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return normals


def triangle_areas(mesh: Mesh) -> np.ndarray:
    """Area of every face in mm² (F,)."""
    corners = mesh.vertices_mm[mesh.faces]
    return 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)


def mesh_area_mm2(mesh: Mesh, vertex_weights: np.ndarray | None = None) -> float:
    """Total area in mm²; with `vertex_weights` (V,) each face counts by the mean weight of its three vertices.

    With a 0/1 scar indicator per vertex this is the scar area; divided by the plain area, the scar burden.
    """
    areas = triangle_areas(mesh)
    if vertex_weights is None:
        return float(areas.sum())
    weights = np.asarray(vertex_weights, dtype=np.float64).reshape(-1)
    if len(weights) != mesh.n_vertices:
        raise ValueError(f"vertex_weights has {len(weights)} values for {mesh.n_vertices} vertices")
    return float((areas * weights[mesh.faces].mean(axis=1)).sum())


def sample_at_vertices(volume: np.ndarray | Volume, mesh: Mesh, order: int = 1) -> np.ndarray:
    """Values of a volume on the mesh's grid at every vertex (V,): order 0 nearest (labels), 1 trilinear.

    Vertices half a voxel outside the array (a mask touching the edge) read the edge value.
    """
    array = volume.array if isinstance(volume, Volume) else np.asarray(volume)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    return ndimage.map_coordinates(array, mesh.vertices_index.T, order=order, mode="nearest")


def _ply_point_data(point_data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    # PLY vertex properties are scalars: split (V, k) arrays into name_0..name_{k-1}.
    flat = {}
    for name, values in point_data.items():
        if values.ndim == 1:
            flat[name] = values
        else:
            for column in range(values.shape[1]):
                flat[f"{name}_{column}"] = np.ascontiguousarray(values[:, column])
    return flat


def write_mesh(mesh: Mesh, path: str | Path, point_data: dict[str, np.ndarray] | None = None) -> Path:
    """Write the mesh (physical vertices) with per-vertex data as legacy .vtk or .ply, atomically.

    Boolean arrays are stored as uint8 (neither format has a boolean type).
    """

    path = Path(path)
    file_format = _FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise ValueError(f"{path}: mesh format must be one of {sorted(_FORMATS)}")
    data = {}
    for name, values in (point_data or {}).items():
        values = np.asarray(values)
        if len(values) != mesh.n_vertices:
            raise ValueError(f"point data {name!r} has {len(values)} rows for {mesh.n_vertices} vertices")
        data[name] = values.astype(np.uint8) if values.dtype == np.bool_ else values
    if file_format == "ply":
        data = _ply_point_data(data)
    output = meshio.Mesh(mesh.vertices_mm, [("triangle", mesh.faces.astype(np.int32))], point_data=data)
    with atomic_path(path) as tmp:
        if file_format == "vtk":
            # Legacy VTK 4.2: readable by every VTK-based viewer (ParaView, 3D Slicer), old ones included.
            meshio.vtk.write(tmp, output, fmt_version="4.2", binary=True)
        else:
            meshio.ply.write(tmp, output, binary=True)
        _tag_lps(Path(tmp), file_format)
    return path


LPS_TAG = "SPACE=LPS"  # how 3D Slicer reads a mesh file's coordinate system (VTK header line, PLY comment)


def _tag_lps(path: Path, file_format: str) -> None:
    """Say in the file that its points are LPS patient coordinates (the images' physical space), so 3D Slicer
    overlays the mesh on the scan whatever its version's default; meshio writes no such tag. Only the ASCII
    header changes: the VTK title line, or a comment added after the PLY format line."""
    data = path.read_bytes()
    if file_format == "vtk":
        first, _meshio_title, rest = data.split(b"\n", 2)
        data = b"\n".join([first, f"atrialjsq LA surface {LPS_TAG}".encode(), rest])
    else:
        magic, fmt, rest = data.split(b"\n", 2)
        data = b"\n".join([magic, fmt, f"comment atrialjsq LA surface {LPS_TAG}".encode(), rest])
    path.write_bytes(data)
