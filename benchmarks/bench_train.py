"""Training iteration time: a plain fp32 eager step against the trainer's optimised path, in the same run.

    python benchmarks/bench_train.py --device cuda                 # 208x208x80, batch 2 (paper size), on a GPU
    python benchmarks/bench_train.py --device cpu                  # 64x64x32 by default on a CPU
    python benchmarks/bench_train.py --device cpu --size 80 80 64 --base-channels 8 --max-channels 128  # the real
                                                                   # model's CPU recipe (add --threads 1, --norm)

One line per variant, all with the same network, loss and batch:
  plain      fp32, eager, contiguous tensors, for-loop SGD, PyTorch's default backend settings: the reference;
  bf16_cl    CUDA: bf16 autocast + channels_last_3d + fused SGD + cuDNN autotuning, eager;
  optimised  CUDA: the same + torch.compile (unless --no-compile);
  fp32_cl, bf16_contiguous, bf16_cl   CPU: the layout x precision matrix (bf16_cl_compile with --cpu-compile);
  trainer    `Trainer.step` with its device's default settings (`Trainer.fast_settings`: CUDA bf16 +
             channels_last_3d + fused SGD + compile; CPU channels_last_3d, plus bf16 where the CPU has native
             bf16 instructions), including the on-device batch assembly and augmentation (random ROI shift,
             flips, rotation, zoom, intensity) from an in-memory bank.
Each figure is the median over --iters timed iterations after --warmup untimed ones; on CUDA the peak GPU
memory of each variant is printed too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from atrialjsq.losses.total import JointLoss
from atrialjsq.model.configs import get_config
from atrialjsq.model.unet import build_model, count_parameters
from atrialjsq.train.schedule import make_optimizer
from atrialjsq.train.trainer import Trainer, TrainOptions


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def synthetic_case(shape: tuple[int, int, int], seed: int) -> dict[str, np.ndarray]:
    """A ball LA with a scar cap: right dtypes and plausible values (the timing does not depend on them)."""
    rng = np.random.default_rng(seed)
    axes = [np.arange(n) - (n - 1) / 2 for n in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    r = np.sqrt(x**2 + y**2 + z**2)
    radius = 0.3 * min(shape)
    phi = np.clip(r - radius, -50, 50)
    band = np.where(np.abs(phi) < 2, np.where(x > 0.5 * radius, 2, 1), 0).astype(np.uint8)
    return {
        "image": (np.where(phi < 0, 1.0, 0.0) + 0.2 * rng.normal(size=shape)).astype(np.float32),
        "la": (phi <= 0).astype(np.uint8),
        "phi_la": phi.astype(np.float16),
        "band": band,
        "phi_normal": np.where(band == 1, -1.0, 3.0).astype(np.float16),
        "phi_scar": np.where(band == 2, -1.0, 3.0).astype(np.float16),
    }


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, device: torch.device, warmup: int, iters: int) -> tuple[list[float], float, float]:
    """Per-iteration seconds, first-iteration seconds (compile etc.) and peak GPU memory (GiB)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    step(0)
    synchronize(device)
    first = time.perf_counter() - start
    for i in range(1, warmup):
        step(i)
    synchronize(device)
    times = []
    for i in range(iters):
        start = time.perf_counter()
        step(warmup + i)
        synchronize(device)
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return times, first, peak


def make_model_step(config, device, batch, *, amp: bool, channels_last: bool, fused: bool, compile_model: bool):
    torch.manual_seed(0)
    model = build_model(config).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    forward = torch.compile(model) if compile_model else model
    loss_fn = JointLoss(config)
    if fused:
        optimizer = make_optimizer(config.optim, model.parameters(), fused=True)
    else:
        optimizer = torch.optim.SGD(
            model.parameters(), lr=config.optim.lr, momentum=config.optim.momentum,
            weight_decay=config.optim.weight_decay, foreach=False,
        )  # fmt: skip
    image = batch["image"].contiguous(memory_format=torch.channels_last_3d) if channels_last else batch["image"]

    def step(iteration: int) -> None:
        autocast = torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
        with autocast:
            outputs = forward(image)
        loss, _ = loss_fn(outputs, batch, iteration)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", nargs=3, type=int, help="ROI (default 208 208 80 on CUDA, 64 64 32 on CPU)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--iters", type=int, help="timed iterations (default 30 on CUDA, 3 on CPU)")
    parser.add_argument("--warmup", type=int, help="untimed iterations first (default 10 on CUDA, 1 on CPU)")
    parser.add_argument("--config", default="ajsq-sesa")
    parser.add_argument("--levels", type=int, help="override model.levels (e.g. for tiny CPU sizes)")
    parser.add_argument("--base-channels", type=int, help="override model.base_channels")
    parser.add_argument("--no-compile", action="store_true", help="CUDA: skip torch.compile in the optimised path")
    parser.add_argument("--threads", type=int, help="CPU: intra-op threads (default: torch's)")
    parser.add_argument("--skip-trainer", action="store_true", help="only the plain and optimised model steps")
    parser.add_argument("--norm", choices=("instance", "batch", "none"), help="override model.norm")
    parser.add_argument("--max-channels", type=int, help="override model.max_channels")
    parser.add_argument("--cpu-compile", action="store_true", help="CPU: also time torch.compile (slow to build)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        print("CUDA requested but not available", file=sys.stderr)
        return 1
    if args.threads:
        torch.set_num_threads(args.threads)
    size = tuple(args.size or ((208, 208, 80) if cuda else (64, 64, 32)))
    iters = args.iters or (30 if cuda else 3)
    warmup = args.warmup or (10 if cuda else 1)
    chosen = (
        ("levels", args.levels),
        ("base_channels", args.base_channels),
        ("max_channels", args.max_channels),
        ("norm", args.norm),
    )
    model_overrides = {k: v for k, v in chosen if v}
    margin = (8, 8, 4)
    config = get_config(
        args.config,
        data={"roi": size, "margin": margin},
        model=model_overrides,
        train={"batch_size": args.batch, "iterations": 10**6, "checkpoint_every": 10**6, "log_every": 10**6},
    )
    cases = [synthetic_case(tuple(s + 2 * m for s, m in zip(size, margin, strict=True)), i) for i in range(4)]
    window = tuple(slice(m, m + s) for m, s in zip(margin, size, strict=True))
    batch = {
        key: torch.from_numpy(np.stack([c[key][window] for c in cases[: args.batch]])[:, None]).to(device).float()
        for key in cases[0]
    }

    print(f"machine: {machine(device)}")
    print(
        f"config {config.name}: {count_parameters(build_model(config)) / 1e6:.2f} M parameters, "
        f"ROI {'x'.join(map(str, size))}, batch {args.batch}, {iters} timed iterations after {warmup} warm-up"
    )
    results: dict[str, dict[str, float | None]] = {}

    def report(name: str, label: str, times: list[float], first: float, peak: float) -> None:
        median = statistics.median(times)
        results[name] = {"ms": 1e3 * median, "first_s": first, "peak_gib": peak if cuda else None}  # JSON has no NaN
        plain_ms = results["plain"]["ms"]
        ratio = "" if plain_ms is None or name == "plain" else f"  ({plain_ms / (1e3 * median):.2f}x plain)"
        memory = f", peak GPU memory {peak:.2f} GiB" if cuda else ""
        print(f"{label:<58} {1e3 * median:9.1f} ms/iteration{ratio}{memory}, first iteration {first:.1f} s")

    def measure(name: str, label: str, make_step) -> None:
        """Build and time one variant; a failing variant (e.g. a compiler error) is reported, not fatal."""
        # PyTorch defaults for the plain step; cuDNN autotuning (a one-line setting) for the optimised ones.
        torch.backends.cudnn.benchmark = cuda and name != "plain"
        try:
            step = make_step()
            report(name, label, *time_steps(step, device, warmup, iters))
        except Exception as error:  # report and go on with the other variants
            print(f"{label:<58} failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
        if cuda:
            torch.cuda.empty_cache()

    def model_step(**kwargs):
        return lambda: make_model_step(config, device, batch, **kwargs)

    measure(
        "plain", "plain fp32 eager step", model_step(amp=False, channels_last=False, fused=False, compile_model=False)
    )
    if "plain" not in results:
        return 1
    compile_model = cuda and not args.no_compile
    if cuda:
        measure(
            "bf16_cl",
            "bf16 + channels_last_3d + fused SGD, eager",
            model_step(amp=True, channels_last=True, fused=True, compile_model=False),
        )
        if compile_model:
            measure(
                "optimised",
                "optimised: bf16 + channels_last_3d + fused SGD + compile",
                model_step(amp=True, channels_last=True, fused=True, compile_model=True),
            )
    else:
        # The CPU matrix: memory layout x bf16 autocast (x torch.compile with --cpu-compile), same run.
        for amp, channels_last in ((False, True), (True, False), (True, True)):
            name = ("bf16_" if amp else "fp32_") + ("cl" if channels_last else "contiguous")
            label = ("bf16 autocast" if amp else "fp32") + (" + channels_last_3d" if channels_last else ", contiguous")
            measure(name, label, model_step(amp=amp, channels_last=channels_last, fused=False, compile_model=False))
        if args.cpu_compile:
            measure(
                "bf16_cl_compile",
                "bf16 autocast + channels_last_3d + torch.compile",
                model_step(amp=True, channels_last=True, fused=False, compile_model=True),
            )
    if not args.skip_trainer:
        with tempfile.TemporaryDirectory() as out:

            def trainer_step():
                options = TrainOptions(device=str(device), fast=True, compile=compile_model, progress=False)
                trainer = Trainer(config, cases, None, out, options)
                trainer.model.train()
                return trainer.step

            trainer_fast = Trainer.fast_settings(device)
            what = " + ".join(name for name, on in zip(("bf16", "channels_last_3d"), trainer_fast, strict=True) if on)
            what = (what or "fp32") + (" + fused SGD + compile" if compile_model else "")
            measure("trainer", f"trainer step ({what}) + on-device augmentation", trainer_step)
    if args.json:
        payload = {"machine": machine(device), "size": size, "batch": args.batch, "results": results}
        Path(args.json).write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
