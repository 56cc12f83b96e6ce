"""Predict a finished fold's held-out cases again with other predictor options (mirroring TTA), for score-scar.

    python studies/lasc2018/scripts/predict_fold.py RUN FOLD OUT.npz [--tta] [--compact devdata/lasc_150_scar.npz]

RUN is a `python -m studies.lasc2018 cv` output folder; its fold<FOLD>/last.pt predicts the fold's held-out cases
on the compact window, as the cv command does after training, and OUT.npz is a predictions file of the same
format (`score-scar --network NAME=OUT.npz`). Prints the seconds per case of the network, the cost TTA adds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from studies.lasc2018.compact import load_compact
from studies.lasc2018.cross_validation import predict_case, write_predictions

from atrialjsq.errors import InputError
from atrialjsq.experiments.kfold import CrossValidation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("fold", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tta", action="store_true", help="mirroring TTA over the axes flipped in training")
    parser.add_argument("--compact", type=Path, default=Path("devdata/lasc_150_scar.npz"))
    args = parser.parse_args(argv)
    folds_file = args.run / "folds.json"
    if not folds_file.is_file():
        print(f"error: {folds_file}: no such file (not a cv output folder)", file=sys.stderr)
        return 1
    folds = json.loads(folds_file.read_text())
    if not 0 <= args.fold < len(folds["folds"]):
        print(f"error: {folds_file}: no fold {args.fold} (it has 0..{len(folds['folds']) - 1})", file=sys.stderr)
        return 1
    held_out = folds["folds"][args.fold]["val"]
    compact = load_compact(args.compact, ids=held_out)
    every = sorted({case for fold in folds["folds"] for case in (*fold["train"], *fold["val"])})
    cv = CrossValidation(args.run, every, len(folds["folds"]), folds.get("seed", 0), device="cpu")
    fold = next(f for f in cv.select([args.fold]))
    try:
        predictor = cv.predictor(fold, tta=args.tta)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    maps, seconds = {}, []
    for case_id in held_out:
        started = time.perf_counter()
        maps[case_id] = predict_case(predictor, compact.case(case_id))
        seconds.append(time.perf_counter() - started)
    header = {"fold": args.fold, "tta": args.tta, "compact": str(args.compact), "run": str(args.run)}
    write_predictions(args.out, maps, {**header, "seconds_per_case": sum(seconds) / len(seconds)})
    print(json.dumps({**header, "cases": len(maps), "seconds_per_case": round(sum(seconds) / len(seconds), 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
