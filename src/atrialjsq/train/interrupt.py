"""Ctrl-C during training ends the run at the next iteration boundary with a checkpoint, not mid-step with none.

The first SIGINT only asks (the trainer finishes its step, writes last.pt and says how to resume); a second one
interrupts at once, as Python does by default. Only for one process in the main thread: ranks of a distributed
run would stop at different iterations and wait for each other for ever, so they keep the default behaviour.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType


class GracefulInterrupt:
    """A context in which the first Ctrl-C sets `requested` instead of raising KeyboardInterrupt."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False
        self._previous: object = None

    def _ask(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C interrupts at once

    def __enter__(self) -> GracefulInterrupt:
        if self.enabled:
            self._previous = signal.signal(signal.SIGINT, self._ask)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.enabled:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
