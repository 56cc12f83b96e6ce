"""Validation during training through the Predictor: the held-out score a user would get, not a window monitor.

`train.validation` scores the centred ROI windows of the validation cases (the trainer's built-in monitor);
`PredictorValidation` is a trainer validator (`TrainOptions.validator`): every `train.val_every` iterations it
runs the live network through `Predictor` (`predict_grid` on each case's whole window: the tiling, TTA rule
and padding handling of `atrialjsq predict`) and returns the mean LA Dice (threshold 0.5, largest component)
and, for a joint network on cases with a wall band, the scar Dice inside the true band (p_scar > p_normal),
the monitor's definition; `score` is their mean. The trainer writes them to val.csv and keeps best.pt by
`score`. `atrialjsq train` validates this way. It lives here because the trainer may not import `infer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from atrialjsq.infer.localize import largest_component
from atrialjsq.infer.predictor import Network, Predictor
from atrialjsq.io.geometry import Geometry, triple
from atrialjsq.model.modes import evaluation_mode
from atrialjsq.train.ddp import unwrap
from atrialjsq.train.trainer import Trainer
from atrialjsq.train.validation import dice, nanmean


@dataclass
class ValidationCase:
    """A held-out case on the network's grid: its normalised image, LA label and (optionally) wall band
    (0 outside, 1 normal wall, 2 scar; `data.targets`), all of one shape."""

    case_id: str
    normalised: np.ndarray
    la: np.ndarray
    grid: Geometry
    band: np.ndarray | None = None

    @classmethod
    def from_arrays(cls, case_id: str, arrays: Mapping[str, np.ndarray], spacing: Sequence[float]) -> ValidationCase:
        """From a cached case's trainer arrays ("image", "la", optional "band"). A case whose scar is unknown
        (`scar_known` = 0: no scar label) has no scar score: its band would call every predicted scar false."""
        image = np.asarray(arrays["image"], dtype=np.float32)
        band = arrays.get("band")
        if float(np.asarray(arrays.get("scar_known", 1.0))) == 0.0:
            band = None
        grid = Geometry(triple(image.shape), triple(float(s) for s in spacing))
        return cls(case_id, image, np.asarray(arrays["la"]), grid, None if band is None else np.asarray(band))


class PredictorValidation:
    """Mean LA (and band scar) Dice of the live network on `cases` through the Predictor."""

    def __init__(self, cases: Sequence[ValidationCase], tta: bool = False) -> None:
        if not cases:
            raise ValueError("validation through the Predictor needs at least one case")
        self.cases, self.tta = list(cases), tta

    def __call__(self, trainer: Trainer) -> dict[str, float]:
        model = unwrap(trainer.model)
        la_scores, scar_scores = [], []
        with evaluation_mode(model), torch.no_grad():
            network = Network.live(model, trainer.config, trainer.autocast_dtype)
            predictor = Predictor(network, None, tta=self.tta, channels_last=False)
            for case in self.cases:
                maps = predictor.predict_grid(case.normalised, case.grid)
                la_scores.append(dice(largest_component(maps["la"] > 0.5), case.la > 0))
                if case.band is not None and "scar" in maps:
                    in_band = case.band > 0
                    scar_scores.append(dice((maps["scar"] > maps["normal"]) & in_band, case.band == 2))
        la, scar = nanmean(la_scores), nanmean(scar_scores)
        return {"la_dice": la, "scar_dice": scar, "score": nanmean([la, scar])}
