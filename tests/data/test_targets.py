"""Paper §3.1–3.2 targets on balls, slabs and spherical caps whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from atrialjsq.data.targets import compute_targets
from atrialjsq.losses.dpm import dpm_targets
from atrialjsq.surface.band import mitral_exclusion
from atrialjsq.surface.boundary import boundary_voxels
from shapes import polar_angle_deg, radius_mm, sphere_mask


def _dpms(phi_normal, phi_scar, kind="exp", normalized=False):
    """(p_normal, p_scar) as float32 arrays: `dpm_targets` of the cached φ maps, as the trainer computes them."""
    as_batch = lambda phi: torch.from_numpy(np.ascontiguousarray(phi))[None, None]  # noqa: E731
    maps = dpm_targets(as_batch(phi_normal), as_batch(phi_scar), kind, normalized)[0].numpy()
    return maps[0], maps[1]


def test_compute_targets_phi_la_follows_beta_below_one_unclipped():
    # LA = rows 0-4 of a 1 mm bar. Outside, d = distance to the nearest LA voxel (row 4) less half a voxel (the
    # surface lies between voxels): row 65 has d = 60.5 mm, row 79 d = 74.5 mm. With β = 0.5 the clip (50)
    # applies to d**β ≈ 7.8 and 8.6, so both stay unclipped; clipping d before β would give √50 ≈ 7.07 for both.
    long = np.zeros((80, 4, 4), dtype=bool)
    long[:5] = True
    phi = compute_targets(long, None, (1, 1, 1), beta=0.5)["phi_la"].astype(np.float64)
    assert phi[65, 2, 2] == pytest.approx(np.sqrt(60.5), rel=1e-3)
    assert phi[79, 2, 2] == pytest.approx(np.sqrt(74.5), rel=1e-3)
    assert phi[5, 2, 2] == pytest.approx(np.sqrt(0.5), rel=1e-3)  # half a voxel either side of the surface
    assert phi[4, 2, 2] == pytest.approx(-np.sqrt(0.5), rel=1e-3)


def test_empty_la_mask_raises_value_error():
    with pytest.raises(ValueError, match="empty"):
        compute_targets(np.zeros((5, 5, 5)), None, (1, 1, 1))


def test_dpms_on_a_slab_wall_follow_eq1_with_zero_on_the_boundary_voxels():
    shape = (40, 40, 40)
    la = np.zeros(shape, dtype=bool)
    la[:30] = True  # LA surface at x = 29.5; band: −2 ≤ x − 29.5 ≤ 1.5 → voxels 28..31
    targets = compute_targets(la, None, (1, 1, 1))
    interior = (slice(None), slice(14, 26), slice(14, 26))
    band = targets["band"][interior]
    assert (band[28:32] == 1).all() and not band[2:28].any() and not band[32:].any()
    # Eq. 1 with S = the wall's boundary voxels (x = 28 and x = 31): |φ| = 0 there, 1 at x = 29, 30 (one voxel in
    # from S), and the distance to the nearest wall voxel outside. x = 0, 1 are wall too (the array edge closes
    # the LA), so compare from x = 18 on, and only in the y, z middle.
    by_hand = {**{x: 28 - x for x in range(18, 28)}, 28: 0, 29: 1, 30: 1, 31: 0, **{x: x - 31 for x in range(32, 40)}}
    p_normal, p_scar = _dpms(targets["phi_normal"], targets["phi_scar"], kind="exp")
    for x_index, distance in by_hand.items():
        np.testing.assert_allclose(p_normal[interior][x_index], np.exp(-distance), rtol=2e-3)
    assert (p_normal[interior][[28, 31]] == 1.0).all()
    assert np.all(p_scar == np.float32(np.exp(-50.0)))
    assert np.isfinite(p_scar).all()


def _sphere_with_scar_cap(spacing, shape_mm=48.0, radius=13.0, alpha=50.0):
    shape = tuple(round(shape_mm / s) for s in spacing)
    center = (np.asarray(shape) - 1) / 2
    la = sphere_mask(shape, center=center, radius_mm=radius, spacing=spacing)
    r = radius_mm(shape, center, spacing)
    scar = (r > radius) & (r <= radius + 3.0) & (polar_angle_deg(shape, center, spacing) <= alpha)
    return compute_targets(la, scar, spacing)


def _touching_pairs(part_a: np.ndarray, part_b: np.ndarray):
    """(index of a voxel of part_a, index of its 6-neighbour in part_b) for every such pair."""
    pairs = []
    for axis in range(3):
        for step in (1, -1):
            neighbour_b = np.roll(part_b, -step, axis=axis)
            edge = [slice(None)] * 3
            edge[axis] = slice(-1, None) if step == 1 else slice(0, 1)
            neighbour_b[tuple(edge)] = False  # no wrap-around
            a = np.argwhere(part_a & neighbour_b)
            b = a.copy()
            b[:, axis] += step
            pairs.append((a, b))
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 2.0, 2.0)])
def test_sphere_with_a_scar_cap_has_dpms_that_peak_on_their_region_and_never_tie(spacing):
    targets = _sphere_with_scar_cap(spacing)
    scar, normal = targets["band"] == 2, targets["band"] == 1
    assert scar.sum() > 50 and normal.sum() > 50
    p_normal, p_scar = _dpms(targets["phi_normal"], targets["phi_scar"], kind="exp")
    # p = 1 on each region's boundary layer (eq. 1: φ = 0 on S), which is most of a 2-voxel-thick band.
    assert (p_scar[boundary_voxels(scar).astype(bool)] == 1.0).all()
    assert (p_normal[boundary_voxels(normal).astype(bool)] == 1.0).all()
    # Touching voxels: each is 1 on its own map and exp(−one voxel step) on the other's; no ties.
    in_scar, in_normal = _touching_pairs(scar, normal)
    assert len(in_scar) > 20
    step = min(spacing)
    np.testing.assert_allclose(p_normal[tuple(in_scar.T)], np.exp(-step), rtol=2e-3)
    np.testing.assert_allclose(p_scar[tuple(in_normal.T)], np.exp(-step), rtol=2e-3)
    assert (p_scar[tuple(in_scar.T)] > p_normal[tuple(in_scar.T)]).all()
    assert (p_normal[tuple(in_normal.T)] > p_scar[tuple(in_normal.T)]).all()
    assert (p_scar[scar] != p_normal[scar]).all() and (p_scar[normal] != p_normal[normal]).all()


def test_sphere_with_a_scar_cap_dpm_contrast_grows_with_the_grid_step():
    # Mean p_scar − p_normal on scar-band voxels: a boundary voxel contributes 1 − exp(−d_normal), an interior one
    # exp(−depth) − exp(−d_normal). With eq. 1's surface (φ = 0 on the boundary voxels) it is +0.56 and +0.81
    # (docs/explanation/deviations.md); the surface shifted half a voxel outwards gave +0.30 and +0.21, falling
    # with the step instead of rising, which these bounds refuse.
    contrast = {}
    for step in (1.0, 2.0):
        targets = _sphere_with_scar_cap((step,) * 3)
        scar = targets["band"] == 2
        p_normal, p_scar = _dpms(targets["phi_normal"], targets["phi_scar"], kind="exp")
        contrast[step] = float((p_scar[scar] - p_normal[scar]).mean())
    assert 0.55 < contrast[1.0] < contrast[2.0] < 1.0


def test_compute_targets_arrays_and_labels():
    shape = (48, 48, 48)
    spacing = (1.0, 1.0, 1.0)
    center = np.array([23.5, 23.5, 23.5])
    la = sphere_mask(shape, center=center, radius_mm=13.0)
    r = radius_mm(shape, center, spacing)
    scar = (r > 13.0) & (r <= 16.0) & (polar_angle_deg(shape, center, spacing) <= 40.0)
    targets = compute_targets(la, scar.astype(np.uint8), spacing)
    assert set(targets) == {"phi_la", "band", "phi_normal", "phi_scar", "surface"}
    assert targets["phi_la"].dtype == np.float16 and targets["phi_normal"].dtype == np.float16
    assert targets["band"].dtype == np.uint8 and targets["surface"].dtype == np.uint8
    assert all(a.shape == shape for a in targets.values())
    band = targets["band"]
    assert set(np.unique(band)) == {0, 1, 2}
    # The band is the default 2 mm in + 1.5 mm out of the 13 mm sphere (± half a voxel diagonal), closed around
    # it: every voxel with 11.5 <= r <= 14 is in it.
    assert r[band > 0].min() >= 11.0 - 0.87 and r[band > 0].max() <= 14.5 + 0.87
    assert (band[(r >= 11.5) & (r <= 14.0)] > 0).all()
    # The surface is the LA voxels with a 6-neighbour outside it (an erosion with the 6-connected cross).
    eroded = ndimage.binary_erosion(la, ndimage.generate_binary_structure(3, 1), border_value=0)
    np.testing.assert_array_equal(targets["surface"].astype(bool), la & ~eroded)
    # φ_LA is r − 13 within half a voxel diagonal (the float16 store adds < 0.01 mm at these distances).
    near = np.abs(r - 13.0) < 8.0
    assert np.abs(targets["phi_la"].astype(np.float64)[near] - (r[near] - 13.0)).max() <= np.sqrt(3) / 2 + 0.01
    # Each part's signed distance is ≤ 0 exactly on that part, 0 on its boundary voxels (eq. 1's S).
    for name, label in (("phi_scar", 2), ("phi_normal", 1)):
        np.testing.assert_array_equal(targets[name] <= 0, band == label)
        assert (targets[name][boundary_voxels(band == label).astype(bool)] == 0).all()
    assert np.abs(targets["phi_scar"].astype(np.float32)).max() <= 50.0


def test_compute_targets_without_scar_has_an_all_normal_band_and_finite_dpms():
    la = sphere_mask((32, 32, 32), radius_mm=9.0)
    for scar in (None, np.zeros((32, 32, 32), dtype=np.uint8)):
        targets = compute_targets(la, scar, (1, 1, 1))
        assert set(np.unique(targets["band"])) == {0, 1}
        assert np.all(targets["phi_scar"] == np.float16(50.0))
        p_normal, p_scar = _dpms(targets["phi_normal"], targets["phi_scar"], normalized=True)
        assert np.isfinite(p_normal).all() and np.isfinite(p_scar).all()
        assert p_scar.max() < 1e-20
    with pytest.raises(ValueError):
        compute_targets(la, np.zeros((4, 4, 4)), (1, 1, 1))


def test_mitral_exclusion_removes_the_band_where_the_la_meets_the_lv():
    shape, spacing = (40, 40, 56), (1.0, 1.0, 1.0)
    la = sphere_mask(shape, center=(19.5, 19.5, 18), radius_mm=10.0)
    lv = sphere_mask(shape, center=(19.5, 19.5, 40), radius_mm=10.0)  # 2 mm gap below the LA: the mitral opening
    assert mitral_exclusion(spacing) is None
    exclude = mitral_exclusion(spacing, lv=lv)
    with_lv = compute_targets(la, None, spacing, exclude=exclude)["band"] > 0
    without = compute_targets(la, None, spacing)["band"] > 0
    removed = without & ~with_lv
    assert removed.any() and not (with_lv & exclude).any()
    z = np.nonzero(removed)[2]
    assert z.min() >= 26  # only the side facing the LV (LA bottom at z = 28, LV top at z = 30) loses band voxels
    # a valve label, when present, wins over the LV
    valve = np.zeros(shape, bool)
    valve[19, 19, 29] = True
    assert mitral_exclusion(spacing, lv=lv, valve=valve).sum() < exclude.sum()


@pytest.mark.parametrize(("gap_mm", "expect_hit"), [(8.0, True), (11.5, False)])
def test_compute_targets_projects_scar_from_up_to_ten_mm_by_default(gap_mm, expect_hit):
    # A slab LA (face at x = 29.5) and a thin scar sheet gap_mm beyond the band's outer edge... measured from
    # the band voxel nearest to it: the band's outermost voxel is x = 31, so a sheet at x = 31 + gap is gap mm
    # along the normal (+x) from it: within the default ±10 mm reach at 8 mm, beyond it at 11.5 mm.
    shape = (56, 24, 24)
    la = np.zeros(shape, dtype=bool)
    la[:30] = True
    scar = np.zeros(shape, dtype=bool)
    scar[int(31 + gap_mm)] = True
    band = compute_targets(la, scar, (1, 1, 1))["band"]
    middle = band[:, 8:16, 8:16]
    assert bool((middle[31] == 2).all()) == expect_hit
    assert not (middle[:28] == 2).any()
