"""``python -m studies.lasc2018 COMMAND`` (from the repository root): the LASC 2018 studies.

See studies/lasc2018/DEVELOPMENT.md.

Commands: build, cv, final, score, score-model, inject-scar, score-scar, pool, table5.

`cv` and `final` run on the GPU machine, whose image has torch but no SimpleITK; everything they use is
importable without it (`atrialjsq.io` imports its SimpleITK reader only on first use). `build`, `score`,
`inject-scar` and `score-scar` need the full package.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from atrialjsq.cli.text import add_threads_argument, add_xyz_argument, apply_threads, non_negative, positive

DESCRIPTION = (
    "LASC 2018 real-data studies (studies/lasc2018/DEVELOPMENT.md): compact data, time-boxed cross-validation, scoring."
)


def build_config(args: argparse.Namespace):
    """The preset named by --config with --tiny, --roi/--margin/--spacing/--batch-size and --set overrides."""
    from atrialjsq.losses.registry import check_loss_names
    from atrialjsq.model.configs import apply_overrides, get_config, parse_overrides

    config = get_config(args.config, tiny=args.tiny)
    dotted: dict[str, Any] = {}
    if args.roi:
        dotted["data.roi"] = list(args.roi)
    if args.margin:
        dotted["data.margin"] = list(args.margin)
    if args.batch_size:
        dotted["train.batch_size"] = args.batch_size
    dotted["data.spacing"] = list(args.spacing)
    try:
        dotted.update(parse_overrides(args.set or []))
        config = apply_overrides(config, dotted)
        check_loss_names(config.loss, config.model.la_head)  # before any data is read
        return config
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None


def _settings(args: argparse.Namespace):
    from studies.lasc2018.cross_validation import CvSettings

    return CvSettings(
        config=build_config(args),
        seconds=args.seconds,
        k=args.k,
        seed=args.seed,
        device=args.device,
        tta=args.tta,
        compile=args.compile,
        workers=args.workers,
        progress=not args.quiet,
        max_iterations=args.max_iterations,
        originals=args.add_originals,
        draws=tuple(args.add_draw or ()),
        snapshot_seconds=args.snapshot_every,
    )


def _training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compact", required=True, type=Path, help="compact .npz file (see `build`)")
    parser.add_argument("--out", required=True, type=Path, help="run folder")
    parser.add_argument("--config", default="unet-la-se", help="preset name (default unet-la-se)")
    parser.add_argument("--tiny", action="store_true", help="the preset's tiny CPU size (tests)")
    parser.add_argument("--seconds", type=positive(float), default=60.0, help="training wall-clock budget per model")
    parser.add_argument(
        "--max-iterations",
        type=int,
        default=None,
        help="an iteration budget: stop after this many steps (the learning rate decays over them if they end the run)",
    )
    add_xyz_argument(parser, "--roi", positive(int), "network window in voxels (default: the config's)")
    add_xyz_argument(parser, "--margin", non_negative(int), "voxels kept around the window for random shifts")
    add_xyz_argument(parser, "--spacing", positive(float), "model grid spacing in mm", default=(1.0, 1.0, 1.0))
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override, JSON values")
    parser.add_argument("--k", type=int, default=5, help="number of folds")
    parser.add_argument("--seed", type=int, default=0, help="fold seed")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: the GPU when there is one)")
    parser.add_argument("--tta", action="store_true", help="flip test-time augmentation (8 flips)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (inside the budget)")
    parser.add_argument("--workers", type=int, default=1, help="processes computing training targets")
    add_threads_argument(parser)
    parser.add_argument(
        "--add-originals",
        type=Path,
        default=None,
        metavar="COMPACT",
        help="compact file of the same cases without injected scar: train the LA on those images too",
    )
    parser.add_argument(
        "--add-draw",
        type=Path,
        action="append",
        metavar="COMPACT",
        help="another injected compact file of the same cases (inject-scar with another --seed); repeatable",
    )
    parser.add_argument(
        "--snapshot-every",
        type=positive(float),
        default=None,
        metavar="SECONDS",
        help="write snapshots/t<s>.pt model files",
    )
    parser.add_argument("--quiet", action="store_true")


def _run_build(args: argparse.Namespace) -> int:
    from studies.lasc2018.compact import build_compact_lasc

    path = build_compact_lasc(
        args.src, args.out, args.spacing, args.z_margin_mm, workers=args.workers, limit=args.limit
    )
    print(f"{path}: {path.stat().st_size / 2**20:.2f} MiB")
    return 0


def _run_cv(args: argparse.Namespace) -> int:
    from studies.lasc2018.cross_validation import run_cv

    apply_threads(args.threads)
    run_cv(args.compact, args.out, args.folds, _settings(args))
    return 0


def _run_final(args: argparse.Namespace) -> int:
    from studies.lasc2018.cross_validation import run_final

    apply_threads(args.threads)
    summary = run_final(args.compact, args.out, _settings(args), args.export)
    print(json.dumps(summary, indent=1))
    return 0


def _run_score(args: argparse.Namespace) -> int:
    from atrialjsq.errors import InputError
    from studies.lasc2018.scoring import score_predictions

    files: list[Path] = []
    for path in args.predictions:
        found = sorted(path.glob("**/predictions*.npz")) if path.is_dir() else [path]
        if not found:
            raise InputError(path, "holds no predictions*.npz files")
        files.extend(found)
    summary = score_predictions(args.compact, files, args.out, not args.no_largest_component, not args.quiet)
    print((args.out / "summary.md").read_text())
    return 0 if summary["overall"]["Dice_LA"]["n"] else 1


def _run_inject_scar(args: argparse.Namespace) -> int:
    from studies.lasc2018.scar import inject_compact

    path = inject_compact(args.compact, args.out, args.seed, args.difficulty, args.limit)
    print(f"{path}: {path.stat().st_size / 2**20:.2f} MiB")
    return 0


def _run_score_scar(args: argparse.Namespace) -> int:
    from studies.lasc2018.scar import score_scar_study

    networks: dict[str, list[Path]] = {}
    for item in args.network or []:
        label, sep, files = item.partition("=")
        if not sep or not files:
            raise SystemExit(f"error: --network expects LABEL=FILE[,FILE...], got {item!r}")
        networks[label] = [Path(f) for f in files.split(",")]
    learngc_folds = None
    if args.learngc_folds is not None:
        from atrialjsq.data.splits import load_folds

        learngc_folds = load_folds(args.learngc_folds)
    summary = score_scar_study(
        args.compact,
        args.out,
        networks,
        args.la_predictions,
        args.baselines,
        progress=not args.quiet,
        learngc_folds=learngc_folds,
        original=args.original,
        unknown_iir=args.unknown_iir,
    )
    print((args.out / "scar_table.md").read_text())
    return 0 if summary["cases"] else 1


def _run_score_model(args: argparse.Namespace) -> int:
    from atrialjsq.data.splits import load_folds
    from studies.lasc2018.model_scoring import score_model

    case_ids = None
    if args.folds is not None:
        folds = load_folds(args.folds)
        if not 0 <= args.fold < len(folds):
            raise SystemExit(f"error: {args.folds}: no fold {args.fold} (has {len(folds)})")
        case_ids = folds[args.fold]["val"]
    score_model(args.model, args.src, case_ids, args.out, device=args.device, tta=args.tta, progress=not args.quiet)
    print((args.out / "summary.md").read_text())
    return 0


def _run_pool(args: argparse.Namespace) -> int:
    from studies.lasc2018.pooling import pool_folds

    pool_folds(args.results, args.out)
    print((args.out / "la_summary.md").read_text())
    print((args.out / "scar_table.md").read_text())
    return 0


def _run_table5(args: argparse.Namespace) -> int:
    from studies.lasc2018.table5 import real_table5

    written = real_table5(args.results, args.out)
    print(next(path for path in written if path.suffix == ".md").read_text())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies.lasc2018", description=DESCRIPTION)
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def add_commands(commands) -> None:
    build = commands.add_parser("build", help="pack the LASC 2018 HDF5 release into one compact .npz")
    build.add_argument("--src", type=Path, required=True, help="the release folder (cases/<id>/mri_norm2.h5)")
    build.add_argument("--out", type=Path, required=True, help="output .npz (keep it under devdata/)")
    add_xyz_argument(
        build, "--spacing", positive(float), "grid spacing of the compact copy in mm", default=(1.0, 1.0, 1.0)
    )
    build.add_argument("--z-margin-mm", type=non_negative(float), default=10.0)
    build.add_argument("--workers", type=int, default=2)
    build.add_argument("--limit", type=int, default=None, help="first N cases only")
    build.set_defaults(func=_run_build)

    cv = commands.add_parser("cv", help="k-fold LA cross-validation (trains and predicts the given folds)")
    _training_arguments(cv)
    cv.add_argument("--folds", type=int, nargs="+", default=None, help="fold numbers to run (default: all)")
    cv.set_defaults(func=_run_cv)

    final = commands.add_parser("final", help="train on every case and export the model")
    _training_arguments(final)
    final.add_argument("--export", type=Path, default=None, help="slim fp16 model file to write")
    final.set_defaults(func=_run_final)

    score = commands.add_parser("score", help="score held-out predictions on the native grid")
    score.add_argument("--compact", required=True, type=Path)
    score.add_argument("--predictions", required=True, type=Path, nargs="+", help="predictions .npz or folders")
    score.add_argument("--out", required=True, type=Path)
    score.add_argument("--no-largest-component", action="store_true")
    score.add_argument("--quiet", action="store_true")
    score.set_defaults(func=_run_score)

    model = commands.add_parser("score-model", help="predict held-out cases with a model file, as `predict` does")
    model.add_argument("--model", required=True, help="model file or shipped model name")
    model.add_argument("--src", required=True, type=Path, help="the release folder (cases/<id>/mri_norm2.h5)")
    model.add_argument("--folds", type=Path, default=None, help="folds.json of the run (default: every case)")
    model.add_argument("--fold", type=int, default=0, help="score this fold's held-out cases")
    model.add_argument("--out", required=True, type=Path)
    model.add_argument("--device", default="cpu")
    model.add_argument("--tta", action="store_true", help="mirroring TTA over the axes flipped in training")
    model.add_argument("--quiet", action="store_true")
    model.set_defaults(func=_run_score_model)

    inject = commands.add_parser("inject-scar", help="draw synthetic scar into every compact case")
    inject.add_argument("--compact", required=True, type=Path, help="the LA compact file")
    inject.add_argument("--out", required=True, type=Path, help="the compact file with scar to write (.npz)")
    inject.add_argument("--seed", type=int, default=0)
    inject.add_argument("--difficulty", default="medium")
    inject.add_argument("--limit", type=int, default=None, help="first N cases only")
    inject.set_defaults(func=_run_inject_scar)

    score_scar = commands.add_parser("score-scar", help="scar table: baselines and networks on held-out cases")
    score_scar.add_argument("--compact", required=True, type=Path, help="compact file with injected scar")
    score_scar.add_argument("--out", required=True, type=Path)
    score_scar.add_argument(
        "--network", action="append", metavar="LABEL=FILES", help="a network row: predictions files, comma-separated"
    )
    score_scar.add_argument("--la-predictions", type=Path, nargs="*", default=None, help="an LA run's predictions")
    score_scar.add_argument("--baselines", nargs="*", default=["iir", "otsu", "mgmm"])
    score_scar.add_argument(
        "--learngc-folds",
        type=Path,
        default=None,
        help="add LearnGC rows: its classifier trained per fold of this folds.json on the training cases",
    )
    score_scar.add_argument(
        "--original",
        type=Path,
        default=None,
        help="the compact file the scar was injected into: leave out the surface next to wall that was already "
        "enhanced there (its truth is unknown)",
    )
    score_scar.add_argument(
        "--unknown-iir", type=float, default=1.32, help="with --original: the enhancement cut-off (default 1.32)"
    )
    score_scar.add_argument("--quiet", action="store_true")
    score_scar.set_defaults(func=_run_score_scar)

    pool = commands.add_parser("pool", help="one cross-validation table from folds scored one at a time")
    pool.add_argument(
        "--results",
        required=True,
        type=Path,
        nargs="+",
        help="each fold's results folder (la_native_per_case.csv, "
        "scar_table.csv and the scar rows' per-case tables, as scripts/real_model_results.sh here writes them)",
    )
    pool.add_argument("--out", required=True, type=Path, help="folder for the pooled tables")
    pool.set_defaults(func=_run_pool)

    table5 = commands.add_parser("table5", help="Table 5 (DTM shape constraints) from the folds scored so far")
    table5.add_argument(
        "--results",
        required=True,
        type=Path,
        help="folder with <config>/fold<k>_la_native_per_case.csv, as scripts/table5_real.sh here writes them",
    )
    table5.add_argument("--out", type=Path, help="folder for table5_real.md/.csv (default: --results)")
    table5.set_defaults(func=_run_table5)


def main(argv: list[str] | None = None) -> int:
    from atrialjsq.errors import InputError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:
        if error.name != "SimpleITK":
            raise
        print(
            f"error: `{args.command}` needs SimpleITK; run it on the workstation (studies/lasc2018/DEVELOPMENT.md)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
