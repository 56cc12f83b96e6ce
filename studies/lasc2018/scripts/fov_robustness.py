"""Does a model keep its LA when the scan's field of view is wider than its training crops? LASC 2018's images are
crops around the LA; a clinical scan holds air around the chest. Each held-out case is padded in x and y to
`width` times its size, with air-like Rician noise (sigma = the case's 5th intensity percentile above its minimum:
the lungs' level and spread) or with a constant (its minimum: zero-filling), and predicted by `predict`'s path.

    PYTHONPATH=. python studies/lasc2018/scripts/fov_robustness.py OUT.csv --model NAME=BUNDLE.pt [...] \
        --folds runs/x/folds.json --fold 0 [--widths 1.4 1.7 2.0] [--fill noise constant] [--data LASC2018_DIR]

One row per model, case, width and fill: LA Dice inside the original crop, the share of the predicted LA in the
padding, and whether `predict` would refuse to stage the scan for its field of view (`infer.domain`).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from atrialjsq.data.layouts import index_dataset, load_case
from atrialjsq.infer.domain import out_of_domain_warnings
from atrialjsq.infer.predictor import Predictor
from atrialjsq.io import Geometry, Volume
from atrialjsq.io.atomic import atomic_path
from atrialjsq.io.geometry import triple


def widened(image: Volume, width: float, fill: str, seed: int) -> tuple[Volume, tuple[slice, slice, slice]]:
    """`image` padded in x and y to `width` times its size; the index box of the original inside."""
    array = np.asarray(image.array, dtype=np.float32)
    pad = [(round(n * (width - 1) / 2),) * 2 for n in array.shape[:2]] + [(0, 0)]
    low = float(array.min())
    big = np.pad(array, pad, constant_values=low)
    inner = triple(slice(p[0], p[0] + n) for p, n in zip(pad, array.shape, strict=True))
    if fill == "noise":
        rng = np.random.default_rng(seed)
        sigma = float(np.percentile(array, 5)) - low
        air = np.hypot(rng.normal(0, sigma, big.shape), rng.normal(0, sigma, big.shape)) + low
        outside = np.ones(big.shape, dtype=bool)
        outside[inner] = False
        big = np.where(outside, air, big).astype(np.float32)
    g = image.geometry
    origin = tuple(g.index_to_physical(-np.array([p[0] for p in pad], dtype=float)))
    return Volume(big, Geometry(big.shape, g.spacing, origin, g.direction)), inner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", action="append", required=True, help="NAME=BUNDLE.pt (repeatable)")
    parser.add_argument("--folds", type=Path, required=True)
    parser.add_argument("--fold", type=int, required=True)
    parser.add_argument("--widths", type=float, nargs="+", default=[1.4, 1.7, 2.0])
    parser.add_argument("--fill", nargs="+", choices=("noise", "constant"), default=["noise"])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/lasc2018"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    malformed = [item for item in args.model if "=" not in item]
    if malformed:
        print(f"error: --model {malformed[0]}: give NAME=BUNDLE.pt", file=sys.stderr)
        return 1
    models = dict(item.split("=", 1) for item in args.model)
    missing = [path for path in (*models.values(), args.folds) if not Path(path).is_file()]
    if missing:
        print(f"error: {missing[0]}: no such file", file=sys.stderr)
        return 1
    if any(width < 1 for width in args.widths):
        print("error: --widths: a width is a factor of at least 1", file=sys.stderr)
        return 1
    folds = json.loads(args.folds.read_text())["folds"]
    if not 0 <= args.fold < len(folds) or not folds[args.fold]["val"]:
        print(f"error: {args.folds}: no held-out cases in fold {args.fold}", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    held_out = folds[args.fold]["val"]
    refs = {ref.case_id: ref for ref in index_dataset(args.data, layout="lasc2018-h5")}
    predictors = {name: Predictor.from_checkpoint(path, "cpu") for name, path in models.items()}
    for name, predictor in predictors.items():
        if not predictor.info["meta"].get("max_field_of_view_mm"):
            print(f"note: {name} records no max_field_of_view_mm: its fov_refused is always False", file=sys.stderr)
    rows = []
    jobs = [(case_id, width, fill) for case_id in held_out for width in args.widths for fill in args.fill]
    for number, (case_id, width, fill) in enumerate(tqdm(jobs, desc="fov", unit="scan", disable=None)):
        case = load_case(refs[case_id])
        truth = case.labels["la"].array > 0
        big, inner = widened(case.image, width, fill, seed=number)
        for name, predictor in predictors.items():
            prediction = predictor.predict_volume(big)
            assert prediction.la is not None
            la = prediction.la.array > 0
            inside = la[inner]
            total = max(int(la.sum()), 1)
            warnings = out_of_domain_warnings(
                predictor.info["meta"], name, None, big.geometry.spacing, prediction.field_of_view_mm
            )
            rows.append(
                {
                    "model": name,
                    "case": case_id,
                    "width": width,
                    "fill": fill,
                    "dice_inside": round(2 * np.count_nonzero(inside & truth) / (inside.sum() + truth.sum()), 4),
                    "la_in_padding": round(1 - int(inside.sum()) / total, 4),
                    "fov_refused": any("field of view" in warning for warning in warnings),
                }
            )
    with atomic_path(args.out) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name in models:
        for width in args.widths:
            for fill in args.fill:
                dice = [r["dice_inside"] for r in rows if (r["model"], r["width"], r["fill"]) == (name, width, fill)]
                lost = sum(d < 0.5 for d in dice)
                summary = f"median Dice {np.median(dice):.3f}, LA lost in {lost}/{len(dice)}"
                print(f"{name:>10} width {width:4} {fill:>8}: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
