"""`atrialjsq quantify`: the arguments of `workflows.quantify` (classic scar quantification on the surface of a
given LA mask); the same case folder as `atrialjsq predict`. An existing output folder needs --overwrite."""

from __future__ import annotations

import argparse
from pathlib import Path

from atrialjsq.cli.text import non_negative, positive


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "quantify",
        help="scar burden on the LA surface with a classic method (IIR, Otsu, MGMM, mean + k·SD)",
        description=(
            "Quantify LA scar on the surface of a given LA mask with a classic method and write LA_predict.nii.gz, "
            "scar_predict.nii.gz, mesh.vtk/.ply, report.json, report.png, scar_map.png and report.html, like "
            "`atrialjsq predict`."
        ),
    )
    parser.add_argument("--image", required=True, type=Path, help="LGE MRI (NIfTI, NRRD, MHA or DICOM folder)")
    parser.add_argument("--la", required=True, type=Path, help="binary LA mask on the image's grid ({0,1} or {0,255})")
    parser.add_argument(
        "--method",
        required=True,
        choices=("iir", "otsu", "mgmm", "msd", "learngc"),  # workflows.quantify.METHODS (not imported: start-up)
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
    parser.add_argument("--no-figure", action="store_true", help="skip report.png, scar_map.png and report.html")
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


def run(args: argparse.Namespace) -> int:
    import sys

    from atrialjsq.errors import InputError
    from atrialjsq.io.output_check import check_output_folder
    from atrialjsq.quantify.staging import burden_text
    from atrialjsq.report.outputs import is_case_output
    from atrialjsq.workflows.quantify import QuantifyOptions, quantify_file

    options = QuantifyOptions(args.method, args.classifier, iir_threshold=args.iir_threshold, k=args.k)
    options.check()  # before any file is read
    out = args.out if args.out is not None else Path(f"{_image_stem(args.image)}_{args.method}")
    check_output_folder(out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise InputError(out, "output folder exists; pass --overwrite to replace its outputs (other files are kept)")
    for given in (Path(args.image), Path(args.la)):  # e.g. re-quantifying predict's LA_predict in its own folder
        if given.parent.resolve() == out.resolve() and is_case_output(given.name):
            raise InputError(given, f"would be replaced by this run's own {given.name}; write to another --out")
    outcome = quantify_file(
        args.image,
        args.la,
        out,
        options,
        figure=not args.no_figure,
        regional=not args.no_regional,
        dicom_seg=not args.no_dicom_seg,
    )
    for warning in outcome.warnings:
        print(f"warning: {out}: {warning}", file=sys.stderr)
    burden = outcome.burden
    assert burden is not None  # a failed case raised InputError
    print(
        f"{out}: scar burden {burden_text(burden.burden_percent)} % of the LA mesh area "
        f"{burden.surface_area_cm2:.1f} cm² ({burden.stage_text()}), LA {burden.la_volume_ml:.1f} mL"
    )
    return 0
