"""Output workers: a case's analysis and files are written in another process while the network predicts the next.

After the network, a case's regional analysis, figures and files take several times the network's own time on a
CPU, on one core. nnU-Net's predictor hands its exports to worker processes for the same reason; here
`finish_case` (landmarks, regions, rings, flat map, figures, meshes, report) runs in `workers` processes while
the main process reads and predicts the next case. Open the pool before loading the model: its workers start at
once and import what they need meanwhile. With no workers every case finishes in this
process, as before. The workers are started with "spawn", not "fork": forking a process whose torch thread
pool is running is unsafe, and `workflows.case` (all a worker imports) does not load torch.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from atrialjsq.errors import InputError

Result = TypeVar("Result")


def auto_output_workers(cases: int, cpus: int | None = None, *, regional: bool = True, figure: bool = True) -> int:
    """Output workers for a batch on a machine with at least two cores (measured on 2 cores:
    docs/results/benchmarks.md): two with the regional breakdown or the figures, one without them (the surface scar
    and the files alone); none for a single case (a worker's start-up would cost more than it overlaps) or a single
    core."""
    cpus = os.cpu_count() if cpus is None else cpus
    if cases < 2 or (cpus or 1) < 2:
        return 0
    return 2 if regional or figure else 1


def network_threads(workers: int, cpus: int | None = None) -> int:
    """Torch threads for the main process beside `workers` busy output workers: the cores they leave. Torch's
    default (one thread per core) oversubscribes them, and its waiting threads spin: measured on a 2-core Intel
    Xeon (4 real scans), 2 workers with 1 network thread took 2.9 s per case, with 2 threads 3.5 s, one process
    3.9 s."""
    cpus = os.cpu_count() if cpus is None else cpus
    return max(1, (cpus or 1) - workers)


def warm_up(figures: bool = True) -> None:
    """Import what finishing a case needs (the analysis, the writers, matplotlib when figures are drawn), so that
    a worker started while the main process loads torch and the model is ready when the first case arrives."""
    importlib.import_module("atrialjsq.workflows.case")
    if figures:
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg", force=False)
        importlib.import_module("matplotlib.pyplot")


def finished(result: Any = None, error: BaseException | None = None) -> Future:
    """A future that is already done, with `result` or raising `error`."""
    future: Future = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
    return future


class OutputPool:
    """`submit(fn, arg)` runs in a worker process (or at once in this one when `workers` is 0) and returns a Future.

    Inline, an `InputError` is held in the future as a worker's would be; any other exception is a bug and is
    raised at once. Leaving the block waits for running work; an exception leaving it cancels queued work."""

    def __init__(self, workers: int, figures: bool = True) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers = workers
        self.figures = figures  # whether the workers will draw (and should import matplotlib up front)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> OutputPool:
        if self.workers > 0:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
            for _ in range(self.workers):  # start every worker now, importing while the caller loads its model
                self._executor.submit(warm_up, self.figures)
        return self

    def submit(self, fn: Callable[..., Result], arg: Any) -> Future:
        if self._executor is None:
            try:
                return finished(fn(arg))
            except InputError as error:
                return finished(error=error)
        return self._executor.submit(fn, arg)

    def stop(self) -> None:
        """Cancel queued work and wait for the running cases (an interrupted batch)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __exit__(self, kind: type[BaseException] | None, *rest: Any) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=kind is not None)
