"""Multi-process training through torchrun: process group set-up, the device of each rank, the DDP wrapper.

`torchrun --nproc_per_node N -m atrialjsq.cli train ...` sets WORLD_SIZE/RANK/LOCAL_RANK; every rank then
builds the same model from the same seed, draws its own slice of the global batch (see `EpochSampler`), and
DDP averages the gradients. `config.train.batch_size` is the batch of one process; the global batch is
batch_size × world_size. Rank 0 alone validates, logs and writes checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(requested: str | None, context: DistContext) -> torch.device:
    """`requested` ("cpu", "cuda", "cuda:1") or the local GPU of this rank when CUDA is available."""
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", context.local_rank)
    else:
        device = torch.device("cuda", context.local_rank) if torch.cuda.is_available() else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def context_from_env() -> DistContext:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistContext(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def init_distributed(context: DistContext, device: torch.device) -> None:
    """Join the process group (NCCL on GPUs, gloo on CPUs); MASTER_ADDR/MASTER_PORT come from the env."""
    if context.distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=context.rank, world_size=context.world_size)


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, context: DistContext, device: torch.device) -> nn.Module:
    """DDP-wrap on several processes; the bare module otherwise."""
    if not context.distributed:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The underlying module of a DDP or torch.compile wrapper (its state_dict has the plain names)."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            # torch.compile's OptimizedModule: _orig_mod is the module it compiled (mypy reads Tensor | Module).
            model = cast(nn.Module, model._orig_mod)
        else:
            return model


def barrier(context: DistContext) -> None:
    if context.distributed and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(tensor: torch.Tensor, context: DistContext) -> torch.Tensor:
    """The mean of `tensor` over all ranks (itself on one process)."""
    if not (context.distributed and dist.is_initialized()):
        return tensor
    reduced = tensor.clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced / context.world_size


def all_reduce_max(value: float, context: DistContext) -> float:
    """The largest of a number over all ranks (itself on one process): decisions every rank must take alike,
    such as the training clock's stop, follow the slowest rank's clock."""
    if not (context.distributed and dist.is_initialized()):
        return value
    reduced = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(reduced, op=dist.ReduceOp.MAX)
    return float(reduced.item())
