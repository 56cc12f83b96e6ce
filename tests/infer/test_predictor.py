"""Predictor: localisation, crop planning, sliding window and TTA paths, and the way back to the input grid.

Stand-in networks (a fixed, known function of the image) replace trained models so every answer is analytic:
a bright ball on a rotated, anisotropic grid must come back as the same ball on that exact grid.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from atrialjsq.infer.localize import largest_component, localization_from_mask
from atrialjsq.infer.predictor import Network, Predictor, plan_crop
from atrialjsq.io import Geometry, Volume
from shapes import stored_turned

torch.set_num_threads(1)

# 90° rotation about z plus a flipped z axis: catches any (x, y, z) / direction mix-up.
ROTATED = (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


class StandInNet:
    """Duck-typed `Network`: LA = intensity above 0.5 (sharp sigmoid); scar channel 1 = LA, channel 0 = 1 − LA."""

    def __init__(self, spacing, roi, multiple=4):
        self.spacing, self.roi, self.multiple = tuple(spacing), tuple(roi), multiple
        self.device = torch.device("cpu")
        self.orientation = "LPS"
        self.config = SimpleNamespace(heads={"la": 1, "scar": 2}, task="joint")
        self.model = torch.nn.Identity()
        self.windows: list[tuple[int, ...]] = []

    def normalise(self, array):
        return np.asarray(array, dtype=np.float32)  # images in these tests are already 0..1

    def probabilities(self, image):
        self.windows.append(tuple(image.shape[2:]))
        la = torch.sigmoid(40 * (image - 0.5))
        return {"la": la, "scar": torch.cat([1 - la, la], dim=1)}


def ball_image(geometry: Geometry, centre_mm, radius_mm: float) -> Volume:
    """1 inside a ball given in physical mm, 0 outside, on any grid (direction included)."""
    index = np.stack(np.meshgrid(*[np.arange(n) for n in geometry.shape], indexing="ij"), axis=-1)
    points = geometry.index_to_physical(index)
    inside = np.linalg.norm(points - np.asarray(centre_mm), axis=-1) <= radius_mm
    return Volume(inside.astype(np.float32), geometry)


def dice(a, b) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return 2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


@pytest.fixture
def rotated_ball():
    geometry = Geometry((56, 48, 24), (1.5, 1.25, 2.5), (30.0, -12.0, 40.0), ROTATED)
    centre = geometry.index_to_physical(np.array([34.0, 20.0, 11.0]))  # off the image centre
    return ball_image(geometry, centre, 14.0), centre


def test_plan_crop_roi_fits_single_window():
    box = (np.array([40.0, 40, 20]), np.array([70.0, 60, 40]))
    info, window = plan_crop((120, 110, 60), (64, 64, 32), 8, box, np.zeros(3), np.full(3, 4.0), "roi")
    assert info.roi == (64, 64, 32) and window == (64, 64, 32)
    np.testing.assert_allclose(np.asarray(info.start) + np.asarray(info.roi) / 2, [55, 50, 30], atol=1)


def test_plan_crop_large_la_uses_sliding_windows():
    box = (np.array([10.0, 40, 20]), np.array([90.0, 60, 40]))  # 80 + 2*4 voxels along x > roi 64
    info, window = plan_crop((120, 110, 60), (64, 64, 32), 8, box, np.zeros(3), np.full(3, 4.0), "roi")
    assert info.roi == (88, 64, 32) and window == (64, 64, 32)
    tight, window = plan_crop((120, 110, 60), (64, 64, 32), 8, box, np.zeros(3), np.full(3, 4.0), "tight")
    assert tight.roi == (88, 32, 32) and window == (64, 32, 32)
    whole, window = plan_crop((120, 110, 60), (64, 64, 32), 8, None, np.zeros(3), np.zeros(3), "whole")
    assert whole.roi == (120, 112, 64) and whole.start == (0, -1, -2) and window == (64, 64, 32)


def test_plan_crop_without_box_centres_roi_on_given_point():
    info, window = plan_crop((100, 100, 50), (32, 32, 16), 8, None, np.array([20.0, 70, 10]), np.zeros(3), "roi")
    assert info.roi == window == (32, 32, 16)
    assert info.start == (4, 54, 2)


def test_largest_component_keeps_biggest_blob():
    mask = np.zeros((20, 20, 20), bool)
    mask[2:5, 2:5, 2:5] = True  # 27 voxels
    mask[10:16, 10:16, 10:16] = True  # 216 voxels
    np.testing.assert_array_equal(largest_component(mask), np.pad(np.ones((6, 6, 6), bool), [(10, 4)] * 3))
    assert not largest_component(np.zeros((4, 4, 4))).any()


def test_localizer_finds_off_centre_ball(rotated_ball):
    image, centre = rotated_ball
    predictor = Predictor(StandInNet((1.0, 1.0, 1.0), (32, 32, 32)), StandInNet((4.0, 4.0, 4.0), (16, 16, 8)))
    found = predictor.localize(image)
    assert found.found
    np.testing.assert_allclose(found.centre_mm, centre, atol=3.0)  # coarse voxels are 4 mm
    low, high = found.box_in(image.geometry)
    extent_mm = (high - low) * np.asarray(image.geometry.spacing)
    assert np.all(np.abs(extent_mm - 28.0) <= 8.0)


def test_empty_localisation_falls_back_to_image_centre_with_warning(rotated_ball):
    image, _ = rotated_ball
    empty = image.like(np.zeros_like(image.array))
    predictor = Predictor(StandInNet((1.0, 1.0, 1.0), (32, 32, 32)), StandInNet((4.0, 4.0, 4.0), (16, 16, 8)))
    with pytest.warns(RuntimeWarning, match="no LA"):
        found = predictor.localize(empty)
    assert not found.found and found.box_in(image.geometry) is None
    expected = image.geometry.index_to_physical((np.asarray(image.geometry.shape) - 1) / 2)
    np.testing.assert_allclose(found.centre_mm, expected, atol=1e-6)


def test_tiny_localised_component_is_not_trusted():
    grid = Geometry((20, 20, 20), (4.0, 4.0, 4.0))
    mask = np.zeros(grid.shape, bool)
    mask[5:8, 5:8, 5:8] = True  # 27 voxels of 64 mm³ = 1.7 mL, below the 5 mL floor
    with pytest.warns(RuntimeWarning, match="only 1.7 mL"):
        assert not localization_from_mask(mask, grid, grid).found
    mask[5:10, 5:10, 5:10] = True  # 125 voxels = 8 mL
    found = localization_from_mask(mask, grid, grid)
    assert found.found
    np.testing.assert_allclose(found.centre_mm, [28.0, 28.0, 28.0])  # voxel 7 * 4 mm


def test_prediction_is_the_ball_on_the_input_grid(rotated_ball):
    image, _ = rotated_ball
    predictor = Predictor(StandInNet((1.0, 1.0, 1.0), (48, 48, 48), 8), StandInNet((4.0, 4.0, 4.0), (16, 16, 8)))
    prediction = predictor.predict_volume(image)
    for volume in (prediction.la_prob, prediction.p_normal, prediction.p_scar, prediction.la):
        assert volume.geometry == image.geometry  # exact: same object values, not just close
        assert volume.array.shape == image.array.shape
    assert prediction.la.array.dtype == np.uint8
    assert dice(prediction.la.array, image.array > 0.5) > 0.95
    assert 0.0 <= prediction.la_prob.array.min() and prediction.la_prob.array.max() <= 1.0
    assert set(prediction.timings) >= {"localize", "resample_normalise", "network", "to_input_grid"}


def test_sliding_window_and_tight_crop_agree_with_whole_volume(rotated_ball):
    image, _ = rotated_ball
    results = {}
    for crop, roi in (("roi", (16, 16, 16)), ("tight", (64, 64, 64)), ("whole", (32, 32, 32))):
        fine = StandInNet((1.0, 1.0, 1.0), roi, 8)
        predictor = Predictor(fine, StandInNet((4.0, 4.0, 4.0), (16, 16, 8)), crop=crop)
        results[crop] = predictor.predict_volume(image).la.array
        results[crop + "_windows"] = len(fine.windows)
    assert results["roi_windows"] > 1  # the 28 mm ball + margins exceeds a 16 mm ROI: tiled
    assert results["tight_windows"] == 1
    np.testing.assert_array_equal(results["roi"], results["whole"])
    np.testing.assert_array_equal(results["tight"], results["whole"])


def test_mirroring_tta_matches_plain_for_symmetric_network(rotated_ball):
    image, _ = rotated_ball
    fine_plain, fine_tta = StandInNet((2.0, 2.0, 2.0), (16, 16, 16)), StandInNet((2.0, 2.0, 2.0), (16, 16, 16))
    plain = Predictor(fine_plain, None).predict_volume(image)
    with pytest.raises(ValueError, match="trained without flips"):
        Predictor(fine_tta, None, tta=True)
    fine_tta.config.train = SimpleNamespace(flip_axes=(0, 1, 2))
    predictor = Predictor(fine_tta, None, tta=True)
    mirrored = predictor.predict_volume(image)
    assert len(fine_tta.windows) == 8 * len(fine_plain.windows)
    np.testing.assert_allclose(mirrored.la_prob.array, plain.la_prob.array, atol=1e-5)


def test_tta_mirrors_only_the_axes_flipped_in_training():
    fine = StandInNet((2.0, 2.0, 2.0), (16, 16, 16))
    fine.config.train = SimpleNamespace(flip_axes=(0, 2))
    assert Predictor(fine, None, tta=True).tta_axes == (0, 2)


def test_tta_on_a_model_trained_without_flips_is_refused_naming_the_model(tmp_path):
    from atrialjsq.errors import InputError
    from atrialjsq.infer.bundles import untrained_bundle
    from atrialjsq.model.configs import get_config

    path = untrained_bundle(None, get_config("ajsq-sesa", tiny=True), tmp_path / "noflip.pt")
    with pytest.raises(InputError, match="trained without flips") as caught:
        Predictor.from_checkpoint(str(path), "cpu", tta=True)
    assert str(path) in str(caught.value)
    assert Predictor.from_checkpoint(str(path), "cpu", tta=False).tta_axes == ()


def test_real_network_from_tiny_configs_keeps_geometry(tmp_path, rotated_ball):
    from atrialjsq.infer.bundles import untrained_bundle
    from atrialjsq.model.configs import get_config

    image, _ = rotated_ball
    localizer = get_config("unet-la-bce", tiny=True, data={"spacing": (4.0, 4.0, 4.0), "roi": (16, 16, 8)})
    fine = get_config("ajsq-sesa", tiny=True, data={"spacing": (3.0, 3.0, 3.0), "roi": (32, 32, 16)})
    bundle = untrained_bundle(localizer, fine, tmp_path / "tiny.pt")
    predictor = Predictor.from_checkpoint(str(bundle), "cpu")
    assert isinstance(predictor.fine, Network) and predictor.fine.spacing == (3.0, 3.0, 3.0)
    prediction = predictor.predict_volume(image)
    assert prediction.p_scar.geometry == image.geometry and prediction.p_scar.array.dtype == np.float32
    assert np.isfinite(prediction.p_scar.array).all()


TILTED_17 = (0.9563, -0.2924, 0.0, 0.2924, 0.9563, 0.0, 0.0, 0.0, 1.0)  # 17° about z (cos, sin to 4 places)


@pytest.mark.parametrize("direction", [(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0), TILTED_17])
def test_a_scan_stored_with_permuted_mirrored_axes_gets_the_same_prediction_voxel_for_voxel(tmp_path, direction):
    # An untrained network is no function of physical space: it would answer a transposed array differently.
    # Turned to the networks' orientation first, both storages feed it the same array (a tilt stays a tilt).
    from atrialjsq.infer.bundles import untrained_bundle
    from atrialjsq.model.configs import get_config

    frame = np.linalg.qr(np.asarray(direction).reshape(3, 3))[0]  # exactly orthonormal
    frame = frame * np.sign(np.diag(frame))  # qr may flip a column's sign back
    geometry = Geometry((40, 36, 20), (1.5, 1.5, 2.5), (-30.0, 12.0, 5.0), tuple(frame.reshape(-1)))
    centre = geometry.index_to_physical(np.array([22.0, 16.0, 9.0]))
    ball = ball_image(geometry, centre, 12.0)
    texture = np.random.default_rng(0).normal(0.0, 0.2, geometry.shape).astype(np.float32)
    image = Volume(ball.array + texture, geometry)
    turned_array, turned_grid = stored_turned(image.array, geometry)
    localizer = get_config("unet-la-bce", tiny=True, data={"spacing": (4.0, 4.0, 4.0), "roi": (16, 16, 8)})
    fine = get_config("ajsq-sesa", tiny=True, data={"spacing": (3.0, 3.0, 3.0), "roi": (16, 16, 8)})
    predictor = Predictor.from_checkpoint(str(untrained_bundle(localizer, fine, tmp_path / "tiny.pt")), "cpu")
    plain = predictor.predict_volume(image)
    turned = predictor.predict_volume(Volume(turned_array, turned_grid))
    assert turned.p_scar.geometry == turned_grid
    for name in ("la_prob", "p_normal", "p_scar"):
        expected, _ = stored_turned(getattr(plain, name).array, geometry)
        np.testing.assert_allclose(getattr(turned, name).array, expected, atol=1e-5)


def test_covered_box_bounds_the_region_footprint():
    from atrialjsq.infer.predictor import covered_box

    target = Geometry((100, 80, 40), (1.0, 1.0, 2.0))
    region = Geometry((10, 10, 5), (2.0, 2.0, 2.0), (20.0, 30.0, 10.0))  # x 19..39 mm, y 29..49, z 9..19 (idx 4.5..9.5)
    box = covered_box(region, target)
    assert box == (slice(18, 41), slice(28, 51), slice(3, 12))  # one voxel of slack each side
    assert covered_box(Geometry((4, 4, 4), (1.0, 1.0, 1.0), (500.0, 0.0, 0.0)), target) is None


def test_without_a_localiser_the_whole_volume_is_tiled_and_an_off_centre_la_is_found():
    # A 28 mm ball near a corner of a 140 mm field of view: a guess at the image centre would miss it entirely.
    geometry = Geometry((70, 70, 28), (2.0, 2.0, 5.0))
    centre = geometry.index_to_physical(np.array([14.0, 55.0, 7.0]))
    image = ball_image(geometry, centre, 14.0)
    # (a little noise: a noiseless background would be constant padding, cut off before any tiling)
    image = image.like(image.array + np.random.default_rng(0).uniform(0, 0.05, geometry.shape).astype(np.float32))
    for crop in ("whole", "roi"):  # tiled; or self-localised by a whole pass, then ROI windows at the LA
        fine = StandInNet((2.0, 2.0, 2.0), (16, 16, 16))
        predictor = Predictor(fine, None, crop=None if crop == "whole" else crop)
        assert predictor.crop == crop
        prediction = predictor.predict_volume(image)
        assert dice(prediction.la.array, image.array > 0.5) > 0.9
        assert len(fine.windows) > 8  # the whole volume was tiled (in the first pass for "roi")
        if crop == "roi":
            assert prediction.localization.found


def test_constant_padding_is_never_la():
    # A network that calls the padding LA (here: a stand-in that calls the padding value -1 LA as well) is
    # overruled where the image is flat at its minimum; the saturated, flat inside of the ball is kept.
    class PaddingLover(StandInNet):
        def probabilities(self, image):
            out = super().probabilities(image)
            la = torch.maximum(out["la"], (image <= -1.0).float())
            return {"la": la, "scar": torch.cat([1 - la, la], dim=1)}

    geometry = Geometry((60, 60, 24), (2.0, 2.0, 5.0))
    image = ball_image(geometry, geometry.index_to_physical(np.array([24.0, 30.0, 12.0])), 22.0)
    # A zero-filled corner (as a round field of view leaves), which the content box cannot cut off.
    # (the padding's first column, next to non-padding voxels, is not flat: the stand-in calls that sheet LA, so
    # the ball is made larger than the sheet for the largest component to be the ball)
    x, y, _ = np.indices(geometry.shape)
    corner = (x >= 45) & (y >= 30)
    array = np.where(corner, -1.0, image.array).astype(np.float32)
    prediction = Predictor(PaddingLover((2.0, 2.0, 2.0), (16, 16, 16)), None).predict_volume(Volume(array, geometry))
    assert not prediction.la.array[46:, 31:].any()
    assert dice(prediction.la.array, image.array > 0.5) > 0.9


def _tiny_bundle_without_localiser(tmp_path):
    from atrialjsq.infer.bundles import untrained_bundle
    from atrialjsq.model.configs import get_config

    fine = get_config("ajsq-sesa", tiny=True, data={"spacing": (3.0, 3.0, 3.0), "roi": (32, 32, 16)})
    return untrained_bundle(None, fine, tmp_path / "tiny.pt", seed=3)


def test_adding_a_constant_to_the_intensities_changes_nothing(tmp_path):
    rng = np.random.default_rng(0)
    geometry = Geometry((61, 47, 23), (1.3, 1.3, 2.6), (5.0, -7.0, 11.0), ROTATED)
    array = ball_image(geometry, geometry.index_to_physical(np.array([30.0, 20, 11])), 15.0).array * 120 + 40
    array = array + rng.normal(0, 10, array.shape).astype(np.float32)
    # fp32: bf16 would round the float-rounding differences of the two inputs up to ~1e-4
    predictor = Predictor.from_checkpoint(str(_tiny_bundle_without_localiser(tmp_path)), "cpu", precision="fp32")
    base = predictor.predict_volume(Volume(array, geometry))
    shifted = predictor.predict_volume(Volume(array + 1000.0, geometry))
    np.testing.assert_allclose(shifted.la_prob.array, base.la_prob.array, atol=2e-4)
    np.testing.assert_allclose(shifted.p_scar.array, base.p_scar.array, atol=2e-4)


def test_constant_padding_around_the_scan_changes_no_probability(tmp_path):
    # Zero-filling around the field of view (a converter's, or a user's padding) must not move the z-score nor
    # give the network flat windows: the prediction inside is the unpadded one, and nothing lies outside.
    rng = np.random.default_rng(1)
    geometry = Geometry((41, 37, 19), (1.3, 1.3, 2.6), (5.0, -7.0, 11.0), ROTATED)
    array = ball_image(geometry, geometry.index_to_physical(np.array([20.0, 18, 9])), 12.0).array * 120 + 40
    array = (array + rng.normal(0, 10, array.shape)).clip(1, None).astype(np.float32)
    pad = ((9, 4), (0, 6), (3, 0))
    padded = np.pad(array, pad, constant_values=0.0)
    origin = tuple(geometry.index_to_physical(-np.array([p[0] for p in pad], dtype=float)))
    big = Geometry(padded.shape, geometry.spacing, origin, geometry.direction)
    predictor = Predictor.from_checkpoint(str(_tiny_bundle_without_localiser(tmp_path)), "cpu", precision="fp32")
    base = predictor.predict_volume(Volume(array, geometry))
    wide = predictor.predict_volume(Volume(padded, big))
    inner = tuple(slice(p[0], p[0] + n) for p, n in zip(pad, array.shape, strict=True))
    # what the network saw, padding left out: the unpadded scan's extent (41 x 1.3, 37 x 1.3, 19 x 2.6 mm)
    np.testing.assert_allclose(wide.field_of_view_mm, (53.3, 48.1, 49.4))
    np.testing.assert_allclose(base.field_of_view_mm, (53.3, 48.1, 49.4))
    for name in ("la_prob", "p_normal", "p_scar"):
        maps = getattr(wide, name).array
        np.testing.assert_allclose(maps[inner], getattr(base, name).array, atol=1e-4, err_msg=name)
        outside = np.ones(maps.shape, bool)
        outside[inner] = False
        assert not maps[outside].any(), name


def test_the_same_scan_as_nifti_and_as_a_dicom_series_gives_the_same_prediction(tmp_path):
    from atrialjsq.io import read_volume, write_volume
    from infer.test_inputs import write_dicom_series

    rng = np.random.default_rng(1)
    codes = rng.integers(0, 60, (9, 40, 36)).astype(np.int16)  # (z, y, x) for the DICOM writer
    codes[2:7, 10:30, 8:28] += 150
    write_dicom_series(tmp_path / "series", codes, spacing_xy=2.0, slice_mm=4.0)
    dicom = read_volume(tmp_path / "series")
    nifti_path = tmp_path / "scan.nii.gz"
    write_volume(Volume(dicom.array.astype(np.float32), dicom.geometry), nifti_path)
    nifti = read_volume(nifti_path)
    np.testing.assert_allclose(nifti.geometry.spacing, dicom.geometry.spacing)
    # fp32: bf16 would round the float-rounding differences of the two inputs up to ~1e-4
    predictor = Predictor.from_checkpoint(str(_tiny_bundle_without_localiser(tmp_path)), "cpu", precision="fp32")
    a, b = predictor.predict_volume(dicom), predictor.predict_volume(nifti)
    np.testing.assert_allclose(a.la_prob.array, b.la_prob.array, atol=2e-4)
    np.testing.assert_array_equal(a.la.array, b.la.array)


class ImageAsLogits(StandInNet):
    """A stand-in whose LA logits are its input and whose heads can be chosen: each probability shows exactly
    which input voxel it came from."""

    def __init__(self, spacing, roi, heads=("la", "scar")):
        super().__init__(spacing, roi)
        self.config = SimpleNamespace(heads={h: {"la": 1, "scar": 2}[h] for h in heads}, task="-".join(heads))
        self.config.train = SimpleNamespace(flip_axes=(0, 1, 2))

    def probabilities(self, image):
        self.windows.append(tuple(image.shape[2:]))
        out = {"la": torch.sigmoid(image), "scar": torch.cat([torch.sigmoid(-image), torch.sigmoid(2 * image)], 1)}
        return {name: out[name] for name in self.config.heads}


@pytest.mark.parametrize("shape", [(20, 18, 17), (40, 9, 33)])
def test_predict_grid_keeps_every_voxel_in_place_when_padding_tiling_and_mirroring(shape):
    """A pre-normalised array on the network's grid (a cross-validation window): tiled, padded to the size
    multiple and mirrored, each output voxel is still the function of its own input voxel."""
    grid = Geometry(shape, (1.25, 1.25, 1.25), (3.0, -7.0, 11.0))
    image = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    network = ImageAsLogits(grid.spacing, (16, 16, 16))
    network.config.train = SimpleNamespace(flip_axes=(0, 1, 2))
    maps = Predictor(network, None, tta=True).predict_grid(image, grid)
    assert sorted(maps) == ["la", "normal", "scar"]
    np.testing.assert_allclose(maps["la"], 1 / (1 + np.exp(-image)), atol=1e-5)
    np.testing.assert_allclose(maps["scar"], 1 / (1 + np.exp(-2 * image)), atol=1e-5)
    with pytest.raises(ValueError, match="spacing"):
        Predictor(ImageAsLogits((2.0, 2.0, 2.0), (16, 16, 16)), None).predict_grid(image, grid)


def test_single_head_networks_predict_their_own_maps_only():
    geometry = Geometry((30, 30, 20), (2.0, 2.0, 2.0))
    ball = ball_image(geometry, geometry.index_to_physical(np.array([15.0, 15.0, 10.0])), 12.0).array
    noise = np.random.default_rng(0).uniform(0.0, 0.01, geometry.shape)  # no flat padding-like background
    image = Volume((ball + noise).astype(np.float32), geometry)
    la_only = Predictor(ImageAsLogits((2.0, 2.0, 2.0), (16, 16, 16), heads=("la",)), None).predict_volume(image)
    assert la_only.la is not None and la_only.p_scar is None and la_only.p_normal is None and not la_only.joint
    scar_only = Predictor(ImageAsLogits((2.0, 2.0, 2.0), (16, 16, 16), heads=("scar",)), None).predict_volume(image)
    assert scar_only.la is None and scar_only.la_prob is None
    np.testing.assert_allclose(scar_only.p_scar.array, 1 / (1 + np.exp(-2 * image.array)), atol=1e-4)
    with pytest.raises(ValueError, match="needs an LA to localise"):
        Predictor(ImageAsLogits((2.0, 2.0, 2.0), (16, 16, 16), heads=("scar",)), None, crop="roi")
