"""Scar-on-surface metrics on a hand-built case whose every surface label is known exactly.

The LA is a 40×12×12 box (1 mm voxels). On its long side faces, away from the end caps by more than the
smoothing kernel (x in [17, 43)), the smoothed box is flat along x, so the normals have no x component and a
ray along them keeps its x: a side voxel is "scar" exactly when the scar half-space starts at or below its x.
Side voxels with x < 17 are more than 10.5 mm from every scar used here. So, with scar = {x >= 30} (manual)
and {x >= 35} (auto), the labels are fixed by x alone, and the counts below follow by hand:
|S| = 40·12·12 − 38·10·10 = 1960; per x slice 44 side voxels, the two caps 144 each.
"""

import numpy as np
import pytest

from atrialjsq.evaluate.scar_metrics import (
    _nearest_in_band,
    metrics_from_labels,
    painted_band_form,
    scar_metrics,
    surface_labels,
)
from atrialjsq.surface.projection import project_mask_to_surface
from shapes import sphere_mask

SHAPE = (64, 32, 32)
SPACING = (1.0, 1.0, 1.0)


def _box(x0: int, x1: int) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[x0:x1, 10:22, 10:22] = True
    return mask


def _half_space(x0: int) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[x0:] = True
    return mask


LA = _box(10, 50)
N_SURFACE = 1960
N_MANUAL = 19 * 44 + 144  # x in [30, 49) side voxels plus the x = 49 cap
N_AUTO = 14 * 44 + 144  # x in [35, 49) plus the cap


def test_hand_built_case_without_predicted_la():
    row = scar_metrics(LA, _half_space(30), _half_space(35), SPACING)
    assert row["n_surface"] == N_SURFACE
    assert row["scar_pct_manual"] == pytest.approx(100 * N_MANUAL / N_SURFACE) == pytest.approx(50.0)
    assert row["scar_pct_auto"] == pytest.approx(100 * N_AUTO / N_SURFACE)
    true_scar, true_normal = N_AUTO, N_SURFACE - N_MANUAL  # auto scar ⊂ manual scar
    assert row["Dice_s"] == pytest.approx(2 * true_scar / (N_AUTO + N_MANUAL))
    assert row["Accuracy"] == pytest.approx((true_scar + true_normal) / N_SURFACE)
    assert row["Sensitivity"] == pytest.approx(N_AUTO / N_MANUAL)
    assert row["Specificity"] == 1.0
    # Every surface voxel gets an automatic label, so eq. 9 reduces to Accuracy.
    assert row["Dice_g"] == pytest.approx(row["Accuracy"])
    assert row["auto_coverage"] == 1.0


def test_hand_built_case_with_predicted_la_gap():
    # The predicted LA misses x in [22, 26): those 4·44 side voxels get no automatic label.
    la_pred = _box(10, 22) | _box(26, 50)
    row = scar_metrics(LA, _half_space(30), _half_space(35), SPACING, la_pred=la_pred)
    unlabelled = 4 * 44
    true_scar = N_AUTO
    true_normal = N_SURFACE - N_MANUAL - unlabelled
    auto_labelled = N_SURFACE - unlabelled
    assert row["Accuracy"] == pytest.approx((true_scar + true_normal) / N_SURFACE)
    assert row["Dice_g"] == pytest.approx(2 * (true_scar + true_normal) / (auto_labelled + N_SURFACE))
    assert row["Specificity"] == pytest.approx(true_normal / (N_SURFACE - N_MANUAL))
    assert row["Dice_s"] == pytest.approx(2 * true_scar / (N_AUTO + N_MANUAL))
    assert row["auto_coverage"] == pytest.approx(auto_labelled / N_SURFACE)


def test_false_positives_and_negatives_by_hand():
    # Auto scar {x >= 25} over-segments by 5 slices of side voxels, then misses nothing.
    row = scar_metrics(LA, _half_space(30), _half_space(25), SPACING)
    n_auto = 24 * 44 + 144
    false_scar = 5 * 44
    assert row["Dice_s"] == pytest.approx(2 * N_MANUAL / (n_auto + N_MANUAL))
    assert row["Sensitivity"] == 1.0
    assert row["Specificity"] == pytest.approx((N_SURFACE - N_MANUAL - false_scar) / (N_SURFACE - N_MANUAL))
    assert row["Accuracy"] == pytest.approx(1 - false_scar / N_SURFACE)


def test_excluded_label_removes_adjacent_surface():
    valve = np.zeros(SHAPE, dtype=bool)
    valve[5:10, 10:22, 10:22] = True  # touches the x = 10 cap, like the LV at the mitral valve
    row = scar_metrics(LA, _half_space(30), _half_space(35), SPACING, exclude=valve)
    assert row["n_surface"] == N_SURFACE - 144
    assert row["scar_pct_manual"] == pytest.approx(100 * N_MANUAL / (N_SURFACE - 144))


def test_no_scar_anywhere_gives_nan_dice_not_zero():
    nothing = np.zeros(SHAPE, dtype=bool)
    row = scar_metrics(LA, nothing, nothing, SPACING)
    assert np.isnan(row["Dice_s"]) and np.isnan(row["Sensitivity"])
    assert row["Accuracy"] == 1.0 and row["Specificity"] == 1.0 and row["scar_pct_auto"] == 0.0


@pytest.mark.parametrize(("strip_y", "expect_hit"), [(2, True), (1, False)])
def test_projection_reaches_exactly_ten_mm(strip_y, expect_hit):
    # LA face at y = 12; a scar strip at y = 2 is 10 mm away along −y (reached), at y = 1 it is 11 mm (not).
    la = np.zeros((64, 34, 32), dtype=bool)
    la[10:50, 12:24, 10:22] = True
    strip = np.zeros_like(la)
    strip[30, strip_y, 10:22] = True
    labels = surface_labels(la, strip, strip, SPACING)
    hit_points = labels.points[labels.manual_scar]
    assert (len(hit_points) > 0) == expect_hit
    assert np.all(hit_points[:, 0] == 30) and np.all(hit_points[:, 1] == 12)


def test_crop_matches_full_volume_projection():
    spacing = (0.8, 0.8, 1.6)
    la = sphere_mask((60, 60, 30), radius_mm=14.0, spacing=spacing).astype(bool)
    scar = np.zeros_like(la)
    scar[38:, :, :] = True  # a cap on the +x side, intersecting the wall
    labels = surface_labels(la, scar, scar, spacing)
    full = project_mask_to_surface(la, scar, spacing)
    order = np.lexsort(labels.points.T)
    full_order = np.lexsort(full.points.T)
    np.testing.assert_array_equal(labels.points[order], full.points[full_order])
    np.testing.assert_array_equal(labels.manual_scar[order], full.hit[full_order])
    row = metrics_from_labels(labels)
    assert row["Dice_s"] == 1.0 and row["Accuracy"] == 1.0
    assert 0 < row["scar_pct_manual"] < 50


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="scar_gt"):
        scar_metrics(LA, np.zeros((3, 3, 3)), LA, SPACING)


def test_a_predicted_la_that_swallows_the_whole_segment_leaves_the_surface_unlabelled():
    # The predicted LA fills the volume: every ±10 mm segment lies inside it, so its surface crosses none of
    # them and no surface voxel gets an automatic label (coverage 0), although the "prediction" is not empty.
    # Counting "touches the predicted LA" as coverage would label every voxel normal wall instead.
    la_pred = np.ones(SHAPE, dtype=bool)
    no_scar = np.zeros(SHAPE, dtype=bool)
    labels = surface_labels(LA, _half_space(30), no_scar, SPACING, la_pred=la_pred)
    assert not labels.auto_covered.any()
    row = scar_metrics(LA, _half_space(30), no_scar, SPACING, la_pred=la_pred)
    assert row["auto_coverage"] == 0.0 and row["Accuracy"] == 0.0 and row["Dice_g"] == 0.0
    # And a predicted LA that is the manual one labels everything.
    assert scar_metrics(LA, _half_space(30), no_scar, SPACING, la_pred=LA)["auto_coverage"] == 1.0


# --- Automatic scar painted into the wall band (what `predict` and the baselines write) ---------------------


def _cap_case(spacing=(1.5, 1.5, 1.5), shape=(40, 40, 40)):
    """A 15 mm ball and a wall scar cap: the 2 mm shell outside it on the +x side (x > 6 mm from the centre)."""
    la = sphere_mask(shape, radius_mm=15.0, spacing=spacing).astype(bool)
    centre = np.array([(n - 1) / 2 for n in shape])
    axes = [(np.arange(n) - c) * s for n, c, s in zip(shape, centre, spacing, strict=True)]
    grids = np.meshgrid(*axes, indexing="ij")
    radius = np.sqrt(sum(g**2 for g in grids))
    scar = ~la & (radius <= 17.0) & (grids[0] > 6.0)
    return la, scar, spacing


def _painted(la, scar, spacing, la_owner=None):
    """A perfect automatic scar in predict's form: the manual scar projected onto the surface of `la_owner`
    (the manual LA by default) and painted into the −2..+3 mm band around it, each band voxel taking the label
    of its nearest surface voxel (`quantify.surface_scar.scar_in_band`)."""
    from atrialjsq.io.geometry import Geometry
    from atrialjsq.io.volume import Volume
    from atrialjsq.quantify.surface_scar import scar_in_band, surface_sampler

    owner = la if la_owner is None else la_owner
    sampler = surface_sampler(Volume(owner.astype(np.uint8), Geometry(owner.shape, spacing)))
    labels = project_mask_to_surface(owner, scar, spacing)
    lookup = {tuple(p): bool(v) for p, v in zip(labels.points, labels.values, strict=True)}
    point_label = np.array([lookup[tuple(p)] for p in sampler.points])
    return scar_in_band(sampler, point_label) > 0


def test_a_perfect_painted_prediction_scores_one_when_read_where_it_was_painted():
    # Each manual surface voxel lies in the band its own label was painted into, and its nearest surface voxel
    # is itself: read there, the automatic labels are the manual ones, exactly.
    la, scar, spacing = _cap_case()
    painted = _painted(la, scar, spacing)
    band = scar_metrics(la, scar, painted, spacing, la_pred=la, scar_form="band")
    assert band["Dice_s"] == 1.0 and band["scar_pct_auto"] == band["scar_pct_manual"]
    assert 5 < band["scar_pct_manual"] < 40
    # Projected like a wall label instead, the thick band reaches the normals of the neighbouring surface voxels
    # and the scar grows along its border (here by 8 %: on a ball the normals barely converge; on real LA walls
    # at 1.5 mm by 20-60 %).
    wall = scar_metrics(la, scar, painted, spacing, la_pred=la, scar_form="wall")
    assert wall["scar_pct_auto"] > 1.05 * wall["scar_pct_manual"] and wall["Dice_s"] < 0.97
    assert wall["Sensitivity"] == 1.0


def test_the_scar_form_is_detected_per_case():
    la, scar, spacing = _cap_case()
    painted = _painted(la, scar, spacing)
    assert painted_band_form(painted, la) and not painted_band_form(scar, la)
    assert not painted_band_form(np.zeros_like(la), la)
    auto = scar_metrics(la, scar, painted, spacing, la_pred=la)
    assert auto["Dice_s"] == 1.0
    # A wall label (the manual scar itself) keeps the any-hit projection, which gives it back exactly.
    assert scar_metrics(la, scar, scar, spacing, la_pred=la)["Dice_s"] == 1.0
    with pytest.raises(ValueError, match="scar_form"):
        scar_metrics(la, scar, scar, spacing, scar_form="thin")


def test_a_painted_prediction_on_a_larger_predicted_la_is_read_at_its_nearest_surface():
    # The predicted LA is the ball grown by 1.5 mm (one voxel), its scar painted around its own surface. Each
    # manual surface voxel now lies 1.5 mm inside that surface, in its band, so its label is the nearest
    # predicted surface voxel's: the cap is found again with only its border slice (x = 5.25 mm, 32 of 968 surface
    # voxels) partly wrong.
    la, scar, spacing = _cap_case()
    la_pred = sphere_mask(la.shape, radius_mm=16.5, spacing=spacing).astype(bool)
    painted = _painted(la, scar, spacing, la_owner=la_pred)
    labels = surface_labels(la, scar, painted, spacing, la_pred=la_pred)
    centre = (np.array(la.shape) - 1) / 2
    x_mm = (labels.points[:, 0] - centre[0]) * spacing[0]
    wrong = labels.manual_scar != labels.auto_scar
    assert wrong.any() and np.all(np.abs(x_mm[wrong] - 5.25) < 1e-6)
    assert metrics_from_labels(labels)["Dice_s"] > 0.9


@pytest.mark.parametrize(
    ("in_band", "scar", "expected"),
    [
        ([0, 0, 0, 1, 1], [1, 1, 1, 0, 1], False),  # nearest in band: +0.5 (not scar), before +1
        ([0, 1, 0, 0, 1], [0, 1, 0, 0, 0], True),  # −0.5 is nearer than +1
        ([1, 0, 0, 0, 1], [1, 0, 0, 0, 0], True),  # a tie at ±1: the inward sample
        ([0, 0, 0, 0, 0], [1, 1, 1, 1, 1], False),  # no sample in the band: no automatic scar
    ],
)
def test_nearest_in_band_sample_by_hand(in_band, scar, expected):
    offsets = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    row = _nearest_in_band(np.array([scar], dtype=bool), np.array([in_band], dtype=bool), offsets)
    assert row.tolist() == [expected]


def test_a_wall_label_inside_a_larger_predicted_la_is_still_read_as_a_wall_label():
    # A predicted LA 1.5 mm larger than the manual one swallows the manual wall, and with it most of a perfect
    # wall label: only the part inside the *manual* LA tells a painted band, so the label keeps its any-hit
    # reading (read as a band it would score 0.38).
    la, scar, spacing = _cap_case()
    la_pred = sphere_mask(la.shape, radius_mm=16.5, spacing=spacing).astype(bool)
    assert painted_band_form(scar, la_pred) and not painted_band_form(scar, la & la_pred)
    assert scar_metrics(la, scar, scar, spacing, la_pred=la_pred)["Dice_s"] == 1.0


def test_a_band_read_without_any_predicted_la_is_no_scar_not_an_error():
    la, scar, spacing = _cap_case()
    nothing = np.zeros_like(la)
    row = scar_metrics(la, scar, _painted(la, scar, spacing), spacing, la_pred=nothing, scar_form="band")
    assert row["scar_pct_auto"] == 0.0 and row["Dice_s"] == 0.0 and row["auto_coverage"] == 0.0
