"""A whole `predict` run: inputs → this process's share of the cases → planned folders → predictions → summary.csv.

`run_batch` does what `atrialjsq predict` does between parsing its arguments and printing its last lines: expand
the inputs, take this job's part (`--num-parts/--part-id`) and this torchrun process's shard, refuse existing
folders before any work, predict (`workflows.predict.predict_cases`), and write the batch's summary table, also
when the batch is interrupted. Error lines for inputs and cases go to `errors_to` as they happen; the caller
prints the headline of each case and the batch's last line from the returned `BatchResult`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import torch

from atrialjsq.errors import InputError
from atrialjsq.infer.inputs import InputCase, collect_inputs, distributed_rank, named, part, shard
from atrialjsq.infer.predictor import Predictor
from atrialjsq.workflows.case import CaseOutcome
from atrialjsq.workflows.output_pool import OutputPool, auto_output_workers, network_threads
from atrialjsq.workflows.predict import (
    BatchInterrupted,
    plan_outputs,
    predict_cases,
    summary_rows,
    write_summary,
)


@dataclass(frozen=True)
class BatchRequest:
    """What `atrialjsq predict` was asked: inputs, output folder, which share of the cohort, which outputs."""

    inputs: Sequence[Path]
    out: Path
    layout: str = "auto"
    h5_spacing: Sequence[float] | None = None
    case_id: str | None = None
    num_parts: int = 1
    part_id: int = 0
    existing: str = "refuse"
    probability_maps: bool = False
    figure: bool = True
    regional: bool = True
    dicom_seg: bool = True
    output_workers: int | None = None  # None: `output_pool.auto_output_workers`
    threads: int | None = None  # torch's threads; None: the cores the output workers leave (`network_threads`)
    progress: bool = True


@dataclass
class BatchResult:
    """What happened to this process's share of the cases."""

    total: int  # the cases this process answers for (its share, plus the unreadable inputs it reports)
    unreadable: list[InputError] = field(default_factory=list)  # inputs that could not be read (reported here)
    conflicts: list[InputError] = field(default_factory=list)  # existing folders: nothing was written
    outcomes: list[CaseOutcome] = field(default_factory=list)  # the predicted cases, in input order
    skipped: list[InputCase] = field(default_factory=list)  # finished before (--skip-existing)
    not_run: list[InputCase] = field(default_factory=list)  # left after an interruption
    summary: Path | None = None  # summary.csv, when written
    interrupted: bool = False

    @property
    def written(self) -> int:
        return sum(outcome.ok for outcome in self.outcomes)

    @property
    def failed(self) -> list[str]:
        """Names of the inputs and cases that failed, for the batch's last line."""
        return [str(e.path or e) for e in self.unreadable] + [o.case_id for o in self.outcomes if not o.ok]


def summary_name(num_parts: int, part_id: int, rank: int, world: int) -> str:
    """summary.csv, or one per part / torchrun process so that parallel runs into one --out never collide."""
    tags = ([f"part{part_id}of{num_parts}"] if num_parts > 1 else []) + ([f"rank{rank}of{world}"] if world > 1 else [])
    return "summary" + "".join(f"_{tag}" for tag in tags) + ".csv"


def run_batch(
    request: BatchRequest, make_predictor: Callable[[], Predictor], errors_to: TextIO | None = None
) -> BatchResult:
    """Run `request`; the predictor is made only when there is a case to predict. See the module docstring."""
    errors_to = errors_to or sys.stderr
    cases, errors = collect_inputs(list(request.inputs), request.layout, request.h5_spacing)
    cases = part(named(cases, request.case_id), request.num_parts, request.part_id)
    if request.part_id > 0:
        errors = []  # part 0 reports the inputs that could not be read, once for the whole cohort
    rank, world = distributed_rank()
    if rank > 0:
        errors = []  # and process 0 of a torchrun job
    total = len(cases) + len(errors)
    for error in errors:
        print(f"error: {error}", file=errors_to)
    mine = shard(cases, rank, world)
    if world > 1:
        total = len(mine) + len(errors)
    result = BatchResult(total, unreadable=list(errors))
    plan = plan_outputs(mine, request.out, request.existing)
    if plan.conflicts:
        result.conflicts = plan.conflicts
        for conflict in plan.conflicts:
            print(f"error: {conflict}", file=errors_to)
        return result
    result.skipped = plan.skipped
    summary = request.out / summary_name(request.num_parts, request.part_id, rank, world)
    failed_inputs = [CaseOutcome(str(e.path or e), str(e.path or ""), error=str(e)) for e in errors]
    workers = request.output_workers
    if workers is None:
        workers = auto_output_workers(len(plan.todo), regional=request.regional, figure=request.figure)
    workers = workers if len(plan.todo) > 1 else 0  # a lone case has nothing to overlap with
    if plan.todo:
        threads_before = torch.get_num_threads()  # given back after the batch: a caller's later work keeps its own
        if request.threads is None and workers > 0:
            torch.set_num_threads(network_threads(workers))
        try:
            # The workers start here, importing while the model loads.
            with OutputPool(workers, figures=request.figure) as pool:
                result.outcomes = predict_cases(
                    make_predictor(),
                    plan.todo,
                    request.out,
                    probability_maps=request.probability_maps,
                    figure=request.figure,
                    regional=request.regional,
                    progress=request.progress and rank == 0,  # one bar, not one per torchrun process
                    errors_to=errors_to,
                    existing=request.existing,
                    dicom_seg=request.dicom_seg,
                    pool=pool,
                )
        except BatchInterrupted as stop:
            result.outcomes, result.interrupted = stop.outcomes, True
            result.not_run = plan.todo[len(stop.outcomes) :]
        finally:
            torch.set_num_threads(threads_before)
    if result.interrupted or total > 1 or result.written:  # one failed case: its error line says it all
        result.summary = write_summary(
            summary, summary_rows(failed_inputs + result.outcomes, plan.skipped, result.not_run)
        )
    return result
