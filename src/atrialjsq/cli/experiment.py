"""`atrialjsq experiment ablation|dpm|dtm --data DIR --out DIR`: rebuild the paper's Table 2, 4 or 5."""

from __future__ import annotations

import argparse
import sys

from atrialjsq.cli.text import add_xyz_argument, plural, positive

EXPERIMENTS = {
    "ablation": "Table 2: U-Net LA/scar (BCE, Dice, SE), AJSQnet (BCE, SE, SESA), manual / U-Net LA + Otsu / MGMM",
    "dpm": "Table 4: AJSQnet-SESA with the DPM (exp, expit, normalised) and SE-scar (L2, Hellinger) variants",
    "dtm": "Table 5: U-Net LA (BCE, SE) against the distance-map shape constraints of Dangi, Audebert and Xue",
}


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "experiment",
        usage="%(prog)s {ablation,dpm,dtm} --data DATA --out OUT [options]\n"
        "       %(prog)s {ablation,dpm,dtm} --list-rows [--rows ROWS]",
        help="train and evaluate every method of the paper's Table 2 (ablation), Table 4 (dpm) or Table 5 (dtm)",
        description=(
            "Cross-validate every row of a table of the paper: train its networks on each fold's training cases, "
            "predict and evaluate the held-out cases, and write <out>/table2.md|csv (table4 for dpm, table5 for dtm) "
            "with mean ± std and marks against AJSQnet-SESA (U-Net_LA-SE for dtm; * p < 0.01, ** p < 0.001). "
            "Rerunning with the same --out skips finished cells and resumes interrupted training."
        ),
    )
    tables = "; ".join(f"{name}: {text}" for name, text in EXPERIMENTS.items())
    parser.add_argument("table", choices=sorted(EXPERIMENTS), help=tables)
    parser.add_argument(
        "--data",
        help="dataset folder with LA and scar labels, e.g. LAScarQS task 1 (required, except with --list-rows)",
    )
    parser.add_argument("--out", help="experiment folder: results, models, tables (required, except with --list-rows)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5; at least 2)")
    parser.add_argument("--iterations", type=int, help="training iterations per network (default: the config's)")
    parser.add_argument("--tiny", action="store_true", help="tiny ROI and networks (CI-scale runs on phantoms)")
    parser.add_argument("--rows", help="comma-separated row keys or labels to run (default: all rows of the table)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold split (default 0)")
    parser.add_argument(
        "--center",
        choices=("image", "la"),
        default="image",
        help="where the ROI is centred: the image centre as in the paper (default) or the ground-truth LA",
    )
    add_xyz_argument(
        parser,
        "--spacing",
        positive(float),
        "model grid spacing in mm (default: the config's, 1 mm; e.g. 3 3 3 to fit phantoms in a --tiny ROI)",
    )
    parser.add_argument("--cache", help="preprocessing cache to use or build (default: <out>/cache)")
    parser.add_argument(
        "--test", choices=("wilcoxon", "ttest"), default="wilcoxon", help="paired test for the significance marks"
    )
    parser.add_argument("--workers", type=int, default=1, help="processes for building the cache (default 1)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config change for every network, e.g. optim.name=adam (recorded; a rerun must repeat it)",
    )
    parser.add_argument("--list-rows", action="store_true", help="print the table's rows and exit")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from atrialjsq.errors import InputError
    from atrialjsq.experiments.paper_tables import ExperimentSettings, run_experiment, select_rows

    wanted = args.rows.split(",") if args.rows else None
    if args.list_rows:
        for row in select_rows(args.table, wanted):
            networks = ", ".join(row.networks) or "none"
            print(f"{row.key:<22} {row.label:<20} LA: {row.la:<14} scar: {row.scar:<16} networks: {networks}")
        return 0
    if not args.data or not args.out:
        raise InputError(None, "experiment needs --data DIR and --out DIR")
    from atrialjsq.model.configs import parse_overrides

    try:
        overrides = parse_overrides(args.set)
    except ValueError as error:
        raise InputError("--set", str(error)) from None
    settings = ExperimentSettings(
        data=args.data,
        out=args.out,
        folds=args.folds,
        iterations=args.iterations,
        tiny=args.tiny,
        seed=args.seed,
        center=args.center,
        spacing=args.spacing,
        cache=args.cache,
        device=args.device,
        test=args.test,
        workers=args.workers,
        progress=sys.stderr.isatty(),
        overrides=overrides,
    )
    log = run_experiment(args.table, settings, wanted)
    print(
        f"{plural(len(log.evaluated), 'cell')} computed, {len(log.skipped)} already done; "
        f"{plural(len(log.trained), 'training run')}, {plural(len(log.predicted), 'case prediction')}"
    )
    for path in log.tables:
        print(f"wrote {path}")
    print(log.tables[0].read_text(encoding="utf-8"))
    return 0
