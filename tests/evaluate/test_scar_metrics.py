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

from atrialjsq.evaluate.scar_metrics import metrics_from_labels, scar_metrics, surface_labels
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
