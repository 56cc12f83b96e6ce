"""Sampling and projecting along normals (onto the surface and onto the wall band), checked against ramps,
slabs and spherical caps."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.surface.band import BandParams, wall_band
from atrialjsq.surface.projection import (
    offsets_mm,
    project_mask_to_surface,
    project_scar_to_band,
    project_values_to_surface,
    sample_along_normals,
    sample_at_offsets,
)
from shapes import polar_angle_deg, radius_mm, sphere_mask


def test_offsets_are_symmetric_and_include_zero():
    offsets = offsets_mm(10.0, 0.5)
    assert len(offsets) == 41
    assert offsets[0] == -10.0 and offsets[20] == 0.0 and offsets[-1] == 10.0


def test_linear_sampling_of_a_physical_ramp_follows_the_offsets():
    spacing = (0.5, 1.0, 2.0)
    shape = (120, 30, 20)
    ramp = (np.arange(shape[0]) * spacing[0])[:, None, None] * np.ones(shape)  # physical x in mm
    points = np.array([[60, 10, 10], [50, 3, 4]])
    normals = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    samples = sample_along_normals(ramp, points, normals, spacing, max_mm=10.0, step_mm=0.5, order=1)
    assert samples.shape == (2, 41)
    t = offsets_mm(10.0, 0.5)
    np.testing.assert_allclose(samples[0], 30.0 + t, atol=1e-6)
    np.testing.assert_allclose(samples[1], 25.0 - t, atol=1e-6)


def test_oblique_normal_is_converted_to_voxel_steps_with_the_spacing():
    spacing = (1.0, 2.0, 1.0)
    shape = (40, 40, 10)
    grid = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing, strict=True)], indexing="ij")
    distance_along = (grid[0] + grid[1]) / np.sqrt(2)  # physical coordinate along (1, 1, 0)/sqrt(2)
    point = np.array([[20, 10, 5]])
    normal = np.array([[1.0, 1.0, 0.0]]) / np.sqrt(2)
    samples = sample_at_offsets(distance_along, point, normal, spacing, np.array([-4.0, 0.0, 6.0]), order=1)
    start = (20 * 1.0 + 10 * 2.0) / np.sqrt(2)
    np.testing.assert_allclose(samples[0], start + np.array([-4.0, 0.0, 6.0]), atol=1e-6)


def test_nearest_sampling_keeps_labels_and_reads_zero_outside():
    labels = np.zeros((20, 5, 5), dtype=np.uint8)
    labels[12:15] = 2
    samples = sample_along_normals(labels, np.array([[10, 2, 2]]), np.array([[1.0, 0, 0]]), (1, 1, 1), 12.0, 1.0)
    assert samples.dtype == np.uint8
    expected = np.zeros(25, dtype=np.uint8)
    expected[12 + 2 : 12 + 5] = 2  # offsets +2..+4 land on x = 12..14
    np.testing.assert_array_equal(samples[0], expected)
    # Offsets beyond x = 19 fall outside the volume and read 0 even where a constant volume would not.
    ones = np.ones((20, 5, 5))
    outside = sample_along_normals(ones, np.array([[18, 2, 2]]), np.array([[1.0, 0, 0]]), (1, 1, 1), 3.0, 1.0)
    np.testing.assert_array_equal(outside[0], [1, 1, 1, 1, 1, 0, 0])


def test_sampling_is_chunk_invariant(monkeypatch):
    import atrialjsq.surface.projection as projection

    rng = np.random.default_rng(0)
    volume = rng.random((16, 16, 16)).astype(np.float32)
    points = rng.integers(0, 16, size=(50, 3))
    normals = rng.normal(size=(50, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    whole = sample_along_normals(volume, points, normals, (1, 1, 1), 4.0, 0.5, order=1)
    monkeypatch.setattr(projection, "_CHUNK_SAMPLES", 40)
    chunked = sample_along_normals(volume, points, normals, (1, 1, 1), 4.0, 0.5, order=1)
    np.testing.assert_array_equal(whole, chunked)


def _polar_angle(points, center, spacing, axis=(0.0, 0.0, 1.0)):
    radial = (points - center) * np.asarray(spacing)
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    return np.degrees(np.arccos(np.clip(radial @ np.asarray(axis), -1, 1)))


def test_cap_outside_the_wall_projects_onto_its_solid_angle():
    spacing = (1.0, 1.0, 1.0)
    shape = (44, 44, 44)
    center = np.array([21.5, 21.5, 21.5])
    la = sphere_mask(shape, center=center, radius_mm=12.0)
    # Scar: the part of a shell 13..15 mm (outside the LA, within reach) inside a 40 degree cone around +z.
    outer = sphere_mask(shape, center=center, radius_mm=15.0)
    inner = sphere_mask(shape, center=center, radius_mm=13.0)
    grid = np.argwhere(np.ones(shape, dtype=bool))
    cone = (_polar_angle(grid, center, spacing) <= 40.0).reshape(shape)
    scar = outer.astype(bool) & ~inner.astype(bool) & cone
    projection = project_mask_to_surface(la, scar, spacing, BandParams(reach_mm=10.0))
    angle = _polar_angle(projection.points, center, spacing)
    assert projection.hit[angle <= 34].all()
    assert not projection.hit[angle >= 46].any()
    volume = projection.to_volume(shape)
    assert volume.dtype == bool and volume.sum() == projection.hit.sum()


def test_region_beyond_max_mm_is_not_projected():
    shape = (40, 40, 40)
    la = sphere_mask(shape, radius_mm=6.0)
    # A shell 17..19.5 mm from the centre: at least 11 mm from every LA boundary voxel (radius <= 6 mm).
    far = sphere_mask(shape, radius_mm=19.5).astype(bool) & ~sphere_mask(shape, radius_mm=17.0).astype(bool)
    assert not project_mask_to_surface(la, far, (1, 1, 1), BandParams(reach_mm=10.0)).hit.any()
    assert project_mask_to_surface(la, far, (1, 1, 1), BandParams(reach_mm=16.0)).hit.all()


def test_value_projection_max_and_mean_of_a_radial_ramp():
    shape = (40, 40, 40)
    center = np.array([19.5, 19.5, 19.5])
    la = sphere_mask(shape, center=center, radius_mm=10.0)
    grid = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    radius = np.sqrt(sum((g - c) ** 2 for g, c in zip(grid, center, strict=True))).astype(np.float32)
    band_params = BandParams(inward_mm=1.0, outward_mm=3.0)
    result = project_values_to_surface(la, radius, (1, 1, 1), reduce="max", band_params=band_params)
    point_radius = np.linalg.norm(result.points - center, axis=1)
    np.testing.assert_allclose(result.values, point_radius + 3.0, atol=0.25)
    mean = project_values_to_surface(la, radius, (1, 1, 1), reduce="mean", band_params=band_params)
    np.testing.assert_allclose(mean.values, point_radius + 1.0, atol=0.25)
    with pytest.raises(ValueError):
        project_values_to_surface(la, radius, (1, 1, 1), reduce="median")


@pytest.mark.parametrize("alpha", [25.0, 50.0])
def test_scar_cap_projects_within_its_solid_angle(alpha):
    shape = (48, 48, 48)
    spacing = (1.0, 1.0, 1.0)
    center = np.array([23.5, 23.5, 23.5])
    radius = 13.0
    la = sphere_mask(shape, center=center, radius_mm=radius)
    angle = polar_angle_deg(shape, center, spacing)
    r = radius_mm(shape, center, spacing)
    # Volumetric scar: a wall cap 0..3 mm outside the endocardium within the cone of half-angle alpha.
    scar = (r > radius) & (r <= radius + 3.0) & (angle <= alpha)
    band = wall_band(la, spacing)
    projected = project_scar_to_band(la, scar, band, spacing)
    assert not (projected & ~band).any()
    tolerance = 6.0  # about one voxel seen from the centre at 12 mm
    assert angle[projected].max() <= alpha + tolerance
    assert projected[band & (angle <= alpha - tolerance)].all()
    # Coverage as a solid-angle fraction: (1 − cos α) / 2 of the band, within the voxel tolerance.
    low = (1 - np.cos(np.radians(alpha - tolerance))) / 2
    high = (1 - np.cos(np.radians(alpha + tolerance))) / 2
    assert low <= projected.sum() / band.sum() <= high


def test_scar_beyond_max_mm_is_not_projected():
    shape = (48, 48, 48)
    la = sphere_mask(shape, radius_mm=8.0)
    r = radius_mm(shape, [23.5] * 3, (1, 1, 1))
    far_scar = (r > 21.0) & (r <= 23.0)  # at least 11.5 mm beyond the band's outer edge
    band = wall_band(la, (1, 1, 1))
    assert not project_scar_to_band(la, far_scar, band, (1, 1, 1), BandParams(reach_mm=10.0)).any()


def test_projection_rejects_mismatched_grids():
    with pytest.raises(ValueError):
        project_mask_to_surface(np.ones((4, 4, 4)), np.ones((4, 4, 5)), (1, 1, 1))
