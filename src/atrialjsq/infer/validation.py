"""Validation during training through the Predictor: the held-out score a user would get, not a window monitor.

`train.validation` scores the centred ROI windows of the validation bank (a quick monitor inside the loop);
`PredictorValidation` is a trainer callback (`train.trainer.Callback`) that every `every` iterations, and at
the end, runs the live network through `Predictor` (`predict_grid` on each case's whole window, the tiling,
TTA rule and padding handling of `atrialjsq predict`) and appends the mean LA Dice (threshold 0.5, largest
component) to `val_predictor.csv`. It lives here because the trainer may not import `infer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from atrialjsq.infer.localize import largest_component
from atrialjsq.infer.predictor import Network, Predictor
from atrialjsq.io.geometry import Geometry
from atrialjsq.train.ddp import unwrap
from atrialjsq.train.logging import CsvLog
from atrialjsq.train.trainer import Callback, Trainer
from atrialjsq.train.validation import dice


@dataclass
class ValidationCase:
    """A held-out case on the network's grid: its normalised image and LA label (same shape)."""

    case_id: str
    normalised: np.ndarray
    la: np.ndarray
    grid: Geometry


class PredictorValidation(Callback):
    """Mean LA Dice of the live network on `cases` through the Predictor, every `every` iterations."""

    def __init__(self, cases: Sequence[ValidationCase], every: int, out: str | Path, tta: bool = False) -> None:
        if every < 1:
            raise ValueError(f"validation period must be at least 1 iteration, got {every}")
        self.cases, self.every, self.tta = list(cases), int(every), tta
        self.log = CsvLog(Path(out) / "val_predictor.csv")
        self.scores: list[dict[str, float]] = []

    def score(self, trainer: Trainer) -> dict[str, float]:
        model = unwrap(trainer.model)
        was_training = model.training
        model.eval()
        network = Network.live(model, trainer.config, trainer.autocast_dtype)
        predictor = Predictor(network, None, tta=self.tta, channels_last=False)
        dices = []
        with torch.no_grad():
            for case in self.cases:
                maps = predictor.predict_grid(case.normalised, case.grid)
                mask = largest_component(maps["la"] > 0.5)
                dices.append(dice(mask, case.la > 0))
        model.train(was_training)
        row = {
            "iteration": trainer.iteration,
            "elapsed": round(trainer.elapsed, 3),
            "la_dice": float(np.nanmean(dices)),
        }
        self.scores.append(row)
        if trainer.context.is_main:
            self.log.append([row])
        return row

    def on_step_end(self, trainer: Trainer, iteration: int, parts: dict[str, float]) -> None:
        if trainer.iteration % self.every == 0:
            self.score(trainer)

    def on_train_end(self, trainer: Trainer) -> None:
        if not self.scores or self.scores[-1]["iteration"] != trainer.iteration:
            self.score(trainer)
