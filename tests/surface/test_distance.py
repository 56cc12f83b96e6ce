"""Signed distances (φ of eq. 1) on balls and slabs whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.surface.distance import signed_distance
from shapes import sphere_mask


def _radius(shape, center, spacing):
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grids, center, spacing, strict=True)))


@pytest.mark.parametrize(
    ("spacing", "center_shift", "radius"),
    [
        ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0), 12.0),
        ((1.0, 1.0, 1.0), (0.3, -0.2, 0.45), 11.7),
        ((0.7, 0.7, 1.5), (0.1, 0.2, 0.3), 12.4),
    ],
)
def test_ball_signed_distance_is_r_minus_R_within_half_a_voxel_diagonal(spacing, center_shift, radius):
    shape = tuple(round(44 / s) for s in spacing)
    center = np.array([(n - 1) / 2 for n in shape]) + np.asarray(center_shift)
    mask = sphere_mask(shape, center=center, radius_mm=radius, spacing=spacing)
    phi = signed_distance(mask, spacing, clip=50.0)
    assert phi.dtype == np.float32
    exact = _radius(shape, center, spacing) - radius
    assert np.abs(phi - exact).max() <= 0.5 * np.linalg.norm(spacing)
    # Negative inside, positive outside; with anisotropic spacing the half-voxel shift may put thin-axis
    # neighbours exactly on the surface (0), never on the wrong side.
    assert (phi[mask.astype(bool)] <= 0).all() and (phi[~mask.astype(bool)] >= 0).all()
    if len(set(spacing)) == 1:
        assert (phi[mask.astype(bool)] < 0).all() and (phi[~mask.astype(bool)] > 0).all()


def test_clip_and_beta():
    shape = (40, 40, 40)
    mask = sphere_mask(shape, radius_mm=8.0)
    plain = signed_distance(mask, (1, 1, 1), clip=50.0)
    clipped = signed_distance(mask, (1, 1, 1), clip=5.0)
    assert clipped.max() == 5.0
    np.testing.assert_array_equal(clipped, np.clip(plain, -5.0, 5.0))
    squared = signed_distance(mask, (1, 1, 1), beta=2.0, clip=50.0)
    np.testing.assert_allclose(squared, np.clip(np.sign(plain) * plain**2, -50, 50), rtol=1e-5, atol=1e-5)
    # β < 1: far voxels (d = 60 mm) stay below the clip, d**0.5 ≈ 7.7 mm.
    long = np.zeros((80, 4, 4), dtype=bool)
    long[:5] = True
    root = signed_distance(long, (1, 1, 1), beta=0.5, clip=50.0)
    assert root[65, 2, 2] == pytest.approx(np.sqrt(65 - 4.5), rel=1e-5)
    with pytest.raises(ValueError, match="spacing"):
        signed_distance(mask, (1.0, 0.0, 1.0))


def test_slab_distance_is_exact_and_the_array_edge_counts_as_outside():
    mask = np.zeros((30, 6, 6), dtype=bool)
    mask[:10] = True  # LA fills x < 10 and touches the array's x, y and z edges
    phi = signed_distance(mask, (2.0, 2.0, 2.0))
    # Along x in the middle of the slab's cross-section the surface lies at x = 9.5 (index), i.e. 19 mm.
    x = np.arange(10, 30)
    np.testing.assert_allclose(phi[10:, 3, 3], (x - 9.5) * 2.0)
    # Inside, the nearest outside is beyond the y/z array edge: voxel (5, 0, 0) is one voxel in, at −1 mm.
    assert phi[5, 0, 0] == pytest.approx(-1.0)


def test_empty_mask_raises_value_error():
    with pytest.raises(ValueError, match="empty"):
        signed_distance(np.zeros((5, 5, 5)), (1, 1, 1))
