"""Validation during training through the Predictor: on the trainer's schedule, into val.csv and best.pt, and
equal to what the saved model gives through the Predictor (as `predict` loads it)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from atrialjsq.infer.localize import largest_component
from atrialjsq.infer.predictor import Predictor
from atrialjsq.infer.predictor_validation import PredictorValidation, ValidationCase
from atrialjsq.model.configs import get_config
from atrialjsq.train.checkpoint import load_checkpoint
from atrialjsq.train.logging import read_csv
from atrialjsq.train.trainer import TrainOptions, fit
from atrialjsq.train.validation import dice

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_fixtures import sphere_case


def saved_model_scores(checkpoint: Path, case: ValidationCase) -> tuple[float, float]:
    """LA Dice (largest component of p > 0.5) and scar Dice inside the true band, from the saved file."""
    maps = Predictor.from_checkpoint(str(checkpoint), "cpu").predict_grid(case.normalised, case.grid)
    la = dice(largest_component(maps["la"] > 0.5), case.la > 0)
    assert case.band is not None
    in_band = case.band > 0
    return la, dice((maps["scar"] > maps["normal"]) & in_band, case.band == 2)


def test_predictor_validation_runs_on_the_trainers_schedule_and_equals_the_saved_models_prediction(tmp_path):
    torch.set_num_threads(1)
    config = get_config(
        "ajsq-sesa",
        tiny=True,
        model={"levels": 2, "base_channels": 2, "max_channels": 4},
        data={"roi": (16, 16, 16), "margin": (4, 4, 4)},
        optim={"lr": 1e-2},
        train={"iterations": 5, "checkpoint_every": 100, "val_every": 2, "log_every": 1},
    )
    train = [sphere_case(seed=i, offset=(i, -i, 0)) for i in range(2)]
    held_out = sphere_case(full_shape=(26, 22, 30), seed=5, offset=(1.0, 0.0, 2.0))
    case = ValidationCase.from_arrays("ball", held_out, (1.0, 1.0, 1.0))
    assert case.grid.shape == (26, 22, 30) and case.band is not None
    validator = PredictorValidation([case])
    fit(config, train, None, tmp_path, TrainOptions(device="cpu", progress=False, validator=validator))
    rows = read_csv(tmp_path / "val.csv")
    assert [int(r["iteration"]) for r in rows] == [2, 4, 5]  # every val_every iterations, and at the end
    la, scar = saved_model_scores(tmp_path / "last.pt", case)
    assert float(rows[-1]["la_dice"]) == la
    assert float(rows[-1]["scar_dice"]) == pytest.approx(scar, nan_ok=True)
    expected = np.nanmean([la, scar]) if not (math.isnan(la) and math.isnan(scar)) else math.nan
    assert float(rows[-1]["score"]) == pytest.approx(expected, nan_ok=True)
    # best.pt is the row with the highest score, and scores through the Predictor as that row says
    scores = [float(r["score"]) for r in rows]
    best_row = rows[int(np.nanargmax(scores))]
    best = tmp_path / "best.pt"
    assert load_checkpoint(best)["iteration"] == int(best_row["iteration"])
    assert saved_model_scores(best, case)[0] == float(best_row["la_dice"])


def test_predictor_validation_needs_a_case():
    with pytest.raises(ValueError, match="at least one case"):
        PredictorValidation([])
