"""`atrialjsq quantify`: classic scar quantification on the LA surface for any LA mask, manual or predicted.

The LA mask must be on the image's grid and binary: its values must be {0, 1} or {0, 255} (any numeric type;
a mask holding only one of those values besides 0 is fine, an empty one is not). Writes the same case folder
as `atrialjsq predict` (see `atrialjsq.report.outputs`); an existing output folder needs --overwrite.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from atrialjsq.cli.text import non_negative, positive

ACCEPTED_LA_VALUES = ({0, 1}, {0, 255})


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "quantify",
        help="scar burden on the LA surface with a classic method (IIR, Otsu, MGMM, mean + k·SD)",
        description=(
            "Quantify LA scar on the surface of a given LA mask with a classic method and write LA_predict.nii.gz, "
            "scar_predict.nii.gz, mesh.vtk/.ply, report.json, report.png and scar_map.png, like `atrialjsq predict`."
        ),
    )
    parser.add_argument("--image", required=True, type=Path, help="LGE MRI (NIfTI, NRRD, MHA or DICOM folder)")
    parser.add_argument("--la", required=True, type=Path, help="binary LA mask on the image's grid ({0,1} or {0,255})")
    parser.add_argument(
        "--method",
        required=True,
        choices=("iir", "otsu", "mgmm", "msd", "learngc"),
        help="classic method, or learngc (a learned surface classifier + graph cut; needs --classifier)",
    )
    parser.add_argument(
        "--classifier", type=Path, default=None, help="learngc: classifier file from `atrialjsq learngc-train`"
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: ./<image name>_<method>)")
    parser.add_argument(
        "--overwrite", action="store_true", help="write into an existing output folder (other files are kept)"
    )
    parser.add_argument(
        "--k", type=non_negative(float), default=3.0, help="msd: scar above blood-pool mean + k·SD (default 3)"
    )
    parser.add_argument(
        "--iir-threshold",
        type=positive(float),
        default=1.32,
        help="iir: scar at IIR ≥ this (1.32 dense scar, default; 1.2 fibrosis); both burdens are reported",
    )
    parser.add_argument("--no-figure", action="store_true", help="skip report.png and scar_map.png")
    parser.add_argument(
        "--no-dicom-seg",
        action="store_true",
        help="for a DICOM series image, do not write segmentation.dcm (a DICOM Segmentation of LA and scar)",
    )
    parser.add_argument(
        "--no-regional", action="store_true", help="skip the regional breakdown (landmarks, regions, rings, map)"
    )
    parser.set_defaults(func=run)
    return parser


def _image_stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def check_la_mask(la, image, la_path: Path) -> None:
    """Refuse a mask that is off the image's grid, empty, or not a binary label; InputError names the file."""
    import numpy as np

    from atrialjsq.errors import InputError

    problem = image.geometry.mismatch(la.geometry)
    if problem is not None:
        raise InputError(la_path, f"LA mask is not on the image's grid: {problem}")
    values = set(np.unique(la.array).tolist())
    if not values - {0}:
        raise InputError(la_path, "LA mask is empty")
    if not any(values <= accepted for accepted in ACCEPTED_LA_VALUES):
        shown = ", ".join(f"{v:g}" for v in sorted(values)[:6]) + (", ..." if len(values) > 6 else "")
        raise InputError(la_path, f"LA mask must be binary, {{0, 1}} or {{0, 255}}; found values {shown}")


def _named(error, args: argparse.Namespace):
    """The library names its inputs "<image>" and "<LA mask>"; the user wants the paths they typed."""
    from atrialjsq.errors import InputError

    paths = {"<image>": args.image, "<LA mask>": args.la}
    return InputError(paths[error.path], error.reason) if error.path in paths else error


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from atrialjsq.data.image_sanity import check_image_values
    from atrialjsq.data.plausibility import check_field_of_view
    from atrialjsq.errors import InputError
    from atrialjsq.io import read_volume
    from atrialjsq.io.image_io import is_dicom_dir
    from atrialjsq.io.output_check import check_output_folder
    from atrialjsq.quantify.baselines import iir_intensity_problem, scar_from_image
    from atrialjsq.report.outputs import write_case_outputs
    from atrialjsq.report.report_json import report_warnings

    classifier = None
    if args.method == "learngc":
        from atrialjsq.quantify.learngc import LearnGCClassifier

        if args.classifier is None:
            raise InputError(None, "--method learngc needs --classifier (train one with `atrialjsq learngc-train`)")
        classifier = LearnGCClassifier.load(args.classifier)
    elif args.classifier is not None:
        raise InputError(None, f"--classifier goes with --method learngc, not {args.method}")
    out = args.out if args.out is not None else Path(f"{_image_stem(args.image)}_{args.method}")
    check_output_folder(out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise InputError(out, "output folder exists; pass --overwrite to replace its outputs (other files are kept)")
    started = time.perf_counter()
    image = read_volume(args.image)
    check_field_of_view(image.geometry, args.image)  # as predict: a grid that cannot hold an LA is refused
    check_image_values(image.array, image.geometry, args.image)  # ... and a mask, CT or noise given as the image
    la = read_volume(args.la)
    check_la_mask(la, image, args.la)
    problem = iir_intensity_problem(image.array) if args.method == "iir" else None
    if problem is not None:
        raise InputError(args.image, problem)
    loaded = time.perf_counter()
    try:
        if classifier is not None:
            from atrialjsq.quantify.learngc import scar_by_learngc

            result = scar_by_learngc(image, la, classifier)
        else:
            result = scar_from_image(image, la, args.method, iir_threshold=args.iir_threshold, k=args.k)
    except InputError as error:
        raise _named(error, args) from None
    quantified = time.perf_counter()
    extra = {
        "case_id": out.name,
        "method": args.method,
        "model": f"learngc:{args.classifier}" if classifier is not None else f"classic:{args.method}",
        "inputs": {"image": str(args.image), "la": str(args.la)},
        "timings": {"read": loaded - started, "quantify": quantified - loaded},
    }
    burden = write_case_outputs(
        out,
        image,
        result,
        extra,
        figure=not args.no_figure,
        regional=not args.no_regional,
        dicom_source=args.image if is_dicom_dir(args.image) and not args.no_dicom_seg else None,
    )
    for warning in report_warnings(burden, extra):
        print(f"warning: {out}: {warning}", file=sys.stderr)
    print(
        f"{out}: scar burden {burden.burden_percent:.1f} % of the LA mesh area {burden.surface_area_cm2:.1f} cm² "
        f"({burden.stage_text()}), LA {burden.la_volume_ml:.1f} mL"
    )
    return 0
