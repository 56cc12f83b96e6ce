"""Optimizer and learning-rate schedules (paper §4.1); the λ schedule lives with the loss (`losses.total`).

Paper default: SGD (momentum 0.9, weight decay 1e-4), lr 1e-3 divided by 10 every 4000 iterations
(`optim.schedule = "step"`). A schedule is an object whose `factor(iteration, elapsed_seconds)` multiplies the
base learning rate: a pure function of where the run is, so a resumed run (which restores the iteration and
the elapsed training time) continues on the same curve. `poly` decays over the iterations, `poly_clock` over
a wall-clock budget (`train.seconds`), so a time-boxed run ends at a low rate whatever its speed. A time-boxed
run also stops at `train.iterations`; when that cap comes first (an iteration budget with a generous clock, as
for comparisons that must not depend on the machine's load), the rate follows it instead: the schedule runs on
whichever budget is nearer its end, and reaches zero where the run stops.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import torch

from atrialjsq.model.configs import ExperimentConfig, OptimConfig


def _supports_fused(optimizer_class: type[torch.optim.Optimizer], params: list[torch.nn.Parameter]) -> bool:
    return (
        bool(params)
        and all(p.is_cuda for p in params)
        and "fused" in inspect.signature(optimizer_class.__init__).parameters
    )


def make_optimizer(
    optim: OptimConfig, parameters: Iterable[torch.nn.Parameter], fused: bool = True
) -> torch.optim.Optimizer:
    """SGD (paper), Adam or AdamW from the config; the fused CUDA kernels when the parameters are on a GPU."""
    params = [p for p in parameters if p.requires_grad]
    classes = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    optimizer_class = classes[optim.name]
    kwargs: dict = {"lr": optim.lr, "weight_decay": optim.weight_decay}
    if optim.name == "sgd":
        kwargs["momentum"] = optim.momentum
    if fused and _supports_fused(optimizer_class, params):
        kwargs["fused"] = True
    return optimizer_class(params, **kwargs)


class LrSchedule(Protocol):
    """Multiplier of the base learning rate at 0-based `iteration`, `elapsed` training seconds into the run."""

    def factor(self, iteration: int, elapsed: float) -> float: ...


@dataclass(frozen=True)
class StepSchedule:
    """lr × gamma^(iteration // step): the paper's decay (÷10 every 4000 iterations)."""

    step: int
    gamma: float

    def factor(self, iteration: int, elapsed: float) -> float:
        return float(self.gamma ** (max(int(iteration), 0) // self.step))


def warmup_poly(fraction: float, warmup: float = 0.0, power: float = 0.9) -> float:
    """Multiplier at `fraction` ∈ [0, 1] of a run: linear warm-up over the first `warmup` (from 1 % of the peak),
    then (1 − progress)^power, reaching 0 at the end."""
    fraction = min(max(float(fraction), 0.0), 1.0)
    if warmup > 0 and fraction < warmup:
        return 0.01 + 0.99 * fraction / warmup
    progress = (fraction - warmup) / (1.0 - warmup)
    return float((1.0 - progress) ** power)


def spent_fraction(iteration: int, iterations: float | None, elapsed: float, seconds: float | None) -> float:
    """How far a run is through its budgets: the larger of the iteration and clock fractions (either budget may
    be absent). The run stops when it reaches 1; `poly_clock` decays on it and the progress bar shows it."""
    fractions = [0.0]
    if iterations is not None:
        fractions.append(float(iteration) / iterations if iterations > 0 else 1.0)
    if seconds is not None:
        fractions.append(float(elapsed) / seconds if seconds > 0 else 1.0)
    return max(fractions)


@dataclass(frozen=True)
class PolySchedule:
    """Polynomial decay with warm-up over `total` iterations, or over `total` seconds when `by_clock`; a clock
    schedule with an iteration cap (`iterations`) runs on the fraction of whichever budget is further spent."""

    total: float
    power: float = 0.9
    warmup: float = 0.0
    by_clock: bool = False
    iterations: float | None = None

    def factor(self, iteration: int, elapsed: float) -> float:
        if self.by_clock:
            fraction = spent_fraction(iteration, self.iterations, elapsed, self.total)
        else:
            fraction = spent_fraction(iteration, self.total, 0.0, None)
        return warmup_poly(fraction, self.warmup, self.power)


def make_lr_schedule(config: ExperimentConfig) -> LrSchedule:
    """The schedule `config.optim.schedule` names (`poly_clock` runs over `config.train.seconds`)."""
    optim, train = config.optim, config.train
    if optim.schedule == "step":
        return StepSchedule(optim.lr_step, optim.lr_gamma)
    if optim.schedule == "poly":
        return PolySchedule(float(train.iterations), optim.poly_power, optim.warmup)
    if optim.schedule == "poly_clock":
        if train.seconds is None:
            raise ValueError("optim.schedule = 'poly_clock' needs train.seconds")
        return PolySchedule(
            float(train.seconds), optim.poly_power, optim.warmup, by_clock=True, iterations=float(train.iterations)
        )
    raise ValueError(f"optim.schedule = {optim.schedule!r}: unknown")
