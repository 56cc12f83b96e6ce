"""Validation Dice: LA by threshold, scar by p_scar > p_normal inside the ground-truth band, per case."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from atrialjsq.train.dataset import VolumeBank
from atrialjsq.train.validation import dice, validate

FULL = (10, 10, 10)


def case_with_cubes():
    """LA: a 4x4x4 cube (64 voxels); band: its 2-voxel-thick x-slabs, scar on the +x slab only."""
    la = np.zeros(FULL, np.uint8)
    la[3:7, 3:7, 3:7] = 1
    band = np.zeros(FULL, np.uint8)
    band[1:3, 3:7, 3:7] = 1
    band[7:9, 3:7, 3:7] = 2
    return {"image": np.zeros(FULL, np.float32), "la": la, "band": band}


class Oracle(nn.Module):
    """A stand-in network that 'predicts' from the planted arrays (test-only), optionally shifting the LA."""

    def __init__(self, la, band, la_shift=0, swap_scar=False):
        super().__init__()
        la = torch.as_tensor(np.roll(la, la_shift, axis=0)).float()
        scar = torch.as_tensor(band == 2).float()
        normal = 1 - scar
        if swap_scar:
            scar, normal = normal, scar
        self.la = 4 * (2 * la - 1)
        self.scar = 4 * (torch.stack([normal, scar]) - 0.5)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return {"la": self.la[None, None] + 0 * x, "scar": self.scar[None] + 0 * x}


def test_dice_by_hand():
    a = torch.zeros(10, dtype=torch.bool)
    b = torch.zeros(10, dtype=torch.bool)
    a[:4], b[2:6] = True, True
    assert dice(a, b) == 2 * 2 / 8
    assert math.isnan(dice(torch.zeros(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool)))


def test_validate_scores_known_predictions():
    case = case_with_cubes()
    bank = VolumeBank([case], roi=FULL, margin=(0, 0, 0), spacing=(1, 1, 1))
    cpu = torch.device("cpu")
    perfect = validate(Oracle(case["la"], case["band"]), bank, cpu)
    assert perfect == {"la_dice": 1.0, "scar_dice": 1.0, "score": 1.0}
    # Shift the LA cube one voxel along x: overlap 48 of 64 voxels -> Dice 0.75; swapping normal and scar
    # inside the band gives scar Dice 0 (the predicted scar is all normal wall, which the band restricts to).
    worse = validate(Oracle(case["la"], case["band"], la_shift=1, swap_scar=True), bank, cpu)
    assert worse["la_dice"] == 0.75 and worse["scar_dice"] == 0.0
    assert worse["score"] == 0.375


def test_a_case_without_a_scar_label_is_not_scored_on_scar():
    """Its band holds no scar (unknown, not none): scored, the network's scar would all count as false. Only
    its LA is scored, in the window monitor and through the Predictor alike."""
    from atrialjsq.infer.predictor_validation import ValidationCase

    case = case_with_cubes()
    unknown = {**case, "scar_known": np.array(0.0, np.float32)}
    cpu = torch.device("cpu")
    bank = VolumeBank([unknown], roi=FULL, margin=(0, 0, 0), spacing=(1, 1, 1))
    scores = validate(Oracle(case["la"], case["band"], swap_scar=True), bank, cpu)
    assert scores["la_dice"] == 1.0 and math.isnan(scores["scar_dice"]) and scores["score"] == 1.0
    known = VolumeBank(
        [{**case, "scar_known": np.array(1.0, np.float32)}], roi=FULL, margin=(0, 0, 0), spacing=(1, 1, 1)
    )
    assert validate(Oracle(case["la"], case["band"], swap_scar=True), known, cpu)["scar_dice"] == 0.0
    assert ValidationCase.from_arrays("u", unknown, (1, 1, 1)).band is None
    assert ValidationCase.from_arrays("k", {**case, "scar_known": np.array(1.0)}, (1, 1, 1)).band is not None
