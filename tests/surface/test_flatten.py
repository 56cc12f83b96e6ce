"""The harmonic disk map and the mesh graph helpers on flat, hand-checkable patches."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import Delaunay

from atrialjsq.surface.flatten import equalise_radius, harmonic_disk, orient_map
from atrialjsq.surface.mesh import Mesh, mesh_area_mm2
from atrialjsq.surface.mesh_graph import boundary_loops, faces_within, patches, vertex_areas


def _flat_disk(rings: int = 12, radius: float = 10.0):
    """A triangulated planar disk (z = 0) of `radius` mm: concentric rings of points, Delaunay faces."""
    points = [np.zeros(2)]
    for k in range(1, rings + 1):
        n = 6 * k
        angle = 2 * np.pi * np.arange(n) / n + 0.1 * k
        points.extend(radius * k / rings * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    xy = np.asarray(points)
    faces = Delaunay(xy).simplices.astype(np.int64)
    vertices = np.column_stack([xy, np.zeros(len(xy))])
    return Mesh(vertices, faces, np.tile([0.0, 0.0, 1.0], (len(xy), 1)), vertices.copy())


def test_vertex_areas_add_up_to_the_mesh_area():
    mesh = _flat_disk()
    assert vertex_areas(mesh).sum() == pytest.approx(mesh_area_mm2(mesh), rel=1e-12)


def test_the_rim_of_a_disk_is_its_outer_ring():
    mesh = _flat_disk(rings=5)
    loops = boundary_loops(mesh.faces)
    assert len(loops) == 1
    assert sorted(loops[0].tolist()) == list(range(len(mesh.vertices_mm) - 30, len(mesh.vertices_mm)))
    radius = np.linalg.norm(mesh.vertices_mm[:, :2], axis=1)
    keep = radius < 5.5  # cut the outer rings: the new rim is the ring at 4 mm
    inner = boundary_loops(faces_within(mesh, keep))
    assert len(inner) == 1 and np.allclose(radius[inner[0]], 4.0)


def test_patches_split_at_an_unselected_band():
    mesh = _flat_disk(rings=8)
    radius = np.linalg.norm(mesh.vertices_mm[:, :2], axis=1)
    labels = patches(mesh, (radius < 3.5) | (radius > 6.5))
    assert labels[radius < 3.5].min() == labels[radius < 3.5].max()
    assert labels[radius < 3.5][0] != labels[radius > 6.5][0]
    assert (labels[(radius > 3.5) & (radius < 6.5)] == -1).all()


def test_a_flat_disk_maps_onto_itself():
    """Linear functions are harmonic and the cotangent Laplacian reproduces them on a flat mesh, so a planar
    unit-radius disk with its rim pinned by arc length maps to itself up to a turn."""
    mesh = _flat_disk(rings=12, radius=1.0)
    rim = boundary_loops(mesh.faces)[0]
    uv = harmonic_disk(mesh.vertices_mm, mesh.faces, rim)
    uv = orient_map(uv, mesh.vertices_mm, right=(1.0, 0.0, 0.0), up=(0.0, 1.0, 0.0))
    assert np.abs(uv - mesh.vertices_mm[:, :2]).max() < 0.02


def test_orient_map_mirrors_when_right_points_left():
    mesh = _flat_disk(rings=6, radius=1.0)
    uv = orient_map(mesh.vertices_mm[:, :2].copy(), mesh.vertices_mm, right=(-1.0, 0.0, 0.0), up=(0.0, 1.0, 0.0))
    assert np.allclose(uv[:, 0], -mesh.vertices_mm[:, 0]) and np.allclose(uv[:, 1], mesh.vertices_mm[:, 1])


def test_equalise_radius_makes_the_area_inside_r_the_share_r_squared():
    mesh = _flat_disk(rings=12, radius=1.0)
    areas = vertex_areas(mesh)
    squeezed = mesh.vertices_mm[:, :2] * np.linalg.norm(mesh.vertices_mm[:, :2], axis=1, keepdims=True)  # r → r²
    out = equalise_radius(squeezed, areas)
    radius = np.linalg.norm(out, axis=1)
    for r in (0.3, 0.5, 0.8):
        assert areas[radius <= r].sum() / areas.sum() == pytest.approx(r**2, abs=0.04)
    angle_in = np.arctan2(squeezed[1:, 1], squeezed[1:, 0])
    assert np.allclose(np.arctan2(out[1:, 1], out[1:, 0]), angle_in)


def test_recentre_moves_the_point_to_the_middle_and_keeps_the_rim_on_the_circle():
    from atrialjsq.surface.flatten import recentre

    angle = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    rim = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    points = np.vstack([[0.4, -0.3], rim, [0.0, 0.0]])
    moved = recentre(points, np.array([0.4, -0.3]))
    assert np.allclose(moved[0], 0.0)
    assert np.allclose(np.linalg.norm(moved[1:-1], axis=1), 1.0)
    # By hand: 0 ↦ −a, and the rim keeps its order round the circle.
    assert np.allclose(moved[-1], [-0.4, 0.3])
    turns = np.diff(np.unwrap(np.arctan2(moved[1:-1, 1], moved[1:-1, 0])))
    assert (turns > 0).all()
    with pytest.raises(ValueError, match="inside the unit disk"):
        recentre(points, np.array([1.0, 0.0]))


def test_the_largest_piece_of_faces_is_kept():
    from atrialjsq.surface.mesh_graph import largest_face_component

    # Two triangles sharing the edge 1–2 form one piece, a lone triangle another; vertex 7 is in no face (a
    # vertex an edge-connected patch kept whose triangles were cut away: no equation would tie it to the rim).
    faces = np.array([[4, 5, 6], [0, 1, 2], [1, 3, 2]], dtype=np.int64)
    assert largest_face_component(faces, 8).tolist() == [[0, 1, 2], [1, 3, 2]]
