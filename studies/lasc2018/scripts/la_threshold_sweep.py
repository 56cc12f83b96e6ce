"""Is the LA's 0.5 cut the right one? Held-out LA Dice and volume bias at other cuts of p_LA, on the native grid.

    python studies/lasc2018/scripts/la_threshold_sweep.py MODEL.pt DATA_DIR FOLDS.json FOLD OUT.csv \
        [--thresholds 0.3 0.4 0.5 0.6 0.7]

For each held-out case of the fold, `predict`'s path (`Predictor.predict_volume`: the probabilities resampled onto
the native grid) once, then at every cut the largest component of p_LA > cut, as `predict` makes the LA at 0.5,
scored against the expert label: Dice, HD95 in voxels and the predicted volume over the manual one. A cut is worth
changing only if it wins on folds it was not chosen on. Numbers only; no image data leaves the machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from atrialjsq.infer.localize import largest_component
from atrialjsq.infer.predictor import Predictor

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018.held_out import add_held_out_arguments, held_out_predictions, la_scores, run_script, write_rows


def sweep_case(probability: np.ndarray, manual: np.ndarray, spacing, thresholds: list[float]) -> list[dict]:
    """One row per cut: the largest component of `probability > cut` against `manual`."""
    rows = []
    for cut in thresholds:
        mask = largest_component(probability > cut)
        ratio = round(float(np.count_nonzero(mask)) / float(np.count_nonzero(manual)), 5)
        rows.append({"threshold": cut, **la_scores(mask, manual, spacing), "volume_ratio": ratio})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_held_out_arguments(parser)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7])
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    predictor = Predictor.from_checkpoint(args.model, "cpu")
    rows = []
    for ref, case, prediction in held_out_predictions(args, predictor):
        assert prediction.la_prob is not None, "the model has no LA head"
        manual = case.labels["la"].array > 0
        for row in sweep_case(prediction.la_prob.array, manual, case.image.geometry.spacing, args.thresholds):
            rows.append({"case": ref.case_id, "fold": args.fold, **row})
    write_rows(args.out, rows)
    for cut in args.thresholds:
        at = [row for row in rows if row["threshold"] == cut]
        dice = np.mean([row["Dice_LA"] for row in at])
        ratio = np.median([row["volume_ratio"] for row in at])
        print(f"cut {cut:.2f}: Dice {dice:.4f}, median volume ratio {ratio:.3f} ({len(at)} cases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
