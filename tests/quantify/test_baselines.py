"""Classic methods (IIR, Otsu, MGMM, mean + k·SD) on a sphere whose wall has a bright cap of known area."""

import numpy as np
import pytest
from scar_phantoms import BLOOD, cap_phantom

from atrialjsq.errors import InputError
from atrialjsq.quantify.baselines import METHODS, blood_pool, blood_pool_stats, scar_from_image
from atrialjsq.quantify.burden import compute_burden


@pytest.fixture(scope="module")
def phantom():
    return cap_phantom(half_angle_deg=55.0)


@pytest.mark.parametrize("method", METHODS)
def test_cap_burden_within_two_points(phantom, method):
    result = scar_from_image(phantom.image, phantom.la, method)
    burden = compute_burden(result)
    assert result.method == method
    assert burden.burden_percent == pytest.approx(100 * phantom.cap_fraction, abs=2.0)


@pytest.mark.parametrize("method", METHODS)
def test_cap_burden_on_lasc_voxels(method):
    # The LASC 2018 grid: 0.625 x 0.625 x 1.25 mm.
    phantom = cap_phantom(half_angle_deg=45.0, spacing=(0.625, 0.625, 1.25), seed=3)
    burden = compute_burden(scar_from_image(phantom.image, phantom.la, method))
    assert burden.burden_percent == pytest.approx(100 * phantom.cap_fraction, abs=2.0)


def test_iir_reports_both_published_cut_offs():
    # Dim the cap so that its IIR (1.26) sits between the two cut-offs: fibrosis at 1.2, not dense scar at 1.32.
    phantom = cap_phantom(half_angle_deg=55.0, noise=0.01)
    image = phantom.image.array.copy()
    image[image > 1.5 * BLOOD] = 1.26 * BLOOD
    dimmer = phantom.image.like(image)
    burden = compute_burden(scar_from_image(dimmer, phantom.la, "iir"))
    assert set(burden.burden_at_thresholds) == {"iir_1.2", "iir_1.32"}
    assert burden.burden_at_thresholds["iir_1.2"] == pytest.approx(100 * phantom.cap_fraction, abs=2.0)
    assert burden.burden_at_thresholds["iir_1.32"] < 1.0
    assert burden.burden_percent == pytest.approx(burden.burden_at_thresholds["iir_1.32"])
    fibrosis = compute_burden(scar_from_image(dimmer, phantom.la, "iir", iir_threshold=1.2))
    assert fibrosis.burden_percent == pytest.approx(100 * phantom.cap_fraction, abs=2.0)


def test_msd_threshold_moves_with_k(phantom):
    low = scar_from_image(phantom.image, phantom.la, "msd", k=3.0).parameters
    high = scar_from_image(phantom.image, phantom.la, "msd", k=6.0).parameters
    assert high["threshold"] - low["threshold"] == pytest.approx(3.0 * low["blood_pool_sd"])


def test_blood_pool_is_deep_inside_and_its_stats_match_the_blood(phantom):
    spacing = phantom.la.geometry.spacing
    pool = blood_pool(phantom.la.array, spacing, erosion_mm=3.0)
    shape = np.asarray(pool.shape)
    radius = np.linalg.norm((np.argwhere(pool) - (shape - 1) / 2) * np.asarray(spacing), axis=1)
    # Depth is measured to the nearest voxel outside, up to one voxel beyond the true boundary.
    assert radius.max() <= phantom.radius_mm - 3.0 + 1.0
    mean, sd = blood_pool_stats(phantom.image.array, phantom.la.array, spacing, 3.0)
    assert mean == pytest.approx(BLOOD, abs=0.01) and sd == pytest.approx(0.04, rel=0.15)
    # A mask thinner than the erosion still yields a pool (its deepest half).
    thin = np.zeros((12, 12, 12), dtype=np.uint8)
    thin[2:10, 2:10, 5:8] = 1
    assert blood_pool(thin, (1.0, 1.0, 1.0), erosion_mm=3.0).any()


def test_mgmm_finds_three_classes(phantom):
    parameters = scar_from_image(phantom.image, phantom.la, "mgmm").parameters
    assert parameters["component_means"][-1] == pytest.approx(2.0, abs=0.1)
    assert parameters["component_means"][1] == pytest.approx(BLOOD, abs=0.1)


def test_rejects_unknown_method_grid_mismatch_and_nan(phantom):
    with pytest.raises(ValueError, match="unknown method"):
        scar_from_image(phantom.image, phantom.la, "kmeans")
    small = type(phantom.la).from_array(phantom.la.array[1:], spacing=phantom.la.geometry.spacing)
    with pytest.raises(InputError, match="grid"):
        scar_from_image(phantom.image, small, "iir")
    broken = phantom.image.array.copy()
    broken[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        scar_from_image(phantom.image.like(broken), phantom.la, "otsu")


def test_iir_on_negative_intensities_is_flagged(phantom):
    from atrialjsq.quantify.baselines import iir_intensity_problem

    assert iir_intensity_problem(phantom.image.array) is None  # magnitudes: a true zero
    array = phantom.image.array
    zscored = phantom.image.like((array - array.mean()) / array.std())
    assert "negative" in iir_intensity_problem(zscored.array)
    with pytest.warns(RuntimeWarning, match="needs intensities with a true zero"):
        result = scar_from_image(zscored, phantom.la, "iir")
    assert "negative" in result.parameters["warning"]
    assert "warning" not in scar_from_image(phantom.image, phantom.la, "iir").parameters


@pytest.mark.parametrize("method", ["otsu", "mgmm", "msd"])
@pytest.mark.parametrize("noise", [0.04, 0.1])
def test_a_wall_without_scar_has_no_scar(method, noise):
    """Reported by review: with nothing enhanced, Otsu's upper class and the mixture's brightest component were
    the blood pool the band reaches into, and every element was called scar (100 % burden)."""
    phantom = cap_phantom(half_angle_deg=0.0, noise=noise, seed=5)
    result = scar_from_image(phantom.image, phantom.la, method)
    assert compute_burden(result).burden_percent < 1.0
    if method != "msd":
        assert result.parameters["no_scar_class"] is True


@pytest.mark.parametrize("method", ["otsu", "mgmm"])
def test_a_real_scar_class_is_kept(phantom, method):
    result = scar_from_image(phantom.image, phantom.la, method)
    assert result.parameters["no_scar_class"] is False  # scar (2.0) is a class of its own above blood (1.0)


def test_mgmm_gives_a_mirrored_image_the_same_burden():
    """The mixture was fitted on a seeded random draw of the band voxels, which depends on their order: a
    mirrored scan (same anatomy) could get another fit. Over 20,000 band voxels here, so the fit subsamples."""
    from atrialjsq.io import Volume

    phantom = cap_phantom(radius_mm=25.0, half_angle_deg=40.0, noise=0.15, seed=7)
    burdens, means = [], []
    for axes in [(), (0,), (1,), (0, 1, 2)]:
        image = Volume(np.flip(phantom.image.array, axes).copy(), phantom.image.geometry)
        la = Volume(np.flip(phantom.la.array, axes).copy(), phantom.la.geometry)
        result = scar_from_image(image, la, "mgmm")
        burdens.append(round(compute_burden(result).burden_percent, 6))
        means.append(result.parameters["component_means"])
    assert np.allclose(means, means[0], rtol=0, atol=1e-9)  # the same fit, whatever the voxel order
    assert len(set(burdens)) == 1 and burdens[0] == pytest.approx(100 * phantom.cap_fraction, abs=3.0)


def test_a_constant_wall_band_is_refused_or_has_no_scar(phantom):
    from atrialjsq.io import Volume

    flat = Volume(np.full(phantom.image.array.shape, 100.0, dtype=np.float32), phantom.image.geometry)
    for method in ("otsu", "mgmm"):
        with pytest.raises(InputError, match="constant over the LA wall band"):
            scar_from_image(flat, phantom.la, method)
    assert compute_burden(scar_from_image(flat, phantom.la, "msd")).burden_percent == 0.0
