"""Score a model file on LASC 2018 cases exactly as a user runs it: `Predictor` on the native image, no label used.

Each case is read from the release (`lasc2018-h5` layout, native grid, 0.625×0.625×1.25 mm unless told
otherwise), predicted by `infer.predictor.Predictor` (what `atrialjsq predict` runs: the whole volume tiled
when the model has no localiser, probabilities resampled back onto the native grid, largest component) and
compared with its expert label by `evaluate.la_metrics` (distances in voxels of the native grid, as the
literature on this release reports, and in mm). Outputs: per_case.csv, summary.json, summary.md.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from atrialjsq.errors import InputError
from atrialjsq.evaluate.statistics import mean_sd_text, summary_stats
from atrialjsq.io.atomic import atomic_path, write_json
from studies.lasc2018.scoring import ALL_METRICS, REPORTED, _strict, _write_csv, table_number


def score_model(
    model: str | Path | None,
    src: str | Path,
    case_ids: Sequence[str] | None,
    out: str | Path,
    *,
    device: str = "cpu",
    tta: bool = False,
    native_spacing=None,
    progress: bool = True,
) -> dict[str, Any]:
    """Predict and score `case_ids` of the release at `src` (all when None) with `model`; write `out`."""
    from atrialjsq.data.layouts import index_dataset, load_case
    from atrialjsq.evaluate.la_metrics import la_metrics
    from atrialjsq.infer.predictor import Predictor

    refs = {ref.case_id: ref for ref in index_dataset(src, layout="lasc2018-h5", spacing=native_spacing)}
    wanted = list(refs) if case_ids is None else list(case_ids)
    missing = [case_id for case_id in wanted if case_id not in refs]
    if missing:
        raise InputError(src, f"no case(s) {', '.join(missing)} in this release")
    predictor = Predictor.from_checkpoint(None if model is None else str(model), device, tta=tta)
    rows = []
    for case_id in tqdm(wanted, desc="score model", unit="case", disable=None if progress else True):
        case = load_case(refs[case_id])
        start = time.perf_counter()
        prediction = predictor.predict_volume(case.image, case_id)
        seconds = time.perf_counter() - start
        if prediction.la is None:
            raise InputError(model, "scoring the LA needs a model with an LA head")
        metrics = la_metrics(prediction.la.array > 0, case.labels["la"].array > 0, case.image.geometry.spacing)
        rows.append({"case": case_id, **{name: metrics[name] for name in ALL_METRICS}, "seconds": round(seconds, 3)})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(rows, out / "per_case.csv")
    overall = {name: summary_stats([row[name] for row in rows]) for name in (*ALL_METRICS, "seconds")}
    summary = {
        "model": predictor.info.get("name"),
        "model_path": predictor.info.get("path"),
        "cases": wanted,
        "tta": tta,
        "spacing_mm": list(next(iter(refs.values())).spacing or ()),
        "overall": overall,
    }
    write_json(out / "summary.json", _strict(summary), strict=True)
    cells = [mean_sd_text(overall[name], partial(table_number, name)) for name in REPORTED]
    table = "| cases | " + " | ".join(REPORTED) + " |\n|" + " ---: |" * (1 + len(REPORTED)) + "\n"
    table += f"| {len(rows)} | " + " | ".join(cells) + " |\n"
    with atomic_path(out / "summary.md") as tmp:
        tmp.write_text(table)
    return summary
