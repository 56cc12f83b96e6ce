"""`atrialjsq demo`: one synthetic patient from end to end, with nothing to download.

Generates a phantom at the default clinical geometry (576×576×44 at 0.625×0.625×2.5 mm), writes it to
`<out>/input/<case>/` in the LAScarQS layout (enhanced.nii.gz, atriumSegImgMO.nii.gz, scarSegImgM.nii.gz,
params.json), predicts it with the shipped default model (or `--model`) into `<out>/prediction/<case>/` with
every output (the probability maps included) and prints the LA volume, scar burden and Utah stage next to the
phantom's own (ground-truth) burden.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from atrialjsq.cli.predict import add_figure_arguments, add_model_arguments, build_predictor
from atrialjsq.infer.model_names import PHANTOM_MODEL


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo",
        help="generate a phantom, predict it with the shipped model and write every output",
        description=(__doc__ or "").split("\n\n", 1)[-1],
    )
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder (default: demo_output)")
    parser.add_argument("--seed", type=int, default=0, help="phantom seed (default 0)")
    add_model_arguments(parser, default_model=PHANTOM_MODEL)
    add_figure_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from atrialjsq.infer.inputs import InputCase
    from atrialjsq.io.output_check import check_output_folder
    from atrialjsq.phantom.generate import generate_phantom
    from atrialjsq.phantom.writer import IMAGE_FILE, write_case
    from atrialjsq.quantify.staging import burden_text
    from atrialjsq.workflows.predict import predict_case

    check_output_folder(args.out)
    predictor = build_predictor(args)  # first: a missing model fails before minutes of work
    started = time.perf_counter()
    case, params = generate_phantom(args.seed)
    image_path = write_case(case, params, args.out / "input" / case.case_id) / IMAGE_FILE
    print(f"phantom {case.case_id}: {image_path.parent} ({time.perf_counter() - started:.1f} s)")

    outcome = predict_case(
        predictor,
        InputCase(case.case_id, image_path),
        args.out / "prediction",
        probability_maps=True,
        figure=not args.no_figure,
        regional=not args.no_regional,
        existing="overwrite",  # the demo's own folder: a second `make demo` refreshes it
    )
    burden = outcome.burden
    if outcome.out_dir is None or burden is None:  # predict_case raises rather than return an outcome without them
        raise RuntimeError(f"{case.case_id}: the prediction has no output folder or burden")
    truth = params.get("scar", {}).get("burden")
    files = ", ".join(sorted(p.name for p in outcome.out_dir.iterdir()))
    print(f"model {predictor.info.get('name', '?')}: predicted in {outcome.timings['total']:.1f} s")
    for warning in outcome.warnings:
        print(f"warning: {outcome.out_dir}: {warning}", file=sys.stderr)
    stage = f"Utah {burden.utah_stage}" if burden.staged else f"Utah not staged: {burden.not_staged_reason}"
    print(f"LA volume      {burden.la_volume_ml:.1f} mL")
    print(f"scar burden    {burden_text(burden.burden_percent)} % of the predicted LA's mesh area ({stage})")
    if burden.burden_range is not None:
        span = burden.burden_range
        print(
            f"unsure part    {span.unsure_area_percent:.1f} % of the surface (scar probability within {span.margin:g} "
            f"of 0.5): the burden is {span.low_percent:.1f}–{span.high_percent:.1f} % with it all normal / all scar"
        )
    if truth is not None:
        print(f"phantom truth  {100 * float(truth):.1f} % (the burden the phantom's scar was drawn with)")
    print(
        "               (evaluate's scar_pct_auto counts surface voxels of the manual LA instead: "
        "a different number for the same case, see the README)"
    )
    print(f"outputs        {outcome.out_dir}/: {files}")
    return 0
