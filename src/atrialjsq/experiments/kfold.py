"""The k-fold engine every cross-validation study runs on (the paper's tables, the LASC 2018 studies).

What every study shares lives here, once: the folds (saved in the run folder the first time, then reused as
they are, `data.splits.ensure_folds`), one training run per network and fold that is skipped when it is
finished and resumed when it was interrupted (the trainer's resume reproduces the uninterrupted run, for an
iteration budget and for a wall-clock budget alike), and the held-out cases predicted through
`infer.predictor.Predictor` built from that run's last.pt, exactly as ``atrialjsq predict --model <last.pt>``
builds it. A study adds only what is its own: which arrays train, how a held-out case is predicted and
stored, and how its predictions are scored and tabulated.

No fold's model is chosen on its held-out labels: each fold is predicted with its last weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atrialjsq.data.splits import ensure_folds
from atrialjsq.errors import InputError

LAST = "last.pt"


@dataclass(frozen=True)
class FoldSplit:
    """Fold `number`: its training cases and the held-out cases it is scored on (disjoint)."""

    number: int
    train: tuple[str, ...]
    val: tuple[str, ...]


def _finished(state: Mapping[str, Any], config) -> bool:
    """Whether a checkpoint has reached its config's stop: the iteration cap or the wall-clock budget."""
    if int(state["iteration"]) >= int(config.train.iterations):
        return True
    budget = config.train.seconds
    elapsed = float((state.get("scheduler") or {}).get("elapsed_seconds", 0.0))
    return budget is not None and elapsed >= float(budget)


class CrossValidation:
    """The folds of one run folder and the per-fold training runs under `models`.

    A network's run for fold k lives in ``<models>/<name>/fold<k>`` (``<models>/fold<k>`` for a study with one
    network, name None), so reruns find finished and interrupted runs where they left them.
    """

    def __init__(
        self,
        out: str | Path,
        case_ids: Iterable[str],
        k: int,
        seed: int = 0,
        *,
        models: str | Path | None = None,
        device: str | None = None,
        progress: bool = True,
    ) -> None:
        self.out = Path(out)
        ids = sorted(str(case_id) for case_id in case_ids)
        if k < 2 or k > len(ids):
            raise InputError(None, f"{len(ids)} cases cannot make {k} folds; choose 2 <= k <= {len(ids)}")
        self.k = k
        self.out.mkdir(parents=True, exist_ok=True)
        splits = ensure_folds(self.out / "folds.json", ids, k, seed)
        self.folds = [FoldSplit(n, tuple(f["train"]), tuple(f["val"])) for n, f in enumerate(splits)]
        for fold in self.folds:
            if set(fold.train) & set(fold.val):
                raise InputError(self.out / "folds.json", f"fold {fold.number} trains on held-out cases")
        self.models = Path(models) if models is not None else self.out
        self.device = device
        self.progress = progress

    def select(self, numbers: Sequence[int] | None = None) -> list[FoldSplit]:
        """The requested folds in the order given (all k when None); a number outside 0..k-1 is refused."""
        if numbers is None:
            return list(self.folds)
        bad = [n for n in numbers if not 0 <= n < self.k]
        if bad:
            raise InputError(None, f"fold(s) {bad} out of range 0..{self.k - 1}")
        return [self.folds[n] for n in numbers]

    def run_dir(self, fold: FoldSplit, name: str | None = None) -> Path:
        base = self.models / name if name else self.models
        return base / f"fold{fold.number}"

    def finished(self, fold: FoldSplit, config, name: str | None = None) -> bool:
        from atrialjsq.train.checkpoint import load_checkpoint

        last = self.run_dir(fold, name) / LAST
        return last.is_file() and _finished(load_checkpoint(last), config)

    def train(
        self,
        fold: FoldSplit,
        config,
        arrays: Callable[[], Sequence[Mapping[str, np.ndarray]]],
        *,
        name: str | None = None,
        meta: Mapping[str, Any] | None = None,
        callbacks: Sequence[Any] = (),
        compile: bool | None = None,
    ):
        """Train the fold's network unless its run is finished; resume an interrupted one. `arrays` is called
        only when training happens (building them is the slow part of a skipped fold). Returns the
        `TrainResult` (for a finished run, read back from its last checkpoint; `trained` False)."""
        from atrialjsq.train.checkpoint import load_checkpoint
        from atrialjsq.train.trainer import TrainOptions, TrainResult, checkpoint_differences, fit

        out = self.run_dir(fold, name)
        last = out / LAST
        if last.is_file():
            state = load_checkpoint(last)
            differences = checkpoint_differences(state, config)
            if differences:
                raise InputError(
                    last, f"was trained with other settings ({', '.join(differences[:4])}); use a new --out"
                )
            trained_on = (state.get("meta") or {}).get("train_cases")
            if trained_on is not None and sorted(trained_on) != sorted(fold.train):
                raise InputError(last, f"was trained on other cases than fold {fold.number}'s; use a new --out")
            if _finished(state, config):
                elapsed = float((state.get("scheduler") or {}).get("elapsed_seconds", 0.0))
                best = out / "best.pt"
                best_path = best if best.is_file() else None
                return TrainResult(int(state["iteration"]), last, best_path, math.nan, {}, elapsed, trained=False)
        options = TrainOptions(
            device=self.device, resume=last.is_file(), progress=self.progress, callbacks=callbacks, compile=compile
        )
        info = {"fold": fold.number, "train_cases": list(fold.train), "held_out": list(fold.val), **(meta or {})}
        return fit(config, arrays(), None, out, options, meta=info)

    def predictor(self, fold: FoldSplit, name: str | None = None, **options: Any):
        """The fold's trained network as ``atrialjsq predict --model <its last.pt>`` runs it (same defaults;
        `options` as `Predictor`'s, e.g. tta)."""
        from atrialjsq.hardware import resolve_device
        from atrialjsq.infer.predictor import Predictor

        last = self.run_dir(fold, name) / LAST
        if not last.is_file():
            raise InputError(last, f"fold {fold.number} has no trained network{f' {name!r}' if name else ''}")
        return Predictor.from_checkpoint(str(last), resolve_device(self.device), **options)
