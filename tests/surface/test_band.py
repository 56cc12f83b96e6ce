"""The LA wall band and its parameters, on balls whose answers are known by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from atrialjsq.surface.band import DEFAULT_BAND, BandParams, band_offsets, wall_band
from shapes import sphere_mask


def _radius(shape, center, spacing):
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grids, center, spacing, strict=True)))


def test_band_params_defaults_are_the_training_band():
    # The defaults the functions took before BandParams: wall_band / compute_targets inward 2.0, outward 1.5;
    # the scar projection ±10 mm every 0.5 mm; normals from the mask smoothed by 2 mm.
    assert dataclasses.astuple(BandParams()) == (2.0, 1.5, 10.0, 0.5, 2.0)
    assert DEFAULT_BAND == BandParams(inward_mm=2.0, outward_mm=1.5, reach_mm=10.0, step_mm=0.5, normal_sigma_mm=2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_BAND.inward_mm = 3.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "values",
    [
        {"inward_mm": -1.0},
        {"outward_mm": -0.5},
        {"reach_mm": -1.0},
        {"step_mm": 0.0},
        {"normal_sigma_mm": -1.0},
    ],
)
def test_band_params_refuse_negative_sizes_and_a_zero_step(values):
    with pytest.raises(ValueError):
        BandParams(**values)


def test_band_offsets_span_inward_to_outward():
    np.testing.assert_allclose(band_offsets(2.0, 3.0, 0.5), np.arange(-2.0, 3.01, 0.5))
    np.testing.assert_allclose(BandParams(inward_mm=2.0, outward_mm=3.0).offsets(), np.arange(-2.0, 3.01, 0.5))
    reach = BandParams(reach_mm=10.0, step_mm=0.5).reach_offsets()
    assert len(reach) == 41 and reach[0] == -10.0 and reach[20] == 0.0 and reach[-1] == 10.0
    # Outwards only (the phantom's burden threshold): 0, 0.5, ..., 4 mm.
    np.testing.assert_array_equal(band_offsets(0.0, 4.0, 0.5), np.arange(9) * 0.5)
    with pytest.raises(ValueError):
        band_offsets(1.0, 1.0, 0.0)


@pytest.mark.parametrize(
    ("band_params", "voxels"),
    [
        (BandParams(), 7),  # (2 + 1.5) mm / 0.5 mm
        (BandParams(inward_mm=2.0, outward_mm=3.0), 10),  # quantification's band: (2 + 3) / 0.5
        (BandParams(inward_mm=1.0, outward_mm=3.0), 8),  # project_values_to_surface's: (1 + 3) / 0.5
    ],
)
def test_band_along_the_axes_of_a_sphere_is_inward_plus_outward_thick(band_params, voxels):
    # A 10 mm ball on a 0.5 mm grid centred between voxels: the voxel centres along an axis ray sit at radii
    # r = 0.25, 0.75, ... (plus the ray's 0.25 mm offset in the two other axes), so no centre lies on a band
    # edge R − inward or R + outward, and the band along the ray is exactly the voxels with
    # R − inward ≤ r ≤ R + outward: (inward + outward) / 0.5 of them.
    spacing, radius = (0.5, 0.5, 0.5), 10.0
    shape = (56, 56, 56)
    center = np.array([27.5, 27.5, 27.5])
    la = sphere_mask(shape, center=center, radius_mm=radius, spacing=spacing)
    band = wall_band(la, spacing, band_params)
    r = _radius(shape, center, spacing)
    expected = (r >= radius - band_params.inward_mm) & (r <= radius + band_params.outward_mm)
    for ray in (np.s_[28:, 27, 27], np.s_[:28, 27, 27], np.s_[27, 28:, 27], np.s_[27, 27, :28]):
        assert band[ray].sum() == voxels
        np.testing.assert_array_equal(band[ray], expected[ray])


def test_wall_band_of_a_ball_spans_inward_plus_outward():
    shape = (48, 48, 48)
    center = np.array([23.5, 23.5, 23.5])
    radius = 14.0
    la = sphere_mask(shape, center=center, radius_mm=radius)
    band = wall_band(la, (1, 1, 1), BandParams(inward_mm=2.0, outward_mm=1.5))
    r = _radius(shape, center, (1, 1, 1))[band]
    assert r.min() >= radius - 2.0 - 0.5 and r.max() <= radius + 1.5 + 0.5
    # Mean thickness = band volume / area of the mid-surface: 3.5 mm within a voxel.
    mid_area = 4 * np.pi * (radius - 0.25) ** 2
    assert abs(band.sum() / mid_area - 3.5) <= 1.0
    # Along the +x ray from the centre the band is 3.5 voxels thick: 3 or 4 voxels.
    assert band[24:, 23, 23].sum() in (3, 4)
    excluded = np.zeros(shape, dtype=bool)
    excluded[:, :, :24] = True
    cut = wall_band(la, (1, 1, 1), BandParams(inward_mm=2.0, outward_mm=1.5), exclude=excluded)
    np.testing.assert_array_equal(cut, band & ~excluded)
