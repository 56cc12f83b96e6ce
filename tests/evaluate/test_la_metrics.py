"""LA metrics against analytic shapes and a brute-force KD-tree reference (exact distances, medpy definitions)."""

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from atrialjsq.evaluate.la_metrics import la_metrics, overlap, surface_distances
from shapes import sphere_mask


def _kdtree_reference(pred, gt, spacing):
    """medpy's definitions, evaluated by brute force: boundary by erosion, nearest neighbours by KD-tree."""

    def border(mask):
        return mask & ~ndimage.binary_erosion(mask, ndimage.generate_binary_structure(3, 1), border_value=0)

    pts_pred = np.argwhere(border(pred)) * np.asarray(spacing)
    pts_gt = np.argwhere(border(gt)) * np.asarray(spacing)
    d_pred_gt = cKDTree(pts_gt).query(pts_pred)[0]
    d_gt_pred = cKDTree(pts_pred).query(pts_gt)[0]
    return {
        "ASD": d_pred_gt.mean(),
        "ASSD": np.concatenate([d_pred_gt, d_gt_pred]).mean(),  # medpy 0.5 pools both directions
        "HD": max(d_pred_gt.max(), d_gt_pred.max()),
        "HD95": np.percentile(np.concatenate([d_pred_gt, d_gt_pred]), 95),
        "HD95max": max(np.percentile(d_pred_gt, 95), np.percentile(d_gt_pred, 95)),
    }


def _cube(shape, low, size):
    mask = np.zeros(shape, dtype=bool)
    mask[tuple(slice(lo, lo + s) for lo, s in zip(low, size, strict=True))] = True
    return mask


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.625, 0.625, 1.25)])
def test_concentric_spheres_distance_is_radius_difference(spacing):
    radius, delta = 9.0, 3.0
    shape = tuple(int(np.ceil(2 * (radius + delta + 3) / s)) for s in spacing)
    gt = sphere_mask(shape, radius_mm=radius, spacing=spacing).astype(bool)
    pred = sphere_mask(shape, radius_mm=radius + delta, spacing=spacing).astype(bool)
    row = la_metrics(pred, gt, spacing)
    voxel = max(spacing)
    for name in ("ASD", "ASSD", "HD", "HD95", "HD95max"):
        assert abs(row[f"{name}_mm"] - delta) <= voxel, (name, row[f"{name}_mm"])
    # Discrete spheres: the max can only exceed the mean, and all lie within a voxel of ΔR.
    assert row["HD_mm"] >= row["HD95_mm"] >= row["ASD_mm"] - 1e-9
    expected_dice = 2 * gt.sum() / (gt.sum() + pred.sum())  # gt ⊂ pred
    assert row["Dice_LA"] == pytest.approx(expected_dice)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_shifted_cube_hausdorff_is_exact(k):
    spacing = (0.7, 1.1, 1.3)
    gt = _cube((40, 30, 30), (5, 5, 5), (20, 20, 20))
    pred = np.roll(gt, k, axis=0)
    row = la_metrics(pred, gt, spacing)
    assert row["HD_mm"] == pytest.approx(k * spacing[0], abs=1e-6)
    assert row["HD_vox"] == pytest.approx(k, abs=1e-6)
    # Dice and Jaccard of two 20-cubes overlapping over 20-k slices along x.
    inter = (20 - k) * 400
    assert row["Dice_LA"] == pytest.approx(2 * inter / 16000)
    assert row["Jaccard_LA"] == pytest.approx(inter / (16000 - inter))


def test_distances_match_brute_force_kdtree():
    rng = np.random.default_rng(3)
    spacing = (0.625, 0.9, 1.25)
    shape = (36, 30, 24)
    noise = ndimage.gaussian_filter(rng.normal(size=shape), 2.5)
    gt = noise > 0.02
    pred = ndimage.shift(noise, (2, -1, 1), order=1) > 0.0
    gt[0, 10:20, 5:15] = True  # touch the volume's edge: those voxels are boundary voxels too
    expected = _kdtree_reference(pred, gt, spacing)
    row = la_metrics(pred, gt, spacing)
    # edt returns float32, so "exact" means equal to float32 precision.
    for name, value in expected.items():
        assert row[f"{name}_mm"] == pytest.approx(value, rel=1e-6, abs=1e-6), name
    expected_vox = _kdtree_reference(pred, gt, (1, 1, 1))
    for name, value in expected_vox.items():
        assert row[f"{name}_vox"] == pytest.approx(value, rel=1e-6, abs=1e-6), name


def test_directed_distances_are_per_boundary_voxel():
    # Wide enough (12 voxels) that a top-face centre is farther from the side faces than from the other top.
    gt = _cube((24, 24, 20), (5, 5, 5), (12, 12, 6))
    pred = _cube((24, 24, 20), (5, 5, 5), (12, 12, 8))  # longer by 2 voxels along z
    d = surface_distances(pred, gt, (1, 1, 2))
    assert d.gt_to_pred.max() == pytest.approx(4.0)  # gt's top face is 2 voxels (4 mm) below pred's
    assert d.pred_to_gt.max() == pytest.approx(4.0)
    assert d.gt_to_pred.min() == 0.0


def test_overlap_by_hand():
    a = _cube((10, 10, 10), (0, 0, 0), (4, 4, 4))  # 64 voxels
    b = _cube((10, 10, 10), (2, 0, 0), (4, 4, 4))  # overlap 2*4*4 = 32
    dice, jaccard = overlap(a, b)
    assert dice == pytest.approx(0.5)
    assert jaccard == pytest.approx(32 / 96)


def test_empty_masks_are_explicit():
    gt = _cube((10, 10, 10), (2, 2, 2), (4, 4, 4))
    empty = np.zeros_like(gt)
    one_empty = la_metrics(empty, gt, (1, 1, 1))
    assert one_empty["Dice_LA"] == 0.0 and one_empty["Jaccard_LA"] == 0.0
    assert np.isinf(one_empty["HD_mm"]) and np.isinf(one_empty["ASD_vox"])
    both_empty = la_metrics(empty, empty, (1, 1, 1))
    assert all(np.isnan(v) for v in both_empty.values())
    with pytest.raises(ValueError):
        surface_distances(empty, gt)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        la_metrics(np.ones((3, 3, 3)), np.ones((3, 3, 4)), (1, 1, 1))


def test_assd_pools_both_directions_and_asd_is_pred_to_gt_only():
    # gt: a 2-voxel-thick slab x in {10, 11}; pred: x in {10..13}. By hand, on a 1 mm grid with the y, z faces
    # far away (only the x = const faces matter in the middle): gt's boundary faces x = 10, 11 are 0 and 2 mm
    # from pred's boundary (x = 10 and 13); pred's x = 10, 13 are 0 and 2 mm from gt's (x = 10, 11). Add a
    # second, far pred blob so the directions differ in count: its boundary is far from gt, gt never sees it.
    gt = _cube((40, 40, 40), (10, 2, 2), (2, 36, 36))
    pred = gt | _cube((40, 40, 40), (10, 2, 2), (4, 36, 36)) | _cube((40, 40, 40), (30, 18, 18), (3, 3, 3))
    row = la_metrics(pred, gt, (1, 1, 1))
    reference = _kdtree_reference(pred, gt, (1, 1, 1))  # erosion borders + KD-tree, independent of the code
    assert row["ASD_mm"] == pytest.approx(reference["ASD"])
    assert row["ASSD_mm"] == pytest.approx(reference["ASSD"])
    # The far blob adds pred boundary voxels gt never sees: the pred → gt direction is the larger mean, so
    # pooling both directions (medpy) and averaging the two directions' means really differ here.
    d = surface_distances(pred, gt)
    assert d.pred_to_gt.mean() > d.gt_to_pred.mean() + 0.5
    mean_of_means = (d.pred_to_gt.mean() + d.gt_to_pred.mean()) / 2
    assert abs(row["ASSD_mm"] - mean_of_means) > 0.01
    assert row["HD95max_mm"] >= row["HD95_mm"] - 1e-9
    assert row["HD_mm"] == pytest.approx(21.0)  # blob voxel x = 32 to gt face x = 11, straight along x
