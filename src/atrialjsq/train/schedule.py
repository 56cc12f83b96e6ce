"""Optimizer and learning-rate schedule (paper §4.1); the λ schedule lives with the loss (`losses.total`).

Paper default: SGD (momentum 0.9, weight decay 1e-4), lr 1e-3 divided by 10 every 4000 iterations. The
schedule is stepped once per iteration, so a resumed run restores it from the checkpoint and continues on the
same curve.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

import torch

from atrialjsq.model.configs import OptimConfig


def _supports_fused(optimizer_class: type, params: list[torch.nn.Parameter]) -> bool:
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


def make_lr_scheduler(optimizer: torch.optim.Optimizer, optim: OptimConfig) -> torch.optim.lr_scheduler.StepLR:
    """lr × gamma every `lr_step` iterations (stepped once per iteration, not per epoch)."""
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=optim.lr_step, gamma=optim.lr_gamma)
