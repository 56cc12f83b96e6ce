"""`atrialjsq predict`: LA and scar for new images with nothing but the image (no ground-truth LA needed).

Inputs are image files (NIfTI, NRRD, MHA/MHD), DICOM series folders or dataset folders (every case found by
`data.layouts`). Each writes `<out>/<case_id>/` (see `atrialjsq.report.outputs`); the case id is the file name
without its extension, or the folder name. A bad input prints `error: <path>: <reason>` and leaves no folder;
the other inputs are still processed and the exit status is 1 at the end.

Under torchrun (WORLD_SIZE > 1) process RANK predicts inputs RANK, RANK + WORLD_SIZE, ... on cuda:LOCAL_RANK
(or the CPU); no process group is needed because the processes share nothing but the output folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `predict` and `demo`."""
    parser.add_argument(
        "--model",
        default=None,
        help="model bundle file, or the name of a shipped model (default: phantom-ajsq-sesa)",
    )
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument(
        "--tta",
        action="store_true",
        help="average over mirrorings along the axes flipped in training (up to 8x slower)",
    )
    parser.add_argument(
        "--crop",
        choices=("roi", "tight", "whole"),
        default="roi",
        help="roi: training-size windows around the localised LA (default); tight: the LA box only (faster); "
        "whole: tile the whole volume",
    )
    parser.add_argument(
        "--precision", choices=("auto", "fp32", "bf16"), default="auto", help="auto = bf16 on CUDA, fp32 on CPU"
    )
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--save-probabilities", action="store_true", help="also write prob_{la,normal,scar}.nii.gz")
    parser.add_argument("--no-figure", action="store_true", help="skip report.png")


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict",
        help="segment the LA and quantify scar on new images (files, DICOM folders or dataset folders)",
        description=(__doc__ or "").split("\n\n", 1)[-1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image file, DICOM or dataset folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder; one sub-folder per case")
    add_model_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def one_line_warnings() -> None:
    """Format runtime warnings (e.g. "the localiser found no LA") as `warning: ...` lines, not source excerpts."""
    import warnings

    def one_line(message, category, filename, lineno, line=None) -> str:
        return f"warning: {message}\n"

    warnings.formatwarning = one_line


def build_predictor(args: argparse.Namespace):
    """The Predictor the options describe (device chosen per torchrun process)."""
    import torch

    from atrialjsq.infer.pipeline import resolve_device
    from atrialjsq.infer.predictor import Predictor

    one_line_warnings()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # windows have a fixed size, so tuned kernels are reused
    return Predictor.from_checkpoint(args.model, device, precision=args.precision, tta=args.tta, crop=args.crop)


def summary_line(outcome) -> str:
    burden = outcome.burden
    return (
        f"{outcome.out_dir}: LA {burden.la_volume_ml:.1f} mL, scar burden {burden.burden_percent:.1f} % "
        f"(Utah {burden.utah_stage}), {outcome.timings.get('total', 0.0):.1f} s"
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from atrialjsq.infer.inputs import collect_inputs, distributed_rank, shard
    from atrialjsq.infer.pipeline import predict_cases

    cases, errors = collect_inputs(args.inputs)
    rank, world = distributed_rank()
    for error in errors if rank == 0 else []:
        print(f"error: {error}", file=sys.stderr)
    cases = shard(cases, rank, world)
    if not cases:
        return 1 if errors else 0
    predictor = build_predictor(args)
    outcomes = predict_cases(
        predictor,
        cases,
        args.out,
        probability_maps=args.save_probabilities,
        figure=not args.no_figure,
        progress=not args.quiet and rank == 0,  # one bar, not one per torchrun process
    )
    for outcome in outcomes:
        if outcome.ok:
            print(summary_line(outcome))
    failed = len(errors) + sum(not outcome.ok for outcome in outcomes)
    return 1 if failed else 0
