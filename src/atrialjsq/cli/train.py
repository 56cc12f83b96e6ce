"""`atrialjsq train --data DATA_OR_CACHE --config ajsq-sesa --out RUN [--fold K | --folds all|0,1,..]`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a network (AtrialJSQnet by default) from a cache or a raw dataset",
        description="Train a named config on a preprocessing cache (or a raw dataset, cached into RUN/cache first). "
        "Writes RUN/config.json, split.json, last.pt (every checkpoint_every iterations), best.pt (by validation "
        "Dice; never score the validation cases with it), log.csv, val.csv and loss.png. --fold K trains on the "
        "other folds of the cache and validates on fold K; --folds all (default) trains on every case, holding "
        "out --val-fraction of them for validation; --folds 0,1,2 trains those folds one after another into "
        "RUN/fold<K>/. Multi-GPU: torchrun --nproc_per_node N --no-python atrialjsq train ... (batch size is "
        "per process). --resume may change the iteration count and logging intervals, nothing else.",
    )
    parser.add_argument("--data", required=True, help="cache folder (with dataset.json) or raw dataset folder")
    parser.add_argument("--config", default="ajsq-sesa", help="named config (default ajsq-sesa)")
    parser.add_argument("--out", required=True, help="run folder")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--fold", type=int, help="train on the other folds, validate on fold K")
    split.add_argument("--folds", default="all", help="'all' (default) or comma-separated folds to train in turn")
    parser.add_argument("--val-fraction", type=float, default=0.0, help="with --folds all: held-out share (0-1)")
    parser.add_argument("--resume", action="store_true", help="continue RUN/last.pt on the same schedule")
    parser.add_argument("--iterations", type=int, help="override train.iterations")
    parser.add_argument("--batch-size", type=int, help="override train.batch_size (per process)")
    parser.add_argument("--lr", type=float, help="override optim.lr")
    parser.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), help="override optim.name")
    parser.add_argument("--seed", type=int, help="override train.seed")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config override, e.g. model.levels=4"
    )
    parser.add_argument("--tiny", action="store_true", help="tiny network and 32^3 ROI (CPU smoke runs)")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: the GPU when available)")
    parser.add_argument("--no-fast", action="store_true", help="no bf16 autocast / channels-last on CUDA")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the model (default: on with CUDA, off on CPU)",
    )
    parser.add_argument("--elastic-mm", type=float, default=0.0, help="elastic deformation strength (mm, 0 = off)")
    parser.add_argument("--stop-after", type=int, help="stop cleanly after N iterations in this call")
    parser.add_argument(
        "--init-from",
        type=Path,
        metavar="CKPT",
        help="start from these weights (a checkpoint or model file of the same network); fresh optimizer",
    )
    parser.add_argument("--layout", default="auto", help="raw dataset layout (see `atrialjsq preprocess`)")
    parser.add_argument("--workers", type=int, default=2, help="processes for building a cache")
    parser.add_argument("--export", metavar="MODEL_PT", help="also write a slim fp16 model file from last.pt")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def build_config(args: argparse.Namespace):
    from atrialjsq.errors import InputError
    from atrialjsq.model.configs import apply_overrides, get_config, parse_overrides

    try:
        dotted = parse_overrides(args.set)
    except ValueError as error:
        raise InputError(None, str(error)) from None
    for flag, key in (
        ("iterations", "train.iterations"),
        ("batch_size", "train.batch_size"),
        ("lr", "optim.lr"),
        ("optimizer", "optim.name"),
        ("seed", "train.seed"),
    ):
        if getattr(args, flag) is not None:
            dotted[key] = getattr(args, flag)
    try:
        return apply_overrides(get_config(args.config, tiny=args.tiny), dotted)
    except ValueError as error:
        raise InputError(None, f"config: {error}") from None


def _folds(args: argparse.Namespace) -> list[int | None]:
    from atrialjsq.errors import InputError

    if args.fold is not None:
        return [args.fold]
    if args.folds in ("all", ""):
        return [None]
    try:
        return [int(part) for part in args.folds.split(",")]
    except ValueError:
        raise InputError(None, f"--folds {args.folds!r}: 'all' or comma-separated integers") from None


def run(args: argparse.Namespace) -> int:

    from atrialjsq.train.checkpoint import export_model
    from atrialjsq.train.ddp import context_from_env, shutdown_distributed
    from atrialjsq.train.run import train_run
    from atrialjsq.train.trainer import TrainOptions

    config = build_config(args)
    folds = _folds(args)
    main_process = context_from_env().is_main  # under torchrun only rank 0 reports and exports
    options = TrainOptions(
        device=args.device,
        resume=args.resume,
        fast=not args.no_fast,
        compile=args.compile,
        stop_after=args.stop_after,
        progress=not args.quiet,
        elastic_mm=args.elastic_mm,
        init_from=args.init_from,
    )
    for fold in folds:
        out = Path(args.out) if len(folds) == 1 else Path(args.out) / f"fold{fold}"
        result = train_run(config, args.data, out, fold, args.val_fraction, options, args.layout, args.workers)
        if not main_process:
            continue
        best = f", best validation score {result.best_score:.3f}" if result.best_checkpoint else ""
        print(f"{out}: {result.iteration}/{config.train.iterations} iterations{best}")
        if args.export and result.last_checkpoint:
            target = Path(args.export) if len(folds) == 1 else out / Path(args.export).name
            export_model(result.last_checkpoint, target, meta={"fold": fold, "config": config.name})
            print(f"exported {target}")
    shutdown_distributed()
    return 0
