"""Scar on the LA surface from the network's probability maps, against spheres with a scar cap of known area."""

import numpy as np
import pytest
from scar_phantoms import cap_phantom

from atrialjsq.errors import InputError
from atrialjsq.io import Geometry, Volume
from atrialjsq.quantify.burden import compute_burden
from atrialjsq.quantify.surface_scar import DEFAULT_BAND, compare_probabilities, scar_from_probabilities

ROTATED = (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize("half_angle", [35.0, 60.0, 90.0])
def test_cap_burden_within_two_points(half_angle):
    phantom = cap_phantom(half_angle_deg=half_angle)
    result = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)
    burden = compute_burden(result)
    assert burden.burden_percent == pytest.approx(100 * phantom.cap_fraction, abs=2.0)
    assert burden.voxel_burden_percent == pytest.approx(100 * phantom.cap_fraction, abs=2.5)


def test_anisotropic_rotated_grid_gives_the_same_burden():
    # Physical geometry must not matter: 0.8 x 0.8 x 1.6 mm voxels, axes rotated, origin shifted.
    phantom = cap_phantom(half_angle_deg=50.0, spacing=(0.8, 0.8, 1.6), origin=(-30.0, 12.5, 7.0), direction=ROTATED)
    burden = compute_burden(scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar))
    assert burden.burden_percent == pytest.approx(100 * phantom.cap_fraction, abs=2.0)
    assert burden.la_volume_ml == pytest.approx(4 / 3 * np.pi * phantom.radius_mm**3 / 1000, rel=0.03)
    assert burden.surface_area_cm2 == pytest.approx(4 * np.pi * phantom.radius_mm**2 / 100, rel=0.03)


def test_no_scar_and_all_scar():
    phantom = cap_phantom(half_angle_deg=60.0)
    zero = phantom.p_scar.like(np.zeros_like(phantom.p_scar.array))
    both = phantom.p_scar.like(phantom.p_scar.array + phantom.p_normal.array)
    none = scar_from_probabilities(phantom.la, both, zero)
    everywhere = scar_from_probabilities(phantom.la, zero, both)
    assert compute_burden(none).burden_percent == 0.0
    assert not none.scar.array.any()
    assert compute_burden(everywhere).burden_percent == pytest.approx(100.0)
    assert everywhere.vertex_probability.min() == pytest.approx(1.0)


def test_scar_volume_is_the_capped_part_of_the_wall_band():
    phantom = cap_phantom(half_angle_deg=60.0)
    result = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)
    scar = result.scar.array.astype(bool)
    assert result.scar.array.dtype == np.uint8 and result.scar.geometry == phantom.la.geometry
    shape = np.asarray(scar.shape)
    offsets = np.argwhere(scar) - (shape - 1) / 2
    radius = np.linalg.norm(offsets, axis=1)
    cos_theta = offsets[:, 2] / radius
    # Inside the band −2..+3 mm around the sphere, and (up to a voxel at the rim) inside the cone.
    assert radius.min() >= phantom.radius_mm - 2.0 - 1.0 and radius.max() <= phantom.radius_mm + 3.0 + 1.0
    assert np.mean(cos_theta > np.cos(np.radians(60.0 + 8.0))) == 1.0
    assert np.mean(cos_theta > np.cos(np.radians(60.0))) > 0.9


def test_point_and_vertex_arrays_line_up():
    phantom = cap_phantom(half_angle_deg=45.0)
    result = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)
    n_vertices = len(result.mesh.vertices_mm)
    for name, values in result.vertex_point_data().items():
        assert values.shape == (n_vertices,), name
    assert result.point_label.shape == (len(result.points),)
    np.testing.assert_array_equal(result.vertex_label, result.vertex_probability > 0.5)


def test_mean_rule_ignores_one_stray_sample():
    # One sample of scar tail at the band edge must not outvote a normal wall along the rest of the profile.
    p_normal = np.array([[0.0, 0.2, 0.9, 1.0, 0.9, 0.2, 0.0]])
    p_scar = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.4]])
    probability, score, label = compare_probabilities({"p_normal": p_normal, "p_scar": p_scar})
    assert not label[0] and score[0] < 0
    assert probability[0] == pytest.approx(0.5 / (0.5 + 3.2))


def test_default_band_reads_from_two_mm_inside_to_three_mm_outside():
    # The defaults before BandParams: inward 2.0, outward 3.0, step 0.5, normals smoothed by 2 mm.
    assert (DEFAULT_BAND.inward_mm, DEFAULT_BAND.outward_mm, DEFAULT_BAND.step_mm) == (2.0, 3.0, 0.5)
    assert DEFAULT_BAND.normal_sigma_mm == 2.0
    np.testing.assert_allclose(DEFAULT_BAND.offsets(), np.arange(-2.0, 3.01, 0.5))
    phantom = cap_phantom(half_angle_deg=45.0)
    parameters = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar).parameters
    assert {k: parameters[k] for k in ("inward_mm", "outward_mm", "step_mm")} == {
        "inward_mm": 2.0,
        "outward_mm": 3.0,
        "step_mm": 0.5,
    }


def test_refuses_maps_on_another_grid_and_empty_masks():
    phantom = cap_phantom(half_angle_deg=45.0)
    shifted = Volume(phantom.p_scar.array, Geometry(phantom.p_scar.geometry.shape, origin=(5.0, 0.0, 0.0)))
    with pytest.raises(InputError, match="p_scar"):
        scar_from_probabilities(phantom.la, phantom.p_normal, shifted)
    empty = phantom.la.like(np.zeros_like(phantom.la.array))
    with pytest.raises(InputError, match="empty"):
        scar_from_probabilities(empty, phantom.p_normal, phantom.p_scar)
