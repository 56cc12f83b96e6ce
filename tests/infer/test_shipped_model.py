"""The shipped models: weights-only fp16 bundles within the size limit; the phantom model segments an unseen phantom,
the real-data model (the default of `predict`) a real LASC 2018 case, also inside a larger field of view."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from atrialjsq.infer.bundles import ASSETS_DIR, MAX_BUNDLE_BYTES, load_bundle
from atrialjsq.infer.model_names import DEFAULT_MODEL, PHANTOM_MODEL

SHIPPED = ASSETS_DIR / f"{PHANTOM_MODEL}.pt"
REAL = ASSETS_DIR / f"{DEFAULT_MODEL}.pt"
THREADS = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2  # one per worker under xdist (tests/conftest.py)


def test_shipped_model_is_a_small_fp16_weights_only_bundle_trained_on_phantoms():
    assert SHIPPED.is_file() and SHIPPED.stat().st_size <= MAX_BUNDLE_BYTES
    raw = torch.load(SHIPPED, weights_only=True)  # no pickled code needed
    assert raw["format"] == "atrialjsq-model-v1"
    for section in ("localizer", "fine"):
        floats = [t for t in raw[section]["model"].values() if t.is_floating_point()]
        assert floats and all(t.dtype == torch.float16 for t in floats)
    bundle = load_bundle(PHANTOM_MODEL)
    assert "phantom" in bundle["meta"]["trained_on"] and bundle["fine"]["config"]["task"] == "joint"


def test_shipped_model_finds_the_la_and_scar_of_an_unseen_phantom():
    """Seed 4242 is outside the training set (its cases use hashed sub-seeds of seed 0)."""
    from atrialjsq.infer.predictor import Predictor
    from atrialjsq.phantom.generate import generate_phantom
    from atrialjsq.quantify.surface_scar import scar_from_probabilities

    torch.set_num_threads(THREADS)
    case, params = generate_phantom(4242)
    prediction = Predictor.from_checkpoint(PHANTOM_MODEL, "cpu").predict_volume(case.image)
    truth = case.labels["la"].array > 0
    la = prediction.la.array > 0
    assert 2 * np.count_nonzero(la & truth) / (la.sum() + truth.sum()) > 0.9
    result = scar_from_probabilities(prediction.la, prediction.p_normal, prediction.p_scar)
    predicted_scar = result.scar.array > 0
    assert predicted_scar.any()
    # the predicted scar lies on the phantom's scarred wall, not elsewhere: most of it is near the true scar
    from scipy.ndimage import distance_transform_edt

    distance_mm = distance_transform_edt(case.labels["scar"].array == 0, sampling=case.image.spacing)
    assert np.median(distance_mm[predicted_scar]) < 3.0
    assert params["scar"]["burden"] > 0


def test_the_default_model_is_the_real_data_bundle_without_a_localiser():
    assert REAL.is_file() and REAL.stat().st_size <= MAX_BUNDLE_BYTES
    raw = torch.load(REAL, weights_only=True)
    assert raw["localizer"] is None
    assert all(t.dtype == torch.float16 for t in raw["fine"]["model"].values() if t.is_floating_point())
    bundle = load_bundle(None)
    assert bundle["name"] == DEFAULT_MODEL and bundle["meta"]["domain"] == "real LGE MRI"
    # what the trainer recorded: the data set, and that the scar was synthetic (no scar labels)
    assert bundle["meta"]["trained_on"].startswith("80 cases of lasc2018 (real scans; no scar labels: synthetic scar")
    assert "enhancement above IIR 1.32 taken as scar" in bundle["meta"]["trained_on"]  # v5: the weak labels
    assert bundle["meta"]["weights"].startswith("v5 ")
    assert bundle["meta"]["max_input_spacing_mm"] == [1.5, 1.5, 2.5]  # the bundle's meta: the acquisitions
    assert bundle["meta"]["max_field_of_view_mm"] == [100.0, 110.0, 152.5]  # LASC's crops around the LA
    assert bundle["fine"]["config"]["task"] == "joint"


@pytest.mark.realdata
def test_the_real_model_segments_a_real_case_and_a_larger_field_of_view_changes_nothing(lasc_dir):
    """A LASC case as the release gives it, padded into a field of view twice as wide with constant dark voxels (a
    converter's zero-filling), then with air-like noise (as a clinical scan around the crop would be). The shipped
    model trained on all 80 cases, so this checks the shipped path and its field-of-view invariance, not
    held-out accuracy (that is the cross-validation's)."""
    import json

    from atrialjsq.data.layouts import index_dataset, load_case
    from atrialjsq.infer.domain import out_of_domain_warnings
    from atrialjsq.infer.predictor import Predictor
    from atrialjsq.io import Geometry, Volume

    torch.set_num_threads(THREADS)
    folds = json.loads((ASSETS_DIR.parents[2] / "docs" / "results" / "lasc2018_fold0" / "folds.json").read_text())
    held_out = folds["folds"][0]["val"] if "folds" in folds else folds[0]["val"]
    refs = {ref.case_id: ref for ref in index_dataset(lasc_dir, layout="lasc2018-h5")}
    case = load_case(refs[held_out[6]])
    truth = case.labels["la"].array > 0
    predictor = Predictor.from_checkpoint(None, "cpu")
    la = predictor.predict_volume(case.image).la.array > 0
    dice = 2 * np.count_nonzero(la & truth) / (la.sum() + truth.sum())
    assert dice > 0.88
    pad = [(s // 2, s // 2) for s in case.image.array.shape[:2]] + [(0, 0)]
    array = np.pad(case.image.array, pad, constant_values=float(case.image.array.min()))
    g = case.image.geometry
    origin = tuple(np.asarray(g.index_to_physical(np.array([-p[0] for p in pad], dtype=float))))
    big = Volume(array.astype(np.float32), Geometry(array.shape, g.spacing, origin, g.direction))
    inner = tuple(slice(p[0], p[0] + n) for p, n in zip(pad, la.shape, strict=True))
    padding = ~np.pad(np.ones(la.shape, bool), pad)
    meta, spacing = predictor.info["meta"], g.spacing
    for crop in (None, "roi"):  # whole-volume tiling (default), self-localised ROI
        wide = Predictor.from_checkpoint(None, "cpu", crop=crop).predict_volume(big)
        la_big = wide.la.array > 0
        assert not la_big[padding].any()  # constant padding is cut off before anything else
        np.testing.assert_array_equal(
            la_big[inner], Predictor.from_checkpoint(None, "cpu", crop=crop).predict_volume(case.image).la.array > 0
        )
        assert out_of_domain_warnings(meta, "m", None, spacing, wide.field_of_view_mm) == []
    # Air around the scan is another matter: trained on crops around the LA, the model never saw any. The same
    # field of view filled with air-like Rician noise (the lungs' level and spread) is beyond what it is trusted
    # with, and predict says so.
    rng = np.random.default_rng(0)
    sigma = float(np.percentile(case.image.array, 5) - case.image.array.min())
    air = np.hypot(rng.normal(0, sigma, array.shape), rng.normal(0, sigma, array.shape)) + array.min()
    noisy = Volume(np.where(padding, air, array).astype(np.float32), big.geometry)
    [warning] = out_of_domain_warnings(meta, "m", None, spacing, predictor.predict_volume(noisy).field_of_view_mm)
    assert "is far wider than model m's training scans" in warning
