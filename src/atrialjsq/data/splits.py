"""Reproducible k-fold splits of case ids, saved as JSON next to a cache or in a run folder.

The folds depend only on the *set* of ids, k and the seed: ids are sorted before shuffling, so listing the
cases in another order (another file system, another machine) gives the same folds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from atrialjsq.errors import InputError
from atrialjsq.io.atomic import write_json

Fold = dict[str, list[str]]
SPLITS_FORMAT = "atrialjsq-splits-v1"


def make_folds(case_ids: Iterable[str], k: int = 5, seed: int = 0) -> list[Fold]:
    """Split ids into `k` disjoint validation folds of near-equal size; each fold trains on the rest."""
    ids = sorted(str(case_id) for case_id in case_ids)
    if len(set(ids)) != len(ids):
        raise ValueError("case ids must be unique")
    if k < 2 or k > len(ids):
        raise ValueError(f"need 2 <= k <= number of cases, got k={k} for {len(ids)} cases")
    order = np.random.default_rng(seed).permutation(len(ids))
    folds = []
    for val_positions in np.array_split(order, k):
        val = sorted(ids[i] for i in val_positions)
        val_set = set(val)
        folds.append({"train": [i for i in ids if i not in val_set], "val": val})
    return folds


def save_folds(folds: list[Fold], path: str | Path, *, k: int | None = None, seed: int | None = None) -> Path:
    """Write folds atomically as JSON (with the k and seed that made them, when given)."""
    path = Path(path)
    payload = {"format": SPLITS_FORMAT, "k": k if k is not None else len(folds), "seed": seed, "folds": folds}
    write_json(path, payload)
    return path


def validate_folds(folds: object, path: str | Path, case_ids: Sequence[str] | None = None) -> list[Fold]:
    """Check the shape of a folds list read from disk (and, given `case_ids`, that it names only those cases);
    raise `InputError` naming `path` when it is wrong."""
    if not isinstance(folds, list) or not folds:
        raise InputError(path, "folds must be a non-empty list")
    for number, fold in enumerate(folds):
        if not isinstance(fold, dict) or set(fold) != {"train", "val"}:
            raise InputError(path, f"fold {number} must have exactly 'train' and 'val' lists")
        if not fold["train"]:
            raise InputError(path, f"fold {number} has no training cases")
        if set(fold["train"]) & set(fold["val"]):
            raise InputError(path, f"fold {number} has ids in both train and val")
        unknown = sorted((set(fold["train"]) | set(fold["val"])) - set(case_ids)) if case_ids is not None else []
        if unknown:
            raise InputError(path, f"fold {number} names case(s) not in the data: {', '.join(map(str, unknown[:5]))}")
    return folds


def load_folds(path: str | Path) -> list[Fold]:
    """Read folds written by `save_folds` (or a bare JSON list of folds)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(path, f"not valid JSON ({error})") from None
    folds = payload.get("folds") if isinstance(payload, dict) else payload
    return validate_folds(folds, path)


def ensure_folds(path: str | Path, case_ids: Iterable[str], k: int, seed: int = 0) -> list[Fold]:
    """The folds saved at `path`, or `make_folds(case_ids, k, seed)` saved there first.

    A saved split is used as it is, so every run in a folder (and every later session) scores the same
    held-out cases; it may be a custom one (as nnU-Net's splits file), but it must have `k` folds whose
    held-out parts cover `case_ids` exactly once each; otherwise it is refused, naming the file.
    """
    path = Path(path)
    ids = sorted(str(case_id) for case_id in case_ids)
    if not path.is_file():
        folds = make_folds(ids, k=k, seed=seed)
        save_folds(folds, path, k=k, seed=seed)
        return folds
    folds = load_folds(path)
    held_out = sorted(case_id for fold in folds for case_id in fold["val"])
    if len(folds) != k or held_out != ids:
        found = f"{len(folds)} folds over {len(held_out)} held-out ids"
        raise InputError(
            path, f"holds other folds ({found}; this run has k={k} over {len(ids)} cases); use a new --out"
        )
    return folds
