"""`atrialjsq inject-scar`: draw synthetic scar of known extent into the LA wall of real LGE images."""

from __future__ import annotations

import argparse
from pathlib import Path

from atrialjsq.cli.dataset_options import add_dataset_arguments
from atrialjsq.cli.phantom import add_iir_range, check_iir_range
from atrialjsq.cli.text import non_negative, number, plural, positive


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "inject-scar",
        help="inject synthetic scar into the LA wall of real images (ground-truth scar labels for real anatomy)",
        description=(
            "For every case of DATA with an LA label (LASC 2018 h5/nrrd, LAScarQS or imagesTr layouts), place "
            "post-ablation or pre-ablation scar patterns in the wall band around the LA, render them from the "
            "image's own blood-pool statistics and write LAScarQS task-1 folders (enhanced.nii.gz, "
            "atriumSegImgMO.nii.gz, scarSegImgM.nii.gz, params.json) with the input's geometry."
        ),
    )
    parser.add_argument("data", type=Path, help="dataset folder or a single case folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder (one sub-folder per case)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing case folders (a user's other files in them are kept)"
    )
    parser.add_argument("--seed", type=non_negative(int), default=0, help="seed; case i uses a sub-seed (default 0)")
    add_dataset_arguments(parser)
    parser.add_argument(
        "--difficulty",
        choices=("easy", "medium", "hard"),
        default="medium",
        help="sets the scar IIR range (default medium)",
    )
    add_iir_range(parser, "injected scar's")
    parser.add_argument(
        "--scar",
        choices=("post-ablation", "pre-ablation"),
        default=None,
        help="scar pattern (default: random per case)",
    )
    parser.add_argument(
        "--burden",
        type=number(float),
        default=None,
        help="scar fraction of the LA surface, 0.02-0.40 (default: random)",
    )
    parser.add_argument("--limit", type=positive(int), default=None, help="only the first N cases (default: all)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from atrialjsq.data.layouts import index_dataset, load_case
    from atrialjsq.errors import InputError
    from atrialjsq.io.atomic import write_json
    from atrialjsq.io.output_check import check_output_folder
    from atrialjsq.phantom.inject import inject_scar
    from atrialjsq.phantom.writer import INJECTED_MANIFEST, case_seed, refuse_existing_cases, set_folder, write_case

    if args.burden is not None and not 0.02 <= args.burden <= 0.40:
        raise InputError(None, f"--burden must be within 0.02-0.40, got {args.burden}")
    iir_range = check_iir_range(args.iir_range)
    data, out = args.data.resolve(), args.out.resolve()
    if data == out or data.is_relative_to(out) or out.is_relative_to(data):
        raise InputError(args.out, f"output folder must lie outside the input data ({args.data}) and not hold it")
    if args.out.exists() and not args.out.is_dir():
        raise InputError(args.out, "exists and is not a folder")
    check_output_folder(args.out)
    refs = index_dataset(args.data, args.layout, args.h5_spacing)
    if args.limit is not None:
        refs = refs[: args.limit]
    unlabelled = [ref.case_id for ref in refs if "la" not in ref.label_paths or not ref.label_paths["la"].exists()]
    if unlabelled:  # before any case is written
        raise InputError(args.data, f"case(s) without an LA label: {', '.join(unlabelled[:5])}")
    ids = [ref.case_id for ref in refs]
    refuse_existing_cases(args.out, ids, args.overwrite)
    manifest: dict = {"format": INJECTED_MANIFEST.format, "source": str(data), "seed": args.seed, "cases": []}
    INJECTED_MANIFEST.merged(args.out, manifest, ids, args.overwrite)  # another set's folder: refused now
    with set_folder(args.out) as target:  # a new --out appears only when every case is written
        for index, ref in enumerate(tqdm(refs, desc="inject-scar", unit="case", disable=None)):
            case = load_case(ref)
            if case.la is None:
                raise InputError(ref.image_path, "case has no LA label")
            out_case, params = inject_scar(
                case,
                case_seed(args.seed, index),
                args.difficulty,
                scar_kind=args.scar,
                burden=args.burden,
                iir_range=iir_range,
            )
            # The input's own type is kept (a z-scored float image stays float32).
            write_case(out_case, params, target / case.case_id, int16_image=False)
            manifest["cases"].append(
                {
                    "id": case.case_id,
                    "kind": params["scar"]["kind"],
                    "burden": params["scar"]["burden"],
                    "iir": params["iir"],
                }
            )
            merged = INJECTED_MANIFEST.merged(target, manifest, ids, args.overwrite)
            write_json(target / INJECTED_MANIFEST.name, merged)  # after every case: it lists what the folder holds
    print(f"injected scar into {plural(len(manifest['cases']), 'case')}; wrote {args.out} (layout lascarqs1)")
    return 0
