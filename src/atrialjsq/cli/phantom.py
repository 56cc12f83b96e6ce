"""`atrialjsq phantom`: write a set of synthetic LGE MRI phantoms in the LAScarQS 2022 task-1 layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from atrialjsq.cli.text import add_xyz_argument, non_negative, number, plural, positive, refuse_coarse_spacing


def add_iir_range(parser: argparse.ArgumentParser, what: str) -> None:
    """`--iir-range LOW HIGH`, shared with inject-scar."""
    parser.add_argument(
        "--iir-range",
        nargs=2,
        type=positive(float),
        metavar=("LOW", "HIGH"),
        default=None,
        help=f"override the {what} IIR range, e.g. 1.2 2.5 (default: the difficulty's)",
    )


def check_iir_range(values) -> tuple[float, float] | None:
    """LOW <= HIGH, as a tuple (or None when not given)."""
    from atrialjsq.errors import InputError

    if values is None:
        return None
    low, high = values
    if low > high:
        raise InputError(None, f"--iir-range needs LOW <= HIGH, got {low:g} {high:g}")
    if low <= 1.0:  # IIR is the wall's intensity over the blood pool's: scar at or below 1 is no brighter than blood
        raise InputError(None, f"--iir-range LOW must be above 1 (scar is brighter than the blood pool), got {low:g}")
    return float(low), float(high)


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
    parser.add_argument(
        "--seed", type=non_negative(int), default=0, help="seed of the set; case i uses a sub-seed (default 0)"
    )
    parser.add_argument(
        "--start", type=non_negative(int), default=0, help="index of the first case, to extend a set (default 0)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing case folders (a user's other files in them are kept)"
    )
    parser.add_argument(
        "--difficulty",
        choices=("easy", "medium", "hard"),
        default="medium",
        help="moves SNR, myocardial nulling, scar IIR, bias field and artefacts together (default medium)",
    )
    add_xyz_argument(parser, "--shape", positive(int), "stored grid in voxels (default 576 576 44)")
    add_xyz_argument(parser, "--spacing", positive(float), "stored voxel spacing in mm (default 0.625 0.625 2.5)")
    parser.add_argument(
        "--scar",
        choices=("post-ablation", "pre-ablation"),
        default=None,
        help="scar pattern (default: random, 70%% post-ablation)",
    )
    parser.add_argument(
        "--burden",
        type=number(float),
        default=None,
        help="scar fraction of the LA surface, 0.02-0.40 (default: random)",
    )
    parser.add_argument(
        "--snr", type=positive(float), default=None, help="blood mean / noise SD (default: the difficulty's)"
    )
    add_iir_range(parser, "scar")
    parser.add_argument(
        "--ghost",
        type=non_negative(float),
        default=None,
        help="N/2 phase-encode ghost amplitude, e.g. 0.05 (default: the difficulty's)",
    )
    parser.add_argument(
        "--blur-mm",
        type=non_negative(float),
        default=None,
        help="respiratory blur along z, Gaussian SD in mm (default: the difficulty's)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from atrialjsq.errors import InputError
    from atrialjsq.io.output_check import check_output_folder
    from atrialjsq.phantom.writer import write_phantom_set

    if args.n < 1:
        raise InputError(args.out, f"--n must be at least 1, got {args.n}")
    if args.burden is not None and not 0.02 <= args.burden <= 0.40:
        raise InputError(None, f"--burden must be within 0.02-0.40, got {args.burden}")
    for name, value, low in (("--snr", args.snr, 1e-6), ("--ghost", args.ghost, 0.0), ("--blur-mm", args.blur_mm, 0.0)):
        if value is not None and value < low:
            raise InputError(None, f"{name} must be {'positive' if low else 'non-negative'}, got {value}")
    iir_range = check_iir_range(args.iir_range)
    refuse_coarse_spacing(args.spacing)
    check_output_folder(args.out)
    try:
        folders = write_phantom_set(
            args.n,
            args.out,
            seed=args.seed,
            difficulty=args.difficulty,
            shape=tuple(args.shape) if args.shape else None,
            spacing=tuple(args.spacing) if args.spacing else None,
            start=args.start,
            scar_kind=args.scar,
            burden=args.burden,
            snr=args.snr,
            iir_range=iir_range,
            ghost=args.ghost,
            blur_mm=args.blur_mm,
            overwrite=args.overwrite,
        )
    except InputError:
        raise
    except ValueError as error:  # e.g. a field of view too small for the anatomy
        raise InputError(args.out, str(error)) from None
    print(f"wrote {plural(len(folders), 'phantom case')} to {args.out} (layout lascarqs1)")
    return 0
