"""Cached cases held in memory as stacked tensors, and the per-iteration batch sampler.

The whole training split is loaded once (on the GPU when it fits, pinned host memory otherwise) so an
iteration never waits for disk or a DataLoader worker: a batch is an index_select plus one grid_sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from atrialjsq.io.geometry import triple
from atrialjsq.train.acquisition import AcquisitionParams, degrade
from atrialjsq.train.augment import (
    AugmentParams,
    SampleTransform,
    apply_transforms,
    draw_transform,
    sample_seed,
    to_device,
)
from atrialjsq.train.scar_synthesis import SYNTHESISED_KEYS, ScarSynthesizer

CACHE_KEYS = ("image", "la", "phi_la", "band", "phi_normal", "phi_scar")
# Per-case scalars carried next to the volumes (not resampled): `scar_known` = 0 marks a case whose scar is not
# labelled (a real image without injected scar), so the loss leaves its scar head alone on that sample.
FLAG_KEYS = ("scar_known",)
GPU_FRACTION = 0.5  # use at most this share of the free GPU memory for the data


def bank_bytes(cases: Sequence[Mapping[str, np.ndarray]], keys: Sequence[str] = CACHE_KEYS) -> int:
    return sum(int(case[key].nbytes) for case in cases for key in keys if key in case)


def choose_data_device(nbytes: int, compute: torch.device) -> torch.device:
    """The compute device when the data fit comfortably in its free memory, else the CPU."""
    if compute.type == "cuda":
        free, _ = torch.cuda.mem_get_info(compute)
        if nbytes <= GPU_FRACTION * free:
            return compute
    return torch.device("cpu")


class VolumeBank:
    """Arrays of N cases, each key stacked to (N, 1, X', Y', Z') in its cached dtype (roi + 2·margin).

    `margin=None` derives the margin from the arrays' shape (the cache's margin).
    """

    def __init__(
        self,
        cases: Sequence[Mapping[str, np.ndarray]],
        roi: Sequence[int],
        margin: Sequence[int] | None,
        spacing: Sequence[float],
        device: torch.device | str = "cpu",
        keys: Sequence[str] = CACHE_KEYS,
    ) -> None:
        if not cases:
            raise ValueError("VolumeBank needs at least one case")
        self.roi = triple(int(r) for r in roi)
        if margin is None:  # take it from the arrays: a cache may keep a wider margin than the config asks
            extra = [int(n) - r for n, r in zip(next(iter(cases[0].values())).shape, self.roi, strict=True)]
            if any(e < 0 or e % 2 for e in extra):
                raise ValueError(
                    f"cached arrays {next(iter(cases[0].values())).shape} are not roi {self.roi} + 2*margin"
                )
            margin = [e // 2 for e in extra]
        self.margin = triple(int(m) for m in margin)
        self.spacing = triple(float(s) for s in spacing)
        self.full_shape = triple(r + 2 * m for r, m in zip(self.roi, self.margin, strict=True))
        self.keys = tuple(k for k in keys if k in cases[0])
        for index, case in enumerate(cases):
            for key in self.keys:
                if tuple(case[key].shape) != self.full_shape:
                    raise ValueError(f"case {index} {key}: shape {case[key].shape} != roi + 2*margin {self.full_shape}")
        self.device = torch.device(device)
        pin = self.device.type == "cpu" and torch.cuda.is_available()
        self.tensors: dict[str, torch.Tensor] = {}
        for key in self.keys:
            stacked = torch.from_numpy(np.stack([np.asarray(case[key]) for case in cases])[:, None])
            self.tensors[key] = stacked.pin_memory() if pin else stacked.to(self.device)
        self.flags: dict[str, torch.Tensor] = {}
        for key in FLAG_KEYS:
            present = [key in case for case in cases]
            if any(present) and not all(present):
                raise ValueError(f"{key!r} is given for {sum(present)} of {len(cases)} cases; give it for all or none")
            if all(present):
                values = [float(np.asarray(case[key]).reshape(())) for case in cases]
                self.flags[key] = torch.tensor(values, dtype=torch.float32)

    def __len__(self) -> int:
        return next(iter(self.tensors.values())).shape[0]

    def gather(self, indices: Sequence[int], device: torch.device) -> dict[str, torch.Tensor]:
        """The full (margin-padded) arrays of `indices`, moved to `device`."""
        index = to_device(torch.as_tensor(list(indices), dtype=torch.long), self.device)
        if self.device == device or device.type != "cuda":
            return {key: tensor.index_select(0, index).to(device) for key, tensor in self.tensors.items()}
        # Host bank, GPU training: gather into pinned memory so the upload does not block the host.
        return {key: to_device(tensor.index_select(0, index), device) for key, tensor in self.tensors.items()}

    def centred_window(self, index: int, device: torch.device) -> dict[str, torch.Tensor]:
        """The un-augmented, centred ROI window of one case as float32 (1, 1, *roi): used for validation."""
        window = tuple(slice(m, m + r) for m, r in zip(self.margin, self.roi, strict=True))
        return {
            key: tensor[index : index + 1, :, window[0], window[1], window[2]].to(device).float()
            for key, tensor in self.tensors.items()
        }


@dataclass(frozen=True)
class BatchPlan:
    """Which cases this process trains on at one iteration, and the seeds of their random transforms."""

    indices: list[int]
    seeds: list[int]


class EpochSampler:
    """Global batches walk through a fresh permutation of the cases each epoch; each rank takes its slice.

    Everything is a pure function of (seed, iteration), so a resumed run and a run on another number of
    processes (at the same global batch) see identical samples.
    """

    def __init__(self, n_cases: int, global_batch: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if global_batch % world_size:
            raise ValueError(f"global batch {global_batch} is not divisible by {world_size} processes")
        self.n_cases, self.global_batch, self.seed = n_cases, global_batch, seed
        self.rank, self.world_size = rank, world_size
        self._cache: dict[int, list[int]] = {}

    def _permutation(self, epoch: int) -> list[int]:
        if epoch not in self._cache:
            self._cache = {
                epoch: torch.randperm(
                    self.n_cases, generator=torch.Generator().manual_seed(self.seed * 7919 + epoch)
                ).tolist()
            }
        return self._cache[epoch]

    def global_indices(self, iteration: int) -> list[int]:
        positions = range(iteration * self.global_batch, (iteration + 1) * self.global_batch)
        return [self._permutation(p // self.n_cases)[p % self.n_cases] for p in positions]

    def plan(self, iteration: int) -> BatchPlan:
        per_rank = self.global_batch // self.world_size
        start = self.rank * per_rank
        indices = self.global_indices(iteration)[start : start + per_rank]
        seeds = [sample_seed(self.seed, iteration, start + k) for k in range(per_rank)]
        return BatchPlan(indices, seeds)


def synthetic_draws(
    bank: VolumeBank, plan: BatchPlan, synthesizer: ScarSynthesizer | None
) -> list[dict[str, np.ndarray] | None]:
    """Each sample's fresh scar draw (new image and scar targets, `scar_synthesis`), or None where it trains as
    stored. Pure NumPy on host copies: it may run in a thread while the previous step trains."""
    if synthesizer is None or not len(synthesizer):
        return [None] * len(plan.indices)
    draws: list[dict[str, np.ndarray] | None] = []
    for case_index, seed in zip(plan.indices, plan.seeds, strict=True):
        if case_index not in synthesizer.walls:
            draws.append(None)
            continue
        arrays = {key: bank.tensors[key][case_index, 0].cpu().numpy() for key in SYNTHESISED_KEYS}
        result = synthesizer.sample(case_index, arrays, seed)
        draws.append(None if result is None else result.arrays)
    return draws


def training_batch(
    bank: VolumeBank,
    plan: BatchPlan,
    params: AugmentParams,
    device: torch.device,
    draws: Sequence[dict[str, np.ndarray] | None] | None = None,
    acquisition: AcquisitionParams | None = None,
) -> dict[str, torch.Tensor]:
    """Augmented ROI windows (float32 on `device`) for one iteration's plan; `draws` (`synthetic_draws`) replace
    a sample's image and scar targets and mark its scar known."""
    transforms: list[SampleTransform] = [draw_transform(seed, params, bank.margin) for seed in plan.seeds]
    full = bank.gather(plan.indices, device)
    # Flags stay on the host: the loss branches on them, which would otherwise wait for the GPU every step.
    index = torch.as_tensor(list(plan.indices), dtype=torch.long)
    flags = {key: flag.index_select(0, index) for key, flag in bank.flags.items()}
    if draws is not None and any(draw is not None for draw in draws):
        for row, draw in enumerate(draws):
            if draw is None:
                continue
            for key, array in draw.items():
                if key not in full:  # a map only draws carry (scar_weight): 1 for the other samples
                    full[key] = torch.ones_like(full["band"], dtype=torch.float32)
                full[key][row, 0] = torch.from_numpy(array).to(full[key].device)
            flags["scar_known"][row] = 1.0
    batch = apply_transforms(full, transforms, params, bank.roi, bank.spacing)
    if acquisition is not None and acquisition.active and params.enabled:
        batch["image"] = degrade(batch["image"], plan.seeds, acquisition, bank.spacing, batch.get("la"))
    batch.update(flags)
    return batch
