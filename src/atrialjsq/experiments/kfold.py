"""The k-fold engine every cross-validation study runs on (the paper's tables, the LASC 2018 studies).

What every study shares lives here, once: the folds (saved in the run folder the first time, then reused as
they are, `data.splits.ensure_folds`), one training run per network and fold that is skipped when it is
finished, resumed when it was interrupted (for an iteration budget the resumed run equals the uninterrupted
one bit for bit; under a wall-clock budget it continues the clock and its schedule, though the steps that fit
in the remaining time depend on the machine) and refused when it was made otherwise, and the held-out cases
predicted through
`infer.predictor.Predictor` built from that run's last.pt, exactly as ``atrialjsq predict --model <last.pt>``
builds it. A study adds only what is its own: which arrays train, how a held-out case is predicted and
stored, and how its predictions are scored and tabulated.

No fold's model is chosen on its held-out labels: each fold is predicted with its last weights.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atrialjsq.data.splits import ensure_folds
from atrialjsq.errors import InputError
from atrialjsq.hardware import resolve_device
from atrialjsq.infer.predictor import Predictor
from atrialjsq.train.checkpoint import load_checkpoint
from atrialjsq.train.trainer import TrainOptions, TrainResult, checkpoint_differences, fit, run_complete

LAST = "last.pt"


@dataclass(frozen=True)
class FoldSplit:
    """Fold `number`: its training cases and the held-out cases it is scored on (disjoint)."""

    number: int
    train: tuple[str, ...]
    val: tuple[str, ...]


def _budget(train: Mapping[str, Any]) -> tuple[int, float | None]:
    seconds = train.get("seconds")
    return int(train["iterations"]), None if seconds is None else float(seconds)


def json_like(value: Any) -> Any:
    """`value` as it reads back from a checkpoint's meta (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, default=str))


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

    def train(
        self,
        fold: FoldSplit,
        config,
        arrays: Callable[[], Sequence[Mapping[str, np.ndarray]]],
        *,
        name: str | None = None,
        meta: Mapping[str, Any] | None = None,
        identity: Mapping[str, Any] | None = None,
        callbacks: Sequence[Any] = (),
        compile: bool | None = None,
        stop_after: int | None = None,
    ):
        """Train the fold's network unless its run is finished; resume an interrupted one. `arrays` is called
        only when training happens (building them is the slow part of a skipped fold). `identity` is what else
        makes two runs the same one besides the config and the cases (data files, options); it is stored in
        the checkpoint and a run with another identity, config, budget or training cases is refused, never
        reused. Returns the `TrainResult` (for a finished run, read back from its last checkpoint; `trained`
        False). `stop_after` stops this call after that many iterations (an interruption, for tests)."""
        out = self.run_dir(fold, name)
        last = out / LAST
        identity = json_like(dict(identity or {}))
        if last.is_file():
            state = load_checkpoint(last)
            saved = state.get("meta") or {}
            differences = checkpoint_differences(state, config)
            if _budget(state["config"]["train"]) != _budget(config.to_dict()["train"]):
                differences.insert(0, "the training budget (train.iterations / train.seconds)")
            if differences:
                raise InputError(
                    last, f"was trained with other settings ({', '.join(differences[:4])}); use a new --out"
                )
            if sorted(saved.get("train_cases", ())) != sorted(fold.train):
                raise InputError(last, f"was trained on other cases than fold {fold.number}'s; use a new --out")
            if saved.get("identity", {}) != identity:
                found = saved.get("identity")
                raise InputError(last, f"was made from other data or options ({found}); use a new --out")
            if run_complete(state, config):
                elapsed = float((state.get("scheduler") or {}).get("elapsed_seconds", 0.0))
                best = out / "best.pt"
                best_path = best if best.is_file() else None
                best_score = float(state.get("best_score", math.nan))
                return TrainResult(int(state["iteration"]), last, best_path, best_score, {}, elapsed, trained=False)
        options = TrainOptions(
            device=self.device,
            resume=last.is_file(),
            progress=self.progress,
            callbacks=callbacks,
            compile=compile,
            stop_after=stop_after,
        )
        # the engine's keys last: a study's meta cannot mislabel the fold
        info = {**(meta or {}), "fold": fold.number, "train_cases": list(fold.train), "held_out": list(fold.val)}
        info["identity"] = identity
        return fit(config, arrays(), None, out, options, meta=info)

    def predictor(self, fold: FoldSplit, name: str | None = None, **options: Any):
        """The fold's trained network as ``atrialjsq predict --model <its last.pt>`` runs it (same defaults;
        `options` as `Predictor`'s, e.g. tta)."""
        last = self.run_dir(fold, name) / LAST
        if not last.is_file():
            raise InputError(last, f"fold {fold.number} has no trained network{f' {name!r}' if name else ''}")
        return Predictor.from_checkpoint(str(last), resolve_device(self.device), **options)
