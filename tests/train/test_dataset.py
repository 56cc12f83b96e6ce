"""The in-memory bank and the batch sampler: windows, margins, epochs and world-size invariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atrialjsq.train.augment import AugmentParams
from atrialjsq.train.dataset import EpochSampler, VolumeBank, training_batch


def ramp_cases(n=3, full=(12, 10, 8)):
    """Cases whose image value encodes (case, x, y, z), so any window can be checked by hand."""
    x, y, z = np.meshgrid(*[np.arange(s) for s in full], indexing="ij")
    return [
        {"image": (10000 * c + 100 * x + 10 * y + z).astype(np.float32), "la": (x > 5).astype(np.uint8)}
        for c in range(n)
    ]


def test_margin_comes_from_the_arrays_and_the_centred_window_is_exact():
    bank = VolumeBank(ramp_cases(), roi=(8, 6, 4), margin=None, spacing=(1, 1, 1))
    assert bank.margin == (2, 2, 2) and len(bank) == 3
    window = bank.centred_window(1, torch.device("cpu"))["image"][0, 0].numpy()
    assert window[0, 0, 0] == 10000 + 100 * 2 + 10 * 2 + 2
    assert window.shape == (8, 6, 4)
    with pytest.raises(ValueError, match="roi"):
        VolumeBank(ramp_cases(), roi=(9, 6, 4), margin=None, spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="roi \\+ 2\\*margin"):
        VolumeBank(ramp_cases(), roi=(8, 6, 4), margin=(1, 1, 1), spacing=(1, 1, 1))


def test_random_shifts_stay_within_the_margin_and_batches_follow_the_plan():
    bank = VolumeBank(ramp_cases(), roi=(8, 6, 4), margin=None, spacing=(1, 1, 1))
    params = AugmentParams(flip_axes=(), rotate_deg=0, scale=(1.0, 1.0), intensity_scale=(1, 1), intensity_shift=0,
                           gamma=(1, 1), noise_std=0)  # fmt: skip
    sampler = EpochSampler(n_cases=3, global_batch=2, seed=5)
    corners = set()
    for iteration in range(30):
        plan = sampler.plan(iteration)
        batch = training_batch(bank, plan, params, torch.device("cpu"))
        for k, case in enumerate(plan.indices):
            corner = int(batch["image"][k, 0, 0, 0, 0])
            assert corner // 10000 == case
            sx, sy, sz = (corner % 10000) // 100, (corner % 100) // 10, corner % 10
            assert 0 <= sx <= 4 and 0 <= sy <= 4 and 0 <= sz <= 4
            corners.add((sx, sy, sz))
            assert torch.equal(batch["la"][k, 0], (batch["image"][k, 0] % 10000 // 100 > 5).float())
    assert len(corners) > 10  # shifts do vary


def test_each_epoch_visits_every_case_once():
    sampler = EpochSampler(n_cases=5, global_batch=5, seed=1)
    epochs = [sampler.global_indices(i) for i in range(4)]
    assert all(sorted(e) == list(range(5)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1  # reshuffled per epoch


def test_ranks_split_the_global_batch_and_share_its_seeds():
    single = EpochSampler(n_cases=7, global_batch=4, seed=3)
    ranks = [EpochSampler(n_cases=7, global_batch=4, seed=3, rank=r, world_size=2) for r in range(2)]
    for iteration in range(10):
        whole = single.plan(iteration)
        parts = [r.plan(iteration) for r in ranks]
        assert parts[0].indices + parts[1].indices == whole.indices
        assert parts[0].seeds + parts[1].seeds == whole.seeds
    with pytest.raises(ValueError, match="divisible"):
        EpochSampler(n_cases=7, global_batch=3, seed=0, rank=0, world_size=2)


def test_per_case_flags_follow_the_batch_plan_and_must_be_given_for_every_case():
    cases = ramp_cases(4)
    for index, case in enumerate(cases):
        case["scar_known"] = np.array(float(index % 2), dtype=np.float32)
    bank = VolumeBank(cases, roi=(8, 6, 4), margin=None, spacing=(1, 1, 1))
    params = AugmentParams(flip_axes=(), rotate_deg=0, scale=(1.0, 1.0), intensity_scale=(1, 1), intensity_shift=0,
                           gamma=(1, 1), noise_std=0)  # fmt: skip
    sampler = EpochSampler(n_cases=4, global_batch=3, seed=2)
    for iteration in range(6):
        plan = sampler.plan(iteration)
        batch = training_batch(bank, plan, params, torch.device("cpu"))
        assert batch["scar_known"].tolist() == [float(i % 2) for i in plan.indices]
        assert [int(batch["image"][k, 0, 0, 0, 0]) // 10000 for k in range(3)] == plan.indices
    del cases[1]["scar_known"]
    with pytest.raises(ValueError, match=r"scar_known.*3 of 4"):
        VolumeBank(cases, roi=(8, 6, 4), margin=None, spacing=(1, 1, 1))
