"""Would a second look at the LA lift held-out Dice? A feasibility study of a two-stage (auto-context) LA.

    PYTHONPATH=. python studies/lasc2018/scripts/la_refine_study.py COMPACT.npz OUT_DIR \
        --train-predictions runs/real132long2/fold2/predictions.npz runs/real132long3/fold3/predictions.npz \
        --test-predictions runs/real132long1/fold1/predictions.npz --seconds 2400

The shipped network fits its own training scans' LA to 94 % and held-out ones to 91-92 % on a 1.5 mm grid that
allows 98 %. A second, small U-Net sees the scan's compact window *and* the first network's p_LA and predicts a
correction to its logit (residual: it starts as the identity), as nnU-Net's cascade and auto-context do. Its
training inputs must look like held-out first-stage output, not the 94 % training fit, so it trains only on cases
whose p_LA came from a fold model that never saw them (the `--train-predictions` files: other folds' held-out
predictions), and it is tested on another fold's held-out cases, whose p_LA came from that fold's model, so
neither stage saw a test case. Scored as `predict` scores the LA: the largest component of p > 0.5, on the
compact 1.5 mm window and on the native grid, against the expert label, paired by case against the first stage.

Writes OUT_DIR/per_case.csv, summary.json and log.csv (numbers only; no image data leaves the machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import wilcoxon
from tqdm import tqdm

from atrialjsq.data.preprocess import resample_to_geometry
from atrialjsq.evaluate.la_metrics import la_metrics
from atrialjsq.infer.localize import largest_component
from atrialjsq.io.atomic import write_json
from atrialjsq.io.volume import Volume
from atrialjsq.losses.bce import bce_loss
from atrialjsq.losses.dice import soft_dice_loss
from atrialjsq.model.configs import ModelConfig
from atrialjsq.model.unet import AtrialJSQNet

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018.compact import CompactCase, load_compact
from studies.lasc2018.cross_validation import read_predictions
from studies.lasc2018.held_out import run_script, write_rows

MULTIPLE = 8  # the refiner's 4 levels need sizes divisible by 2^3
EPS = 1e-3


class Refiner(torch.nn.Module):
    """A small U-Net on (image, p_LA) whose output is added to the first stage's logit; its last layer starts at
    zero, so before training it returns the first stage unchanged."""

    def __init__(self, base: int = 8, top: int = 64) -> None:
        super().__init__()
        config = ModelConfig(levels=4, base_channels=base, max_channels=top, in_channels=2)
        self.net = AtrialJSQNet(config, {"la": 1})
        last = [m for m in self.net.modules() if isinstance(m, torch.nn.Conv3d)][-1]
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)

    def forward(self, image: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        logit = torch.logit(coarse.clamp(EPS, 1 - EPS))
        return logit + self.net(torch.cat([image, coarse], dim=1))["la"]


def padded(array: np.ndarray, multiple: int = MULTIPLE) -> tuple[np.ndarray, tuple[slice, ...]]:
    """`array` edge-padded at the far end to multiples of `multiple`, and the slices that undo it."""
    pad = [(0, (-s) % multiple) for s in array.shape]
    return np.pad(array, pad, mode="edge"), tuple(slice(0, s) for s in array.shape)


def case_inputs(case: CompactCase, coarse: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple]:
    image, crop = padded(case.normalised())
    p, _ = padded(coarse.astype(np.float32))
    label, _ = padded(case.la.astype(np.float32))
    as_t = [torch.from_numpy(np.ascontiguousarray(a))[None, None] for a in (image, p, label)]
    return as_t[0], as_t[1], as_t[2], crop


def augmented(image: torch.Tensor, coarse: torch.Tensor, label: torch.Tensor, rng: np.random.Generator):
    """A random sub-window (at least 3/4 of each axis, rounded to the network's multiple) and an intensity scale
    and shift: cheap variety for 32 training cases. No flips: anatomy is not mirrored."""
    shape = image.shape[2:]
    size = [max(MULTIPLE, int(rng.uniform(0.75, 1.0) * s) // MULTIPLE * MULTIPLE) for s in shape]
    start = [int(rng.integers(0, s - z + 1)) for s, z in zip(shape, size, strict=True)]
    box = (slice(None), slice(None), *(slice(a, a + z) for a, z in zip(start, size, strict=True)))
    scale, shift = rng.uniform(0.9, 1.1), rng.uniform(-0.1, 0.1)
    return image[box] * scale + shift, coarse[box], label[box]


def scores(p: np.ndarray, case: CompactCase) -> dict[str, float]:
    """Dice and HD95 of the largest component of p > 0.5 on the compact window and on the native grid."""
    window = case.window_geometry
    compact = la_metrics(largest_component(p > 0.5), case.la > 0, window.spacing)
    native_p = resample_to_geometry(Volume(p.astype(np.float32), window), case.native_geometry).array
    native = la_metrics(largest_component(native_p > 0.5), case.la_native > 0, case.native_geometry.spacing)
    return {
        "dice_compact": round(float(compact["Dice_LA"]), 6),
        "dice_native": round(float(native["Dice_LA"]), 6),
        "hd95_native_vox": round(float(native["HD95_vox"]), 4),
    }


def load_pairs(compact_path: Path, prediction_files: list[Path]) -> list[tuple[CompactCase, np.ndarray]]:
    pairs = []
    for path in prediction_files:
        _, maps = read_predictions(path)
        compact = load_compact(compact_path, sorted(maps))
        for case in compact.cases:
            coarse = maps[case.case_id]["la"]
            if coarse.shape != case.la.shape:
                raise SystemExit(f"{path}: {case.case_id} p_LA {coarse.shape} is not its window {case.la.shape}")
            pairs.append((case, coarse))
    return pairs


def train(model: Refiner, data: list, seconds: float, log: Path, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    tensors = [case_inputs(case, coarse)[:3] for case, coarse in data]
    start, step, rows = time.monotonic(), 0, []
    model.train()
    with tqdm(total=int(seconds), unit="s", desc="refiner") as bar:
        while (elapsed := time.monotonic() - start) < seconds:
            lr = 1e-3 * (1 - elapsed / seconds) ** 0.9
            for group in optimiser.param_groups:
                group["lr"] = lr
            image, coarse, label = augmented(*tensors[int(rng.integers(len(tensors)))], rng)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(image, coarse)
            logits = logits.float()
            loss = bce_loss(logits, label) + soft_dice_loss(logits, label)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            row = {"step": step, "seconds": round(elapsed, 1), "lr": lr, "loss": round(float(loss.detach()), 5)}
            if step % 50 == 0:
                rows.append(row)
                bar.update(int(elapsed) - bar.n)
    if step and (not rows or rows[-1]["step"] != step):
        rows.append(row)  # the last step, whatever the logging rhythm
    write_rows(log, rows)
    return step


@torch.no_grad()
def refine(model: Refiner, case: CompactCase, coarse: np.ndarray) -> np.ndarray:
    model.eval()
    image, p, _, crop = case_inputs(case, coarse)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(image, p)
    return torch.sigmoid(logits.float())[0, 0].numpy()[crop]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("compact", type=Path, help="the compact LASC 2018 file the folds were trained on")
    parser.add_argument("out", type=Path)
    parser.add_argument("--train-predictions", type=Path, nargs="+", required=True)
    parser.add_argument("--test-predictions", type=Path, nargs="+", required=True)
    parser.add_argument("--seconds", type=float, default=2400)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_set = load_pairs(args.compact, args.train_predictions)
    test_set = load_pairs(args.compact, args.test_predictions)
    overlap = {c.case_id for c, _ in train_set} & {c.case_id for c, _ in test_set}
    if overlap:
        raise SystemExit(f"cases both in training and test: {sorted(overlap)}")
    args.out.mkdir(parents=True, exist_ok=True)
    model = Refiner()
    steps = train(model, train_set, args.seconds, args.out / "log.csv")
    rows = []
    for case, coarse in tqdm(test_set, desc="test", unit="case"):
        first, second = scores(coarse, case), scores(refine(model, case, coarse), case)
        rows.append(
            {
                "case": case.case_id,
                **{f"first_{k}": v for k, v in first.items()},
                **{f"refined_{k}": v for k, v in second.items()},
            }
        )
    write_rows(args.out / "per_case.csv", rows)
    summary: dict = {
        "train_cases": len(train_set),
        "test_cases": len(test_set),
        "steps": steps,
        "seconds": args.seconds,
    }
    for metric in ("dice_compact", "dice_native", "hd95_native_vox"):
        a = np.array([r[f"first_{metric}"] for r in rows])
        b = np.array([r[f"refined_{metric}"] for r in rows])
        p = float(wilcoxon(a, b).pvalue) if np.any(a != b) else 1.0
        summary[metric] = {
            "first": round(float(a.mean()), 5),
            "refined": round(float(b.mean()), 5),
            "refined_better": int(np.sum(b > a) if "dice" in metric else np.sum(b < a)),
            "p": p,
        }
        print(f"{metric}: first {a.mean():.4f}, refined {b.mean():.4f}, p = {p:.3g}")
    write_json(args.out / "summary.json", summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
