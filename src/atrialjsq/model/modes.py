"""Running a network in evaluation mode for a while, for validation in the middle of training."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """`model.eval()` for the block, then the mode it had, even when the block raises: a validation that fails
    must not leave the training network in evaluation mode (instance norm, dropout behave differently)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
