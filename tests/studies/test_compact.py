"""Compact data set: lossless 8-bit codes, exact geometry and labels, the LA window, the trainer's form."""

from __future__ import annotations

import json

import numpy as np
import pytest
from studies.lasc2018.compact import (
    build_compact,
    build_compact_lasc,
    centred_window,
    decode_uint8,
    encode_uint8,
    load_compact,
    trainer_arrays,
)

from atrialjsq.data.case import Case
from atrialjsq.errors import InputError
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.volume import Volume
from shapes import sphere_mask, stored_turned

NATIVE = (0.625, 0.625, 1.25)
OFFSET, STEP = -1.2345, 0.0370725


def synthetic_case(case_id: str, shape=(40, 36, 28), centre=None, radius_mm=7.0, seed=0) -> Case:
    """A ball 'LA' (bright) in a darker, noisy background, stored like the HDF5 release: offset + step·code."""
    rng = np.random.default_rng(seed)
    la = sphere_mask(shape, centre, radius_mm, NATIVE)
    codes = np.clip(np.rint(40 + 140 * la + rng.normal(0, 10, shape)), 0, 255)
    image = (OFFSET + STEP * codes).astype(np.float32)
    geometry = Geometry(shape, NATIVE)
    return Case(case_id, Volume(image, geometry), {"la": Volume(la, geometry)}, {"source": f"synthetic/{case_id}"})


def test_codes_round_trip_is_lossless_on_an_affine_grid():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, size=(20, 18, 7)).astype(np.uint8)
    codes[codes == 77] = 78  # a missing level must not change the step
    image = (OFFSET + STEP * codes.astype(np.float64)).astype(np.float32)
    encoded, offset, step = encode_uint8(image)
    shift = int(codes.min())
    np.testing.assert_array_equal(encoded, codes - shift)
    assert offset == pytest.approx(OFFSET + STEP * shift, abs=1e-6)
    assert step == pytest.approx(STEP, rel=1e-6)
    np.testing.assert_allclose(decode_uint8(encoded, offset, step), image, atol=1e-6)


def test_encode_rejects_images_that_are_not_8_bit():
    ramp = np.linspace(0, 1, 300 * 2).reshape(300, 2, 1)
    with pytest.raises(ValueError, match="levels"):
        encode_uint8(ramp)
    off_grid = np.array([0.0, 1.0, 2.0, 2.5001, 4.0]).reshape(5, 1, 1)
    with pytest.raises(ValueError):
        encode_uint8(np.concatenate([off_grid, off_grid + 0.3]))
    with pytest.raises(ValueError, match="NaN"):
        encode_uint8(np.array([0.0, np.nan]).reshape(2, 1, 1))


def test_build_on_the_native_grid_keeps_codes_and_labels_exactly(tmp_path):
    case = synthetic_case("c1", centre=(20, 18, 12))
    path = build_compact([case], tmp_path / "set.npz", spacing=NATIVE, z_margin_mm=5.0)
    loaded = load_compact(path).case("c1")
    codes, _, _ = encode_uint8(case.image.array)
    la = case.la.array
    z = np.flatnonzero(la.any(axis=(0, 1)))
    low, high = z[0] - 4, z[-1] + 5  # 5 mm at 1.25 mm = 4 slices each side
    np.testing.assert_array_equal(loaded.codes, codes[:, :, low:high])
    np.testing.assert_array_equal(loaded.la, la[:, :, low:high])
    np.testing.assert_array_equal(loaded.la_native, la)
    np.testing.assert_allclose(loaded.image(), case.image.array[:, :, low:high], atol=1e-6)
    assert loaded.native_geometry == case.image.geometry
    window = loaded.window_geometry
    assert window.shape == (40, 36, high - low)
    assert window.origin == pytest.approx((0.0, 0.0, low * 1.25))
    # z-scored with the whole image's statistics, not the window's
    whole = case.image.array.astype(np.float64)
    expected = (case.image.array[:, :, low:high] - whole.mean()) / whole.std()
    np.testing.assert_allclose(loaded.normalised(), expected, atol=1e-4)


def test_a_case_stored_with_permuted_mirrored_axes_compacts_to_the_same_arrays(tmp_path):
    # The z crop runs along array axis 2 and the trainer reads arrays in index order: turned to the networks'
    # orientation first, a sagittal-first, mirrored export gives the axis-aligned case's arrays and grids.
    case = synthetic_case("c1", centre=(20, 18, 12))
    image, grid = stored_turned(case.image.array, case.image.geometry)
    turned = Case("c1", Volume(image, grid), {"la": Volume(stored_turned(case.la.array, case.la.geometry)[0], grid)})
    plain = load_compact(build_compact([case], tmp_path / "plain.npz", spacing=(1.0, 1.0, 1.0))).case("c1")
    other = load_compact(build_compact([turned], tmp_path / "turned.npz", spacing=(1.0, 1.0, 1.0))).case("c1")
    np.testing.assert_array_equal(other.codes, plain.codes)
    np.testing.assert_array_equal(other.la, plain.la)
    np.testing.assert_array_equal(other.la_native, plain.la_native)
    assert other.window_geometry.is_close(plain.window_geometry)


def test_resampled_window_holds_the_whole_la_and_z_scores_the_volume(tmp_path):
    case = synthetic_case("c2", centre=(19, 17, 13), radius_mm=6.0)
    path = build_compact([case], tmp_path / "set.npz", spacing=(1.0, 1.0, 1.0), z_margin_mm=100.0)
    loaded = load_compact(path).case("c2")
    # 40×36×28 voxels at 0.625/0.625/1.25 mm cover 25×22.5×35 mm → 25×22×35 voxels at 1 mm (rounded)
    assert loaded.codes.shape == (25, 22, 35)
    normalised = loaded.normalised().astype(np.float64)
    assert abs(normalised.mean()) < 0.01 and normalised.std() == pytest.approx(1.0, abs=0.01)
    volume_mm3 = loaded.la.sum() * 1.0
    assert volume_mm3 == pytest.approx(4 / 3 * np.pi * 6.0**3, rel=0.1)


def test_trainer_arrays_are_centred_on_the_la_with_targets():
    la = sphere_mask((30, 26, 24), center=(10, 14, 11), radius_mm=5.0)
    codes = (40 + 150 * la).astype(np.uint8)
    info = {"offset": 0.0, "step": 1.0, "mean": 60.0, "std": 20.0}
    from studies.lasc2018.compact import CompactCase

    case = CompactCase("c", codes, la, la, info)
    arrays = trainer_arrays(case, (16, 16, 16), (1.0, 1.0, 1.0))
    assert set(arrays) == {"image", "la", "phi_la"}
    assert {a.shape for a in arrays.values()} == {(16, 16, 16)}
    assert arrays["image"].dtype == np.float32 and arrays["phi_la"].dtype == np.float16
    assert arrays["la"].sum() == la.sum()  # the ball (radius 5) fits in the 16³ window around its centre
    centre = [(idx.min() + idx.max()) / 2 for idx in np.nonzero(arrays["la"])]
    np.testing.assert_allclose(centre, (8, 8, 8))
    assert arrays["image"][8, 8, 8] == pytest.approx((190 - 60) / 20)
    assert float(arrays["phi_la"][8, 8, 8]) < -3.5 and float(arrays["phi_la"][0, 0, 0]) > 5
    joint = trainer_arrays(case, (16, 16, 16), (1.0, 1.0, 1.0), joint=True)
    assert {"band", "phi_normal", "phi_scar"} <= set(joint)
    assert set(np.unique(joint["band"])) == {0, 1}  # no scar label: the whole band is normal wall


def test_centred_window_pads_beyond_the_array():
    array = np.arange(5 * 4 * 3).reshape(5, 4, 3)
    window = centred_window(array, (0, 0, 0), (3, 3, 3), fill=-1)
    assert window[0, 0, 0] == -1 and window[1, 1, 1] == array[0, 0, 0]
    np.testing.assert_array_equal(window[1:, 1:, 1:], array[:2, :2, :2])


def test_bad_files_and_cases_raise_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such compact file"):
        load_compact(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, index=np.frombuffer(b'{"format": "x"}', dtype=np.uint8))
    with pytest.raises(InputError, match="not a compact file"):
        load_compact(other)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="unreadable"):
        load_compact(garbage)
    case = synthetic_case("empty")
    case.labels["la"] = case.la.like(np.zeros_like(case.la.array))
    with pytest.raises(InputError, match="LA"):
        build_compact([case], tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(InputError, match=r"\.npz"):
        build_compact([synthetic_case("a")], tmp_path / "x.tar")


def test_compact_files_written_before_the_packed_table_still_load(tmp_path):
    # atrialjsq-compact-v1 files from before `io.packed` have the same members but no "arrays" table in the
    # index: strip it from a fresh file and the loader must rebuild it from the case entries.
    scarred = synthetic_case("s1", centre=(20, 18, 12), seed=2)
    scarred.labels["scar"] = scarred.la.like(sphere_mask(scarred.la.array.shape, (24, 18, 12), 3.0, NATIVE))
    path = build_compact([synthetic_case("c1", centre=(20, 18, 12)), scarred], tmp_path / "new.npz")
    with np.load(path, allow_pickle=False) as data:
        members = {name: data[name] for name in data.files}
    index = json.loads(members["index"].tobytes().decode())
    del index["arrays"]
    members["index"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **members)
    new, old = load_compact(path), load_compact(tmp_path / "old.npz")
    assert old.header == new.header and "arrays" not in new.header
    assert old.case_ids == new.case_ids == ["c1", "s1"]
    for a, b in zip(old.cases, new.cases, strict=True):
        assert a.info == b.info
        for name in ("codes", "la", "la_native", "scar"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None) == (y is None) and (name != "scar" or (x is None) == (a.case_id == "c1"))
            if x is not None:
                assert x.dtype == y.dtype == np.uint8 and x.shape == y.shape
                np.testing.assert_array_equal(x, y)
    assert new.case("s1").scar.any()
    assert load_compact(tmp_path / "old.npz", ["s1"]).case_ids == ["s1"]
    with pytest.raises(InputError, match="lacks case"):
        load_compact(path, ["nope"])


@pytest.mark.realdata
def test_two_real_cases(lasc_dir, tmp_path):
    import h5py

    path = build_compact_lasc(lasc_dir, tmp_path / "lasc2.npz", limit=2, workers=1)
    compact = load_compact(path)
    assert len(compact.cases) == 2
    assert path.stat().st_size < 2 * 1.5e6  # about 0.5 MB per case
    case = compact.cases[0]
    with h5py.File(lasc_dir / "cases" / case.case_id / "mri_norm2.h5", "r") as handle:
        image, label = handle["image"][()], handle["label"][()]
    codes, offset, step = encode_uint8(image)
    assert int(codes.max()) + 1 == case.info["levels"] and case.info["step"] == pytest.approx(step)
    np.testing.assert_allclose(decode_uint8(codes, offset, step), image, atol=1e-5)
    np.testing.assert_array_equal(case.la_native, label)
    assert case.native_geometry.spacing == NATIVE
    assert case.window_geometry.spacing == (1.0, 1.0, 1.0)
    # every LA voxel of the resampled label lies in the window, with the z margin on both sides
    z = np.flatnonzero(case.la.any(axis=(0, 1)))
    assert z[0] >= 1 or case.info["crop"]["start"][2] == 0
    assert case.la.sum() * 1.0 == pytest.approx(label.sum() * 0.625 * 0.625 * 1.25, rel=0.03)
