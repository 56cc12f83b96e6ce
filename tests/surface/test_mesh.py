"""Meshes of balls: area 4πR², outward normals, vertex sampling, and .vtk/.ply round trips through meshio."""

from __future__ import annotations

import meshio
import numpy as np
import pytest

from atrialjsq.io.geometry import Geometry
from atrialjsq.io.volume import Volume
from atrialjsq.surface.mesh import extract_mesh, mesh_area_mm2, sample_at_vertices, triangle_areas, write_mesh
from shapes import sphere_mask

ROTATION_Z30 = (np.cos(np.pi / 6), -np.sin(np.pi / 6), 0.0, np.sin(np.pi / 6), np.cos(np.pi / 6), 0.0, 0.0, 0.0, 1.0)


def _soft_ball(shape, center, radius, spacing, width_mm=3.0):
    """Soft ball: 1 inside, 0 outside, linear in r across `width_mm` around the surface (its 0.5 level is exact
    up to the curvature of r over one voxel edge)."""
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    r = np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grids, center, spacing, strict=True)))
    return np.clip((radius - r) / width_mm + 0.5, 0.0, 1.0).astype(np.float32), r


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.8, 0.8, 1.5)])
def test_ball_mesh_area_vertices_and_normals(spacing):
    radius = 12.0
    shape = tuple(round(34 / s) for s in spacing)
    center = np.array([(n - 1) / 2 for n in shape])
    prob, _ = _soft_ball(shape, center, radius, spacing)
    geometry = Geometry(shape, spacing, origin=(10.0, -5.0, 3.0), direction=ROTATION_Z30)
    mesh = extract_mesh(prob, geometry, level=0.5)
    assert mesh.faces.shape[1] == 3 and mesh.vertices_mm.shape == mesh.vertices_index.shape
    assert mesh_area_mm2(mesh) == pytest.approx(4 * np.pi * radius**2, rel=0.02)
    assert triangle_areas(mesh).min() >= 0
    center_mm = geometry.index_to_physical(center)
    radial = mesh.vertices_mm - center_mm
    np.testing.assert_allclose(np.linalg.norm(radial, axis=1), radius, atol=0.05)
    cos = np.sum(mesh.normals * radial / np.linalg.norm(radial, axis=1, keepdims=True), axis=1)
    assert cos.min() > 0.99
    np.testing.assert_allclose(geometry.index_to_physical(mesh.vertices_index), mesh.vertices_mm)


def test_binary_mask_mesh_with_smoothing_is_close_to_the_sphere():
    radius = 12.0
    mask = sphere_mask((34, 34, 34), radius_mm=radius)
    raw = extract_mesh(Volume.from_array(mask))
    smooth = extract_mesh(Volume.from_array(mask), smooth_sigma_mm=1.0)
    assert mesh_area_mm2(smooth) == pytest.approx(4 * np.pi * radius**2, rel=0.05)
    assert mesh_area_mm2(raw) == pytest.approx(4 * np.pi * radius**2, rel=0.12)


def test_mask_touching_the_edge_is_closed():
    mask = np.ones((6, 6, 6), dtype=np.uint8)
    mesh = extract_mesh(mask, Geometry(mask.shape, (2.0, 2.0, 2.0)))
    # The level-0.5 surface runs half a voxel outside the cube's outer voxel centres: a 12 mm cube, bevelled.
    assert 6 * 10.0**2 < mesh_area_mm2(mesh) < 6 * 12.0**2
    # Every edge shared by exactly two triangles: closed.
    edges = np.sort(mesh.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all()


def test_weighted_area_and_vertex_sampling():
    spacing = (1.0, 1.0, 1.0)
    shape = (34, 34, 34)
    center = np.array([16.5, 16.5, 16.5])
    prob, _ = _soft_ball(shape, center, 12.0, spacing)
    mesh = extract_mesh(prob, Geometry(shape, spacing))
    upper = (mesh.vertices_index[:, 2] > center[2]).astype(float)
    total = mesh_area_mm2(mesh)
    assert mesh_area_mm2(mesh, np.ones(mesh.n_vertices)) == pytest.approx(total)
    assert mesh_area_mm2(mesh, upper) == pytest.approx(total / 2, rel=0.03)
    ramp = np.broadcast_to(np.arange(shape[2], dtype=np.float32)[None, None, :], shape)
    np.testing.assert_allclose(sample_at_vertices(ramp, mesh), mesh.vertices_index[:, 2], atol=1e-4)
    half = np.zeros(shape, dtype=bool)
    half[:, :, 17:] = True
    np.testing.assert_array_equal(
        sample_at_vertices(half, mesh, order=0) == 1, np.rint(mesh.vertices_index[:, 2]) >= 17
    )
    with pytest.raises(ValueError):
        mesh_area_mm2(mesh, np.ones(3))


@pytest.mark.parametrize("suffix", [".vtk", ".ply"])
def test_write_mesh_round_trip(tmp_path, suffix):
    prob, _ = _soft_ball((20, 20, 20), np.array([9.5, 9.5, 9.5]), 6.0, (1, 1, 1))
    mesh = extract_mesh(prob, Geometry((20, 20, 20), (1.0, 1.0, 1.0), origin=(5.0, 0.0, 0.0)))
    scar = mesh.vertices_index[:, 0] > 9.5
    thickness = np.linspace(0, 1, mesh.n_vertices).astype(np.float32)
    path = write_mesh(mesh, tmp_path / f"la{suffix}", {"scar": scar, "thickness": thickness})
    back = meshio.read(path)
    np.testing.assert_allclose(back.points, mesh.vertices_mm, atol=1e-5)
    np.testing.assert_array_equal(back.cells_dict["triangle"], mesh.faces)
    np.testing.assert_array_equal(np.asarray(back.point_data["scar"]).ravel(), scar.astype(np.uint8))
    np.testing.assert_allclose(np.asarray(back.point_data["thickness"]).ravel(), thickness)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"la{suffix}"]
    # the points are LPS, and the header says so where 3D Slicer looks (VTK title line, PLY comment)
    header = path.read_bytes().split(b"end_header" if suffix == ".ply" else b"BINARY")[0].decode().splitlines()
    tagged = [line for line in header if "SPACE=LPS" in line]
    assert tagged == (
        ["atrialjsq LA surface SPACE=LPS"] if suffix == ".vtk" else ["comment atrialjsq LA surface SPACE=LPS"]
    )
    assert suffix == ".ply" or header.index(tagged[0]) == 1


def test_write_mesh_ply_splits_vector_data(tmp_path):
    prob, _ = _soft_ball((16, 16, 16), np.array([7.5, 7.5, 7.5]), 4.0, (1, 1, 1))
    mesh = extract_mesh(prob, Geometry((16, 16, 16)))
    write_mesh(mesh, tmp_path / "n.ply", {"normal": mesh.normals.astype(np.float32)})
    back = meshio.read(tmp_path / "n.ply")
    np.testing.assert_allclose(back.point_data["normal_2"], mesh.normals[:, 2], atol=1e-6)


def test_bad_inputs_write_nothing(tmp_path):
    mask = sphere_mask((16, 16, 16), radius_mm=4.0)
    mesh = extract_mesh(mask, Geometry(mask.shape))
    with pytest.raises(ValueError):
        write_mesh(mesh, tmp_path / "la.vtk", {"scar": np.zeros(3)})
    with pytest.raises(ValueError):
        write_mesh(mesh, tmp_path / "la.stl")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="level"):
        extract_mesh(np.zeros((5, 5, 5)), Geometry((5, 5, 5)))
    with pytest.raises(ValueError, match="shape"):
        extract_mesh(mask, Geometry((5, 5, 5)))


@pytest.mark.parametrize("direction", [ROTATION_Z30, (1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)])
def test_faces_wind_outwards_so_the_enclosed_volume_is_positive(direction):
    radius = 8.0
    shape = (24, 24, 24)
    center = np.array([11.5, 11.5, 11.5])
    prob, _ = _soft_ball(shape, center, radius, (1.0, 1.0, 1.0))
    geometry = Geometry(shape, (1.0, 1.0, 1.0), origin=(1.0, 2.0, 3.0), direction=direction)
    mesh = extract_mesh(prob, geometry)
    corners = mesh.vertices_mm[mesh.faces] - geometry.index_to_physical(center)
    volume = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6
    assert volume == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.02)
    radial = mesh.vertices_mm - geometry.index_to_physical(center)
    assert np.sum(mesh.normals * radial, axis=1).min() > 0
