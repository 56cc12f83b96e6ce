"""Mirroring test-time augmentation: average the network's probabilities over flips of the spatial axes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch

from atrialjsq.infer.sliding_window import ProbabilityFn


def flip_combinations(axes: Sequence[int] = (0, 1, 2)) -> list[tuple[int, ...]]:
    """Every subset of `axes` (spatial axes, 0 = x), the empty one (no flip) first: 2**len(axes) variants."""
    return [combo for r in range(len(axes) + 1) for combo in itertools.combinations(axes, r)]


def with_mirroring(predict: ProbabilityFn, axes: Sequence[int] = (0, 1, 2)) -> ProbabilityFn:
    """Wrap `predict` so it returns the mean over all flips of `axes`, each output flipped back first.

    A flip is its own inverse, so flipping the output with the same dims realigns it with the input.
    """
    combos = flip_combinations(axes)

    def mirrored(image: torch.Tensor) -> dict[str, torch.Tensor]:
        totals: dict[str, torch.Tensor] = {}
        for combo in combos:
            dims = [2 + axis for axis in combo]
            outputs = predict(torch.flip(image, dims) if dims else image)
            for name, probabilities in outputs.items():
                restored = (torch.flip(probabilities, dims) if dims else probabilities).float()
                totals[name] = totals[name] + restored if name in totals else restored
        return {name: total / len(combos) for name, total in totals.items()}

    return mirrored


class UntrainedMirroringError(ValueError):
    """TTA asked of a model that never saw mirrored anatomy."""


def tta_axes(config: Any) -> tuple[int, ...]:
    """Mirror only along the axes the model saw mirrored in training; refuse a model trained without flips.

    Mirroring a model that never saw mirrored anatomy makes it worse, not better: with the real-data model
    shipped before synthetic scar (trained without flips) mirroring on all three axes lowered the LA Dice of 20
    real scans it had not trained on from 0.928 to 0.872 and raised HD95 from 4.1 to 15.4 voxels (a user's
    measurement)."""
    trained = tuple(int(axis) for axis in getattr(getattr(config, "train", None), "flip_axes", ()) or ())
    if not trained:
        raise UntrainedMirroringError(
            "the model was trained without flips, so mirroring TTA would show it anatomy it never saw "
            "(it lowers the LA Dice of such models); predict without --tta"
        )
    return trained
