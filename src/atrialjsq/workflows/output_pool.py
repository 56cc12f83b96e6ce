"""Output workers: a case's analysis and files are written in another process while the network predicts the next.

After the network, a case's regional analysis, figures and files take several times the network's own time on a
CPU, on one core. nnU-Net's predictor hands its exports to worker processes for the same reason; here
`finish_case` (landmarks, regions, rings, flat map, figures, meshes, report) runs in `workers` processes while
the main process reads, predicts and quantifies the next case. With no workers every case finishes in this
process, as before. The workers are started with "spawn", not "fork": forking a process whose torch thread
pool is running is unsafe, and `workflows.case` (all a worker imports) does not load torch.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from atrialjsq.errors import InputError

Result = TypeVar("Result")


def auto_output_workers(cases: int, cpus: int | None = None) -> int:
    """One output worker for a batch on a machine with at least two cores, none for a single case (the worker's
    start-up would cost more than it overlaps) or a single core (nothing to overlap with)."""
    cpus = os.cpu_count() if cpus is None else cpus
    return 1 if cases > 1 and (cpus or 1) >= 2 else 0


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

    def __init__(self, workers: int) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> OutputPool:
        if self.workers > 0:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self

    def submit(self, fn: Callable[[Any], Result], arg: Any) -> Future:
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
