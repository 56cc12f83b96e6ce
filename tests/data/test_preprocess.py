"""Preprocessing: crop/pad and its exact inverse, resampling round trips, z-score, and one whole case."""

from __future__ import annotations

import numpy as np
import pytest
from data_fixtures import ORIGIN, SPACING, sphere_case_arrays

from atrialjsq.data.case import Case
from atrialjsq.data.preprocess import (
    CropInfo,
    content_box,
    crop_or_pad,
    cropped_volume,
    preprocess_case,
    resample,
    resampled_geometry,
    to_original_grid,
    uncrop,
    zscore,
)
from atrialjsq.errors import InputError
from atrialjsq.io import Geometry, Volume
from shapes import sphere_mask, stored_turned


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return 2.0 * (a & b).sum() / (a.sum() + b.sum())


@pytest.mark.parametrize(
    ("center", "roi"),
    [((10, 8, 5), (8, 6, 4)), ((0, 0, 0), (8, 6, 4)), ((19, 15, 9), (7, 5, 3)), ((10, 8, 5), (30, 24, 16))],
)
def test_crop_then_uncrop_is_exact(center, roi) -> None:
    array = np.random.default_rng(0).normal(size=(20, 16, 10)).astype(np.float32)
    window, info = crop_or_pad(array, center, roi, fill=-7)
    assert window.shape == roi
    restored = uncrop(window, info, fill=np.nan)
    covered = ~np.isnan(restored)
    np.testing.assert_array_equal(restored[covered], array[covered])  # bit-exact where the window reached
    if all(r >= 2 * s for r, s in zip(roi, array.shape, strict=True)):
        assert covered.all()
    assert (window == -7).sum() == window.size - covered.sum()  # everything else in the window is padding
    np.testing.assert_array_equal(crop_or_pad(uncrop(window, info, fill=-7), center, roi, fill=-7)[0], window)
    assert CropInfo.from_dict(info.to_dict()) == info


def test_crop_centre_lands_in_the_window_centre() -> None:
    array = np.zeros((30, 30, 30), np.uint8)
    array[17, 4, 25] = 1
    window, _ = crop_or_pad(array, (17, 4, 25), (8, 9, 10))
    assert tuple(np.argwhere(window)[0]) == (4, 4, 5)


def test_resampled_geometry_keeps_the_physical_extent() -> None:
    geometry = Geometry((64, 60, 20), (0.625, 0.625, 2.5), (3.0, -2.0, 5.0))
    target = resampled_geometry(geometry, (1, 1, 1))
    assert target.shape == (40, 38, 50)
    low = lambda g: np.asarray(g.origin) - np.asarray(g.spacing) / 2  # noqa: E731
    np.testing.assert_allclose(low(target), low(geometry))


def _voxel_points(geometry: Geometry) -> np.ndarray:
    return geometry.index_to_physical(np.stack(np.meshgrid(*map(np.arange, geometry.shape), indexing="ij"), -1))


def test_linear_resampling_reproduces_a_linear_ramp() -> None:
    geometry = Geometry((32, 30, 12), (0.625, 0.625, 2.5), (3.0, -2.0, 5.0))
    points = _voxel_points(geometry)
    ramp = (2.0 * points[..., 0] - points[..., 2]).astype(np.float32)
    out = resample(Volume(ramp, geometry), (1, 1, 1))
    new_points = _voxel_points(out.geometry)
    expected = 2.0 * new_points[..., 0] - new_points[..., 2]
    inner = (slice(1, -1),) * 3  # voxels whose interpolation stencil lies inside the source grid
    np.testing.assert_allclose(out.array[inner], expected[inner], atol=1e-3)


def test_label_resample_round_trip_keeps_dice() -> None:
    """Anisotropic 0.625×0.625×2.5 mm ball (LA-sized, r = 25 mm) → 1 mm isotropic → back onto its own grid."""
    spacing = (0.625, 0.625, 2.5)
    mask = sphere_mask((96, 96, 26), center=(47.3, 48.1, 12.4), radius_mm=25.0, spacing=spacing)
    original = Volume(mask, Geometry(mask.shape, spacing, (10.0, -4.0, 2.0)))
    on_1mm = resample(original, (1, 1, 1), is_label=True)
    assert on_1mm.array.dtype == np.uint8 and set(np.unique(on_1mm.array)) == {0, 1}
    analytic_ml = 4 / 3 * np.pi * 25.0**3 / 1000
    assert on_1mm.array.sum() / 1000 == pytest.approx(analytic_ml, rel=0.02)
    back = to_original_grid(on_1mm, original.geometry, is_label=True)
    assert back.geometry == original.geometry
    assert dice(back.array, mask) >= 0.99


def test_zscore_regions() -> None:
    image = np.random.default_rng(1).normal(40.0, 9.0, (10, 10, 10)).astype(np.float32)
    whole = zscore(image)
    assert whole.dtype == np.float32
    assert whole.mean() == pytest.approx(0, abs=1e-5) and whole.std() == pytest.approx(1, rel=1e-4)
    mask = np.zeros(image.shape, bool)
    mask[:5] = True
    part = zscore(image, mask)
    assert part[mask].mean() == pytest.approx(0, abs=1e-5) and part[mask].std() == pytest.approx(1, rel=1e-4)
    assert np.isfinite(zscore(np.full((3, 3, 3), 5.0))).all()  # a constant image does not divide by zero


def _sphere_case() -> Case:
    image, la, scar = sphere_case_arrays()
    geometry = Geometry(image.shape, SPACING, ORIGIN)
    labels = {"la": Volume(la, geometry), "scar": Volume(scar, geometry)}
    return Case("ball", Volume(image, geometry), labels, {"source": "memory:ball"})


def test_preprocess_case_centres_the_la_and_inverts() -> None:
    case = _sphere_case()
    prepared = preprocess_case(case, spacing=(1, 1, 1), roi=(24, 24, 16), margin=(4, 4, 2), with_targets=False)
    window = (32, 32, 20)
    assert all(a.shape == window for a in prepared.arrays.values())
    assert prepared.geometry.shape == window and prepared.geometry.spacing == (1, 1, 1)
    la = prepared.arrays["la"]
    centre = np.array([(idx.min() + idx.max()) / 2 for idx in np.nonzero(la)])
    np.testing.assert_allclose(centre, (np.asarray(window) - 1) / 2, atol=1.0)
    image = prepared.arrays["image"]
    assert image.dtype == np.float32 and image[la > 0].mean() > 1.0  # bright LA after z-scoring
    # The window's geometry maps the LA back onto the original grid.
    back = prepared.to_original(la, is_label=True)
    assert back.geometry == case.image.geometry
    assert dice(back.array, case.la.array) >= 0.95


def test_a_case_stored_with_permuted_mirrored_axes_is_cached_as_the_axis_aligned_one() -> None:
    # Networks see arrays in index order, so the cache turns every case to one orientation first: a sagittal-
    # first, mirrored export of the same scan must give the very same training arrays, and map back onto its
    # own grid.
    case = _sphere_case()
    turned_image, turned_grid = stored_turned(case.image.array, case.image.geometry)
    labels = {name: Volume(stored_turned(v.array, v.geometry)[0], turned_grid) for name, v in case.labels.items()}
    turned = Case("ball", Volume(turned_image, turned_grid), labels, {"source": "memory:turned"})
    settings = {"spacing": (1, 1, 1), "roi": (24, 24, 16), "margin": (4, 4, 2)}
    plain, prepared = preprocess_case(case, **settings), preprocess_case(turned, **settings)
    assert prepared.geometry.is_close(plain.geometry)
    for name, array in plain.arrays.items():
        np.testing.assert_allclose(prepared.arrays[name], array, atol=1e-5, err_msg=name)
    back = prepared.to_original(prepared.arrays["la"], is_label=True)
    assert back.geometry == turned_grid
    assert dice(back.array, labels["la"].array) >= 0.95


def test_a_sheared_case_is_refused_naming_its_source() -> None:
    case = _sphere_case()
    sheared = Geometry(case.image.geometry.shape, SPACING, ORIGIN, (1.0, 0.3, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    case = Case("ball", Volume(case.image.array, sheared), {}, {"source": "memory:sheared"})
    with pytest.raises(InputError, match="not orthonormal") as caught:
        preprocess_case(case, spacing=(1, 1, 1), roi=(8, 8, 8), margin=(0, 0, 0), center="image", with_targets=False)
    assert caught.value.path == "memory:sheared"


def test_preprocess_case_with_targets_and_centres() -> None:
    case = _sphere_case()
    prepared = preprocess_case(case, spacing=(1, 1, 1), roi=(24, 24, 16), margin=(4, 4, 2))
    arrays = prepared.arrays
    assert {"image", "la", "scar", "phi_la", "band", "phi_normal", "phi_scar", "surface"} <= set(arrays)
    assert prepared.has_scar and set(np.unique(arrays["band"])) == {0, 1, 2}
    assert (arrays["phi_la"][arrays["la"] > 0] < 0).all()
    image_centred = preprocess_case(
        case, spacing=(2, 2, 2), roi=(8, 8, 8), margin=(0, 0, 0), center="image", with_targets=False
    )
    # Resampled grid 15x14x15: centre indices (7, 6.5, 7) round to 7, so the 8-voxel window starts at 7 - 4.
    assert image_centred.geometry.shape == (8, 8, 8) and image_centred.crop.source_shape == (15, 14, 15)
    assert image_centred.crop.start == (3, 3, 3)
    point = case.image.geometry.index_to_physical(np.array([5.0, 5.0, 5.0]))
    with pytest.warns(RuntimeWarning, match="leaves 100 % of the LA out"):  # a 4 mm window off the LA
        at_point = preprocess_case(
            case, spacing=(1, 1, 1), roi=(4, 4, 4), margin=(0, 0, 0), center=tuple(point), with_targets=False
        )
    np.testing.assert_allclose(at_point.geometry.index_to_physical(np.array([2.0, 2.0, 2.0])), point, atol=1.0)


def test_empty_la_cannot_be_centred() -> None:
    case = _sphere_case()
    case.labels["la"] = case.labels["la"].like(np.zeros_like(case.labels["la"].array))
    with pytest.raises(InputError, match="memory:ball: LA label is empty: nothing to centre"):
        preprocess_case(case, roi=(8, 8, 8), margin=(0, 0, 0), with_targets=False)


def test_label_resampling_on_the_mask_box_equals_the_full_volume_distance():
    """The box-limited signed distance must interpolate exactly like the full-volume one."""
    from atrialjsq.data import preprocess as pp
    from atrialjsq.io.image_io import from_sitk, to_sitk

    grid = np.meshgrid(*[np.arange(n) for n in (60, 50, 20)], indexing="ij")
    r2 = ((grid[0] - 20) * 0.7) ** 2 + ((grid[1] - 30) * 0.7) ** 2 + ((grid[2] - 9) * 2.0) ** 2
    mask = (r2 <= 9.0**2).astype(np.uint8)
    volume = Volume(mask, Geometry(mask.shape, (0.7, 0.7, 2.0), (3.0, -4.0, 1.0)))
    target = pp.resampled_geometry(volume.geometry, (1.0, 1.0, 1.0))
    full = Volume(pp.signed_distance_mm(mask, volume.geometry.spacing), volume.geometry)
    reference = from_sitk(pp._sitk_resample(to_sitk(full), target, 1e6)).array <= 0
    boxed = pp.resample_to_geometry(volume, target, is_label=True).array.astype(bool)
    assert reference.sum() > 1000
    np.testing.assert_array_equal(boxed, reference)


def test_preprocess_case_leaves_the_mitral_opening_out_of_the_band_when_an_lv_label_exists() -> None:
    case = _sphere_case()
    la = case.la.array.astype(bool)
    lv = np.zeros_like(la)
    z_bottom = int(np.nonzero(la)[2].min())
    lv[..., :z_bottom] = True  # an "LV" slab right below the LA
    case.labels["lv"] = Volume(lv.astype(np.uint8), case.image.geometry)
    kwargs = {"spacing": (1, 1, 1), "roi": (24, 24, 16), "margin": (4, 4, 2)}
    with_lv = preprocess_case(case, **kwargs).arrays
    without = preprocess_case(_sphere_case(), **kwargs).arrays
    assert (with_lv["band"] > 0).sum() < (without["band"] > 0).sum()
    assert not ((with_lv["band"] > 0) & (with_lv["lv"] > 0)).any()


def test_content_box_peels_constant_faces_and_is_none_when_nothing_pads() -> None:
    array = np.zeros((12, 10, 8), np.float32)
    array[3:9, 2:7, 1:8] = np.random.default_rng(0).uniform(1, 2, (6, 5, 7))
    assert content_box(array) == (slice(3, 9), slice(2, 7), slice(1, 8))
    array[3, 2, 1] = 0.0  # a dark voxel inside the content does not shrink the box (the box is of all above)
    assert content_box(array) == (slice(3, 9), slice(2, 7), slice(1, 8))
    noisy = np.random.default_rng(1).uniform(0, 1, (6, 5, 4)).astype(np.float32)
    assert content_box(noisy) is None  # minimum voxels scattered: nothing to cut
    assert content_box(np.zeros((4, 4, 4))) is None  # constant throughout: nothing to keep
    # zero-filling of a z-scored export: 0 is mid-grey there, not the minimum, and is cut all the same
    scored = np.random.default_rng(2).normal(0, 1, (6, 5, 4)).astype(np.float32)
    padded = np.pad(scored, ((2, 0), (0, 3), (1, 1)), constant_values=0.0)
    assert content_box(padded) == (slice(2, 8), slice(0, 5), slice(1, 5))


def test_a_cropped_volume_keeps_every_voxel_at_its_physical_place() -> None:
    geometry = Geometry((12, 10, 8), (1.5, 0.8, 2.0), (4.0, -3.0, 7.0), (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0))
    array = np.arange(np.prod(geometry.shape), dtype=np.float32).reshape(geometry.shape)
    box = (slice(3, 9), slice(2, 7), slice(1, 8))
    cropped = cropped_volume(Volume(array, geometry), box)
    assert cropped.geometry.shape == (6, 5, 7)
    for index in ((0, 0, 0), (5, 4, 6), (2, 3, 1)):
        inside = np.asarray(index, dtype=float)
        outer = inside + [s.start for s in box]
        np.testing.assert_allclose(
            cropped.geometry.index_to_physical(inside), geometry.index_to_physical(outer), atol=1e-9
        )
        assert cropped.array[index] == array[tuple(int(i) for i in outer)]


@pytest.mark.parametrize(
    "direction",
    [(1.0, 0, 0, 0, 1, 0, 0, 0, 1), (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0)],  # plain; turned and mirrored
)
def test_constant_padding_around_a_case_changes_no_training_array(direction) -> None:
    # A scan zero-filled around its field of view is the same scan: without the content box, the padding would
    # enter the z-score's statistics and change every cached intensity. The padding is 0 here, not the minimum.
    ball = _sphere_case()
    geometry = Geometry(ball.image.geometry.shape, ball.image.geometry.spacing, (3.0, -2.0, 5.0), direction)
    case = Case(
        "ball", Volume(ball.image.array, geometry), {k: Volume(v.array, geometry) for k, v in ball.labels.items()}
    )
    pad = ((7, 3), (0, 5), (2, 2))
    image = np.pad(case.image.array, pad, constant_values=0.0)
    origin = tuple(geometry.index_to_physical(-np.array([p[0] for p in pad], dtype=float)))
    padded_geometry = Geometry(image.shape, geometry.spacing, origin, geometry.direction)
    labels = {name: Volume(np.pad(v.array, pad), padded_geometry) for name, v in case.labels.items()}
    padded = Case("ball", Volume(image, padded_geometry), labels)
    for region in ("volume", "body"):
        settings = dict(spacing=(1, 1, 1), roi=(24, 24, 16), margin=(4, 4, 2), zscore_region=region)
        plain = preprocess_case(case, **settings)
        again = preprocess_case(padded, **settings)
        assert again.geometry == plain.geometry
        assert again.field_of_view_mm == plain.field_of_view_mm
        for name, array in plain.arrays.items():
            np.testing.assert_allclose(again.arrays[name], array, atol=1e-5, err_msg=f"{region}: {name}")


def test_a_training_window_that_cuts_the_la_says_how_much_it_leaves_out() -> None:
    """Reported by review: a window smaller than the LA dropped part of it without a word, and the cut face
    became LA wall in the targets. The whole ball fits a 32 x 32 x 20 window (above); one of 8 x 8 x 8 mm does not."""
    import warnings

    case = _sphere_case()
    whole = int(np.count_nonzero(preprocess_case(case, spacing=(1, 1, 1), roi=(24, 24, 16), margin=(4, 4, 2),
                                                 with_targets=False).arrays["la"]))  # fmt: skip
    with pytest.warns(RuntimeWarning, match=r"memory:ball: the 8 x 8 x 8 mm training window leaves \d+ % of the LA"):
        small = preprocess_case(case, spacing=(1, 1, 1), roi=(8, 8, 8), margin=(0, 0, 0), with_targets=False)
    assert np.count_nonzero(small.arrays["la"]) < whole
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fitting window: no warning
        preprocess_case(case, spacing=(1, 1, 1), roi=(24, 24, 16), margin=(4, 4, 2), with_targets=False)
