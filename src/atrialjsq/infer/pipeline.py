"""Files in, case folders out: read → predict → scar on the surface → every output of `report.outputs`.

Each case is written atomically to `<out>/<case_id>/`, so a case that fails (missing file, 2D or 4D image,
NaN values, no LA found) leaves no folder behind. The other cases are still processed: one bad file in a batch
of hundreds should not cost the rest. The caller exits 1 at the end when any case failed.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from atrialjsq.errors import InputError
from atrialjsq.infer.inputs import InputCase
from atrialjsq.infer.predictor import Prediction, Predictor


@dataclass
class CaseOutcome:
    """What happened to one input: its folder and headline numbers, or the one-line error."""

    case_id: str
    source: str
    out_dir: Path | None = None
    burden: Any = None  # atrialjsq.quantify.burden.Burden
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def resolve_device(requested: str | None = None) -> str:
    """The torch device to use: cpu, or cuda[:LOCAL_RANK] (one GPU per torchrun process); None = CUDA if present."""
    import os

    import torch

    if requested is None:
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(None, "--device cuda was requested but no CUDA device is available")
        if requested == "cuda" and "LOCAL_RANK" in os.environ:
            return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    elif requested != "cpu":
        raise InputError(None, f"unknown device {requested!r} (use cpu or cuda)")
    return requested


def predict_case(
    predictor: Predictor,
    case: InputCase,
    out_root: str | Path,
    *,
    probability_maps: bool = False,
    figure: bool = True,
) -> CaseOutcome:
    """Predict one input and write `<out_root>/<case_id>/`; InputError for anything wrong with the input."""
    from atrialjsq.quantify.surface_scar import scar_from_probabilities
    from atrialjsq.report.outputs import write_case_outputs

    started = time.perf_counter()
    image = case.read()
    read_s = time.perf_counter() - started
    prediction = predictor.predict_volume(image, source=str(case.path))
    if not prediction.la.array.any():
        raise InputError(case.path, "no LA found: no voxel has an LA probability above 0.5")
    quantify_started = time.perf_counter()
    result = scar_from_probabilities(prediction.la, prediction.p_normal, prediction.p_scar)
    timings = {"read": read_s, **prediction.timings, "quantify": time.perf_counter() - quantify_started}
    out_dir = Path(out_root) / case.case_id
    burden = write_case_outputs(
        out_dir,
        image,
        result,
        _report_extra(predictor, case, prediction, timings),
        _probability_maps(prediction) if probability_maps else None,
        figure=figure,
    )
    timings["total"] = time.perf_counter() - started
    return CaseOutcome(case.case_id, str(case.path), out_dir, burden, None, timings)


def _probability_maps(prediction: Prediction) -> dict[str, Any]:
    return {"la": prediction.la_prob, "normal": prediction.p_normal, "scar": prediction.p_scar}


def _report_extra(predictor: Predictor, case: InputCase, prediction: Prediction, timings: dict) -> dict[str, Any]:
    localization = prediction.localization
    return {
        "method": "ajsqnet",
        "model": predictor.info.get("name", "?"),
        "model_version": predictor.info.get("version", ""),
        "inputs": {"image": str(case.path)},
        "timings": {key: round(float(value), 4) for key, value in timings.items()},
        "prediction": {
            "crop": predictor.crop,
            "tta": predictor.tta,
            "device": str(predictor.fine.device),
            "localized": localization.found,
            "la_centre_mm": list(localization.centre_mm),
        },
    }


def predict_cases(
    predictor: Predictor,
    cases: list[InputCase],
    out_root: str | Path,
    *,
    probability_maps: bool = False,
    figure: bool = True,
    progress: bool = True,
    errors_to: TextIO | None = None,
) -> list[CaseOutcome]:
    """Predict every case in turn with a progress bar; failures are printed as `error: <path>: <reason>`."""
    errors_to = errors_to or sys.stderr
    outcomes = []
    bar = tqdm(cases, desc="predict", unit="case", disable=not progress or len(cases) < 2, file=sys.stderr)
    for case in bar:
        bar.set_postfix_str(case.case_id)
        try:
            outcome = predict_case(predictor, case, out_root, probability_maps=probability_maps, figure=figure)
        except InputError as error:
            tqdm.write(f"error: {error}", file=errors_to)
            outcome = CaseOutcome(case.case_id, str(case.path), error=str(error))
        outcomes.append(outcome)
    return outcomes
