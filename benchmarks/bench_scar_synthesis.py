"""Cost of synthetic scar in training: one draw, and the trainer's step with and without it, in the same run.

    python benchmarks/bench_scar_synthesis.py --compact devdata/lasc_150.npz --json out.json   # real LA walls
    python benchmarks/bench_scar_synthesis.py                                               # built-in atria

The trainers use the same config (ajsq-sesa-cpu: 1.5 mm, 80x64x64 windows, batch 2) and the same cases, all
unlabelled: `without` trains them as acquired (LA terms only), `with` draws fresh scar into 70 % of the samples
(prefetched in a thread during the previous step, as in training), and `fixed` is `with` whose draws are made
once per case and reused (the same samples get scar, the same scar loss terms run: the recipe before the
augmentation, one injected draw per case). So with/without is what a joint model with synthetic scar costs over
LA-only training, and with/fixed what drawing it afresh costs. Steps run in alternating blocks (A B C A B C
...), so that drift in the machine's load hits all; the figures are ratios of the medians. Goal: under 1.15.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from atrialjsq.data.targets import compute_targets
from atrialjsq.model.configs import get_config
from atrialjsq.train.scar_synthesis import SynthesisRanges, build_wall_cache, synthesise
from atrialjsq.train.trainer import Trainer, TrainOptions

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import machine


def built_in_atrium(shape: tuple[int, int, int], seed: int) -> dict[str, np.ndarray]:
    """An ellipsoid LA with four vein bumps, bright blood over darker tissue, and its (scar-free) targets."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * 1.5 for n in shape], indexing="ij")
    la = (grids[0] / 30) ** 2 + (grids[1] / 22) ** 2 + (grids[2] / 22) ** 2 <= 1
    for sign_x in (-1, 1):
        for sign_z in (-1, 1):
            centre = (sign_x * 24, 10.0, sign_z * 14)
            la |= sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True)) <= 7.0**2
    image = np.where(la, 2.0, 0.4) + rng.normal(0, 0.2, shape)
    targets = compute_targets(la.astype(np.uint8), None, (1.5, 1.5, 1.5))
    keys = ("phi_la", "band", "phi_normal", "phi_scar")
    return {"image": image.astype(np.float32), "la": la.astype(np.uint8), **{k: targets[k] for k in keys}}


def load_cases(compact: str | None, n: int, window: tuple[int, int, int]) -> tuple[list[dict], str]:
    if compact is None:
        return [built_in_atrium(window, seed) for seed in range(n)], "built-in atria"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: studies/ is not installed
    from studies.lasc2018.compact import load_compact, trainer_arrays

    data = load_compact(compact)
    cases = [trainer_arrays(data.case(i), window, data.spacing, joint=True) for i in data.case_ids[:n]]
    return cases, f"{n} cases of {Path(compact).name}"


class FixedDraws:
    """A synthesizer's stand-in that hands out one draw per case, made before the timing starts: the same samples
    get scar (its `wants`), without the cost of drawing."""

    def __init__(self, synthesizer, cases: list[dict[str, np.ndarray]]) -> None:
        self.synthesizer = synthesizer
        self.walls = synthesizer.walls
        rng = np.random.default_rng(1)
        self.made = {i: synthesise(cases[i], wall, rng, synthesizer.ranges) for i, wall in self.walls.items()}

    def __len__(self) -> int:
        return len(self.synthesizer)

    def sample(self, case_index: int, arrays, seed: int):
        wanted = self.synthesizer.wants(case_index, self.synthesizer.sample_rng(seed))
        return self.made[case_index] if wanted else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compact", help="compact file of real cases (their own LA walls); default built-in atria")
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--blocks", type=int, default=4, help="alternating blocks per trainer")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per block (after one untimed)")
    parser.add_argument("--draws", type=int, default=40, help="single draws timed")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)

    config = get_config("ajsq-sesa-cpu")
    window = tuple(r + 2 * m for r, m in zip(config.data.roi, config.data.margin, strict=True))
    cases, source = load_cases(args.compact, args.cases, window)
    for case in cases:
        case["scar_known"] = np.array(0.0, np.float32)

    spacing = config.data.spacing
    walls = [build_wall_cache(c["image"], c["la"], c["band"], spacing, seed=i) for i, c in enumerate(cases)]
    rng = np.random.default_rng(0)
    draw_seconds = []
    for k in range(args.draws):
        index = k % len(cases)
        start = time.perf_counter()
        synthesise(cases[index], walls[index], rng, SynthesisRanges())
        draw_seconds.append(time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        trainers = {}
        for name in ("without", "with", "fixed"):
            share = 0.0 if name == "without" else config.train.synthetic_scar
            run_config = get_config("ajsq-sesa-cpu", train={"synthetic_scar": share})
            trainers[name] = Trainer(run_config, cases, None, Path(tmp) / name, TrainOptions(progress=False))
            if name == "fixed":
                trainers[name].synthesizer = FixedDraws(trainers[name].synthesizer, cases)
        times: dict[str, list[float]] = {name: [] for name in trainers}
        iteration = 0
        for _ in range(args.blocks):
            for name, trainer in trainers.items():
                trainer.step(iteration)  # untimed: the block's first step has no prefetched draws
                for k in range(args.steps):
                    start = time.perf_counter()
                    trainer.step(iteration + 1 + k)
                    times[name].append(time.perf_counter() - start)
            iteration += args.steps + 1
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "machine": machine(torch.device("cpu")),
        "data": source,
        "draw_ms_median": round(1000 * statistics.median(draw_seconds), 1),
        "draw_ms_max": round(1000 * max(draw_seconds), 1),
        "step_s_without": round(medians["without"], 4),
        "step_s_with": round(medians["with"], 4),
        "step_s_fixed": round(medians["fixed"], 4),
        "ratio": round(medians["with"] / medians["without"], 3),
        "ratio_to_fixed": round(medians["with"] / medians["fixed"], 3),
        "steps_timed_each": len(times["with"]),
        "config": "ajsq-sesa-cpu",
    }
    for key, value in result.items():
        print(f"{key}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
