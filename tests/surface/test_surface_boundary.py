"""Boundary voxels and outward normals on shapes whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.surface.boundary import boundary_voxels, bounding_box, outward_normals
from shapes import sphere_mask


def test_boundary_of_cube_is_its_outer_layer():
    mask = np.zeros((12, 12, 12), dtype=np.uint8)
    mask[3:9, 3:9, 3:9] = 1
    surface = boundary_voxels(mask)
    assert surface.dtype == bool
    assert surface.sum() == 6**3 - 4**3
    assert not surface[4:8, 4:8, 4:8].any()
    assert surface[3, 5, 5] and surface[8, 8, 8]


def test_mask_touching_the_array_edge_is_closed_by_the_edge():
    mask = np.ones((4, 4, 4), dtype=bool)
    assert boundary_voxels(mask).sum() == 64 - 8


def test_empty_mask_has_no_boundary():
    assert not boundary_voxels(np.zeros((5, 5, 5))).any()


def test_single_voxel_is_its_own_boundary():
    mask = np.zeros((5, 5, 5), dtype=bool)
    mask[2, 2, 2] = True
    assert np.array_equal(boundary_voxels(mask), mask)


def test_bounding_box_with_pad_is_clipped():
    mask = np.zeros((10, 10, 10), dtype=bool)
    mask[1, 4:6, 8] = True
    assert bounding_box(mask, pad=2) == (slice(0, 4), slice(2, 8), slice(6, 10))
    assert bounding_box(np.zeros((3, 3, 3))) is None


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.8, 0.8, 1.6)])
def test_sphere_normals_point_radially_outwards(spacing):
    shape = tuple(round(40 / s) for s in spacing)
    center = np.array([(n - 1) / 2 for n in shape])
    mask = sphere_mask(shape, center=center, radius_mm=12.0, spacing=spacing)
    points = np.argwhere(boundary_voxels(mask))
    normals = outward_normals(mask, spacing, points, sigma_mm=2.0)
    radial = (points - center) * np.asarray(spacing)
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-9)
    cos = np.sum(normals * radial, axis=1)
    angle = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    assert angle.max() < 6.0
    assert angle.mean() < 2.0


def test_normals_of_a_slab_are_the_axis():
    mask = np.zeros((30, 20, 20), dtype=bool)
    mask[:15] = True
    points = np.array([[14, 10, 10], [13, 9, 11], [16, 10, 10]])
    normals = outward_normals(mask, (2.0, 1.0, 1.0), points, sigma_mm=2.0)
    np.testing.assert_allclose(normals, np.tile([1.0, 0.0, 0.0], (3, 1)), atol=1e-6)


def test_normals_far_from_the_surface_are_zero():
    mask = sphere_mask((40, 40, 40), radius_mm=5.0)
    normals = outward_normals(mask, (1.0, 1.0, 1.0), np.array([[1, 1, 1], [19, 20, 20]]), sigma_mm=1.0)
    np.testing.assert_array_equal(normals[0], 0.0)
    assert np.linalg.norm(normals[1]) == pytest.approx(1.0)


def test_normals_reject_points_off_the_grid():
    with pytest.raises(ValueError):
        outward_normals(np.ones((4, 4, 4)), (1, 1, 1), np.array([[4, 0, 0]]))


def test_outward_normals_at_continuous_points_match_the_voxel_ones_and_the_sphere():
    """Mesh vertices sit between voxels: interpolated normals still point radially out of a ball."""
    spacing = (0.8, 0.8, 1.6)
    mask = sphere_mask((40, 40, 24), center=(19.5, 19.5, 11.5), radius_mm=10.0, spacing=spacing)
    voxels = np.argwhere(boundary_voxels(mask))
    np.testing.assert_allclose(
        outward_normals(mask, spacing, voxels.astype(float)), outward_normals(mask, spacing, voxels), atol=1e-6
    )
    rng = np.random.default_rng(0)
    points = voxels[:200] + rng.uniform(-0.5, 0.5, size=(200, 3))
    radial = (points - (19.5, 19.5, 11.5)) * spacing
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    cosines = np.sum(outward_normals(mask, spacing, points) * radial, axis=1)
    assert np.degrees(np.arccos(np.clip(cosines, -1, 1))).max() < 8.0
