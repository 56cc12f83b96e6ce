"""The phantom's building blocks on analytic inputs: shapes, k-space acquisition, scar rings and burden."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.phantom import scar as scar_mod
from atrialjsq.phantom.appearance import acquire
from atrialjsq.phantom.fields import ellipsoid, rotation_matrix, smooth_min, tube
from shapes import sphere_mask


def test_ellipsoid_and_tube_distances_are_exact_where_known():
    radii = (20.0, 12.0, 8.0)
    rotation = rotation_matrix((10, -20, 30))
    t = np.linspace(0, 2 * np.pi, 50)
    local = np.stack([radii[0] * np.cos(t), radii[1] * np.sin(t), np.zeros_like(t)])
    surface = rotation @ local + np.array([[1.0], [2.0], [3.0]])
    f = ellipsoid(tuple(surface.astype(np.float32)), (1, 2, 3), radii, rotation)
    np.testing.assert_allclose(f, 0, atol=1e-3)
    assert ellipsoid((np.float32(1), np.float32(2), np.float32(3)), (1, 2, 3), radii, rotation) == pytest.approx(-8.0)
    # A tube of radius 4 along x: distance from (5, 10, 0) is 10 - 4.
    d = tube((np.float32(5), np.float32(10), np.float32(0)), (0, 0, 0), (10, 0, 0), 4.0)
    assert d == pytest.approx(6.0)
    # Smooth union never exceeds the hard union and equals it far from the crease.
    a, b = np.float32(-3.0), np.float32(20.0)
    assert smooth_min(a, b, 4.0) == pytest.approx(-3.0)
    assert smooth_min(np.float32(1.0), np.float32(1.0), 4.0) < 1.0


def test_zero_filled_acquisition_keeps_signal_and_noise_sd():
    rng = np.random.default_rng(0)
    flat = np.full((32, 32, 8), 20.0, dtype=np.float32)
    image = acquire(flat, 1.0, (64, 64, 8), rng)
    assert image.shape == (64, 64, 8)
    assert image.mean() == pytest.approx(20.0, rel=0.01)
    # Band-limited interpolation keeps the per-voxel SD of white noise (Rician ≈ Gaussian at SNR 20).
    assert image.std() == pytest.approx(1.0, rel=0.05)
    # A band-limited signal is interpolated exactly (noise-free): cos sampled on the finer grid.
    i = np.arange(32)[:, None, None]
    wave = (3.0 + np.cos(2 * np.pi * 3 * i / 32) * np.ones((32, 4, 2))).astype(np.float32)
    fine = acquire(wave, 0.0, (64, 4, 2), rng)
    j = np.arange(64)[:, None, None]
    np.testing.assert_allclose(fine, 3.0 + np.cos(2 * np.pi * 3 * j / 64) * np.ones((64, 4, 2)), atol=1e-4)


def test_ring_lesion_scores_on_its_centre_line_not_inside():
    veins = [
        {"name": "LSPV", "direction": [0.7, 0.4, 0.6], "ostium": [20, 10, 15], "radius": 7.0},
        {"name": "LIPV", "direction": [0.8, 0.5, -0.3], "ostium": [22, 12, -8], "radius": 6.0},
    ]
    ring = scar_mod._ring(np.random.default_rng(1), veins, None)
    ring["gaps"] = []
    on_line = np.stack([scar_mod._ring_point(ring, psi) for psi in np.linspace(-3, 3, 13)])
    np.testing.assert_allclose(scar_mod._ring_score(on_line.astype(np.float32), ring), 2.0, atol=1e-3)
    centre = np.asarray([ring["centre"]], dtype=np.float32)
    assert scar_mod._ring_score(centre, ring)[0] == 0.0
    ring["gaps"] = [[0.0, 0.5]]
    assert scar_mod._ring_score(scar_mod._ring_point(ring, 0.0)[None].astype(np.float32), ring)[0] == 0.0


@pytest.mark.parametrize("burden", [0.1, 0.3])
def test_burden_threshold_makes_a_polar_cap_of_the_requested_share(burden):
    spacing = (1.0, 1.0, 1.0)
    la = sphere_mask((48, 48, 48), radius_mm=15.0, spacing=spacing).astype(bool)
    centre = np.array([23.5, 23.5, 23.5])
    z = (np.arange(48) - centre[2])[None, None, :] * np.ones((48, 48, 48))
    r = np.sqrt(
        sum(((g - c) ** 2) for g, c in zip(np.meshgrid(*[np.arange(48)] * 3, indexing="ij"), centre, strict=True))
    )
    wall = ~la & (r <= 18.0)
    score = np.where(wall, z / np.maximum(r, 1e-6), -1.0).astype(np.float32)  # cos(polar angle) in the wall
    threshold = scar_mod.burden_threshold(la, score, spacing, burden)
    scar = score >= threshold
    assert scar_mod.surface_burden(la, scar, spacing) == pytest.approx(burden, abs=0.01)
    # On a sphere a cap {cos θ ≥ t} covers (1 - t)/2 of the area: t ≈ 1 - 2·burden (voxel surfaces, ±0.08).
    assert threshold == pytest.approx(1 - 2 * burden, abs=0.08)
