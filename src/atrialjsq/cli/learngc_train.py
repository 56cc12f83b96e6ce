"""`atrialjsq learngc-train --data DIR --out learngc.json`: train LearnGC's surface classifier on a labelled set."""

from __future__ import annotations

import argparse
from pathlib import Path

from atrialjsq.cli.text import add_overwrite_file_argument, non_negative, plural


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "learngc-train",
        help="train the LearnGC scar classifier (surface profiles + graph cut) on cases with LA and scar labels",
        description=(
            "Learn LearnGC's node classifier from every case of a dataset with manual LA and scar labels (any "
            "layout `atrialjsq check-data` reads) and write it as JSON, for `atrialjsq quantify --method learngc "
            "--classifier FILE`."
        ),
    )
    parser.add_argument("--data", required=True, type=Path, help="dataset folder with LA and scar labels")
    parser.add_argument("--out", required=True, type=Path, help="classifier file to write (.json)")
    parser.add_argument("--layout", default="auto", help="dataset layout (see `atrialjsq check-data`)")
    parser.add_argument(
        "--smoothness", type=non_negative(float), default=0.5, help="graph-cut smoothness λ (Potts weight)"
    )
    add_overwrite_file_argument(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from atrialjsq.data.layouts import index_dataset, load_case
    from atrialjsq.errors import InputError
    from atrialjsq.io.output_check import check_output_file
    from atrialjsq.quantify.learngc import train_learngc

    check_output_file(args.out, overwrite=args.overwrite)  # a folder in the way fails now, not after the training
    refs = index_dataset(args.data, args.layout)
    dataset_files = [path for ref in refs for path in (ref.image_path, *ref.label_paths.values())]
    check_output_file(args.out, inputs=dataset_files, overwrite=args.overwrite)  # never over a case's own file
    unlabelled = [ref.case_id for ref in refs if not {"la", "scar"} <= set(ref.label_paths)]
    if unlabelled:
        raise InputError(args.data, f"case(s) {', '.join(unlabelled[:5])} lack an LA or scar label")
    cases = []
    for ref in tqdm(refs, desc="read cases", unit="case", disable=None):
        case = load_case(ref)
        cases.append((case.image, case.labels["la"], case.labels["scar"]))
    try:
        classifier = train_learngc(cases, case_ids=[ref.case_id for ref in refs], smoothness=args.smoothness)
    except ValueError as error:
        raise InputError(args.data, str(error)) from None
    path = classifier.save(args.out)
    print(f"{path}: LearnGC classifier from {plural(classifier.trained_on, 'case')} ({len(classifier.coef)} features)")
    return 0
