"""Does the scar head find a scar pattern it never saw? Dice_s per synthetic pattern on a fold's held-out cases.

    python studies/lasc2018/scripts/pattern_generalisation.py OUT.csv COMPACT.npz FOLDS.json FOLD \
        NAME=MODEL.pt [NAME=MODEL.pt ...]
        [--draws 2] [--cases N]

Each held-out case of the fold (the original images of the compact file, no injected scar) gets `--draws` fresh
scar draws of every pattern (`phantom.scar.PATTERNS`, drawn by `train.scar_synthesis` as in training, seeds fixed
so every model sees the same draws). Each model predicts the drawn window through the Predictor (`predict_grid`, as
cross-validation does); its scar on the surface is scored against the drawn scar with the paper's surface metrics
on the network's grid, given the manual LA (Dice_s, scar % error). Train one model with
`--set 'train.synthetic_scar_exclude=["rings"]'` and compare it with one that saw every pattern: the held-out
pattern's row, next to the patterns both saw, is the generalisation figure. Numbers only.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from atrialjsq.evaluate.scar_metrics import scar_metrics
from atrialjsq.infer.predictor import Predictor
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.volume import Volume
from atrialjsq.phantom.scar import PATTERNS
from atrialjsq.quantify.surface_scar import scar_from_probabilities
from atrialjsq.train.scar_synthesis import SynthesisRanges, build_wall_cache, synthesise

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018.compact import load_compact, trainer_arrays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("compact", type=Path)
    parser.add_argument("folds", type=Path)
    parser.add_argument("fold", type=int)
    parser.add_argument("models", nargs="+", help="NAME=MODEL.pt")
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--cases", type=int, default=None, help="only the first N held-out cases")
    args = parser.parse_args(argv)
    models = dict(item.split("=", 1) for item in args.models)
    predictors = {name: Predictor.from_checkpoint(path, "cpu") for name, path in models.items()}
    spacing = next(iter(predictors.values())).fine.spacing
    data = load_compact(args.compact)
    held_out = json.loads(args.folds.read_text())["folds"][args.fold]["val"][: args.cases]
    window = tuple(int(n) for n in next(iter(predictors.values())).fine.config.data.roi)
    margin = tuple(int(m) for m in next(iter(predictors.values())).fine.config.data.margin)
    size = tuple(r + 2 * m for r, m in zip(window, margin, strict=True))
    rows = []
    for case_number, case_id in enumerate(held_out):
        arrays = trainer_arrays(data.case(case_id), size, spacing, joint=True)
        wall = build_wall_cache(arrays["image"], arrays["la"], arrays["band"], spacing, seed=case_number)
        grid = Geometry(size, spacing)
        la = Volume(arrays["la"], grid)
        for pattern in PATTERNS:
            ranges = SynthesisRanges(patterns=(pattern,), scar_free=0.0, burden=(0.1, 0.35))
            for draw_number in range(args.draws):
                rng = np.random.default_rng([case_number, PATTERNS.index(pattern), draw_number])
                draw = synthesise(arrays, wall, rng, ranges)
                for name, predictor in predictors.items():
                    maps = predictor.predict_grid(draw.arrays["image"], grid)
                    result = scar_from_probabilities(la, Volume(maps["normal"], grid), Volume(maps["scar"], grid))
                    metrics = scar_metrics(arrays["la"] > 0, draw.scar, result.scar.array > 0, spacing)
                    rows.append(
                        {
                            "model": name,
                            "case": case_id,
                            "pattern": pattern,
                            "draw": draw_number,
                            "burden": round(draw.params["burden_measured"], 4),
                            "iir": round(draw.params["iir"], 3),
                            "Dice_s": round(metrics["Dice_s"], 4),
                            "scar_pct_manual": round(metrics["scar_pct_manual"], 3),
                            "scar_pct_auto": round(metrics["scar_pct_auto"], 3),
                        }
                    )
        print(f"{case_id}: done", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name in models:
        line = ", ".join(
            f"{p} {np.mean([r['Dice_s'] for r in rows if r['model'] == name and r['pattern'] == p]):.3f}"
            for p in PATTERNS
        )
        print(f"{name}: Dice_s {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
