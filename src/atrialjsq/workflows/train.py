"""Train one run per requested fold (or one on every case) and export each model: what `atrialjsq train` runs.

A run folder that holds a run is continued (`resume`, on its recorded schedule unless `iterations` says
otherwise) or started again (`overwrite`); every folder and input is checked before any run starts, so a bad
last fold does not surface after hours of training. Validation, when there are validation cases, goes through
the Predictor as `atrialjsq predict` runs it (`validation="predictor"`) or the quicker centred window.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from atrialjsq.errors import InputError
from atrialjsq.infer.predictor_validation import PredictorValidation, ValidationCase
from atrialjsq.io.output_check import check_output_file
from atrialjsq.train.checkpoint import export_model, is_exported_model
from atrialjsq.train.ddp import context_from_env
from atrialjsq.train.run import (
    RUN_FILES,
    check_inputs,
    check_run_folder,
    clear_run_files,
    resolve_cache,
    resume_plan,
    train_run,
)
from atrialjsq.train.trainer import TrainOptions, TrainResult


@dataclass
class FoldPlan:
    """Where the runs go and how to treat a folder that holds one."""

    data: str | Path
    out: Path
    folds: list[int | None]  # [None]: one run on every case
    val_fraction: float = 0.0
    resume: bool = False
    overwrite: bool = False
    iterations: int | None = None  # a resumed run's new target (default: its recorded one)
    layout: str = "auto"
    h5_spacing: tuple[float, float, float] | None = None  # the HDF5 release's voxel size (it stores none)
    workers: int = 2
    validation: str = "predictor"  # or "window"
    export: Path | None = None  # also a slim model file from each run's last.pt

    def run_folder(self, fold: int | None) -> Path:
        return self.out if len(self.folds) == 1 else self.out / f"fold{fold}"


def predictor_validator(config: Any):
    """Builds `infer.predictor_validation.PredictorValidation` from the run's validation cases."""

    def build(cases):
        spacing = config.data.spacing
        return PredictorValidation([ValidationCase.from_arrays(case_id, arrays, spacing) for case_id, arrays in cases])

    return build


def _fold_config(config: Any, plan: FoldPlan, out: Path, main_process: bool) -> Any:
    """The config of one fold's run; a resumed run trains on to its recorded target unless `iterations` says,
    and keeps its recorded clock budget (and the schedule that budget chose) unless the config names one."""
    if not plan.resume:
        return config
    point = resume_plan(out)
    if plan.iterations is not None:
        goal, why = plan.iterations, "--iterations"
    else:
        goal, why = point.target, "the run's recorded target"
    budget = ""
    if config.train.seconds is None and point.seconds is not None:
        config = replace(config, optim=replace(config.optim, schedule=point.schedule))
        config = replace(config, train=replace(config.train, seconds=point.seconds))
        budget = f", within its recorded --seconds {point.seconds:g}"
    seconds = config.train.seconds
    spent = seconds is not None and point.elapsed >= seconds
    if main_process and (spent or point.done >= goal):
        reason = f"its --seconds {seconds:g} are spent" if spent else f"it reached iteration {goal}"
        print(
            f"{out}: nothing to train: the run ended at iteration {point.done} ({reason}). To train longer from its "
            f"weights, start a new run with --init-from {out / 'last.pt'}"
        )
    elif main_process:
        print(f"{out}: resuming at iteration {point.done}, training on to {goal} ({why}){budget}")
    return replace(config, train=replace(config.train, iterations=goal))


def _export_target(plan: FoldPlan, out: Path) -> Path:
    """Where `--export` writes a run's model: the path itself for one run, else that name in each run folder."""
    assert plan.export is not None
    return plan.export if len(plan.folds) == 1 else out / plan.export.name


def check_export(target: Path, out: Path, replace_existing: bool) -> None:
    """Refuse an export path that is one of the run's own files (the checkpoint it exports) or a folder, and an
    existing file unless the run is resumed or started again and the file is an exported model (then it is this
    run's earlier export; a user's file, a checkpoint or a bundle is never replaced)."""
    if target.resolve().parent == out.resolve() and target.name in RUN_FILES:
        raise InputError(target, f"is the run's own {target.name}; export the model to another file")
    if replace_existing and target.is_file() and not is_exported_model(target):
        raise InputError(target, "exists and is not an exported model (a user's file, a checkpoint or a bundle)")
    check_output_file(target, overwrite=replace_existing)


def train_folds(config: Any, plan: FoldPlan, options: TrainOptions) -> list[TrainResult]:
    """Every requested run in turn; under torchrun only rank 0 checks folders, reports and exports."""
    main_process = context_from_env().is_main
    folders = [plan.run_folder(fold) for fold in plan.folds]
    if main_process:  # other ranks would see the folder rank 0 is already writing to
        for fold, out in zip(plan.folds, folders, strict=True):
            check_run_folder(out, plan.resume, plan.overwrite)
            if plan.export:
                check_export(_export_target(plan, out), out, plan.resume or plan.overwrite)
            if plan.overwrite:  # before the old run is removed (train_run checks them again, but after that)
                check_inputs(
                    config, plan.data, fold, plan.val_fraction, options.init_from, plan.layout, out, plan.h5_spacing
                )
    data = plan.data
    if len(plan.folds) > 1 and not (Path(plan.data) / "dataset.json").is_file():
        # one cache for every fold
        data = resolve_cache(plan.data, plan.out, config, plan.layout, plan.workers, plan.h5_spacing).root
    results = []
    for fold, out in zip(plan.folds, folders, strict=True):
        if plan.overwrite and main_process:
            removed = clear_run_files(out)
            if removed:
                print(f"{out}: starting again from iteration 0 (removed {', '.join(removed)})")
        fold_config = _fold_config(config, plan, out, main_process)
        validator = predictor_validator(fold_config) if plan.validation == "predictor" else None
        result = train_run(
            fold_config,
            data,
            out,
            fold,
            plan.val_fraction,
            options,
            plan.layout,
            plan.workers,
            validator,
            h5_spacing=plan.h5_spacing,
        )
        results.append(result)
        if not main_process:
            continue
        best = f", best validation score {result.best_score:.3f}" if result.best_checkpoint else ""
        print(f"{out}: {result.iteration}/{fold_config.train.iterations} iterations{best}")
        if plan.export and result.last_checkpoint:
            target = _export_target(plan, out)
            export_model(result.last_checkpoint, target, meta={"fold": fold, "config": fold_config.name})
            print(f"exported {target}")
    return results
