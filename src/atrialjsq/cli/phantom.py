"""`atrialjsq phantom`: write a set of synthetic LGE MRI phantoms in the LAScarQS 2022 task-1 layout."""

from __future__ import annotations

import argparse
from pathlib import Path


def _triple(kind):
    def parse(text: str):
        parts = text.replace("x", ",").split(",")
        if len(parts) != 3:
            raise argparse.ArgumentTypeError(f"expected three comma-separated numbers, got {text!r}")
        try:
            values = tuple(kind(p) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected three numbers, got {text!r}") from None
        if any(v <= 0 for v in values):
            raise argparse.ArgumentTypeError(f"values must be positive, got {text!r}")
        return values

    return parse


def _range(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}") from None
    if not 0 < low <= high:
        raise argparse.ArgumentTypeError(f"expected 0 < LOW <= HIGH, got {text!r}")
    return low, high


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "phantom",
        help="generate synthetic LGE MRI phantoms with LA and scar labels (LAScarQS task-1 layout)",
        description=(
            "Write N synthetic 3D LGE MRI cases, each a folder with enhanced.nii.gz, atriumSegImgMO.nii.gz, "
            "scarSegImgM.nii.gz and params.json (the generating parameters). Deterministic per seed."
        ),
    )
    parser.add_argument("--n", type=int, default=1, help="number of cases (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (cases phantom_0000, ...)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the set; case i uses a sub-seed (default 0)")
    parser.add_argument("--start", type=int, default=0, help="index of the first case (to extend a set)")
    parser.add_argument(
        "--difficulty",
        choices=("easy", "medium", "hard"),
        default="medium",
        help="moves SNR, myocardial nulling, scar IIR, bias field and artefacts together (default medium)",
    )
    parser.add_argument("--shape", type=_triple(int), default=None, help="stored grid, default 576,576,44")
    parser.add_argument(
        "--spacing", type=_triple(float), default=None, help="stored spacing mm, default 0.625,0.625,2.5"
    )
    parser.add_argument(
        "--scar",
        choices=("post-ablation", "pre-ablation"),
        default=None,
        help="scar pattern (default: random, 70%% post-ablation)",
    )
    parser.add_argument("--burden", type=float, default=None, help="scar fraction of the LA surface, 0.02-0.40")
    parser.add_argument("--snr", type=float, default=None, help="override the difficulty's SNR (blood mean / noise SD)")
    parser.add_argument("--iir-range", type=_range, default=None, help="override the scar IIR range, e.g. 1.2,2.5")
    parser.add_argument("--ghost", type=float, default=None, help="N/2 phase-encode ghost amplitude, e.g. 0.05")
    parser.add_argument("--blur-mm", type=float, default=None, help="respiratory blur along z (Gaussian SD, mm)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from atrialjsq.errors import InputError
    from atrialjsq.phantom.writer import write_phantom_set

    if args.n < 1:
        raise InputError(args.out, f"--n must be at least 1, got {args.n}")
    if args.burden is not None and not 0.02 <= args.burden <= 0.40:
        raise InputError(None, f"--burden must be within 0.02-0.40, got {args.burden}")
    for name, value, low in (("--snr", args.snr, 1e-6), ("--ghost", args.ghost, 0.0), ("--blur-mm", args.blur_mm, 0.0)):
        if value is not None and value < low:
            raise InputError(None, f"{name} must be {'positive' if low else 'non-negative'}, got {value}")
    if args.out.exists() and not args.out.is_dir():
        raise InputError(args.out, "exists and is not a folder")
    try:
        folders = write_phantom_set(
            args.n,
            args.out,
            seed=args.seed,
            difficulty=args.difficulty,
            shape=args.shape,
            spacing=args.spacing,
            start=args.start,
            scar_kind=args.scar,
            burden=args.burden,
            snr=args.snr,
            iir_range=args.iir_range,
            ghost=args.ghost,
            blur_mm=args.blur_mm,
        )
    except ValueError as error:  # e.g. a field of view too small for the anatomy
        raise InputError(args.out, str(error)) from None
    print(f"wrote {len(folders)} phantom case(s) to {args.out} (layout lascarqs1)")
    return 0
