"""LA metrics on a real LASC 2018 label: exact against brute force, and the evaluate command on the HDF5 layout."""

import json

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from atrialjsq.cli import main
from atrialjsq.data.layouts import DEFAULT_H5_SPACING, index_dataset, load_case
from atrialjsq.evaluate.la_metrics import surface_distances
from atrialjsq.io import Volume, write_volume

pytestmark = pytest.mark.realdata


def _first_case(lasc_dir):
    return index_dataset(lasc_dir)[0]


def test_real_label_distances_equal_brute_force(lasc_dir):
    la = load_case(_first_case(lasc_dir)).labels["la"].array.astype(bool)
    pred = ndimage.binary_dilation(np.roll(la, 3, axis=0), iterations=1)
    d = surface_distances(pred, la, DEFAULT_H5_SPACING)
    six = ndimage.generate_binary_structure(3, 1)
    spacing = np.asarray(DEFAULT_H5_SPACING)
    pts_pred = np.argwhere(pred & ~ndimage.binary_erosion(pred, six)) * spacing
    pts_gt = np.argwhere(la & ~ndimage.binary_erosion(la, six)) * spacing
    np.testing.assert_allclose(np.sort(d.pred_to_gt), np.sort(cKDTree(pts_gt).query(pts_pred)[0]), rtol=1e-6)
    np.testing.assert_allclose(np.sort(d.gt_to_pred), np.sort(cKDTree(pts_pred).query(pts_gt)[0]), rtol=1e-6)


def test_evaluate_command_on_hdf5_layout(lasc_dir, tmp_path):
    ref = _first_case(lasc_dir)
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / ref.case_id).symlink_to(ref.image_path.parent, target_is_directory=True)
    la = load_case(ref).labels["la"].array
    shifted = np.roll(la, 2, axis=0)
    write_volume(Volume.from_array(shifted, DEFAULT_H5_SPACING), tmp_path / "pred" / ref.case_id / "LA_predict.nii.gz")
    out = tmp_path / "out"
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--gt", str(gt), "--out", str(out)]) == 0
    metrics = json.loads((out / "summary.json").read_text())["metrics"]
    # A shift of 2 voxels along x moves every surface voxel by exactly 2·0.625 mm, so HD cannot exceed it.
    assert 0 < metrics["HD_mm"]["mean"] <= 2 * DEFAULT_H5_SPACING[0] + 1e-6
    # Dice of the label and its copy 2 voxels along: 2·|A ∩ shifted A| / 2|A| (roll wraps nothing: the crop has
    # background margins)
    overlap = np.count_nonzero((la > 0) & (shifted > 0))
    assert metrics["Dice_LA"]["mean"] == pytest.approx(overlap / np.count_nonzero(la), abs=1e-5)
    assert metrics["Dice_s"]["mean"] is None and metrics["Dice_s"]["n"] == 0  # no scar label in LASC 2018
