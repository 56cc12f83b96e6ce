"""Would another decision threshold on the network's scar probability help, or a graph cut on the surface?
Dice_s of fold runs at several thresholds and Potts smoothness weights.

    python studies/lasc2018/scripts/scar_threshold_sweep.py OUT.csv PREDICTIONS.npz... [--compact FILE]
        [--smoothness 0 0.5 1 ...]

`predict` calls a surface element scar where Σp_scar / (Σp_scar + Σp_normal) along its normal is above 0.5
(`quantify.surface_scar.compare_probabilities`). This scores each held-out case of the given predictions files
(one per fold, from `python -m studies.lasc2018 cv`) on its injected scar at other thresholds, on the network's own
LA, exactly as `score-scar` scores the 0.5 rule, and prints the mean Dice_s per fold and threshold, and the
leave-one-fold-out choice (each fold scored at the setting that was best on the other folds).
With `--smoothness λ...` each threshold t is also tried with a graph cut on the surface voxels' 26-neighbour
graph (`quantify.learngc.graph_cut`, the probability shifted so that t maps to 0.5): spatially coherent scar,
as LearnGC regularises its classifier.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from atrialjsq.io.atomic import atomic_path
from atrialjsq.quantify.learngc import graph_cut, voxel_edges
from atrialjsq.quantify.surface_scar import compare_probabilities, scar_in_band, surface_sampler

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018 import scar as study
from studies.lasc2018.compact import load_compact

THRESHOLDS = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("predictions", type=Path, nargs="+")
    parser.add_argument("--compact", type=Path, default=Path("devdata/lasc_150_scar.npz"))
    parser.add_argument("--smoothness", type=float, nargs="+", default=[0.0])
    args = parser.parse_args(argv)
    if any(smoothness < 0 for smoothness in args.smoothness):
        print("error: --smoothness: the Potts weights must be >= 0", file=sys.stderr)
        return 1
    missing = [path for path in (*args.predictions, args.compact) if not path.is_file()]
    if missing:
        print(f"error: {missing[0]}: no such file", file=sys.stderr)
        return 1
    rows = []
    for fold, path in enumerate(args.predictions):
        run = study._load_runs([path])
        compact = load_compact(args.compact, ids=sorted(run))
        for case_id in sorted(run):
            case, maps = compact.case(case_id), run[case_id]
            la = study._predicted_la(case, maps["la"])
            sampler = surface_sampler(la)
            volumes = {
                name: study._on_native(case, maps[name]).array.astype(np.float32) for name in ("p_normal", "p_scar")
            }
            probability = compare_probabilities({name: sampler.profiles(v, order=1)[0] for name, v in volumes.items()})[
                0
            ]
            edges = voxel_edges(sampler.points)
            logit = np.log(np.clip(probability, 1e-6, 1 - 1e-6) / np.clip(1 - probability, 1e-6, 1))
            for threshold in THRESHOLDS:
                for smoothness in args.smoothness:
                    if smoothness > 0:
                        shifted = 1 / (1 + np.exp(-(logit - np.log(threshold / (1 - threshold)))))
                        label = graph_cut(shifted, edges, smoothness)
                    else:
                        label = probability > threshold
                    metrics = study._row(case, la, scar_in_band(sampler, label) > 0)
                    rows.append(
                        {
                            "fold": fold,
                            "case": case_id,
                            "threshold": threshold,
                            "smoothness": smoothness,
                            **{k: round(float(metrics[k]), 5) for k in ("Dice_s", "Accuracy", "scar_pct_error")},
                        }
                    )
    with atomic_path(args.out) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    settings = [(t, lam) for t in THRESHOLDS for lam in args.smoothness]
    means: dict[tuple[int, tuple[float, float]], list[float]] = defaultdict(list)
    for row in rows:
        means[(row["fold"], (row["threshold"], row["smoothness"]))].append(row["Dice_s"])
    folds = sorted({row["fold"] for row in rows})
    print("threshold smoothness " + " ".join(f"fold{fold}" for fold in folds) + "  pooled")
    for setting in settings:
        per_fold = [np.mean(means[(fold, setting)]) for fold in folds]
        pooled = np.mean([d for fold in folds for d in means[(fold, setting)]])
        print(f"{setting[0]:9} {setting[1]:10} " + " ".join(f"{m:5.3f}" for m in per_fold) + f"  {pooled:.3f}")
    chosen = []
    for fold in folds:
        others = {
            setting: np.mean([d for (f, st), v in means.items() if f != fold and st == setting for d in v])
            for setting in settings
        }
        best = max(others, key=others.__getitem__)
        chosen += means[(fold, best)]
        print(f"fold {fold}: threshold {best[0]}, smoothness {best[1]} (best on the other folds)")
    print(f"leave-one-fold-out Dice_s {np.mean(chosen):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
