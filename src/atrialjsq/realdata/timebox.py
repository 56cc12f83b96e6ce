"""Training for a wall-clock budget (time-to-accuracy studies), built from the trainer's own pieces.

`train.trainer.Trainer` runs for a number of iterations with a step learning-rate schedule; a fixed budget
of GPU seconds needs the schedule to follow the clock instead. This loop reuses the Trainer's data bank,
augmentation, model, loss, optimizer and bf16/channels-last settings (`Trainer.step`) and sets the learning
rate from the elapsed fraction of the budget: a linear warm-up, then polynomial decay to zero at the
deadline, so every budget ends at a converged, low-lr point. There is no validation inside the loop: the
checkpoint is the last one, never one chosen on held-out labels.

The clock starts at the first step (data upload and model construction are reported apart as
`setup_seconds`); compilation, when asked for, happens inside the budget. The host reads the loss every
`sync_every` steps, which bounds how far the clock can run ahead of queued GPU work.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from atrialjsq.io.atomic import atomic_path
from atrialjsq.model.configs import ExperimentConfig

MAX_ITERATIONS = 10_000_000


def lr_factor(fraction: float, warmup: float = 0.05, power: float = 0.9) -> float:
    """Learning-rate multiplier at `fraction` ∈ [0, 1] of the budget: linear warm-up over the first `warmup`
    (starting at 1 % of the peak), then (1 − progress)^power, reaching 0 at the end."""
    fraction = min(max(float(fraction), 0.0), 1.0)
    if warmup > 0 and fraction < warmup:
        return 0.01 + 0.99 * fraction / warmup
    progress = (fraction - warmup) / (1.0 - warmup) if warmup < 1 else 1.0
    return float((1.0 - progress) ** power)


@dataclass
class TimeboxResult:
    iterations: int
    seconds: float  # wall time of the training loop, first step to last, GPU work included
    setup_seconds: float  # building the Trainer: data on the device, model, optimizer (and nothing compiled yet)
    checkpoint: Path
    model: torch.nn.Module  # the trained network (eval mode, on its device)
    autocast_dtype: torch.dtype | None
    channels_last: bool
    log: list[dict[str, float]] = field(default_factory=list)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _write_log(rows: Sequence[Mapping[str, float]], path: Path) -> None:
    if not rows:
        return
    with atomic_path(path) as tmp:
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def train_for_seconds(
    config: ExperimentConfig,
    train_cases: Sequence[Mapping[str, np.ndarray]],
    out: str | Path,
    seconds: float,
    *,
    device: str | None = None,
    compile: bool = False,
    warmup: float = 0.05,
    sync_every: int = 10,
    max_iterations: int | None = None,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
    checkpoint_seconds: float = 600.0,
    snapshot_seconds: float | None = None,
) -> TimeboxResult:
    """Train `config` on `train_cases` for `seconds` of wall time (or `max_iterations`, whichever ends first)
    and write out/last.pt (the trainer's checkpoint format; `config.train.iterations` = the iterations done)
    and out/log.csv (iteration, seconds, lr, loss). A long run also writes out/last.pt every
    `checkpoint_seconds`, so a killed run leaves usable weights (not a resumable schedule). With
    `snapshot_seconds`, slim model files out/snapshots/t<seconds>.pt are written at every multiple of it (the
    points of a time-to-accuracy curve; each is the weights at that time of this one schedule)."""
    from atrialjsq.train.checkpoint import export_model, save_checkpoint
    from atrialjsq.train.ddp import unwrap
    from atrialjsq.train.trainer import Trainer, TrainOptions

    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    limit = int(max_iterations) if max_iterations is not None else MAX_ITERATIONS
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    open_ended = replace(config, train=replace(config.train, iterations=limit))
    setup_start = time.perf_counter()
    options = TrainOptions(device=device, compile=compile, progress=False)
    trainer = Trainer(open_ended, train_cases, None, out, options, meta)
    if trainer.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed window size: let cuDNN pick its fastest 3D kernels
    _synchronize(trainer.device)
    setup_seconds = time.perf_counter() - setup_start

    base_lrs = [group["lr"] for group in trainer.optimizer.param_groups]
    rows: list[dict[str, float]] = []
    iteration = 0
    start = time.perf_counter()
    elapsed = 0.0
    next_checkpoint = checkpoint_seconds
    next_snapshot = snapshot_seconds if snapshot_seconds else math.inf
    bar = tqdm(total=round(seconds), desc="train", unit="s", disable=not progress or None)
    while elapsed < seconds and iteration < limit:
        factor = lr_factor(elapsed / seconds, warmup)
        for group, base in zip(trainer.optimizer.param_groups, base_lrs, strict=True):
            group["lr"] = base * factor
        parts = trainer.step(iteration)
        iteration += 1
        if iteration % sync_every == 0 or iteration == limit:
            loss = float(parts["loss"])  # waits for the GPU: keeps the clock honest
            now = time.perf_counter() - start
            rows.append({"iteration": iteration, "seconds": round(now, 3), "lr": base_lrs[0] * factor, "loss": loss})
            bar.update(min(round(now), round(seconds)) - bar.n)
            bar.set_postfix(loss=f"{loss:.4g}", it=iteration)
            if now >= next_checkpoint:
                trainer.iteration = iteration
                save_checkpoint(out / "last.pt", trainer.state())
                _write_log(rows, out / "log.csv")
                next_checkpoint = now + checkpoint_seconds
            if now >= next_snapshot:
                trainer.iteration = iteration
                mark = round(next_snapshot)
                export_model(trainer.state(), out / "snapshots" / f"t{mark:05d}.pt", {"seconds": round(now, 3)})
                next_snapshot += float(snapshot_seconds or math.inf)
        elapsed = time.perf_counter() - start
    _synchronize(trainer.device)
    total = time.perf_counter() - start
    bar.close()
    if iteration and (not rows or rows[-1]["iteration"] != iteration):
        last_lr = trainer.optimizer.param_groups[0]["lr"]
        rows.append({"iteration": iteration, "seconds": round(total, 3), "lr": last_lr, "loss": float(parts["loss"])})

    trainer.iteration = iteration
    trainer.config = replace(config, train=replace(config.train, iterations=iteration))
    trainer.meta.update(
        {
            "seconds_budget": float(seconds),
            "train_seconds": round(total, 3),
            "setup_seconds": round(setup_seconds, 3),
            "lr_schedule": f"linear warm-up {warmup:g} of the budget, then poly 0.9 to 0 at the deadline",
            "device": str(trainer.device),
        }
    )
    checkpoint = save_checkpoint(out / "last.pt", trainer.state())
    _write_log(rows, out / "log.csv")
    model = unwrap(trainer.model).eval()
    return TimeboxResult(
        iteration, total, setup_seconds, checkpoint, model, trainer.autocast_dtype, trainer.channels_last, rows
    )
