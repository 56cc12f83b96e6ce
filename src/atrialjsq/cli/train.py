"""`atrialjsq train --data DATA_OR_CACHE --config ajsq-sesa --out RUN [--fold K | --folds all|0,1,..]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from atrialjsq.cli.dataset_options import add_dataset_arguments
from atrialjsq.cli.text import add_threads_argument, add_xyz_argument, apply_threads, non_negative, positive


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a network (AtrialJSQnet by default) from a cache or a raw dataset",
        description="Train a named config on a preprocessing cache (or a raw dataset, cached into RUN/cache first). "
        "Writes RUN/config.json, split.json, last.pt (every checkpoint_every iterations), best.pt (by validation "
        "Dice, through the Predictor as `predict` runs it unless --validation window; never score the validation "
        "cases with it), log.csv, val.csv and loss.png. --fold K trains on the "
        "other folds of the cache and validates on fold K; --folds all (default) trains on every case, holding "
        "out --val-fraction of them for validation; --folds 0,1,2 trains those folds one after another into "
        "RUN/fold<K>/ (a raw dataset cached once, into RUN/cache). Multi-GPU: torchrun --nproc_per_node N "
        "--no-python atrialjsq train ... (batch size is "
        "per process). A folder holding a run needs --resume (continue; to the run's recorded target and within its "
        "recorded --seconds unless given) or --overwrite (start again from 0). --resume may change the logging "
        "intervals and, on a step schedule, the iteration count and --seconds; nothing else (poly schedules decay "
        "over the budgets, so they stay), and not the number of processes.",
    )
    parser.add_argument("--data", required=True, help="cache folder (with dataset.json) or raw dataset folder")
    parser.add_argument(
        "--config",
        default=None,
        help="named config (`atrialjsq configs`); default: ajsq-sesa (the paper's size) when training on a GPU, "
        "ajsq-sesa-cpu (1.5 mm, 8-128 channels, synthetic scar in unlabelled walls) on a CPU",
    )
    parser.add_argument("--out", required=True, help="run folder")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--fold", type=int, help="train on the other folds, validate on fold K")
    split.add_argument("--folds", default="all", help="'all' (default) or comma-separated folds to train in turn")
    parser.add_argument(
        "--val-fraction", type=non_negative(float), default=0.0, help="with --folds all: held-out share (0-1)"
    )
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue RUN/last.pt on the same schedule, to the run's recorded target and clock budget unless "
        "--iterations or --seconds is given",
    )
    again.add_argument(
        "--overwrite", action="store_true", help="start a run folder that holds a run again from iteration 0"
    )
    parser.add_argument("--iterations", type=positive(int), help="override train.iterations (default: the config's)")
    add_xyz_argument(
        parser,
        "--spacing",
        positive(float),
        "model grid spacing in mm (default: the config's: 1.5 1.5 1.5 for ajsq-sesa-cpu, 1 1 1 for the paper's "
        "configs); a cache must have been built at it",
    )
    parser.add_argument("--batch-size", type=int, help="override train.batch_size (per process)")
    parser.add_argument("--lr", type=positive(float), help="override optim.lr")
    parser.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), help="override optim.name")
    parser.add_argument("--seed", type=int, help="override train.seed")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config override, e.g. model.levels=4"
    )
    parser.add_argument("--tiny", action="store_true", help="tiny network and 32^3 ROI (CPU smoke runs)")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: the GPU when available)")
    add_threads_argument(parser)
    parser.add_argument("--no-fast", action="store_true", help="no bf16 autocast / channels-last on CUDA")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the model (default: on with CUDA, off on CPU)",
    )
    parser.add_argument(
        "--elastic-mm", type=non_negative(float), default=None, help="elastic deformation strength (mm, 0 = off)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="wall-clock budget of the training loop: stop at it or at --iterations, whichever comes first; a "
        "config with a poly schedule (ajsq-sesa-cpu) then decays its learning rate over whichever budget is "
        "further spent (for another config: --set 'optim.schedule=\"poly_clock\"')",
    )
    parser.add_argument("--stop-after", type=positive(int), help="stop cleanly after N iterations in this call")
    parser.add_argument(
        "--init-from",
        type=Path,
        metavar="CKPT",
        help="start from these weights (a checkpoint or model file of the same network); fresh optimizer",
    )
    add_dataset_arguments(parser)  # --layout and --h5-spacing, for a raw dataset
    parser.add_argument("--workers", type=int, default=2, help="processes for building a cache")
    parser.add_argument("--export", metavar="MODEL_PT", help="also write a slim fp16 model file from last.pt")
    parser.add_argument(
        "--validation",
        choices=("predictor", "window"),
        default="predictor",
        help="how validation cases are scored every train.val_every iterations: 'predictor' (default) runs the "
        "network as `atrialjsq predict` does, over each case's whole cached window (tiling, TTA rule, largest "
        "component); 'window' is the quicker centred-ROI monitor",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def build_config(args: argparse.Namespace):
    from atrialjsq.errors import InputError
    from atrialjsq.losses.registry import check_loss_names
    from atrialjsq.model.configs import apply_overrides, get_config, parse_overrides

    try:
        dotted = parse_overrides(args.set)
    except ValueError as error:  # one line naming the option, not the usage block: the option is not missing
        raise InputError("--set", str(error)) from None
    for flag, key in (
        ("iterations", "train.iterations"),
        ("batch_size", "train.batch_size"),
        ("lr", "optim.lr"),
        ("optimizer", "optim.name"),
        ("seed", "train.seed"),
        ("spacing", "data.spacing"),
        ("elastic_mm", "train.elastic_mm"),
        ("seconds", "train.seconds"),
    ):
        if getattr(args, flag) is not None:
            dotted[key] = getattr(args, flag)
    try:
        base = get_config(args.config or default_config(args.device), tiny=args.tiny)
        if args.seconds is not None and base.optim.schedule == "poly" and "optim.schedule" not in dotted:
            # A poly decay over the iterations would be cut off mid-descent by the clock: decay over both budgets.
            dotted["optim.schedule"] = "poly_clock"
        config = apply_overrides(base, dotted)
        check_loss_names(config.loss, config.model.la_head)  # before any data is read or cached
        return config
    except ValueError as error:
        raise InputError("config", str(error)) from None


def default_config(device: str | None) -> str:
    """The paper-size config where training runs on a GPU, the CPU preset elsewhere."""
    import torch

    from atrialjsq.model.configs import CPU_CONFIG, DEFAULT_CONFIG

    on_gpu = torch.cuda.is_available() if device is None else device.startswith("cuda")
    return DEFAULT_CONFIG if on_gpu else CPU_CONFIG


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
    apply_threads(args.threads)
    from atrialjsq.hardware import resolve_device
    from atrialjsq.train.ddp import context_from_env, shutdown_distributed
    from atrialjsq.train.trainer import TrainOptions
    from atrialjsq.workflows.train import FoldPlan, train_folds

    if args.device is not None:
        resolve_device(args.device)  # an unknown device, or CUDA on a machine without it: refused before any file
    config = build_config(args)
    if context_from_env().is_main and args.config is None:
        print(f"config: {config.name} (the default on this device; --config names another)")
    plan = FoldPlan(
        data=args.data,
        out=Path(args.out),
        folds=_folds(args),
        val_fraction=args.val_fraction,
        resume=args.resume,
        overwrite=args.overwrite,
        iterations=args.iterations,
        layout=args.layout,
        h5_spacing=tuple(args.h5_spacing) if args.h5_spacing else None,
        workers=args.workers,
        validation=args.validation,
        export=Path(args.export) if args.export else None,
    )
    options = TrainOptions(
        device=args.device,
        resume=args.resume,
        fast=not args.no_fast,
        compile=args.compile,
        stop_after=args.stop_after,
        progress=not args.quiet,
        init_from=args.init_from,
    )
    train_folds(config, plan, options)
    shutdown_distributed()
    return 0
