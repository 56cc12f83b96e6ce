"""CPU network inference: PyTorch (the reference path) against ONNX Runtime and OpenVINO, same run, same windows.

The shipped default model's fine network tiles a volume of a real LASC 2018 case's size on its grid (the
Predictor's sliding window, overlap 0.5, no TTA); each engine runs the same windows through the same blend:
  torch fp32         the naive baseline
  torch bf16         what `predict` runs on a CPU with native bf16 (autocast)
  onnxruntime fp32   the network exported to ONNX (fixed window shape), CPU execution provider
  openvino fp32/bf16 the same ONNX file compiled by OpenVINO (inference precision hint)
It prints seconds per volume (best of --repeats after a warm-up), the ratio to torch fp32 and the largest
probability difference to torch fp32, and the LA Dice (p > 0.5) against it. Needs the optional packages
(`pip install onnxruntime onnx onnxscript openvino`); a missing engine is skipped with a note.

    python benchmarks/bench_onnx.py [--model NAME_OR_PATH] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from atrialjsq.infer.bundles import load_bundle
from atrialjsq.infer.predictor import Network
from atrialjsq.infer.sliding_window import sliding_window_probabilities

# A LASC 2018 case (576 x 576 x 88 at 0.625 x 0.625 x 1.25 mm, the release's usual grid) on the 1.5 mm grid
LASC_MM = (576 * 0.625, 576 * 0.625, 88 * 1.25)

ProbabilityFn = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def torch_fn(network: Network) -> ProbabilityFn:
    return network.probabilities


def export_onnx(network: Network, window: tuple[int, int, int], path: Path) -> list[str]:
    """The network (all heads, logits) as ONNX for a [1, 1, *window] input; returns the output names."""
    names = list(network.model.decoders.keys())

    class Heads(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor):
            outputs = self.model(x)
            return tuple(outputs[name] for name in names)

    example = torch.zeros((1, 1, *window))
    try:  # the TorchScript exporter (fixed shapes suffice), else the dynamo one (needs onnxscript)
        torch.onnx.export(
            Heads(network.model).eval(), (example,), str(path), input_names=["image"], output_names=names, dynamo=False
        )
    except Exception:
        torch.onnx.export(Heads(network.model).eval(), (example,), str(path), input_names=["image"], output_names=names)
    return names


def stacked(results: list, names: list[str]) -> dict[str, torch.Tensor]:
    """Per-window engine outputs (logits, one list per window) as the Predictor's batched probabilities."""
    return {n: torch.sigmoid(torch.from_numpy(np.concatenate([r[i] for r in results]))) for i, n in enumerate(names)}


def onnxruntime_fn(path: Path, names: list[str], threads: int) -> ProbabilityFn:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def predict(window: torch.Tensor) -> dict[str, torch.Tensor]:
        results = []
        for item in window:  # the ONNX graph has a fixed batch of 1
            results.append(session.run(names, {"image": item[None].numpy()}))
        return stacked(results, names)

    return predict


def openvino_fn(path: Path, names: list[str], threads: int, precision: str) -> ProbabilityFn:
    import openvino as ov

    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": precision}
    compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
    request = compiled.create_infer_request()

    def predict(window: torch.Tensor) -> dict[str, torch.Tensor]:
        results = []
        for item in window:
            request.infer({0: item[None].numpy()})
            results.append([np.array(request.get_output_tensor(i).data) for i in range(len(names))])
        return stacked(results, names)

    return predict


def timed(fn: ProbabilityFn, volume: torch.Tensor, window, repeats: int) -> tuple[float, dict[str, torch.Tensor]]:
    outputs = sliding_window_probabilities(volume, window, fn)  # warm-up (allocations, graph compilation)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        outputs = sliding_window_probabilities(volume, window, fn)
        best = min(best, time.perf_counter() - start)
    return best, outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="bundle path or shipped name (default: the shipped default)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    bundle = load_bundle(args.model)
    fp32 = Network(bundle["fine"], "cpu", precision="fp32")
    bf16 = Network(bundle["fine"], "cpu", precision="bf16")
    window = tuple(int(r) for r in fp32.roi)
    shape = [round(mm / s / fp32.multiple) * fp32.multiple for mm, s in zip(LASC_MM, fp32.spacing, strict=True)]
    rng = np.random.default_rng(0)
    volume = torch.from_numpy(rng.normal(size=(1, 1, *shape)).astype(np.float32))
    print(f"# model {bundle['name']}, window {window}, volume {tuple(shape)} at {fp32.spacing} mm, "
          f"{args.threads} threads, torch {torch.__version__}")  # fmt: skip

    engines: dict[str, Callable[[], ProbabilityFn]] = {
        "torch fp32": lambda: torch_fn(fp32),
        "torch bf16": lambda: torch_fn(bf16),
    }
    with tempfile.TemporaryDirectory(prefix="bench_onnx_") as tmp:
        onnx_path = Path(tmp) / "fine.onnx"
        try:
            names = export_onnx(fp32, window, onnx_path)
        except Exception as error:  # exporter missing or failing: torch rows only
            print(f"# ONNX export failed ({type(error).__name__}: {error}); torch only")
            names = []
        if names:
            engines["onnxruntime fp32"] = lambda: onnxruntime_fn(onnx_path, names, args.threads)
            engines["openvino fp32"] = lambda: openvino_fn(onnx_path, names, args.threads, "f32")
            engines["openvino bf16"] = lambda: openvino_fn(onnx_path, names, args.threads, "bf16")
        reference: dict[str, torch.Tensor] | None = None
        baseline = None
        for label, make in engines.items():
            try:
                fn = make()
                seconds, outputs = timed(fn, volume, window, args.repeats)
            except Exception as error:  # engine missing or failing on this model: skip it, keep the others
                print(f"{label:18s} skipped ({type(error).__name__}: {error})")
                continue
            if reference is None:
                reference, baseline = outputs, seconds
            delta = max(float((outputs[n] - reference[n]).abs().max()) for n in reference)
            a, b = outputs["la"] > 0.5, reference["la"] > 0.5
            agreement = 2 * float((a & b).sum()) / max(float(a.sum() + b.sum()), 1.0)
            print(
                f"bench_onnx cpu: {label:18s} {seconds:6.2f} s per volume = {baseline / seconds:4.2f}x torch fp32; "
                f"max |dp| {delta:.4f}, LA Dice vs fp32 {agreement:.4f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
