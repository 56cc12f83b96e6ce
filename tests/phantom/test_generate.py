"""Phantom generation: determinism, label consistency, PV ostia, requested IIR, SNR and burden."""

from __future__ import annotations

import edt
import numpy as np
import pytest
from scipy import ndimage

from atrialjsq.phantom import anatomy as anat
from atrialjsq.phantom.generate import generate_phantom
from atrialjsq.surface.band import BandParams
from atrialjsq.surface.projection import project_mask_to_surface

SMALL = {"shape": (112, 112, 44), "spacing": (1.25, 1.25, 2.5)}
TINY = {"shape": (80, 80, 40), "spacing": (1.75, 1.75, 2.75)}


@pytest.fixture(scope="module")
def medium_case():
    return generate_phantom(7, "medium", **SMALL)


@pytest.fixture(scope="module")
def hard_case():
    return generate_phantom(8, "hard", **SMALL)


def _blood_core(la: np.ndarray, spacing, depth_mm: float) -> np.ndarray:
    return edt.edt(la.astype(np.uint8), anisotropy=spacing) > depth_mm


def test_same_seed_same_case_and_different_seed_differs():
    a, pa = generate_phantom(11, **TINY)
    b, pb = generate_phantom(11, **TINY)
    c, _ = generate_phantom(12, **TINY)
    np.testing.assert_array_equal(a.image.array, b.image.array)
    np.testing.assert_array_equal(a.la.array, b.la.array)
    np.testing.assert_array_equal(a.scar.array, b.scar.array)
    assert pa == pb
    assert not np.array_equal(a.la.array, c.la.array)


def test_difficulty_changes_image_not_anatomy():
    easy, _ = generate_phantom(11, "easy", **TINY)
    hard, _ = generate_phantom(11, "hard", **TINY)
    np.testing.assert_array_equal(easy.la.array, hard.la.array)
    np.testing.assert_array_equal(easy.scar.array, hard.scar.array)
    assert not np.allclose(easy.image.array, hard.image.array)


def test_labels_binary_la_connected_and_scar_in_the_wall(medium_case):
    case, _ = medium_case
    la, scar = case.la.array, case.scar.array
    spacing = case.image.geometry.spacing
    assert la.dtype == np.uint8 and set(np.unique(la)) == {0, 1} and set(np.unique(scar)) == {0, 1}
    assert ndimage.label(la)[1] == 1
    assert not np.any(la & scar)
    # Scar lives in the outer wall shell: within the wall thickness (<= 3.5 mm) of the blood pool.
    outside = edt.edt((1 - la).astype(np.uint8), anisotropy=spacing)
    assert outside[scar > 0].max() <= 3.5 + max(spacing)
    assert np.median(outside[scar > 0]) <= 3.0
    volume_ml = la.sum() * np.prod(spacing) / 1000
    assert 40 < volume_ml < 200


def _voxel(case, point_mm) -> tuple[int, int, int]:
    return tuple(np.rint(case.image.geometry.physical_to_index(point_mm)).astype(int))


def _four_veins_present(case, params):
    la, image = case.la.array, case.image.array
    blood = image[_blood_core(la, case.image.geometry.spacing, 3.0)].mean()
    for vein in params["anatomy"]["veins"]:
        ostium, direction = np.asarray(vein["ostium"]), np.asarray(vein["direction"])
        inside = anat.to_physical(params["anatomy"], ostium + 0.8 * vein["label_length_mm"] * direction)
        beyond = anat.to_physical(params["anatomy"], ostium + (vein["label_length_mm"] + 5.0) * direction)
        assert la[_voxel(case, inside)] == 1, vein["name"]
        # Past the label's cut the vein goes on in the image (bright blood) but is no longer labelled LA.
        assert la[_voxel(case, beyond)] == 0, vein["name"]
        assert image[_voxel(case, beyond)] > 0.6 * blood, vein["name"]


def test_four_pulmonary_veins_with_proximal_labels(medium_case):
    _four_veins_present(*medium_case)


def test_common_left_trunk_still_has_four_veins():
    seed = next(
        s
        for s in range(100)
        if anat.sample_anatomy(np.random.default_rng(np.random.SeedSequence(s).spawn(4)[0]))["left_trunk"] is not None
    )
    case, params = generate_phantom(seed, **SMALL)
    assert params["anatomy"]["left_trunk"] is not None
    _four_veins_present(case, params)


@pytest.mark.parametrize("which", ["medium_case", "hard_case"])
def test_measured_scar_iir_in_requested_range(which, request):
    case, params = request.getfixturevalue(which)
    image, la, scar = case.image.array, case.la.array, case.scar.array
    blood = image[_blood_core(la, case.image.geometry.spacing, 3.0)].mean()
    iir = image[scar > 0].mean() / blood
    low, high = params["appearance"]["iir_range"]
    assert low <= iir <= high
    assert iir == pytest.approx(params["appearance"]["iir"], rel=0.05)


@pytest.mark.parametrize("which", ["medium_case", "hard_case"])
def test_snr_in_blood_pool_matches_request(which, request):
    case, params = request.getfixturevalue(which)
    spacing = case.image.geometry.spacing
    depth = edt.edt(case.la.array.astype(np.uint8), anisotropy=spacing)
    centre = np.unravel_index(np.argmax(depth), depth.shape)
    grids = np.meshgrid(
        *[(np.arange(n) - c) * s for n, c, s in zip(depth.shape, centre, spacing, strict=True)], indexing="ij"
    )
    ball = (sum(g**2 for g in grids) <= 7.0**2) & (depth > 3.0)
    values = case.image.array[ball]
    assert values.size > 100
    snr = values.mean() / values.std()
    assert snr == pytest.approx(params["appearance"]["snr"], rel=0.2)


@pytest.mark.parametrize(("kind", "burden"), [("post-ablation", 0.05), ("post-ablation", 0.35), ("pre-ablation", 0.15)])
def test_surface_burden_matches_request(kind, burden):
    case, params = generate_phantom(5, scar_kind=kind, burden=burden, **TINY)
    spacing = case.image.geometry.spacing
    projection = project_mask_to_surface(case.la.array, case.scar.array, spacing, BandParams(reach_mm=4.0))
    assert projection.hit.mean() == pytest.approx(burden, abs=0.02)
    assert params["scar"]["kind"] == kind


def test_neighbours_rendered_with_lge_contrast(medium_case):
    case, params = medium_case
    tissue = params["appearance"]["tissue"]
    assert tissue["myocardium"] < 0.5 < tissue["blood"] < tissue["fat"]
    # Outside the heart region the FOV holds dark lung and bright chest-wall fat: a wide intensity range.
    image = case.image.array
    blood = image[_blood_core(case.la.array, case.image.geometry.spacing, 3.0)].mean()
    assert np.percentile(image, 5) < 0.2 * blood
    assert np.percentile(image, 99.5) > 1.3 * blood


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="difficulty"):
        generate_phantom(0, "extreme", **TINY)
    with pytest.raises(ValueError, match="burden"):
        generate_phantom(0, burden=0.9, **TINY)
    with pytest.raises(ValueError, match="field of view"):
        generate_phantom(0, shape=(40, 40, 20), spacing=(1.0, 1.0, 2.0))
