"""Augmentation keeps image and targets aligned and transforms space the way its parameters say."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from atrialjsq.train.augment import (
    AugmentParams,
    SampleTransform,
    apply_transforms,
    augment_intensity,
    draw_transform,
    shift_and_flip,
    spatial_resample,
)

ROI = (32, 28, 20)
MARGIN = (4, 3, 2)
FULL = tuple(r + 2 * m for r, m in zip(ROI, MARGIN, strict=True))
SPACING = (1.0, 1.0, 1.5)


def physical_grid(shape, spacing):
    """Physical (x, y, z) coordinates in mm about the array centre, each of shape `shape`."""
    axes = [(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing, strict=True)]
    return np.meshgrid(*axes, indexing="ij")


def ellipsoid(shape, spacing, centre, radii):
    x, y, z = physical_grid(shape, spacing)
    return sum(((g - c) / r) ** 2 for g, c, r in zip((x, y, z), centre, radii, strict=True)) <= 1


def transform(shift=(0, 0, 0), flips=(False, False, False), angles=(0.0, 0.0, 0.0), zoom=1.0, elastic=None):
    return SampleTransform(shift, flips, angles, zoom, 1.0, 0.0, 1.0, 0.0, 0, elastic)


def as_batch(**arrays):
    return {k: torch.from_numpy(np.asarray(v))[None, None] for k, v in arrays.items()}


def dice(a, b):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_resampling_with_flips_and_shift_equals_exact_crop():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, FULL).astype(np.uint8)
    image = rng.normal(size=FULL).astype(np.float32)
    t = transform(shift=(3, -2, 1), flips=(True, False, True))
    full = as_batch(image=image, band=labels)
    exact = shift_and_flip(full, [t], ROI)
    resampled = spatial_resample(full, [t], ROI, SPACING)
    assert torch.equal(resampled["band"], exact["band"])
    assert torch.allclose(resampled["image"], exact["image"], atol=1e-4)
    # The exact crop itself is the window starting at margin + shift, mirrored along x and z.
    expected = labels[7 : 7 + ROI[0], 1 : 1 + ROI[1], 3 : 3 + ROI[2]][::-1, :, ::-1]
    np.testing.assert_array_equal(exact["band"][0, 0].numpy(), expected)


def test_rotation_moves_an_offcentre_ellipsoid_where_geometry_says():
    centre, radii = (4.0, -2.0, 3.0), (9.0, 6.0, 6.0)
    mask = ellipsoid(FULL, SPACING, centre, radii)
    angle = math.radians(30)
    out = spatial_resample(as_batch(la=mask.astype(np.uint8)), [transform(angles=(0.0, 0.0, angle))], ROI, SPACING)
    # Output point q samples input R·q, so the object appears rotated by -angle about z.
    c, s = math.cos(-angle), math.sin(-angle)
    rotated_centre = (c * centre[0] - s * centre[1], s * centre[0] + c * centre[1], centre[2])
    x, y, z = physical_grid(ROI, SPACING)
    xr, yr = math.cos(angle) * x - math.sin(angle) * y, math.sin(angle) * x + math.cos(angle) * y
    expected = sum(((g - c) / r) ** 2 for g, c, r in zip((xr, yr, z), centre, radii, strict=True)) <= 1
    assert dice(out["la"][0, 0].numpy(), expected) > 0.95
    assert dice(out["la"][0, 0].numpy(), np.flip(expected, 0)) < 0.8  # the test can tell directions apart
    got_centre = np.array([g[out["la"][0, 0].numpy() > 0].mean() for g in (x, y, z)])
    np.testing.assert_allclose(got_centre, rotated_centre, atol=0.5)


def test_zoom_scales_signed_distance_with_the_object():
    radius, zoom = 7.0, 1.2
    x, y, z = physical_grid(FULL, SPACING)
    phi = np.sqrt(x**2 + y**2 + z**2) - radius
    full = as_batch(phi_la=phi.astype(np.float16), la=(phi <= 0).astype(np.uint8))
    out = spatial_resample(full, [transform(zoom=zoom)], ROI, SPACING)
    xo, yo, zo = physical_grid(ROI, SPACING)
    expected = np.sqrt(xo**2 + yo**2 + zo**2) - zoom * radius
    near = np.abs(expected) < 4
    np.testing.assert_allclose(out["phi_la"][0, 0].numpy()[near], expected[near], atol=0.15)
    # Nearest-neighbour resampling of a voxelised ball differs from the analytic ball only on its surface.
    assert dice(out["la"][0, 0].numpy(), expected <= 0) > 0.92


@pytest.mark.parametrize("zoom", [1.1, 0.9])
def test_zoom_scales_a_beta_2_distance_map_by_zoom_squared_and_clips_after_scaling(zoom):
    from atrialjsq.surface.distance import signed_distance

    radius, clip = 7.0, 50.0
    x, y, z = physical_grid(FULL, SPACING)
    ball = np.sqrt(x**2 + y**2 + z**2) <= radius
    phi = signed_distance(ball, SPACING, beta=2.0, clip=clip)
    assert phi.max() == clip  # the corners are clipped (d > sqrt(50) ≈ 7.1 mm)
    out = spatial_resample(as_batch(phi_la=phi), [transform(zoom=zoom)], ROI, SPACING, beta=2.0, clip=clip)
    got = out["phi_la"][0, 0].numpy()
    assert np.abs(got).max() <= clip
    # By hand: output point q (mm about the ROI centre) shows input point q / zoom, where the object's distances
    # are d / zoom... so in output units d' = zoom·d and φ' = ±d'**2 = zoom**2 · φ(q / zoom), clipped again.
    from scipy import ndimage

    xo, yo, zo = physical_grid(ROI, SPACING)
    index = [g / zoom / sp + (n - 1) / 2 for g, sp, n in zip((xo, yo, zo), SPACING, FULL, strict=True)]
    source = ndimage.map_coordinates(phi.astype(np.float64), index, order=1, mode="nearest")
    expected = np.clip(zoom**2 * source, -clip, clip)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
    # Scaling by zoom (right only for β = 1) would be off by up to |φ|·|zoom − 1| away from the clip.
    inside = np.abs(expected) < clip / 1.5
    assert np.abs(zoom * source[inside] - got[inside]).max() > 1.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_spatial_augmentation_keeps_image_and_label_aligned(seed):
    mask = ellipsoid(FULL, SPACING, (3.0, -2.0, 2.0), (10.0, 8.0, 8.0))
    params = AugmentParams(
        rotate_deg=15,
        scale=(0.85, 1.15),
        intensity_scale=(1.0, 1.0),
        intensity_shift=0.0,
        gamma=(1.0, 1.0),
        noise_std=0.0,
        elastic_mm=1.5,
    )
    t = draw_transform(seed, params, MARGIN)
    full = as_batch(image=(2.0 * mask - 1.0).astype(np.float32), la=mask.astype(np.uint8))
    out = apply_transforms(full, [t], params, ROI, SPACING)
    image, label = out["image"][0, 0].numpy(), out["la"][0, 0].numpy()
    assert label.sum() > 100
    # Linear and nearest sampling of the same binary object differ only in surface voxels; a misalignment
    # of one voxel would drop the Dice below 0.9 and move the centroids apart.
    assert dice(image > 0, label) > 0.96
    centroid_image = np.array(np.nonzero(image > 0)).mean(axis=1)
    centroid_label = np.array(np.nonzero(label)).mean(axis=1)
    np.testing.assert_allclose(centroid_image, centroid_label, atol=0.15)


def test_intensity_augmentation_is_reproducible_and_bounded():
    params = AugmentParams(rotate_deg=0, scale=(1.0, 1.0), flip_axes=())
    full = as_batch(image=np.linspace(-2, 2, np.prod(FULL), dtype=np.float32).reshape(FULL))
    t = draw_transform(42, params, MARGIN)
    first = apply_transforms(full, [t], params, ROI, SPACING)["image"]
    second = apply_transforms(full, [draw_transform(42, params, MARGIN)], params, ROI, SPACING)["image"]
    assert torch.equal(first, second)
    plain = shift_and_flip(full, [t], ROI)["image"]
    assert not torch.equal(first, plain)
    # With scale ≤ 1.1, shift ≤ 0.1 and noise std ≤ 0.05 the values stay within a few noise σ of the range.
    assert first.abs().max() < 2 * 1.1 + 0.1 + 6 * 0.05


def test_disabled_augmentation_is_the_centred_window():
    params = AugmentParams(enabled=False)
    data = np.random.default_rng(1).normal(size=FULL).astype(np.float32)
    t = draw_transform(5, params, MARGIN)
    out = apply_transforms(as_batch(image=data), [t], params, ROI, SPACING)["image"][0, 0].numpy()
    np.testing.assert_array_equal(out, data[4:36, 3:31, 2:22])


def test_intensity_scale_shift_and_gamma_by_hand():
    """Scale 1.1 and shift 0.1 map x to 1.1·x + 0.1; gamma 2 on the sample's min-max range maps the ramp
    −2 … 2 to 4·((x + 2) / 4)² − 2 first: −1 → −1.75, 1 → 0.25 (then scaled and shifted)."""
    ramp = torch.linspace(-2, 2, 5).view(1, 1, 5, 1, 1)  # −2, −1, 0, 1, 2
    common = {"shift": (0, 0, 0), "flips": (False,) * 3, "angles": (0.0,) * 3, "zoom": 1.0, "seed": 0}
    linear = SampleTransform(**common, intensity_scale=1.1, intensity_shift=0.1, gamma=1.0, noise_std=0.0, elastic=None)
    out = augment_intensity(ramp, [linear]).flatten()
    torch.testing.assert_close(out, torch.tensor([-2.1, -1.0, 0.1, 1.2, 2.3]))
    curved = SampleTransform(**common, intensity_scale=1.0, intensity_shift=0.0, gamma=2.0, noise_std=0.0, elastic=None)
    out = augment_intensity(ramp, [curved]).flatten()
    torch.testing.assert_close(out, torch.tensor([-2.0, -1.75, -1.0, 0.25, 2.0]))
