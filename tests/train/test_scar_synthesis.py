"""Synthetic scar drawn per sample: the burden it asks for, the contrast it renders, targets equal to
`data.targets` for the same scar, determinism, scar-free draws and held-out patterns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atrialjsq.data.targets import compute_targets
from atrialjsq.phantom.scar import PATTERNS, sample_pattern, surface_burden
from atrialjsq.train.augment import AugmentParams
from atrialjsq.train.dataset import EpochSampler, VolumeBank, synthetic_draws, training_batch
from atrialjsq.train.scar_synthesis import (
    DRAW_CLIP_MM,
    ScarSynthesizer,
    SynthesisRanges,
    build_wall_cache,
    draw_parameters,
    synthesise,
)
from shapes import sphere_mask

SPACING = (1.5, 1.5, 1.5)
SHAPE = (40, 40, 40)


def atrium(seed: int = 0) -> dict[str, np.ndarray]:
    """A ball (14 mm) with four vein-like bumps, bright blood over darker tissue, and its cached targets."""
    centre = np.array([(s - 1) / 2 for s in SHAPE])
    la = sphere_mask(SHAPE, centre, 14.0, SPACING).astype(bool)
    for direction in ([1, 1, 1], [1, -1, 1], [-1, 1, 1], [-1, -1, 1]):
        offset = np.asarray(direction, float) / np.sqrt(3) * 14.0 / np.asarray(SPACING)
        la |= sphere_mask(SHAPE, centre + offset, 5.0, SPACING).astype(bool)
    rng = np.random.default_rng(seed)
    image = np.where(la, 2.0, 0.5) + rng.normal(0.0, 0.05, SHAPE)
    image[:3] = -1.0  # a strip of air: the intensity zero
    targets = compute_targets(la.astype(np.uint8), None, SPACING)
    return {
        "image": image.astype(np.float32),
        "la": la.astype(np.uint8),
        **{key: targets[key] for key in ("phi_la", "band", "phi_normal", "phi_scar")},
        "scar_known": np.array(0.0, np.float32),
    }


@pytest.fixture(scope="module")
def case():
    arrays = atrium()
    return arrays, build_wall_cache(arrays["image"], arrays["la"], arrays["band"], SPACING)


def fixed(**overrides) -> SynthesisRanges:
    values = {"scar_free": 0.0, "patterns": ("mixed",)} | overrides
    return SynthesisRanges(**values)


@pytest.mark.parametrize("burden", [0.05, 0.2, 0.4])
def test_a_draw_covers_the_burden_it_asks_for(case, burden):
    arrays, wall = case
    draw = synthesise(arrays, wall, np.random.default_rng(1), fixed(burden=(burden, burden)))
    # The threshold is the quantile of the best score along each surface ray: ties aside, the share hits it.
    assert draw.params["burden_measured"] == pytest.approx(burden, abs=0.02)
    # ... and the scar drawn covers that share of the surface as evaluation measures it (normals, ±10 mm)
    assert surface_burden(arrays["la"], draw.scar, SPACING) == pytest.approx(burden, abs=0.01)


def test_fully_covered_scar_is_the_drawn_iir_times_the_blood_level(case):
    arrays, wall = case
    ranges = fixed(burden=(0.3, 0.3), iir=(1.8, 1.8), wall_mm=(3.0, 3.0), depth_fraction=(1.0, 1.0))
    draw = synthesise(arrays, wall, np.random.default_rng(2), ranges)
    zero = float(arrays["image"].min())
    assert draw.params["iir"] == pytest.approx(1.8)
    # Voxels inside the 3 mm layer whole (their span [d - h, d] within it; h = 1.5 mm) take the tissue value, whose
    # mean over the labelled voxels is 1.8 x the blood level; fully covered ones are most of them.
    full = np.zeros(wall.shape, dtype=bool).ravel()
    full[wall.shell[(wall.depth > 0) & (wall.depth <= 3.0)]] = True
    full = full.reshape(wall.shape) & draw.scar
    iir = (draw.arrays["image"][full] - zero) / wall.blood_mean
    assert full.sum() > 0.6 * draw.scar.sum()
    assert iir.mean() == pytest.approx(1.8, rel=0.08)  # the texture varies the subset's mean a little
    # Only the wall shell changes: the blood pool core and the far background keep their values.
    changed = draw.arrays["image"] != arrays["image"]
    assert changed[full].all()
    assert not changed[arrays["phi_la"] < 0].any() and not changed[arrays["phi_la"] > 5.0].any()


def test_partial_volume_of_a_thin_layer_by_hand(case):
    from atrialjsq.train.scar_synthesis import partial_volume

    _, wall = case
    coverage = partial_volume(wall, 2.0)  # h = 1.5 mm
    first = np.isclose(wall.depth, 1.5)  # span [0, 1.5]: inside the 2 mm layer
    second = np.isclose(wall.depth, 3.0)  # span [1.5, 3.0]: 0.5 of 1.5 mm covered
    third = np.isclose(wall.depth, 4.5)
    assert (
        np.allclose(coverage[first], 1.0) and np.allclose(coverage[second], 1 / 3) and np.allclose(coverage[third], 0)
    )


def test_targets_are_those_of_data_targets_for_the_drawn_scar(case):
    arrays, wall = case
    draw = synthesise(arrays, wall, np.random.default_rng(3), fixed(burden=(0.25, 0.25)))
    expected = compute_targets(arrays["la"], draw.scar.astype(np.uint8), SPACING)
    np.testing.assert_array_equal(draw.arrays["band"], expected["band"])
    # The draws clip their distance maps at DRAW_CLIP_MM; within it they are data.targets' maps exactly.
    for key in ("phi_scar", "phi_normal"):
        clipped = np.clip(expected[key].astype(np.float32), -DRAW_CLIP_MM, DRAW_CLIP_MM).astype(np.float16)
        np.testing.assert_array_equal(draw.arrays[key], clipped)
    assert (draw.arrays["band"] == 2).any() and (draw.arrays["band"] == 1).any()


@pytest.mark.parametrize(("se_distance", "root"), [("l2", 1.0), ("hellinger", 0.5)])
def test_the_clipped_draw_targets_are_the_unclipped_ones_to_a_thousandth(case, se_distance, root):
    """What the loss sees of a draw's φ maps: p = exp(-|φ|) for the l2 SE distance, √p for Hellinger. Clipped as
    the trainer clips them for that loss, they differ from the unclipped (data.targets, clip 50) by under 1e-3
    everywhere, even after a 0.9 zoom shrinks every distance by 10 % (exp(-0.9 · 8) = 7.5e-4)."""
    from atrialjsq.model.configs import get_config
    from atrialjsq.train.trainer import make_synthesizer

    arrays, wall = case
    train = {"synthetic_scar": 1.0}
    synthesizer = make_synthesizer(
        get_config("ajsq-sesa", tiny=True, train=train, loss={"se_distance": se_distance}), [atrium(0)]
    )
    assert synthesizer is not None
    ranges = SynthesisRanges(scar_free=0.0, patterns=("mixed",), burden=(0.25, 0.25))
    ranges = SynthesisRanges(**{**ranges.__dict__, "distance_clip_mm": synthesizer.ranges.distance_clip_mm})
    draw = synthesise(arrays, wall, np.random.default_rng(3), ranges)
    expected = compute_targets(arrays["la"], draw.scar.astype(np.uint8), SPACING)
    for key in ("phi_scar", "phi_normal"):
        seen = np.exp(-0.9 * np.abs(draw.arrays[key].astype(np.float32))) ** root
        truth = np.exp(-0.9 * np.abs(expected[key].astype(np.float32))) ** root
        assert np.abs(seen - truth).max() < 1e-3


def test_scar_free_draws_leave_the_image_and_label_the_whole_band_normal(case):
    arrays, wall = case
    draw = synthesise(arrays, wall, np.random.default_rng(4), SynthesisRanges(scar_free=1.0))
    np.testing.assert_array_equal(draw.arrays["image"], arrays["image"])
    np.testing.assert_array_equal(draw.arrays["band"], arrays["band"])
    assert not draw.scar.any() and draw.params["burden_measured"] == 0.0


def test_scar_stays_within_the_drawn_wall_depth(case):
    arrays, wall = case
    ranges = fixed(burden=(0.3, 0.3), wall_mm=(3.0, 3.0), depth_fraction=(1.0, 1.0))
    draw = synthesise(arrays, wall, np.random.default_rng(5), ranges)
    depth = np.zeros(wall.shape, dtype=np.float32).ravel()
    depth[wall.shell] = wall.depth
    labelled = depth.reshape(wall.shape)[draw.scar]
    assert draw.scar.any() and (arrays["la"][draw.scar] == 0).all()
    # a voxel spans [d - 1.5, d] mm from the surface: labelled when at least half of it lies within 3 mm
    assert labelled.max() <= 3.0 + 0.75 + 1e-6 and labelled.min() > 0


def test_draws_are_a_function_of_the_seed(case):
    arrays, wall = case
    first = synthesise(arrays, wall, np.random.default_rng(9), SynthesisRanges())
    again = synthesise(arrays, wall, np.random.default_rng(9), SynthesisRanges())
    other = synthesise(arrays, wall, np.random.default_rng(10), SynthesisRanges())
    np.testing.assert_array_equal(first.arrays["image"], again.arrays["image"])
    assert first.params == again.params and first.params != other.params


def test_an_excluded_pattern_is_never_drawn_and_ranges_are_checked():
    ranges = SynthesisRanges(exclude_patterns=("rings",))
    drawn = {draw_parameters(np.random.default_rng(s), ranges)["pattern"] for s in range(200)}
    assert drawn == set(PATTERNS) - {"rings"}
    with pytest.raises(ValueError, match="excluded"):
        SynthesisRanges(exclude_patterns=PATTERNS)
    with pytest.raises(ValueError, match="unknown scar patterns"):
        SynthesisRanges(patterns=("stripes",))
    with pytest.raises(ValueError, match="iir"):
        SynthesisRanges(iir=(0.8, 2.0))


def test_each_pattern_holds_only_its_lesions(case):
    _, wall = case
    rng = np.random.default_rng(0)
    rings = sample_pattern(rng, wall.anatomy, "rings", 0.2)
    lines = sample_pattern(rng, wall.anatomy, "lines", 0.2)
    patches = sample_pattern(rng, wall.anatomy, "patches", 0.2)
    fibrosis = sample_pattern(rng, wall.anatomy, "fibrosis", 0.2)
    assert len(rings["rings"]) == 2 and not rings["lines"] and not rings["patches"]
    assert len(lines["lines"]) == 2 and not lines["rings"] and not lines["patches"]
    assert patches["patches"] and not patches["rings"] and not patches["lines"]
    assert fibrosis["kind"] == "pre-ablation" and not fibrosis["rings"]
    assert sample_pattern(rng, wall.anatomy, "mixed", 0.0)["burden"] == 0.0


def test_the_batch_takes_the_draws_and_marks_their_scar_known():
    cases = [atrium(0), atrium(1)]
    labelled = dict(atrium(2), scar_known=np.array(1.0, np.float32))
    bank = VolumeBank([*cases, labelled], roi=(32, 32, 32), margin=None, spacing=SPACING)
    synthesizer = ScarSynthesizer([*cases, labelled], SPACING, probability=1.0, ranges=fixed(burden=(0.2, 0.2)))
    assert sorted(synthesizer.walls) == [0, 1]  # the labelled case keeps its own scar
    sampler = EpochSampler(n_cases=3, global_batch=3, seed=0)
    plan = sampler.plan(0)
    draws = synthetic_draws(bank, plan, synthesizer)
    assert [d is None for d in draws] == [index == 2 for index in plan.indices]
    params = AugmentParams(enabled=False)
    batch = training_batch(bank, plan, params, torch.device("cpu"), draws)
    assert batch["scar_known"].tolist() == [1.0, 1.0, 1.0]
    for row, index in enumerate(plan.indices):
        has_scar = bool((batch["band"][row] == 2).any())
        assert has_scar == (index != 2)
    plain = training_batch(bank, plan, params, torch.device("cpu"))
    assert plain["scar_known"].tolist() == [0.0 if i != 2 else 1.0 for i in plan.indices]
    with pytest.raises(ValueError, match="probability"):
        ScarSynthesizer(cases, SPACING, probability=1.5)


def test_the_trainer_trains_the_scar_head_on_fresh_draws_of_unlabelled_cases(tmp_path):
    from atrialjsq.model.configs import get_config
    from atrialjsq.train.logging import column, read_csv
    from atrialjsq.train.trainer import Trainer, TrainOptions

    def config(synthetic: float):
        train = {"iterations": 4, "checkpoint_every": 2, "log_every": 1, "val_every": 100, "synthetic_scar": synthetic}
        data = {"spacing": SPACING, "roi": (32, 32, 32), "margin": (4, 4, 4)}
        return get_config("ajsq-sesa", tiny=True, data=data, train=train)

    cases = [atrium(0), atrium(1)]
    trainer = Trainer(config(1.0), cases, None, tmp_path / "synthetic", TrainOptions(progress=False))
    assert trainer.synthesizer is not None and len(trainer.synthesizer) == 2
    trainer.run()
    assert trainer._next_draws is None  # nothing left drawing in the background for a step the run never takes
    scar_terms = column(read_csv(tmp_path / "synthetic" / "log.csv"), "loss_scar_se")
    assert len(scar_terms) == 4 and all(value > 0 for value in scar_terms)  # every sample had its scar drawn
    # The same unlabelled cases without synthesis never train the scar head (their scar is unknown).
    plain = Trainer(config(0.0), cases, None, tmp_path / "plain", TrainOptions(progress=False))
    assert plain.synthesizer is None
    plain.run()
    assert all(value == 0 for value in column(read_csv(tmp_path / "plain" / "log.csv"), "loss_scar_se"))
    # Draws follow the sample seeds: a resumed run continues with exactly the batches of an uninterrupted one.
    resumed = Trainer(config(1.0), cases, None, tmp_path / "synthetic", TrainOptions(progress=False, resume=True))
    straight = Trainer(config(1.0), cases, None, tmp_path / "other", TrainOptions(progress=False))
    plan = straight.sampler.plan(4)
    first, second = resumed._draws(4, plan), straight._draws(4, plan)
    assert first is not None and second is not None
    for a, b in zip(first, second, strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            np.testing.assert_array_equal(a["image"], b["image"])


def test_real_enhancement_outside_the_drawn_scar_is_unknown_not_normal():
    """A bright patch in the original wall (IIR 2 over the blood level) with no scar drawn: the band voxels whose
    outward ray meets it get weight 0 in the scar loss; with the option off there is no weight map at all."""
    arrays = atrium()
    zero = float(arrays["image"].min())
    blood = float(np.median(arrays["image"][arrays["phi_la"] < -4]))
    patch = (arrays["phi_la"] > 0) & (arrays["phi_la"] < 2.5)
    assert patch.any()
    patch &= np.indices(SHAPE)[2] > 24  # the top of the atrium (+z)
    arrays["image"][patch] = zero + 2.0 * (blood - zero)
    wall = build_wall_cache(arrays["image"], arrays["la"], arrays["band"], SPACING)
    free = SynthesisRanges(scar_free=1.0, unsure_iir=1.32)
    draw = synthesise(arrays, wall, np.random.default_rng(0), free)
    weight = draw.arrays["scar_weight"]
    band = arrays["band"] > 0
    assert set(np.unique(weight)) == {0.0, 1.0} and not (weight[~band] == 0).any()  # only band voxels
    top = band & (np.indices(SHAPE)[2] > 26)
    bottom = band & (np.indices(SHAPE)[2] < 14)
    assert top.any() and bottom.any()
    assert (weight[top] == 0).mean() > 0.8 and (weight[bottom] == 1).all()
    assert (
        "scar_weight" not in synthesise(arrays, wall, np.random.default_rng(0), SynthesisRanges(scar_free=1.0)).arrays
    )


def test_the_configured_iir_range_is_the_range_the_trainer_draws_from():
    """`train.synthetic_scar_iir` reaches the draws: with (1.32, 2.6) no draw is fainter than 1.32 (the default
    range starts at 1.1), and the triangle's mode (1.45) still lies inside, so draws crowd near it."""
    from atrialjsq.model.configs import get_config
    from atrialjsq.train.trainer import make_synthesizer

    def draws(iir_range):
        train = {"synthetic_scar": 1.0, "synthetic_scar_iir": iir_range}
        synthesizer = make_synthesizer(get_config("ajsq-sesa", tiny=True, train=train), [atrium(0)])
        assert synthesizer is not None
        rng = np.random.default_rng(5)
        return np.array([draw_parameters(rng, synthesizer.ranges)["iir"] for _ in range(400)])

    bright = draws((1.32, 2.6))
    assert bright.min() >= 1.32 and bright.max() <= 2.6
    # Skewed towards the mode: the triangle's median is 2.6 - √(1.28 · 1.15 / 2) = 1.742; a uniform draw's 1.96.
    assert abs(np.median(bright) - 1.742) < 0.08
    assert draws((1.32, 2.0)).max() <= 2.0
    default = draws((1.1, 2.6))
    assert default.min() < 1.32 and default.max() > 2.0


@pytest.mark.parametrize("sigma", [0.3, 0.7, 1.2])
def test_the_feathered_edge_is_the_whole_window_blur_computed_on_the_pattern_box(sigma):
    """Filtering only the pattern's box plus the kernel's reach gives exactly scipy's blur of the whole window,
    for a pattern in the middle and one touching the window's border (where both mirror the same voxels)."""
    from scipy import ndimage

    from atrialjsq.train.scar_synthesis import _feathered

    shape = (30, 24, 20)
    rng = np.random.default_rng(3)
    for corner in ((10, 8, 6), (0, 0, 14)):
        mask = np.zeros(shape, dtype=np.float32)
        patch = tuple(slice(c, c + 6) for c in corner)
        mask[patch] = rng.random((6, 6, 6)) > 0.5
        expected = ndimage.gaussian_filter(mask, sigma).ravel()
        np.testing.assert_allclose(_feathered(np.flatnonzero(mask), shape, sigma), expected, rtol=0, atol=1e-7)
    assert not _feathered(np.array([], dtype=np.int64), shape, sigma).any()  # no pattern: no edge


def test_real_enhancement_above_real_scar_iir_is_labelled_scar():
    """The same bright patch with `real_scar_iir` 1.32 and no scar drawn: the band voxels whose outward ray meets it
    become scar (band 2, φ_scar ≤ 0 there and > 0 on the normal wall, full weight), the rest stay normal; a patch
    at IIR 1.25, between unsure_iir 1.2 and real_scar_iir 1.32, is unknown instead."""
    arrays = atrium()
    zero = float(arrays["image"].min())
    blood = float(np.median(arrays["image"][arrays["phi_la"] < -4]))
    patch = (arrays["phi_la"] > 0) & (arrays["phi_la"] < 2.5) & (np.indices(SHAPE)[2] > 24)
    band = arrays["band"] > 0
    top = band & (np.indices(SHAPE)[2] > 26)
    bottom = band & (np.indices(SHAPE)[2] < 14)
    for iir, expect_scar in ((2.0, True), (1.25, False)):
        image = arrays["image"].copy()
        image[patch] = zero + iir * (blood - zero)
        case = {**arrays, "image": image}
        wall = build_wall_cache(image, case["la"], case["band"], SPACING)
        ranges = SynthesisRanges(scar_free=1.0, unsure_iir=1.2, real_scar_iir=1.32)
        draw = synthesise(case, wall, np.random.default_rng(0), ranges)
        labels, weight = draw.arrays["band"], draw.arrays["scar_weight"]
        assert not draw.scar.any()  # nothing drawn: every scar label is the real wall's
        assert (labels[bottom] == 1).all() and (weight[bottom] == 1).all()
        if expect_scar:
            assert (labels[top] == 2).mean() > 0.8 and (weight[top] == 1).all()
            phi_scar = draw.arrays["phi_scar"]
            assert (phi_scar[top & (labels == 2)] <= 0).all() and (phi_scar[bottom] > 0).all()
            assert draw.params["real_scar_band_share"] > 0
        else:
            assert not (labels == 2).any() and (weight[top] == 0).mean() > 0.8
    with pytest.raises(ValueError, match="below unsure_iir"):
        SynthesisRanges(unsure_iir=1.4, real_scar_iir=1.32)


def test_the_configured_real_scar_iir_reaches_the_draws():
    """`train.synthetic_scar_real_iir` becomes the draws' `real_scar_iir`; its default 0 means no weak labels."""
    from atrialjsq.model.configs import get_config
    from atrialjsq.train.trainer import make_synthesizer

    def ranges(real_iir):
        train = {"synthetic_scar": 1.0, "synthetic_scar_real_iir": real_iir}
        synthesizer = make_synthesizer(get_config("ajsq-sesa", tiny=True, train=train), [atrium(0)])
        assert synthesizer is not None
        return synthesizer.ranges

    assert ranges(1.5).real_scar_iir == 1.5
    assert ranges(0.0).real_scar_iir is None
