"""`atrialjsq predict`: LA and scar for new images with nothing but the image (no ground-truth LA needed).

Inputs are image files (NIfTI, NRRD, MHA/MHD, LASC 2018 .h5), DICOM series folders, dataset folders (every
case of a known layout) or flat folders of images such as nnU-Net's imagesTs/. Each case writes
<out>/<case_id>/ (LA_predict.nii.gz, scar_predict.nii.gz, mesh.vtk/.ply, report.json, report.png,
scar_map.png, report.html, and segmentation.dcm for a DICOM series) and the batch <out>/summary.csv; the case
id is the file name without its extension and without nnU-Net's _0000 suffix, or the folder name.

An existing <out>/<case_id>/ is refused before any work unless --overwrite (its output files are replaced,
other files kept) or --skip-existing (finished cases are left alone). A bad input prints
`error: <path>: <reason>` and leaves no folder; the other inputs are still processed, the last line sums the
batch up and the exit status is 1 when anything failed.

Under torchrun (WORLD_SIZE > 1) process RANK predicts inputs RANK, RANK + WORLD_SIZE, ... on cuda:LOCAL_RANK
(or the CPU); no process group is needed because the processes share nothing but the output folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from atrialjsq.cli.dataset_options import add_dataset_arguments
from atrialjsq.cli.text import add_threads_argument, apply_threads, batch_summary, non_negative, plural, positive


def add_model_arguments(parser: argparse.ArgumentParser, default_model: str | None = None) -> None:
    """Options shared by `predict` and `demo` (whose default model is the phantom one)."""
    from atrialjsq.infer.model_names import DEFAULT_MODEL

    parser.add_argument(
        "--model",
        default=default_model,
        help=f"model bundle file, or the name of a shipped model (`atrialjsq models`; default: "
        f"{default_model or DEFAULT_MODEL})",
    )
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument(
        "--tta",
        action="store_true",
        help="average over mirrorings along the axes flipped in training (up to 8x slower); refused for a model "
        "trained without flips, which mirroring makes worse",
    )
    parser.add_argument(
        "--crop",
        choices=("roi", "tight", "whole"),
        default=None,
        help="roi: training-size windows around the localised LA; tight: the LA box only (faster); whole: tile "
        "the whole volume (default: roi with a localiser, whole for a model without one)",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="auto = bf16 on CUDA and on CPUs with native bf16 (AVX-512-BF16/AMX), else fp32",
    )
    add_threads_argument(parser)


def add_figure_arguments(parser: argparse.ArgumentParser) -> None:
    """The optional outputs `predict` and `demo` share (the demo always writes the probability maps)."""
    parser.add_argument("--no-figure", action="store_true", help="skip report.png, scar_map.png and report.html")
    parser.add_argument(
        "--no-regional",
        action="store_true",
        help="skip the regional breakdown (landmarks, regions, PV antrum rings) and scar_map.png: about 1.5-4 s "
        "less per case",
    )


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Outputs only `predict` offers: the demo writes its probability maps always and has no DICOM input."""
    parser.add_argument("--save-probabilities", action="store_true", help="also write prob_{la,normal,scar}.nii.gz")
    parser.add_argument(
        "--no-dicom-seg",
        action="store_true",
        help="for a DICOM series input, do not write segmentation.dcm (a DICOM Segmentation of LA and scar)",
    )


def register(subparsers) -> argparse.ArgumentParser:
    from atrialjsq.cli import RawDescriptionHelpFormatter

    parser = subparsers.add_parser(
        "predict",
        help="segment the LA and quantify scar on new images (files, DICOM folders or dataset folders)",
        description=(__doc__ or "").split("\n\n", 1)[-1],
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="image file, DICOM folder, dataset or image folder"
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder; one sub-folder per case")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--overwrite",
        action="store_true",
        help="predict into existing case folders (replaces their output files, keeps any other file)",
    )
    existing.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave finished cases (a case folder with report.json) alone and predict the others",
    )
    parser.add_argument(
        "--case-id",
        help="name of the case (its output folder) when the inputs hold one case; default: from the "
        "file name, or the folder above a generically named file or DICOM folder (p07/series -> p07)",
    )
    parser.add_argument(
        "--num-parts", type=positive(int), default=1, help="split the cohort into this many parts (cluster job arrays)"
    )
    parser.add_argument(
        "--part-id",
        type=non_negative(int),
        default=0,
        help="which part this run predicts, 0..num-parts-1 (cases sorted by id, every num-parts-th from part-id)",
    )
    add_dataset_arguments(parser)
    add_model_arguments(parser)
    add_figure_arguments(parser)
    add_output_arguments(parser)
    parser.add_argument(
        "--output-workers",
        type=non_negative(int),
        default=None,
        help="processes that write each case's analysis and files while the network predicts the next case "
        "(default, for a batch on 2 or more cores: 2 with the regional breakdown or figures, 1 without them; "
        "0 for a single case or core; 0: everything in this process). Without --threads the network then gets the "
        "cores the workers leave",
    )
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

    from atrialjsq.hardware import resolve_device
    from atrialjsq.infer.predictor import Predictor
    from atrialjsq.workflows.predict import require_joint

    one_line_warnings()
    apply_threads(args.threads)
    device = resolve_device(args.device)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # windows have a fixed size, so tuned kernels are reused
    predictor = Predictor.from_checkpoint(args.model, device, precision=args.precision, tta=args.tta, crop=args.crop)
    return require_joint(predictor, args.model)


def summary_line(outcome) -> str:
    from atrialjsq.quantify.staging import burden_text

    burden = outcome.burden
    stage = f"Utah {burden.utah_stage}" if burden.staged else f"Utah not staged: {burden.not_staged_reason}"
    flagged = f"; {len(outcome.warnings)} warning(s), see report.json" if outcome.warnings else ""
    return (
        f"{outcome.out_dir}: LA {burden.la_volume_ml:.1f} mL, scar burden {burden_text(burden.burden_percent)} % "
        f"of the LA mesh area ({stage}), {outcome.timings.get('total', 0.0):.1f} s{flagged}"
    )


def existing_choice(args: argparse.Namespace) -> str:
    """What to do with existing case folders (see `atrialjsq.workflows.predict.plan_outputs`)."""
    return "overwrite" if args.overwrite else ("skip" if args.skip_existing else "refuse")


def run(args: argparse.Namespace) -> int:
    import sys

    from atrialjsq.io.output_check import check_output_folder
    from atrialjsq.workflows.predict_batch import BatchRequest, run_batch

    check_output_folder(args.out)  # a file in the way or a read-only disk fails now, not after the network
    request = BatchRequest(
        inputs=args.inputs,
        out=args.out,
        layout=args.layout,
        h5_spacing=args.h5_spacing,
        case_id=args.case_id,
        num_parts=args.num_parts,
        part_id=args.part_id,
        existing=existing_choice(args),
        probability_maps=args.save_probabilities,
        figure=not args.no_figure,
        regional=not args.no_regional,
        dicom_seg=not args.no_dicom_seg,
        output_workers=args.output_workers,
        threads=args.threads,
        progress=not args.quiet,
    )
    batch = run_batch(request, lambda: build_predictor(args))
    if batch.conflicts:
        have = "has an output folder" if len(batch.conflicts) == 1 else "have output folders"
        print(
            f"nothing written: {len(batch.conflicts)} of {plural(batch.total, 'case')} {have} already", file=sys.stderr
        )
        return 1
    if batch.interrupted:
        print(
            f"interrupted: {batch.written} of {plural(batch.total, 'case')} written, {len(batch.not_run)} not run (the "
            f"case in progress left no folder); rerun the same command with --skip-existing to finish; {batch.summary}",
            file=sys.stderr,
        )
        return 130
    for outcome in batch.outcomes:
        if outcome.ok:
            print(summary_line(outcome))
    print(batch_summary(batch.total, batch.written, batch.failed, skipped=len(batch.skipped)))
    return 1 if batch.failed else 0
