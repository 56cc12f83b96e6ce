"""`atrialjsq evaluate`: LA and scar metrics of LAScarQS-named predictions against a ground-truth folder."""

from __future__ import annotations

import argparse
import sys

from atrialjsq.cli.dataset_options import LAYOUT_HELP
from atrialjsq.cli.text import add_xyz_argument, batch_summary, positive


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="LA and scar metrics (paper protocol) of a prediction folder against ground truth",
        description=(
            "Evaluate <pred>/<case>/LA_predict.nii.gz (and scar_predict.nii.gz) against a ground-truth dataset "
            "folder: Dice, Jaccard, ASD, ASSD, HD, HD95 (mm and voxels) for the LA; scar projected onto the "
            "manual LA surface, then Accuracy, Sensitivity, Specificity, Dice_s, Dice_g and scar % "
            "(docs/explanation/evaluation.md). Each prediction must lie on its reference's grid (shape, spacing, "
            "origin, direction); a case that cannot be scored is listed with its reason, the others are still "
            "scored, and the exit status is then 1. Writes per_case.csv, summary.csv and summary.json."
        ),
    )
    parser.add_argument("--pred", required=True, help="folder with one sub-folder of predictions per case")
    parser.add_argument("--gt", required=True, help="ground-truth dataset folder (e.g. LAScarQS task 1)")
    parser.add_argument("--out", default="evaluation", help="output folder (default: ./evaluation)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace per_case.csv, summary.csv and summary.json if --out holds them (other files are kept)",
    )
    add_xyz_argument(
        parser, "--spacing", positive(float), "voxel spacing in mm overriding the files' (default: each file's own)"
    )
    parser.add_argument(
        "--gt-layout", default="auto", help="ground-truth layout: " + LAYOUT_HELP.replace("(default: auto)", "")
    )
    parser.add_argument(
        "--exclude-label",
        metavar="FILE",
        help="label file inside each ground-truth case folder (e.g. a mitral valve mask) whose surface voxels, "
        "and those next to it, are left out of the scar evaluation",
    )
    parser.add_argument(
        "--scar-form",
        choices=("auto", "wall", "band"),  # evaluate.scar_metrics.SCAR_FORMS (not imported: the CLI loads lazily)
        default="auto",
        help="how scar_predict is projected onto the manual surface: 'wall' as a label drawn in the wall (any hit "
        "within ±10 mm along the normal, as the manual scar), 'band' as painted by `predict` into the band "
        "around LA_predict (read at the nearest in-band point); default 'auto' picks per case (a band reaches "
        "2 mm into the LA, a wall label lies outside it)",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="evaluate the cases that have predictions, report the others, and still exit 1",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from atrialjsq.data.layouts import index_dataset
    from atrialjsq.errors import InputError
    from atrialjsq.evaluate.evaluate_dir import (
        OUTPUT_FILES,
        evaluate_dirs,
        format_summary,
        missing_predictions,
        write_outputs,
    )
    from atrialjsq.io.output_check import check_output_folder

    check_output_folder(args.out)
    existing = [Path(args.out) / name for name in OUTPUT_FILES if (Path(args.out) / name).exists()]
    if existing and not args.overwrite:
        raise InputError(existing[0], "exists; pass --overwrite to replace the evaluation's files in this folder")
    if not args.allow_missing:
        # List every missing case (one line each) before spending time on the others.
        refs = index_dataset(args.gt, layout=args.gt_layout, spacing=args.spacing)
        missing = missing_predictions(Path(args.pred), refs) if Path(args.pred).is_dir() else []
        for case_id, path in missing:
            print(f"error: {path}: missing prediction for ground-truth case {case_id}", file=sys.stderr)
        if missing:
            return 1
    evaluation = evaluate_dirs(
        args.pred,
        args.gt,
        spacing=args.spacing,
        allow_missing=args.allow_missing,
        gt_layout=args.gt_layout,
        exclude_name=args.exclude_label,
        scar_form=args.scar_form,
    )
    for _, error in evaluation.failed:
        print(f"error: {error}", file=sys.stderr)
    total = len(evaluation.rows) + len(evaluation.failed) + len(evaluation.missing)
    failed = [case_id for case_id, _ in evaluation.failed] + list(evaluation.missing)
    if not evaluation.rows:
        print(f"error: {args.pred}: no case could be evaluated", file=sys.stderr)
        print(batch_summary(total, 0, failed, verb="scored"))
        return 1
    meta = {"pred": str(Path(args.pred).resolve()), "gt": str(Path(args.gt).resolve()), "spacing": args.spacing}
    summary = write_outputs(evaluation, args.out, meta)
    print(format_summary(summary))
    print(
        "scar_pct_* count surface voxels of the manual LA (the paper's protocol); report.json's burden_percent is "
        "the scar share of the predicted LA's mesh area, a different number (summary.json: definitions)"
    )
    print(f"wrote {Path(args.out) / 'per_case.csv'} and summary.csv/.json")
    for case_id in evaluation.unmatched:
        print(f"warning: prediction {case_id} has no ground-truth case (ignored)", file=sys.stderr)
    for case_id in evaluation.missing:
        print(f"error: {args.pred}/{case_id}: missing prediction for ground-truth case {case_id}", file=sys.stderr)
    print(batch_summary(total, len(evaluation.rows), failed, verb="scored"))
    return 1 if failed else 0
