"""End-to-end prediction time per case for a 576×576×44 LGE volume: read → every output written.

Ours (localiser → window around the LA → fine model, inference mode, bf16 on CUDA) against a naive path
measured in the same run: no localiser and no LA crop, the full training ROI at the image centre as in the
paper ("cropped into a unified size of 208×208×80 centering at the image"; `--naive whole` tiles the whole
volume instead), fp32. Both write the same outputs, so the difference is the prediction path alone.

Usage:
    python benchmarks/bench_predict.py                 # CPU, shipped default model
    python benchmarks/bench_predict.py --device cuda   # on a GPU
    python benchmarks/bench_predict.py --model bundle.pt --crops roi,tight
    python benchmarks/bench_predict.py --lasc-case 0 --precisions fp32,bf16 --channels-last   # a real LASC 2018
                                                  # case (native grid, ~0.625x0.625x1.25 mm) with the real model

Without a shipped model it builds an untrained bundle of about the paper's size (ajsq-sesa capped at 128
channels, 208×208×80 at 1 mm)
whose LA head is biased to call the whole window LA: network timings are then real, while the quantify and
output stages work on a box-shaped LA (said so in the output).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from atrialjsq.errors import InputError
from atrialjsq.infer.bundles import load_bundle, untrained_bundle
from atrialjsq.infer.inputs import InputCase
from atrialjsq.infer.predictor import Network, Predictor
from atrialjsq.io import Geometry, Volume, write_volume
from atrialjsq.workflows.predict import predict_case

SHAPE = (576, 576, 44)
SPACING = (0.625, 0.625, 2.5)


def machine(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    if device.startswith("cuda"):
        text += f", GPU {torch.cuda.get_device_name(torch.device(device))}"
    return text


def make_input(folder: Path, seed: int) -> tuple[Path, str]:
    """A phantom at the clinical geometry (or a synthetic ellipsoid when the generator is absent)."""
    try:
        from atrialjsq.phantom.generate import generate_phantom

        case, _ = generate_phantom(seed, shape=SHAPE, spacing=SPACING)
        image, kind = case.image, "phantom"
    except ImportError:
        grid = np.meshgrid(*[(np.arange(n) - n / 2) * s for n, s in zip(SHAPE, SPACING, strict=True)], indexing="ij")
        inside = (grid[0] / 35) ** 2 + (grid[1] / 25) ** 2 + (grid[2] / 30) ** 2 <= 1
        rng = np.random.default_rng(seed)
        array = (80 + 220 * inside + rng.normal(0, 20, SHAPE)).astype(np.float32)
        image, kind = Volume(array, Geometry(SHAPE, SPACING)), "synthetic ellipsoid"
    path = folder / "bench_case.nii.gz"
    write_volume(image, path)
    return path, kind


def lasc_input(folder: Path, index: int) -> tuple[Path, str]:
    """Case `index` of the LASC 2018 release ($LASC2018, or ../shared next to the repository), written as NIfTI at
    its assumed native spacing."""
    from atrialjsq.data.layouts import index_dataset, read_image

    root = Path(os.environ.get("LASC2018", Path(__file__).resolve().parents[2] / "shared" / "data" / "lasc2018"))
    refs = index_dataset(root, layout="lasc2018-h5")
    image = read_image(refs[index])
    path = folder / "bench_case.nii.gz"
    write_volume(image, path)
    return path, f"LASC 2018 case {refs[index].case_id} {image.geometry.shape} at {image.geometry.spacing} mm"


def stand_in_bundle(path: Path) -> Path:
    """Untrained paper-size networks; LA head biased (localiser: nothing → image centre; fine: all LA)."""
    from atrialjsq.model.configs import get_config

    # Sizes that fit the 16 MB bundle limit: the paper-size fine model capped at 128 channels (the deepest
    # levels hold most weights but little compute), and a small 4-level localiser.
    localizer = get_config(
        "unet-la-bce",
        model={"levels": 4, "base_channels": 8, "max_channels": 64},
        data={"spacing": (4.0, 4.0, 4.0), "roi": (64, 64, 32)},
    )
    untrained_bundle(localizer, get_config("ajsq-sesa", model={"max_channels": 128}), path)
    bundle = torch.load(path, weights_only=True)
    bundle["localizer"]["model"]["decoders.la.head.bias"].fill_(-30.0)
    bundle["fine"]["model"]["decoders.la.head.bias"].fill_(30.0)
    torch.save(bundle, path)
    return path


def timed_case(predictor: Predictor, image_path: Path, out: Path) -> tuple[float, dict, np.ndarray]:
    """Seconds from reading the file to the last output written, the stage timings, and the LA mask."""
    started = time.perf_counter()
    outcome = predict_case(predictor, InputCase("bench_case", image_path), out, figure=True)
    elapsed = time.perf_counter() - started
    from atrialjsq.io import read_volume

    la = read_volume(outcome.out_dir / "LA_predict.nii.gz").array > 0
    return elapsed, outcome.timings, la


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = np.count_nonzero(a) + np.count_nonzero(b)
    return 2 * np.count_nonzero(a & b) / total if total else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=None, help="bundle path or shipped name (default: the shipped default)")
    parser.add_argument("--crops", default="roi", help="comma-separated crop modes for our path (roi, tight)")
    parser.add_argument("--naive", choices=("roi", "whole"), default="roi")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1: imports, caches)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lasc-case", type=int, default=None, help="time this LASC 2018 case instead of a phantom")
    parser.add_argument("--precisions", default="auto", help="comma-separated precisions (auto, fp32, bf16)")
    parser.add_argument("--channels-last", action="store_true", help="also time our path with channels_last_3d")
    parser.add_argument(
        "--paper-size",
        action="store_true",
        help="time untrained paper-size networks (208x208x80 at 1 mm) instead of a trained bundle",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", RuntimeWarning)
    torch.backends.cudnn.benchmark = args.device.startswith("cuda")  # as `atrialjsq predict` does
    warmup = args.warmup

    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        tmp = Path(tmp)
        if args.lasc_case is not None:
            image_path, kind = lasc_input(tmp, args.lasc_case)
        else:
            image_path, kind = make_input(tmp, args.seed)
        note = ""
        try:
            if args.paper_size:
                raise InputError(None, "--paper-size")
            bundle = load_bundle(args.model)
        except InputError as error:
            if args.model is not None and not args.paper_size:
                raise
            print(f"# {error}: untrained paper-size stand-in (LA = the whole ROI box)")
            bundle = load_bundle(stand_in_bundle(tmp / "stand-in.pt"))
            note = " [untrained stand-in]"
        localizer = Network(bundle["localizer"], args.device) if bundle["localizer"] else None
        paths = {}
        for precision in args.precisions.split(","):
            for channels_last in (False, True) if args.channels_last else (None,):
                fine = Network(bundle["fine"], args.device, precision=precision)
                layout = {None: "", False: ", contiguous", True: ", channels_last"}[channels_last]
                for crop in args.crops.split(","):
                    name = f"ours ({crop}, {precision}{layout})"
                    paths[name] = Predictor(fine, localizer, crop=crop, channels_last=channels_last)
        naive_fine = Network(bundle["fine"], args.device, precision="fp32")
        paths[f"naive ({args.naive})"] = Predictor(naive_fine, None, crop=args.naive, channels_last=False)
        for predictor in paths.values():
            predictor.info = {"name": bundle["name"]}

        print(f"# machine: {machine(args.device)}")
        shown = kind if args.lasc_case is not None else f"{kind} {SHAPE} at {SPACING} mm"
        print(f"# input: {shown}; model {bundle['name']}{note}, fine ROI {naive_fine.roi}")
        results = {}
        for name, predictor in paths.items():
            for _ in range(warmup):
                timed_case(predictor, image_path, tmp / "warmup")
            seconds, stages, la = timed_case(predictor, image_path, tmp / name.replace(" ", "_"))
            results[name] = (seconds, la)
            detail = ", ".join(f"{key} {value:.2f}" for key, value in stages.items() if key != "total")
            print(f"{name:36s} {seconds:7.2f} s  ({detail})", flush=True)
        naive_name = f"naive ({args.naive})"
        naive_seconds, naive_la = results[naive_name]
        first_name = next(iter(results))
        for name, (seconds, la) in results.items():
            if name != naive_name:
                agreement = f"LA Dice vs naive {dice(la, naive_la):.3f}"
                if name != first_name:
                    agreement += f", vs {first_name} {dice(la, results[first_name][1]):.3f}"
                print(
                    f"bench_predict {args.device}: {name} {seconds:.2f} s vs {naive_name} {naive_seconds:.2f} s "
                    f"= {naive_seconds / seconds:.1f}x faster; {agreement}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
