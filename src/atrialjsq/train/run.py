"""From a data folder to a trained run folder: cache, split, config/split JSON, then the trainer.

`--data` is a cache (a folder with dataset.json, written by `atrialjsq preprocess`) or a raw dataset; a raw
dataset is cached first into RUN/cache with the config's spacing, ROI and margin (reused on later calls).

Splits (saved to RUN/split.json; a resumed run must use the same one):
  fold K          train on the cache's other folds, validate on fold K (dataset.json "folds");
  all (default)   train on every case; `val_fraction` > 0 holds out that share of the cases (at least one,
                  chosen by the config's seed) for validation, 0 trains on everything without validation.
best.pt is chosen on the validation cases: never use it to score those same cases (see trainer docs).

A run folder that already holds a run is never restarted by accident (`check_run_folder`): continuing it
needs resume (to the run's recorded iteration target unless told otherwise, `resume_plan`), starting it
again from iteration 0 needs overwrite, which removes the old run's files (a raw dataset's RUN/cache and
anything else in the folder are kept), so log.csv never mixes two runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from atrialjsq.data.cache import CacheIndex, check_cache_folder, load_cache, load_cached_case
from atrialjsq.data.splits import make_folds
from atrialjsq.errors import InputError
from atrialjsq.io.atomic import write_json
from atrialjsq.io.output_check import check_output_folder
from atrialjsq.model.configs import ExperimentConfig
from atrialjsq.model.unet import build_model
from atrialjsq.train.checkpoint import load_checkpoint, load_network_weights
from atrialjsq.train.dataset import CACHE_KEYS
from atrialjsq.train.ddp import context_from_env
from atrialjsq.train.model_card import training_card
from atrialjsq.train.trainer import Trainer, TrainOptions, TrainResult, check_resumable, fit

Validator = Callable[[Trainer], dict[str, float]]

CACHE_WAIT_SECONDS = 6 * 3600  # other ranks wait this long for rank 0 to build the cache
RUN_FILES = ("last.pt", "best.pt", "log.csv", "val.csv", "loss.png", "config.json", "split.json")


def existing_run_files(out: str | Path) -> list[str]:
    """The files of an earlier run in `out` (empty for a new or empty folder)."""
    return [name for name in RUN_FILES if (Path(out) / name).exists()]


def holds_run_config(out: str | Path) -> bool:
    """Whether `out/config.json` is the config an atrialjsq run writes (an experiment config, not a user's file)."""
    try:
        config = json.loads((Path(out) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and {"name", "model", "loss", "optim", "train"} <= set(config)


def check_run_folder(out: str | Path, resume: bool, overwrite: bool) -> None:
    """Refuse to train into a folder holding a run unless told to continue it or to start it again, into a
    folder that cannot be written, and into one whose files only share a run's names (they are the user's:
    --overwrite must never delete them)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(out, "run folder exists and is a file")
    check_output_folder(out)
    if (out / "cache").exists():
        check_cache_folder(out / "cache")
    if resume:
        if not (out / "last.pt").is_file():
            raise InputError(out / "last.pt", "nothing to resume (no checkpoint in the run folder)")
        return
    found = existing_run_files(out)
    if found and not holds_run_config(out):
        raise InputError(
            out,
            f"holds {', '.join(found)} but no atrialjsq run (its config.json is missing or not a run's); "
            "refusing to touch them: choose a new --out",
        )
    if found and not overwrite:
        raise InputError(
            out,
            f"holds a training run ({', '.join(found)}); pass --resume to continue it or --overwrite to start "
            "again from iteration 0 (removes those files)",
        )


def clear_run_files(out: str | Path) -> list[str]:
    """Remove an earlier run's files (for overwrite); returns their names."""
    found = existing_run_files(out)
    for name in found:
        (Path(out) / name).unlink()
    return found


class ResumePoint(NamedTuple):
    """Where RUN/last.pt left a run and the budgets it was started with."""

    done: int  # iterations done
    target: int  # the recorded iteration target
    seconds: float | None  # the recorded wall-clock budget (train.seconds)
    schedule: str  # the learning-rate schedule that budget set (optim.schedule)
    elapsed: float = 0.0  # training seconds spent


def resume_plan(out: str | Path) -> ResumePoint:
    """Where the run in `out` stands, from RUN/last.pt."""
    state = load_checkpoint(Path(out) / "last.pt")
    config = state["config"]
    seconds = config["train"].get("seconds")
    return ResumePoint(
        int(state["iteration"]),
        int(config["train"]["iterations"]),
        None if seconds is None else float(seconds),
        str(config.get("optim", {}).get("schedule", "step")),
        float((state.get("scheduler") or {}).get("elapsed_seconds", 0.0)),
    )


def make_split(index: CacheIndex, fold: int | None, val_fraction: float, seed: int) -> dict[str, Any]:
    """{"fold", "train", "val"} case ids for one run (see the module docstring)."""
    return _split(index.case_ids, index.folds, fold, val_fraction, seed, index.root / "dataset.json")


def check_inputs(
    config: ExperimentConfig,
    data: str | Path,
    fold: int | None,
    val_fraction: float,
    init_from: str | Path | None = None,
    layout: str = "auto",
    out: str | Path | None = None,
    h5_spacing: Sequence[float] | None = None,
) -> None:
    """Everything about a run's inputs that can be told before anything is written or removed: the data
    exists, a cache (given, or the run's own RUN/cache of a raw dataset) fits the config's grid, the split
    can be made (for a raw dataset, with the folds its cache would get), the initial weights load into the
    config's network. `atrialjsq train --overwrite` calls it before clearing the old run."""
    data = Path(data)
    if not data.exists():
        raise InputError(data, "no such file or folder")
    if (data / "dataset.json").is_file():
        index = _fitting_cache(data, config)
        _split(index.case_ids, index.folds, fold, val_fraction, config.train.seed, index.root / "dataset.json")
    else:
        from atrialjsq.data.cache import DEFAULT_FOLDS  # loads SimpleITK: deferred (tests/test_import_graph.py)
        from atrialjsq.data.layouts import index_dataset  # loads SimpleITK: deferred (tests/test_import_graph.py)

        refs = index_dataset(data, layout, h5_spacing)
        if out is not None and (Path(out) / "cache" / "dataset.json").is_file():
            _check_cache_source(_fitting_cache(Path(out) / "cache", config), refs)
        ids = sorted(ref.case_id for ref in refs)
        repeated = sorted(case_id for case_id, count in Counter(ids).items() if count > 1)
        if repeated:
            raise InputError(data, f"case ids are not unique ({', '.join(repeated[:5])})")
        k = min(DEFAULT_FOLDS, len(ids))
        folds = make_folds(ids, k=k, seed=0) if k >= 2 else []
        _split(ids, folds, fold, val_fraction, config.train.seed, data, raw=True)
    if init_from is not None:
        load_network_weights(build_model(config), init_from, config.name)


def _check_cache_source(index: CacheIndex, refs: Sequence[Any]) -> None:
    """Refuse a run's own cache (RUN/cache) built from other data than `--data` now names: training on it would
    silently use the old cases (added ones left out, changed ones as they were)."""
    from atrialjsq.data.cache import source_stamp

    entries = {str(entry["id"]): entry for entry in index.cases}
    cached = {case_id: Path(str(entry.get("source", ""))).resolve() for case_id, entry in entries.items()}
    given = {ref.case_id: Path(ref.image_path).resolve() for ref in refs}
    differ = sorted(set(cached) ^ set(given)) or sorted(i for i in given if cached[i] != given[i])
    what = "other data than --data gives"
    if not differ:  # the same files by name: are they still the ones cached (contents, --h5-spacing)?
        # (a cache built before stamps were recorded has none to compare)
        differ = sorted(
            ref.case_id
            for ref in refs
            if "source_stamp" in entries[ref.case_id] and entries[ref.case_id]["source_stamp"] != source_stamp(ref)
        )
        what = "other versions of these files (changed since, or another --h5-spacing)"
    if not differ:
        return
    raise InputError(
        index.root,
        f"was built from {what} ({len(differ)} case(s) differ, e.g. {differ[0]}); remove this cache folder to "
        "rebuild it from --data, or train into another --out",
    )


def _fitting_cache(cache: Path, config: ExperimentConfig) -> CacheIndex:
    """The cache's index, refused when it was built at another spacing or ROI than the config's."""
    index = load_cache(cache)
    d = config.data
    if not np.allclose(index.spacing, d.spacing) or tuple(index.roi) != tuple(d.roi):
        raise InputError(
            cache / "dataset.json",
            f"cached at spacing {list(index.spacing)}, roi {list(index.roi)} but config {config.name!r} wants "
            f"spacing {list(d.spacing)}, roi {list(d.roi)}; rebuild the cache or override data.spacing/data.roi",
        )
    return index


def _split(
    ids: Sequence[str],
    folds: Sequence[dict[str, list[str]]],
    fold: int | None,
    val_fraction: float,
    seed: int,
    source: Path,
    raw: bool = False,
) -> dict[str, Any]:
    """The split of `ids`; errors name `source` (a cache's dataset.json, or a raw dataset's folder)."""
    if fold is not None:
        if val_fraction:
            raise InputError(None, "--val-fraction goes with --folds all; --fold K validates on fold K")
        has = "a cache built from it would have" if raw else "has"
        if not folds:
            raise InputError(source, f"{has} no folds; rebuild the cache or use --folds all")
        if not 0 <= fold < len(folds):
            raise InputError(source, f"{has} folds 0..{len(folds) - 1}, not fold {fold}")
        chosen = folds[fold]
        return {"fold": fold, "train": list(chosen["train"]), "val": list(chosen["val"])}
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(None, f"--val-fraction must be in [0, 1), got {val_fraction}")
    n_val = 0 if val_fraction == 0 else max(1, round(val_fraction * len(ids)))
    if n_val >= len(ids):
        raise InputError(source, f"{len(ids)} case(s) cannot be split into training and validation")
    order = np.random.default_rng(seed).permutation(len(ids))
    val = sorted(ids[i] for i in order[:n_val])
    return {"fold": None, "train": [i for i in ids if i not in set(val)], "val": val}


def _raw_to_cache(
    data: Path, out: Path, config: ExperimentConfig, layout: str, workers: int, h5_spacing: Sequence[float] | None
) -> Path:
    """Build RUN/cache from a raw dataset (rank 0), or wait for it (other ranks)."""
    from atrialjsq.data.cache import build_cache  # loads SimpleITK: deferred (tests/test_import_graph.py)
    from atrialjsq.data.layouts import index_dataset  # loads SimpleITK: deferred (tests/test_import_graph.py)

    cache = out / "cache"
    refs = index_dataset(data, layout, h5_spacing)
    if (cache / "dataset.json").is_file():
        _check_cache_source(load_cache(cache), refs)
        return cache
    if context_from_env().is_main:
        d = config.data
        made_out = not out.exists()
        try:
            build_cache(refs, cache, spacing=d.spacing, roi=d.roi, margin=d.margin, workers=workers)
        except InputError as error:  # the first bad case stops the build: check-data lists them all
            if made_out:
                with contextlib.suppress(OSError):  # only if nothing else was written there
                    out.rmdir()
            hint = f"; `atrialjsq check-data {data}` lists every problem of the data set"
            raise InputError(error.path, error.reason + hint) from None
        return cache
    deadline = time.monotonic() + CACHE_WAIT_SECONDS
    while not (cache / "dataset.json").is_file():
        if time.monotonic() > deadline:
            raise InputError(cache, "rank 0 did not finish building the cache")
        time.sleep(5)
    return cache


def resolve_cache(
    data: str | Path,
    out: Path,
    config: ExperimentConfig,
    layout: str = "auto",
    workers: int = 2,
    h5_spacing: Sequence[float] | None = None,
):
    """The cache index for `data` (building RUN/cache from a raw dataset), checked against the config."""
    data = Path(data)
    if not data.exists():
        raise InputError(data, "no such file or folder")
    cache = data if (data / "dataset.json").is_file() else _raw_to_cache(data, out, config, layout, workers, h5_spacing)
    return _fitting_cache(cache, config)


def train_run(
    config: ExperimentConfig,
    data: str | Path,
    out: str | Path,
    fold: int | None = None,
    val_fraction: float = 0.0,
    options: TrainOptions | None = None,
    layout: str = "auto",
    workers: int = 2,
    make_validator: Callable[[Sequence[tuple[str, dict[str, np.ndarray]]]], Validator] | None = None,
    h5_spacing: Sequence[float] | None = None,
) -> TrainResult:
    """Train `config` on `data` into `out` (see the module docstring for the split). `make_validator` builds
    the validation from the validation cases ((case id, arrays) pairs), replacing the trainer's window monitor
    (`atrialjsq train` passes the Predictor's, `infer.predictor_validation`)."""
    out = Path(out)
    options = options or TrainOptions()
    if options.context == TrainOptions().context:
        options = replace(options, context=context_from_env())
    if options.resume and not (out / "last.pt").is_file():
        raise InputError(out / "last.pt", "nothing to resume (no checkpoint in the run folder)")
    if options.context.is_main:  # before RUN/cache or a run file is written
        init_from = None if options.resume else options.init_from
        check_inputs(config, data, fold, val_fraction, init_from, layout, out, h5_spacing)
    index = resolve_cache(data, out, config, layout, workers, h5_spacing)
    split = make_split(index, fold, val_fraction, config.train.seed)
    split["cache"] = str(index.root.resolve())
    split_file = out / "split.json"
    if options.resume and split_file.is_file():
        try:
            saved = json.loads(split_file.read_text())
        except (OSError, ValueError) as error:
            raise InputError(split_file, f"not a readable split ({error.__class__.__name__})") from None
        if not isinstance(saved, dict):
            raise InputError(split_file, "not a split (no JSON object)")
        if (saved.get("train"), saved.get("val")) != (split["train"], split["val"]):
            raise InputError(split_file, "the resumed run was trained on another split (check --fold/--val-fraction)")
    validation = "predictor" if make_validator is not None else "window"
    if options.resume:  # refused before config.json is rewritten, so the folder keeps describing its last.pt
        state = load_checkpoint(out / "last.pt")
        check_resumable(state, config, out / "last.pt")
        saved = (state.get("meta") or {}).get("validation")  # best.pt compares scores of one kind only
        if saved is not None and saved != validation:
            raise InputError(out / "last.pt", f"was validated with --validation {saved}; resume with the same")
        del state
    if options.context.is_main:
        write_json(out / "config.json", config.to_dict())
        write_json(split_file, split)

    def arrays(case_id: str) -> dict[str, np.ndarray]:
        loaded = load_cached_case(index, case_id)
        arrays = {key: loaded[key] for key in CACHE_KEYS if key in loaded}
        if "scar" in config.heads:
            # A case without a scar label has unknown scar, not none: its scar terms are off (the LA trains), or it
            # gets synthetic scar drawn into its wall (train.synthetic_scar); it never teaches "no scar".
            arrays["scar_known"] = np.array(1.0 if index.entry(case_id).get("has_scar", True) else 0.0, np.float32)
        return arrays

    if options.context.is_main and len(split["val"]) < 2:
        print(validation_note(len(split["val"]), config.train.val_every), file=sys.stderr)
    if options.context.is_main and (note := padding_note(index)):
        print(note, file=sys.stderr)
    unlabelled = [i for i in split["train"] if not index.entry(i).get("has_scar", True)]
    if options.context.is_main and "scar" in config.heads and unlabelled and config.train.synthetic_scar == 0:
        print(
            f"note: {len(unlabelled)} of {len(split['train'])} training cases have no scar label: the scar head "
            "does not learn from them; --set train.synthetic_scar=0.7 draws synthetic scar into their LA wall "
            "(the default of ajsq-sesa-cpu)",
            file=sys.stderr,
        )
    train_cases = [arrays(i) for i in split["train"]]
    val_cases: list[dict[str, np.ndarray]] | None = [arrays(i) for i in split["val"]] or None
    if make_validator is not None and val_cases:
        options = replace(options, validator=make_validator(list(zip(split["val"], val_cases, strict=True))))
        val_cases = None  # the validator scores them; no window bank
    meta = {"data": str(Path(data).resolve()), "fold": split["fold"], "train_cases": split["train"]}
    meta["val_cases"] = split["val"]
    meta["validation"] = validation
    entries = [index.entry(case_id) for case_id in split["train"]]
    meta.update(
        training_card(
            entries,
            Path(data).resolve().name,
            config.train.synthetic_scar,
            config.train.synthetic_scar_real_iir,
        )
    )
    meta["host_pid"] = os.getpid() if options.context.is_main else None
    return fit(config, train_cases, val_cases, out, options, meta=meta, preprocessing=cache_preprocessing(index))


def validation_note(n_val: int, val_every: int) -> str:
    """Why a run with fewer than two validation cases will not choose a best.pt worth having."""
    if n_val == 0:
        return (
            "note: no validation cases (--val-fraction 0 with --folds all): no best.pt is written; last.pt is the model"
        )
    return (
        f"note: 1 validation case: best.pt (scored every {val_every} iterations) is chosen on a single case, which "
        "is noise; use --val-fraction for at least 2 cases or --fold K"
    )


def padding_note(index: CacheIndex) -> str | None:
    """Why a cache that `atrialjsq preprocess` built before constant padding was cut off may not match `predict`
    (None for newer caches and for caches written by hand, which say nothing of how they were made)."""
    built_here = any("original_geometry" in entry for entry in index.cases)
    if not built_here or _index_payload(index).get("padding_cut"):
        return None
    return (
        f"note: {index.root} was built before constant padding around scans was cut off before the z-score; "
        "predict now cuts it, so if your scans are zero-filled around their field of view, rebuild the cache"
    )


def cache_preprocessing(index: CacheIndex) -> dict[str, Any]:
    """The cache's normalisation, centring and orientation choices, which inference must repeat."""
    payload = _index_payload(index)
    return {key: payload[key] for key in ("zscore_region", "center", "orientation") if key in payload}


def _index_payload(index: CacheIndex) -> dict[str, Any]:
    """The cache's dataset.json as read (`load_cache` has checked it; {} if it went since)."""
    try:
        return json.loads((index.root / "dataset.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
