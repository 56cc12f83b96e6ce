"""Validation Dice on the held-out cases' centred ROI windows (a quick training monitor, not the paper's
evaluation, which projects scar onto the LA surface: see `atrialjsq.evaluate`).

LA Dice: σ(LA logit) > 0.5 against `la`. Scar Dice: p̂_scar > p̂_normal against `band == 2`, both restricted to
the ground-truth wall band (`band > 0`), so it measures the normal/scar decision where the wall is known.
Scores are averaged over cases; a case with neither true nor predicted scar, or whose scar is unknown (no scar
label: `scar_known` = 0), has no scar Dice.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from atrialjsq.model.modes import evaluation_mode
from atrialjsq.train.dataset import VolumeBank


def dice(prediction: torch.Tensor | np.ndarray, truth: torch.Tensor | np.ndarray) -> float:
    """2|A∩B| / (|A|+|B|) for boolean tensors or arrays; NaN when both are empty."""
    total = int(prediction.sum()) + int(truth.sum())
    return math.nan if total == 0 else 2.0 * int((prediction & truth).sum()) / total


def nanmean(values: list[float]) -> float:
    """Mean of the values that are not NaN; NaN when there are none."""
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


@torch.no_grad()
def validate(
    model: nn.Module,
    bank: VolumeBank,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
) -> dict[str, float]:
    """Mean LA and scar Dice over the bank's cases, and `score` (their mean where both exist)."""
    la_scores, scar_scores = [], []
    with evaluation_mode(model):
        for index in range(len(bank)):
            window = bank.centred_window(index, device)
            image = window["image"]
            if channels_last:
                image = image.contiguous(memory_format=torch.channels_last_3d)
            autocast = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
            with autocast:
                outputs = model(image)
            if "la" in outputs and "la" in window:
                la_scores.append(dice(outputs["la"].float() > 0, window["la"] > 0.5))
            flag = bank.flags.get("scar_known")
            known = flag is None or float(flag[index]) > 0
            if "scar" in outputs and "band" in window and known:  # (unknown scar is not "no scar")
                logits = outputs["scar"].float()
                in_band = window["band"][:, 0] > 0
                predicted = (logits[:, 1] > logits[:, 0]) & in_band  # σ is monotonic: compare logits
                scar_scores.append(dice(predicted, (window["band"][:, 0] == 2) & in_band))
    la, scar = nanmean(la_scores), nanmean(scar_scores)
    score = nanmean([la, scar])
    return {"la_dice": la, "scar_dice": scar, "score": score}
