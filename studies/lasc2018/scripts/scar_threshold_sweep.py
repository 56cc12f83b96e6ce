"""Would another decision threshold on the network's scar probability help? Dice_s of fold runs at several.

    python studies/lasc2018/scripts/scar_threshold_sweep.py OUT.csv PREDICTIONS.npz... [--compact FILE]

`predict` calls a surface element scar where Σp_scar / (Σp_scar + Σp_normal) along its normal is above 0.5
(`quantify.surface_scar.compare_probabilities`). This scores each held-out case of the given predictions files
(one per fold, from `python -m studies.lasc2018 cv`) on its injected scar at other thresholds, on the network's own
LA, exactly as `score-scar` scores the 0.5 rule, and prints the mean Dice_s per fold and threshold, and the
leave-one-fold-out choice (each fold scored at the threshold that was best on the other folds).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from studies.lasc2018 import scar as study
from studies.lasc2018.compact import load_compact

from atrialjsq.io.atomic import atomic_path
from atrialjsq.quantify.surface_scar import compare_probabilities, scar_in_band, surface_sampler

THRESHOLDS = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("predictions", type=Path, nargs="+")
    parser.add_argument("--compact", type=Path, default=Path("devdata/lasc_150_scar.npz"))
    args = parser.parse_args(argv)
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
            for threshold in THRESHOLDS:
                metrics = study._row(case, la, scar_in_band(sampler, probability > threshold) > 0)
                rows.append(
                    {
                        "fold": fold,
                        "case": case_id,
                        "threshold": threshold,
                        **{k: round(float(metrics[k]), 5) for k in ("Dice_s", "Accuracy", "scar_pct_error")},
                    }
                )
    with atomic_path(args.out) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    means: dict[tuple[int, float], list[float]] = defaultdict(list)
    for row in rows:
        means[(row["fold"], row["threshold"])].append(row["Dice_s"])
    folds = sorted({row["fold"] for row in rows})
    print("fold " + " ".join(f"{t:>6}" for t in THRESHOLDS))
    for fold in folds:
        print(f"{fold:>4} " + " ".join(f"{np.mean(means[(fold, t)]):6.3f}" for t in THRESHOLDS))
    chosen = []
    for fold in folds:
        others = {
            t: np.mean([d for (f, tt), v in means.items() if f != fold and tt == t for d in v]) for t in THRESHOLDS
        }
        best = max(others, key=others.__getitem__)
        chosen += means[(fold, best)]
        print(f"fold {fold}: threshold {best} (best on the other folds)")
    print(f"leave-one-fold-out Dice_s {np.mean(chosen):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
