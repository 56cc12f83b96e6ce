"""Validation during training through the Predictor: it runs when asked and scores what `predict` would give."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from atrialjsq.infer.localize import largest_component
from atrialjsq.infer.predictor import Predictor
from atrialjsq.infer.validation import PredictorValidation, ValidationCase
from atrialjsq.io.geometry import Geometry
from atrialjsq.model.configs import get_config
from atrialjsq.train.logging import read_csv
from atrialjsq.train.trainer import TrainOptions, fit
from atrialjsq.train.validation import dice

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_fixtures import sphere_case


def test_predictor_validation_runs_on_schedule_and_equals_the_saved_models_prediction(tmp_path):
    torch.set_num_threads(1)
    config = get_config(
        "ajsq-sesa",
        tiny=True,
        model={"levels": 2, "base_channels": 2, "max_channels": 4},
        data={"roi": (16, 16, 16), "margin": (4, 4, 4)},
        optim={"lr": 1e-2},
        train={"iterations": 5, "checkpoint_every": 100, "log_every": 1},
    )
    train = [sphere_case(seed=i, offset=(i, -i, 0)) for i in range(2)]
    held_out = sphere_case(full_shape=(26, 22, 30), seed=5, offset=(1.0, 0.0, 2.0))
    grid = Geometry(held_out["image"].shape, (1.0, 1.0, 1.0))
    case = ValidationCase("ball", held_out["image"], held_out["la"], grid)
    callback = PredictorValidation([case], every=2, out=tmp_path)
    fit(config, train, None, tmp_path, TrainOptions(device="cpu", progress=False, callbacks=[callback]))
    rows = read_csv(tmp_path / "val_predictor.csv")
    assert [int(r["iteration"]) for r in rows] == [2, 4, 5]  # every 2 iterations, and at the end
    # the last row is what the saved model gives through Predictor.from_checkpoint (as `predict` loads it)
    predictor = Predictor.from_checkpoint(str(tmp_path / "last.pt"), "cpu")  # bf16 exactly where training used it
    mask = largest_component(predictor.predict_grid(case.normalised, grid)["la"] > 0.5)
    assert float(rows[-1]["la_dice"]) == dice(mask, case.la > 0)
