"""The training loop: in-memory data, device-side augmentation, bf16 + channels-last on CUDA, resumable.

`fit(config, train_cases, val_cases, out)` trains `build_model(config)` with `JointLoss(config)` for
`config.train.iterations` iterations and writes into `out`:
  last.pt   every `checkpoint_every` iterations and at the end (optimizer, schedule, iteration, RNG states),
  best.pt   the best validation score so far (mean of LA and scar Dice). Best-on-validation is selected on the
            validation cases, so it must not be used to score those same cases (e.g. that fold) later;
            score a fold with last.pt, or select on a split disjoint from the test cases,
  log.csv   iteration, lr, λs, each loss part, seconds per iteration,
  val.csv   iteration, la_dice, scar_dice, score,
  loss.png  the curves.
`resume=True` continues from out/last.pt on the same schedule: the batches, augmentations and λs are pure
functions of (seed, iteration), and the checkpoint restores model, optimizer, RNG states, the iteration and
the elapsed training time, so the resumed trajectory equals the uninterrupted one (bit for bit on CPU).

Extension points, in the spirit of nnU-Net's trainer hooks: the stop condition (`train.iterations`, and a
wall-clock budget `train.seconds`: the run stops at whichever comes first), the learning-rate schedule object
(`train.schedule.make_lr_schedule`: step as the paper, poly by iteration, poly by clock, with warm-up) and
`Callback`s called after every step and at the end (e.g. `SnapshotCallback` for time-to-accuracy curves). The
clock counts the whole loop from the first step (checkpointing and validation included: what a user waits
for); building the data bank and the model before it is reported apart as `setup_seconds`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from atrialjsq import hardware  # looked up at call time: tests stand in for the CPU
from atrialjsq.errors import InputError
from atrialjsq.losses.total import JointLoss
from atrialjsq.model.configs import ExperimentConfig
from atrialjsq.model.unet import build_model
from atrialjsq.train.acquisition import AcquisitionParams
from atrialjsq.train.augment import AugmentParams
from atrialjsq.train.checkpoint import (
    capture_rng_state,
    export_model,
    load_checkpoint,
    load_network_weights,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)
from atrialjsq.train.dataset import (
    BatchPlan,
    EpochSampler,
    VolumeBank,
    bank_bytes,
    choose_data_device,
    synthetic_draws,
    training_batch,
)
from atrialjsq.train.ddp import (
    DistContext,
    all_reduce_max,
    all_reduce_mean,
    barrier,
    init_distributed,
    pick_device,
    unwrap,
    wrap_model,
)
from atrialjsq.train.interrupt import GracefulInterrupt
from atrialjsq.train.logging import CsvLog, plot_curves
from atrialjsq.train.scar_synthesis import ScarSynthesizer, SynthesisRanges, draw_clip_mm
from atrialjsq.train.schedule import make_lr_schedule, make_optimizer, spent_fraction
from atrialjsq.train.validation import validate


class Callback:
    """Hooks of the training loop; subclass and override what you need. `wants_losses` makes the loop move the
    loss parts to the host after every step (one sync per step), so `parts` is this step's; otherwise `parts`
    holds the last logged values."""

    wants_losses = False

    def on_step_end(self, trainer: Trainer, iteration: int, parts: dict[str, float]) -> None:
        """After step `iteration` (0-based); `trainer.iteration` is then iteration + 1. May raise to stop."""

    def on_train_end(self, trainer: Trainer) -> None:
        """After the last step, once last.pt is written."""


class SnapshotCallback(Callback):
    """Slim model files `folder/t<seconds>.pt` each time the training clock passes a multiple of `every`
    seconds: the points of a time-to-accuracy curve (weights at that time of this one schedule)."""

    def __init__(self, folder: str | Path, every: float) -> None:
        if every <= 0:
            raise ValueError(f"snapshot period must be positive, got {every}")
        self.folder, self.every = Path(folder), float(every)
        self.next: float | None = None

    def on_step_end(self, trainer: Trainer, iteration: int, parts: dict[str, float]) -> None:
        if self.next is None:  # first step of this call (also after a resume): the next multiple ahead
            self.next = (math.floor(trainer.elapsed / self.every) + 1) * self.every
        if trainer.elapsed >= self.next and trainer.context.is_main:
            mark = round(self.next)
            export_model(trainer.state(), self.folder / f"t{mark:05d}.pt", {"seconds": round(trainer.elapsed, 3)})
        while trainer.elapsed >= self.next:
            self.next += self.every


# What scores the live network during training (`TrainOptions.validator`): {"score", ...} per call.
Validator = Callable[["Trainer"], dict[str, float]]


@dataclass
class TrainOptions:
    """How to run (not what to train: that is the config)."""

    device: str | None = None  # None: this rank's GPU when available, else the CPU
    resume: bool = False
    fast: bool = True  # `Trainer.fast_settings`, chosen by measurement (config.train.amp/channels_last force them)
    compile: bool | None = None  # torch.compile the model; None: on CUDA only (falls back to eager on errors)
    stop_after: int | None = None  # stop cleanly (with a checkpoint) after this many iterations in this call
    progress: bool = True
    context: DistContext = field(default_factory=DistContext)
    callbacks: Sequence[Callback] = ()
    init_from: Path | None = None  # start from these network weights (fine-tuning); fresh optimizer and schedule
    clock: Callable[[], float] = time.perf_counter  # the training clock (tests drive it by hand)
    # Scores the live network every train.val_every iterations instead of the window monitor
    # (`train.validation.validate` on the validation cases): {"score", ...} into val.csv, best.pt by "score".
    # `infer.predictor_validation.PredictorValidation` scores through the Predictor (what `atrialjsq train` uses).
    validator: Validator | None = None


@dataclass
class TrainResult:
    iteration: int
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    best_score: float
    final_losses: dict[str, float]
    seconds: float = 0.0  # the training clock at the end (all calls of a resumed run together)
    setup_seconds: float = 0.0  # this call's data bank, model and optimizer construction
    trained: bool = True  # False when a finished run was found and returned as it was (experiments.kfold)


def augment_params(config: ExperimentConfig) -> AugmentParams:
    """The trainer's augmentation from the config's `train` section."""
    t = config.train
    return AugmentParams(
        enabled=t.augment,
        random_shift=t.random_shift,
        flip_axes=tuple(t.flip_axes),
        rotate_deg=t.rotate_deg,
        scale=(t.scale_range[0], t.scale_range[1]),
        intensity_scale=(1.0 - t.intensity_scale, 1.0 + t.intensity_scale),
        intensity_shift=t.intensity_shift,
        gamma=(t.gamma_range[0], t.gamma_range[1]),
        noise_std=t.noise_std,
        elastic_mm=t.elastic_mm,
    )


ESTIMATE_AFTER = 5  # iterations timed (after the first) before the run says how long it will take


def duration_estimate(per_iteration: float, done: int, target: int, elapsed: float, seconds: float | None) -> str:
    """One line: the measured time per iteration and when the run will end (at its iteration target or its clock)."""
    remaining = max(target - done, 0) * per_iteration
    line = f"train: {per_iteration:.2f} s per iteration here"
    if seconds is not None and elapsed + remaining > seconds:
        reached = done + int(max(seconds - elapsed, 0.0) / per_iteration)
        return f"{line}; the {_minutes(seconds)} budget ends the run at about iteration {reached:,} of {target:,}"
    return f"{line}; about {_minutes(remaining)} more for iterations {done:,} to {target:,}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def make_synthesizer(
    config: ExperimentConfig, train_cases: Sequence[Mapping[str, np.ndarray]], progress: bool = False
) -> ScarSynthesizer | None:
    """Fresh synthetic scar for the training cases without a scar label (`train.synthetic_scar` > 0), or None."""
    t = config.train
    if t.synthetic_scar <= 0 or "scar" not in config.heads:
        return None
    unsure = t.synthetic_scar_unsure_iir if t.synthetic_scar_unsure_iir > 0 else None
    ranges = SynthesisRanges(
        exclude_patterns=tuple(t.synthetic_scar_exclude),
        unsure_iir=unsure,
        real_scar_iir=t.synthetic_scar_real_iir if t.synthetic_scar_real_iir > 0 else None,
        iir=(float(t.synthetic_scar_iir[0]), float(t.synthetic_scar_iir[1])),
        distance_clip_mm=draw_clip_mm(config.loss.se_distance),
    )
    synthesizer = ScarSynthesizer(train_cases, config.data.spacing, t.synthetic_scar, ranges, progress=progress)
    return synthesizer if len(synthesizer) else None


def _compiled(model: torch.nn.Module) -> Callable:
    """torch.compile that falls back to eager for graphs the compiler cannot handle, instead of failing the run."""
    import torch._dynamo  # torch: deferred, slow to import

    torch._dynamo.config.suppress_errors = True
    return torch.compile(model)


def _lambda_name(key: str) -> str:
    return key if key.startswith("lambda_") else f"lambda_{key}"


def preprocessing_of(config: ExperimentConfig, margin: Sequence[int] | None = None) -> dict[str, list]:
    """What inference must reproduce: the grid spacing and ROI (and the cached margin, for the record)."""
    margin = config.data.margin if margin is None else margin
    return {"spacing": list(config.data.spacing), "roi": list(config.data.roi), "margin": list(margin)}


# Settings that change when and how long we train, not the trajectory: a resumed run may change them (the
# budgets only while the learning rate does not follow them: `train.iterations` under the step schedule,
# `train.seconds` unless the schedule follows the clock; see `_trajectory_differences`).
RESUMABLE_CHANGES = ("train.checkpoint_every", "train.val_every", "train.log_every")


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _trajectory_differences(saved: ExperimentConfig, current: ExperimentConfig) -> list[str]:
    """Config keys that differ between a checkpoint and the resumed run, other than RESUMABLE_CHANGES."""
    old, new = _flatten(saved.to_dict()), _flatten(current.to_dict())
    keys = sorted(set(old) | set(new))
    schedule = current.optim.schedule
    resumable = (
        RESUMABLE_CHANGES
        + (("train.iterations",) if schedule == "step" else ())  # poly and poly_clock decay over the iterations
        + (() if schedule == "poly_clock" else ("train.seconds",))
    )
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k) and k not in resumable]


def run_complete(state: Mapping[str, Any], config: ExperimentConfig) -> bool:
    """Whether checkpoint `state` is at `config`'s stop: the iteration cap or the wall-clock budget (the
    rule of `Trainer.run`'s loop)."""
    if int(state["iteration"]) >= int(config.train.iterations):
        return True
    budget = config.train.seconds
    elapsed = float((state.get("scheduler") or {}).get("elapsed_seconds", 0.0))
    return budget is not None and elapsed >= float(budget)


def checkpoint_differences(state: Mapping[str, Any], config: ExperimentConfig) -> list[str]:
    """What the run that wrote checkpoint `state` was trained with and `config` changes (beyond
    RESUMABLE_CHANGES): resuming it, or reusing it as `config`'s result, would mix two runs."""
    return _trajectory_differences(ExperimentConfig.from_dict(state["config"]), config)


def check_resumable(state: Mapping[str, Any], config: ExperimentConfig, path: Path) -> None:
    """Refuse to resume checkpoint `state` (read from `path`) under a `config` it was not trained with."""
    differences = checkpoint_differences(state, config)
    if differences:
        raise InputError(path, f"checkpoint was trained with other settings ({', '.join(differences[:4])})")


class Trainer:
    """One training run; `run()` executes the loop from the current iteration."""

    def __init__(
        self,
        config: ExperimentConfig,
        train_cases: Sequence[Mapping[str, np.ndarray]],
        val_cases: Sequence[Mapping[str, np.ndarray]] | None,
        out: str | Path,
        options: TrainOptions | None = None,
        meta: dict[str, Any] | None = None,
        preprocessing: dict[str, Any] | None = None,
    ) -> None:
        setup_start = time.perf_counter()
        self.config = config
        self.extra_preprocessing = dict(preprocessing or {})
        self.options = options or TrainOptions()
        self.out = Path(out)
        self.meta = dict(meta or {})
        self.context = self.options.context
        self.device = pick_device(self.options.device, self.context)
        init_distributed(self.context, self.device)
        cuda = self.device.type == "cuda"
        fast_amp, fast_channels_last = self.fast_settings(self.device) if self.options.fast else (False, False)
        use_amp = config.train.amp or fast_amp
        self.autocast_dtype = (
            {"bf16": torch.bfloat16, "fp16": torch.float16}[config.train.amp_dtype] if use_amp else None
        )
        self.channels_last = config.train.channels_last or fast_channels_last
        if cuda and self.options.fast:
            torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick the fastest 3D convolutions

        seed_everything(config.train.seed)
        data = config.data
        data_device = choose_data_device(bank_bytes(train_cases), self.device)
        # The margin is the cache's (arrays are roi + 2·margin): a wider cached margin only allows larger shifts.
        self.train_bank = VolumeBank(train_cases, data.roi, None, data.spacing, data_device)
        self.val_bank = VolumeBank(val_cases, data.roi, None, data.spacing, data_device) if val_cases else None
        self.augment = augment_params(config)
        t = config.train
        self.acquisition = AcquisitionParams(blur=t.blur_p, bias=t.bias_p, rician=t.rician_p, air=t.air_p)
        self.synthesizer = make_synthesizer(
            config, train_cases, progress=self.options.progress and self.context.is_main
        )
        # Scar draws are NumPy work: the next step's run in a thread while this step's network trains.
        self._draw_pool = ThreadPoolExecutor(1) if self.synthesizer is not None else None
        self._next_draws: tuple[int, Future] | None = None
        self._stop_at = config.train.iterations  # where this call of `run` stops (no draw is prefetched past it)
        world = self.context.world_size
        self.sampler = EpochSampler(
            len(self.train_bank), config.train.batch_size * world, config.train.seed, self.context.rank, world
        )

        model = build_model(config).to(self.device)
        if self.channels_last:
            # torch's stubs of Module.to leave out memory_format, which it accepts (documented).
            model = model.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
        self.model = wrap_model(model, self.context, self.device)
        use_compile = self.options.compile if self.options.compile is not None else cuda
        self.forward = _compiled(self.model) if use_compile else self.model
        self.loss_fn = JointLoss(config)
        self.optimizer = make_optimizer(config.optim, model.parameters(), fused=cuda)
        self.lr_schedule = make_lr_schedule(config)
        self.base_lrs = [float(group["lr"]) for group in self.optimizer.param_groups]
        self.iteration = 0
        self.elapsed = 0.0  # training-clock seconds so far (restored on resume)
        self.best_score = -math.inf
        self.log = CsvLog(self.out / "log.csv")
        self.val_log = CsvLog(self.out / "val.csv")
        if self.options.resume:
            self._resume()
        elif self.options.init_from is not None:
            self._init_weights(Path(self.options.init_from))
        self.setup_seconds = time.perf_counter() - setup_start

    # ---- state -----------------------------------------------------------------------------------------

    @staticmethod
    def fast_settings(device: torch.device) -> tuple[bool, bool]:
        """(bf16 autocast, channels_last_3d) chosen by measurement (`benchmarks/bench_train.py`, README): both on
        CUDA; on a CPU channels_last_3d always (1.2x for fp32 here) and bf16 where the CPU has native bf16."""
        if device.type == "cuda":
            return True, True
        if device.type == "cpu":
            return hardware.cpu_has_native_bf16(), True
        return False, False

    def state(self) -> dict[str, Any]:
        """What `--resume` needs. The clock is the step's: the validation and save that follow a step are
        counted by the next one, so a resumed run leaves out at most its last checkpoint's validation."""
        return {
            "config": self.config.to_dict(),
            "model": unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            # The schedule is a pure function of (iteration, elapsed): its state is where the run is.
            "scheduler": {"schedule": self.config.optim.schedule, "elapsed_seconds": self.elapsed},
            "iteration": self.iteration,
            "rng": capture_rng_state(),
            "preprocessing": {**preprocessing_of(self.config, self.train_bank.margin), **self.extra_preprocessing},
            "best_score": self.best_score,
            "augment": dataclasses.asdict(self.augment),
            "world_size": self.context.world_size,
            "meta": self.meta,
        }

    def _resume(self) -> None:
        path = self.out / "last.pt"
        state = load_checkpoint(path)
        check_resumable(state, self.config, path)
        saved_world = int(state.get("world_size", 1))
        if saved_world != self.context.world_size:  # batch_size is per process: the global batch would change
            raise InputError(
                path,
                f"checkpoint was trained on {saved_world} process(es), this run has {self.context.world_size}: "
                "resume with the same number (the global batch is train.batch_size times the processes)",
            )
        unwrap(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        # (checkpoints written before the schedule objects hold a StepLR state: no clock, elapsed 0)
        self.elapsed = float((state.get("scheduler") or {}).get("elapsed_seconds", 0.0))
        saved_augment = state.get("augment")
        if saved_augment is not None and AugmentParams.from_mapping(saved_augment) != self.augment:
            raise InputError(path, f"checkpoint was trained with other augmentation ({saved_augment})")
        restore_rng_state(state["rng"])
        self.iteration = int(state["iteration"])
        self.best_score = float(state.get("best_score", -math.inf))
        self.meta = {**(state.get("meta") or {}), **(self.meta or {})}  # e.g. the weights it was initialised from
        if self.context.is_main:
            self.log.truncate_from(self.iteration)
            self.val_log.truncate_from(self.iteration + 1)

    def _init_weights(self, path: Path) -> None:
        """Pretrained weights for fine-tuning (e.g. another loss or DPM variant on the same network): the
        architecture must match; the optimizer, schedule and iteration count start afresh."""
        load_network_weights(unwrap(self.model), path, self.config.name)
        self.meta = {**(self.meta or {}), "initialised_from": str(path)}

    def _save(self, name: str) -> Path:
        return save_checkpoint(self.out / name, self.state())

    # ---- loop ------------------------------------------------------------------------------------------

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def step(self, iteration: int) -> dict[str, torch.Tensor]:
        """One optimisation step on this rank's part of the global batch; returns detached loss parts."""
        plan = self.sampler.plan(iteration)
        batch = training_batch(
            self.train_bank, plan, self.augment, self.device, self._draws(iteration, plan), self.acquisition
        )
        image = batch["image"]
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last_3d)
        with self._autocast():
            outputs = self.forward(image)
        loss, parts = self.loss_fn(outputs, batch, iteration)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return parts

    def _draws(self, iteration: int, plan: BatchPlan) -> list[dict[str, np.ndarray] | None] | None:
        """This step's scar draws (prefetched during the previous step when possible); queues the next step's."""
        if self._draw_pool is None:
            return None
        pending = self._next_draws
        if pending is not None and pending[0] == iteration:
            draws = pending[1].result()
        else:
            draws = synthetic_draws(self.train_bank, plan, self.synthesizer)
        if iteration + 1 >= self._stop_at:  # no draw for a step this call will not take
            self._next_draws = None
            return draws
        following = self.sampler.plan(iteration + 1)
        future = self._draw_pool.submit(synthetic_draws, self.train_bank, following, self.synthesizer)
        self._next_draws = (iteration + 1, future)
        return draws

    def _set_lr(self, iteration: int) -> float:
        factor = self.lr_schedule.factor(iteration, self.elapsed)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor
        return self.base_lrs[0] * factor

    def out_of_time(self) -> bool:
        budget = self.config.train.seconds
        return budget is not None and self.elapsed >= budget

    def run(self) -> TrainResult:
        train_cfg = self.config.train
        total = train_cfg.iterations
        main = self.context.is_main
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
        stop_at = total if self.options.stop_after is None else min(total, self.iteration + self.options.stop_after)
        self._stop_at = stop_at
        callbacks = list(self.options.callbacks)
        wants_losses = any(callback.wants_losses for callback in callbacks)
        pending: list[dict[str, Any]] = []
        last_parts: dict[str, float] = {}
        self.model.train()
        budget = train_cfg.seconds
        show = main and self.options.progress
        if budget is None:
            bar = tqdm(total=total, initial=self.iteration, desc="train", unit="it", disable=not show)
        else:  # the clock or the iteration cap, whichever is further spent (what the run stops at and the lr follows)
            bar = tqdm(total=100, initial=self._spent_percent(total, budget), desc="train", unit="%", disable=not show)
        clock = self.options.clock
        start = clock() - self.elapsed
        window_start = time.perf_counter()
        window_iterations = 0
        first_iteration, estimate_from = self.iteration, None
        stopping = self.iteration >= stop_at or self.out_of_time()
        interrupt = GracefulInterrupt(enabled=not self.context.distributed)  # Ctrl-C: a checkpoint, then stop
        with interrupt:
            while not stopping:
                if main and self.iteration == first_iteration + 1:
                    estimate_from = (self.iteration, time.perf_counter())  # after the first (slow, warming) step
                if estimate_from is not None and self.iteration == estimate_from[0] + ESTIMATE_AFTER:
                    per_iteration = (time.perf_counter() - estimate_from[1]) / ESTIMATE_AFTER
                    tqdm.write(duration_estimate(per_iteration, self.iteration, stop_at, self.elapsed, budget))
                    estimate_from = None
                it = self.iteration
                lr = self._set_lr(it)
                parts = self.step(it)
                self.iteration = it + 1
                # Every rank stops and sets its lr on the same clock: the slowest rank's (one process: its own).
                self.elapsed = all_reduce_max(clock() - start, self.context) if budget is not None else clock() - start
                window_iterations += 1
                lambdas = {_lambda_name(k): v for k, v in self.loss_fn.lambdas_at(it).items()}
                pending.append(
                    {"iteration": it, "lr": lr, **lambdas, "elapsed": round(self.elapsed, 3), "parts": parts}
                )
                done = self.iteration
                stopping = done == stop_at or self.out_of_time() or interrupt.requested
                checkpoint_now = done % train_cfg.checkpoint_every == 0 or stopping
                # A run the clock ends is scored on its last weights too (a pause by --stop-after is not an end).
                at_end = done == total or self.out_of_time()
                validate_now = self.validates and (done % train_cfg.val_every == 0 or at_end)
                if done % train_cfg.log_every == 0 or checkpoint_now or validate_now or wants_losses:
                    seconds = (time.perf_counter() - window_start) / max(window_iterations, 1)
                    last_parts = self._flush(pending, seconds)
                    pending, window_start, window_iterations = [], time.perf_counter(), 0
                    bar.set_postfix(loss=f"{last_parts.get('loss', math.nan):.4g}", it=done)
                bar.update(1 if budget is None else max(self._spent_percent(total, budget) - bar.n, 0))
                if validate_now and main:
                    self._validate()
                if checkpoint_now and main:
                    self._save("last.pt")
                    if stopping or done % (10 * train_cfg.checkpoint_every) == 0:
                        plot_curves(self.log.path, self.val_log.path, self.out / "loss.png")
                if checkpoint_now:
                    barrier(self.context)
                if validate_now or checkpoint_now:  # their time is not the next window's per-iteration figure
                    window_start = time.perf_counter()
                for callback in callbacks:
                    callback.on_step_end(self, it, last_parts)
        bar.close()
        if interrupt.requested:
            tqdm.write(
                f"interrupted at iteration {self.iteration}: saved {self.out / 'last.pt'}; the same command with "
                "--resume goes on from there"
            )
            raise KeyboardInterrupt
        if main and self.validates and self.iteration < train_cfg.val_every and not (self.out / "best.pt").is_file():
            tqdm.write(
                f"note: the run stopped at iteration {self.iteration}, before its first validation at iteration "
                f"{train_cfg.val_every} (train.val_every): no best.pt; last.pt is the model"
            )
        for callback in callbacks:
            callback.on_train_end(self)
        return TrainResult(
            self.iteration,
            self.out / "last.pt" if (self.out / "last.pt").is_file() else None,
            self.out / "best.pt" if (self.out / "best.pt").is_file() else None,
            self.best_score,
            last_parts,
            self.elapsed,
            self.setup_seconds,
        )

    def _spent_percent(self, iterations: int, seconds: float) -> int:
        """Percent of the run done, by whichever budget (iterations or clock) is further spent."""
        return min(int(100 * spent_fraction(self.iteration, iterations, self.elapsed, seconds)), 100)

    def _flush(self, pending: list[dict[str, Any]], seconds: float) -> dict[str, float]:
        """Move the pending loss parts to the host in one transfer and append them to log.csv."""
        if not pending:
            return {}
        names = sorted(pending[0]["parts"])
        stacked = torch.stack([torch.stack([row["parts"][n].float() for n in names]) for row in pending])
        stacked = all_reduce_mean(stacked, self.context).cpu()  # log the global batch's loss, not rank 0's
        # Loss parts go to "loss_<term>" columns; the λs come from the schedule (already in each row).
        losses = [(n if n == "loss" else f"loss_{n}", k) for k, n in enumerate(names) if not n.startswith("lambda")]
        rows = []
        for row, values in zip(pending, stacked.tolist(), strict=True):
            fixed = {k: v for k, v in row.items() if k != "parts"}
            rows.append({**fixed, **{column: values[k] for column, k in losses}, "seconds": seconds})
        if self.context.is_main:
            self.log.append(rows)
        if not torch.isfinite(stacked).all():
            bad = next(row["iteration"] for row, ok in zip(rows, torch.isfinite(stacked).all(1), strict=True) if not ok)
            raise FloatingPointError(
                f"loss is not finite at iteration {bad} (see {self.log.path}); lower the learning rate or resume "
                f"from a checkpoint before it"
            )
        return {k: v for k, v in rows[-1].items() if isinstance(v, float)}

    @property
    def validates(self) -> bool:
        return self.options.validator is not None or self.val_bank is not None

    def _validate(self) -> dict[str, float]:
        if self.options.validator is not None:
            scores = self.options.validator(self)
        elif self.val_bank is not None:
            scores = validate(unwrap(self.model), self.val_bank, self.device, self.autocast_dtype, self.channels_last)
        else:
            raise RuntimeError("validation needs validation cases or a validator (the run has neither)")
        self.val_log.append([{"iteration": self.iteration, **scores}])
        if not math.isnan(scores["score"]) and scores["score"] > self.best_score:
            self.best_score = scores["score"]
            self._save("best.pt")
        return scores


def fit(
    config: ExperimentConfig,
    train_cases: Sequence[Mapping[str, np.ndarray]],
    val_cases: Sequence[Mapping[str, np.ndarray]] | None,
    out: str | Path,
    options: TrainOptions | None = None,
    meta: dict[str, Any] | None = None,
    preprocessing: dict[str, Any] | None = None,
) -> TrainResult:
    """Train (or, with options.resume, continue training) and return where the checkpoints are.

    `preprocessing` adds to the checkpoint's {"spacing", "roi", "margin"} what inference must also reproduce
    (e.g. the cache's "zscore_region" and "center").
    """
    return Trainer(config, train_cases, val_cases, out, options, meta, preprocessing).run()
