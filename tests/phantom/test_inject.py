"""Scar injection onto a given LA: scar in the wall band, requested burden and IIR, input untouched."""

from __future__ import annotations

import edt
import numpy as np
import pytest

from atrialjsq.data.case import Case
from atrialjsq.errors import InputError
from atrialjsq.io.volume import Volume
from atrialjsq.phantom.inject import inject_scar
from atrialjsq.surface.band import BandParams
from atrialjsq.surface.projection import project_mask_to_surface
from shapes import sphere_mask

SPACING = (1.0, 1.0, 1.5)


def _segment_mask(shape, spacing, a, b, radius) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing, strict=True)], indexing="ij")
    p = np.stack(grids, axis=-1)
    a, b = np.asarray(a, float), np.asarray(b, float)
    t = np.clip(((p - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
    return np.linalg.norm(p - (a + t[..., None] * (b - a)), axis=-1) <= radius


def _standin_case(spacing=SPACING) -> Case:
    """A ball LA (radius 16 mm) with four 5 mm veins in pairs left and right, blood 100 over background 30."""
    extent = np.array([80.0, 64.0, 48.0]) * SPACING
    shape = tuple(int(n) for n in np.round(extent / np.asarray(spacing)))
    centre = np.array([40.0, 32.0, 36.0])
    la = sphere_mask(shape, centre / np.asarray(spacing), 16.0, spacing).astype(bool)
    for sx in (-1, 1):
        for sz in (-1, 1):
            end = centre + np.array([sx * 30.0, 8.0, sz * 14.0])
            la |= _segment_mask(shape, spacing, centre, end, 5.0)
    rng = np.random.default_rng(0)
    image = np.where(la, 100.0, 30.0) + rng.normal(0, 5.0, shape)
    geometry = Volume.from_array(image.astype(np.float32), spacing).geometry
    return Case("standin", Volume(image.astype(np.float32), geometry), {"la": Volume(la.astype(np.uint8), geometry)})


@pytest.fixture(scope="module")
def standin():
    return _standin_case()


@pytest.mark.parametrize(("kind", "burden"), [("post-ablation", 0.2), ("pre-ablation", 0.1)])
def test_scar_in_wall_band_with_requested_burden_and_iir(standin, kind, burden):
    before = standin.image.array.copy()
    out, params = inject_scar(standin, seed=3, scar_kind=kind, burden=burden, iir_range=(1.3, 1.8))
    np.testing.assert_array_equal(standin.image.array, before)  # input untouched
    la, scar = out.la.array, out.scar.array
    np.testing.assert_array_equal(la, standin.la.array)
    assert scar.any() and not np.any(la & scar)
    outside = edt.edt((1 - la).astype(np.uint8), anisotropy=SPACING)
    assert outside[scar > 0].max() <= params["wall_mm"] + 1e-6
    projection = project_mask_to_surface(la, scar, SPACING, BandParams(reach_mm=4.0))
    assert projection.hit.mean() == pytest.approx(burden, abs=0.02)
    image = out.image.array
    zero = before.min()
    blood = (before[edt.edt(la, anisotropy=SPACING) > 3.0] - zero).mean()
    iir = (image[scar > 0] - zero).mean() / blood
    assert 1.3 <= iir <= 1.8
    assert iir == pytest.approx(params["iir"], rel=0.02)
    # Only the scar and a thin feathered rim around it change.
    changed = image != before
    near_scar = edt.edt((1 - scar).astype(np.uint8), anisotropy=SPACING) <= 2 * max(SPACING)
    assert changed.any() and not np.any(changed & ~near_scar)


def test_injection_is_deterministic(standin):
    a, pa = inject_scar(standin, seed=9)
    b, pb = inject_scar(standin, seed=9)
    np.testing.assert_array_equal(a.image.array, b.image.array)
    np.testing.assert_array_equal(a.scar.array, b.scar.array)
    assert pa == pb


def test_post_ablation_rings_pair_the_veins_by_side(standin):
    _, params = inject_scar(standin, seed=1, scar_kind="post-ablation", burden=0.2)
    veins = {v["name"]: np.asarray(v["direction"]) for v in params["protrusions"]}
    # The stand-in's veins point to -x and +x: each ring's pair shares a side.
    assert np.sign(veins["LSPV"][0]) == np.sign(veins["LIPV"][0])
    assert np.sign(veins["RSPV"][0]) == np.sign(veins["RIPV"][0]) != np.sign(veins["LSPV"][0])


def test_case_without_la_is_an_input_error(standin):
    empty = Case("empty", standin.image, {"la": standin.la.like(np.zeros_like(standin.la.array))}, {"source": "x.nii"})
    with pytest.raises(InputError, match="LA label"):
        inject_scar(empty, seed=0)


@pytest.mark.realdata
def test_inject_into_real_lasc_case(lasc_dir, tmp_path):
    from atrialjsq.data.check import check_dataset
    from atrialjsq.data.layouts import index_dataset, load_case
    from atrialjsq.phantom.writer import write_case

    ref = index_dataset(lasc_dir)[0]
    case = load_case(ref)
    out, params = inject_scar(case, seed=0, burden=0.25)
    spacing = case.image.geometry.spacing
    projection = project_mask_to_surface(out.la.array, out.scar.array, spacing, BandParams(reach_mm=4.0))
    assert projection.hit.mean() == pytest.approx(0.25, abs=0.02)
    low, high = params["iir_range"]
    assert low <= params["iir_measured"] <= high
    write_case(out, params, tmp_path / case.case_id, int16_image=False)
    reports = check_dataset(tmp_path)
    assert [r.status for r in reports] == ["ok"] and reports[0].has_scar


def test_an_integer_image_is_widened_rather_than_its_scar_clipped(standin):
    """Reported by review: a uint8 scan's scar was clipped at 255 (IIR 2.18 asked, 1.73 written) while the
    parameters recorded the IIR asked. Blood at 100 + noise, scar at 2.5 x that: past 255, so float32."""
    bright = Volume(np.clip(np.rint(standin.image.array), 0, 255).astype(np.uint8), standin.image.geometry)
    case = Case("u8", bright, {"la": standin.la})
    out, params = inject_scar(case, seed=3, burden=0.2, iir_range=(2.5, 2.5))
    assert out.image.array.dtype == np.float32 and params["image_type"].startswith("uint8 -> float32")
    assert params["iir_measured"] == pytest.approx(2.5, rel=0.02)
    faint, params = inject_scar(case, seed=3, burden=0.2, iir_range=(1.3, 1.3))  # fits in uint8: kept as it is
    assert faint.image.array.dtype == np.uint8 and params["image_type"] == "uint8"
    assert params["iir_measured"] == pytest.approx(1.3, rel=0.02)


def test_a_negative_seed_is_one_line(tmp_path, capsys):
    from atrialjsq.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["inject-scar", str(tmp_path), "--out", str(tmp_path / "o"), "--seed", "-1"])
    assert caught.value.code == 2 and "--seed" in capsys.readouterr().err


def test_a_scan_stored_mirrored_gets_the_same_scar_in_the_patient(standin):
    """Reported by review: vein sides and heights were read from the index axes, so a scan stored with y and z
    mirrored (direction diag(1, -1, -1)) got its scar mirrored in the patient. The same anatomy stored both ways,
    the same seed: the same scar voxels at the same physical places."""
    from atrialjsq.io.geometry import Geometry

    g = standin.image.geometry
    far = g.index_to_physical(np.array([0.0, g.shape[1] - 1, g.shape[2] - 1]))
    mirrored_grid = Geometry(g.shape, g.spacing, tuple(far), (1, 0, 0, 0, -1, 0, 0, 0, -1))

    def mirrored(volume: Volume) -> Volume:
        return Volume(np.ascontiguousarray(volume.array[:, ::-1, ::-1]), mirrored_grid)

    case = Case("m", mirrored(standin.image), {"la": mirrored(standin.la)})
    plain, plain_params = inject_scar(standin, seed=5, scar_kind="post-ablation", burden=0.2)
    turned, turned_params = inject_scar(case, seed=5, scar_kind="post-ablation", burden=0.2)
    assert turned.image.geometry == mirrored_grid and turned.scar.geometry == mirrored_grid
    np.testing.assert_array_equal(turned.scar.array[:, ::-1, ::-1], plain.scar.array)
    np.testing.assert_allclose(turned.image.array[:, ::-1, ::-1], plain.image.array)
    back = mirrored_grid.index_to_physical(np.asarray(turned_params["la_centre_index"]))
    np.testing.assert_allclose(back, g.index_to_physical(np.asarray(plain_params["la_centre_index"])), atol=0.02)


def test_on_thick_slices_the_feather_stays_out_of_the_blood_pool():
    """Reported by review: the feather was 0.7 voxel on every axis, so on 2.5 mm slices it brightened the blood
    up to 2.5 mm deep. It is now as wide in mm as on the finest axis (0.7 x 0.625 mm)."""
    spacing = (0.625, 0.625, 2.5)
    case = _standin_case(spacing)
    out, params = inject_scar(case, seed=3, burden=0.25, iir_range=(2.0, 2.0))
    la = case.la.array > 0
    depth = edt.edt(la.astype(np.uint8), anisotropy=spacing)  # mm inside the LA to its nearest outside voxel
    brightened = la & (out.image.array - case.image.array > 0.3 * params["image_statistics"]["blood_mean"])
    assert brightened.any() and depth[brightened].max() <= 1.0


def test_an_la_cut_by_the_volume_edge_is_warned_and_recorded(standin):
    cut = Case(
        "cut",
        Volume(standin.image.array[:, :, 20:].copy(), standin.image.geometry.with_shape((80, 64, 28))),
        {"la": Volume(standin.la.array[:, :, 20:].copy(), standin.image.geometry.with_shape((80, 64, 28)))},
    )
    with pytest.warns(RuntimeWarning, match="touches the image border"):
        _, params = inject_scar(cut, seed=3, burden=0.2)
    assert "touches the image border" in params["la_cut_by_border"]
    _, params = inject_scar(standin, seed=3, burden=0.2)
    assert params["la_cut_by_border"] is None
