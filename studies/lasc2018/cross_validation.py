"""k-fold cross-validation of the LA (or joint) network on a compact data set, and the model trained on every case.

Runs on a machine with only torch, NumPy, SciPy and edt (no SimpleITK). The fold loop is `experiments.kfold`'s:
folds saved once in ``<out>/folds.json`` (a run with other folds in the same folder is refused), each
requested fold trained for a wall-clock budget on the other folds' cases (the trainer with a clock stop; an
interrupted fold resumes where it stopped, a finished one is kept), its held-out cases predicted over their
whole compact window through `infer.predictor.Predictor` built from the fold's last.pt as `predict` builds
it (same tiling, TTA rule, precision and padding handling). Every head's probabilities (LA; normal wall and
scar for joint and scar configs; uint8, p·255) go to ``<out>/fold<k>/predictions.npz``, then
``fold<k>/fold.json``, whose presence marks the fold done. Scoring on the native grid happens in `scoring`,
which may run on another machine.

No checkpoint is chosen on held-out labels: each fold is scored with the weights at its deadline. A quick
Dice on the training grid (`dice_train_grid`, threshold 0.5, no post-processing) is logged as a sanity check.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from atrialjsq.errors import InputError
from atrialjsq.experiments.kfold import CrossValidation, FoldSplit, json_like
from atrialjsq.io.atomic import write_json
from atrialjsq.io.geometry import triple
from atrialjsq.io.packed import array_spec, read_packed, write_packed
from studies.lasc2018.compact import CompactCase, CompactSet, load_compact, trainer_arrays

PREDICTIONS_FORMAT = "atrialjsq-la-predictions-v1"
PREDICTIONS_FILE = "predictions.npz"
FOLD_FILE = "fold.json"


@dataclass
class CvSettings:
    """How to train and predict; `config` is an `ExperimentConfig` whose data.spacing matches the compact."""

    config: Any
    seconds: float = 60.0
    k: int = 5
    seed: int = 0
    device: str | None = None
    tta: bool = False
    compile: bool = False
    workers: int = 1
    progress: bool = True
    max_iterations: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # A compact file of the same cases without injected scar: its training cases join the training set for the
    # LA only (`scar_known` = 0), so the LA head cannot lean on the bright wall that injection draws.
    originals: Path | None = None
    # Further injected compact files of the same cases (other seeds: other scar shapes, burdens and contrasts):
    # each adds one more training array per case with every loss term, so the scar head sees more than one
    # draw of each atrium.
    draws: tuple[Path, ...] = ()
    snapshot_seconds: float | None = None  # also write slim model files every this many seconds (curves)

    @property
    def joint(self) -> bool:
        return "scar" in self.config.heads

    @property
    def window(self) -> tuple[int, int, int]:
        data = self.config.data
        return triple(int(r) + 2 * int(m) for r, m in zip(data.roi, data.margin, strict=True))


def _check_spacing(compact: CompactSet, config) -> None:
    if not np.allclose(compact.spacing, config.data.spacing):
        raise InputError(
            compact.path,
            f"compact grid spacing {list(compact.spacing)} != config {config.name!r} spacing "
            f"{list(config.data.spacing)}; set data.spacing or rebuild the compact file",
        )


def _arrays_job(job: tuple[CompactCase, tuple[int, int, int], tuple[float, ...], bool]) -> dict[str, np.ndarray]:
    case, window, spacing, joint = job
    return trainer_arrays(case, window, spacing, joint)


def prepare_training_arrays(cases: Sequence[CompactCase], settings: CvSettings) -> list[dict[str, np.ndarray]]:
    """Trainer arrays of `cases` (targets computed in `settings.workers` processes)."""
    spacing = tuple(float(s) for s in settings.config.data.spacing)
    jobs = [(case, settings.window, spacing, settings.joint) for case in cases]
    if settings.workers <= 1 or len(jobs) < 2:
        return [_arrays_job(job) for job in jobs]
    # fork: the workers inherit the loaded modules (the GPU image imports atrialjsq.io without SimpleITK, which
    # a fresh interpreter could not), and they only run NumPy/edt, never CUDA.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(settings.workers, len(jobs)), mp_context=context) as pool:
        return list(pool.map(_arrays_job, jobs))


def _load_companion(compact: CompactSet, path: Path, settings: CvSettings) -> CompactSet:
    """A compact file of the same cases as `compact`, on the same grid and windows (checked before any output)."""
    companion = load_compact(path, ids=compact.case_ids)  # refuses a file lacking any of them
    _check_spacing(companion, settings.config)
    for case in compact.cases:
        if companion.case(case.case_id).la.shape != case.la.shape:
            raise InputError(path, f"case {case.case_id}: window differs from {compact.path}")
    return companion


def load_originals(compact: CompactSet, settings: CvSettings) -> CompactSet | None:
    """`settings.originals` (the same cases without injected scar), loaded once and checked before any output
    is written: every case of `compact`, on the same grid and the same windows; None when not asked for."""
    if settings.originals is None:
        return None
    return _load_companion(compact, settings.originals, settings)


def load_draws(compact: CompactSet, settings: CvSettings) -> list[CompactSet]:
    """`settings.draws`, checked like the originals and also injected with a seed of their own (a draw with
    the seed of another would repeat its scar, not add one)."""
    draws, seeds = [], {compact.header.get("seed"): compact.path}
    for path in settings.draws:
        draw = _load_companion(compact, Path(path), settings)
        if draw.header.get("scar") != "injected":
            raise InputError(
                path, "not an injected compact file (make one with `python -m studies.lasc2018 inject-scar`)"
            )
        seed = draw.header.get("seed")
        if seed in seeds:
            raise InputError(path, f"injected with seed {seed}, as {seeds[seed]}: the same scar drawn twice")
        seeds[seed] = draw.path
        draws.append(draw)
    return draws


def training_cases(
    compact: CompactSet,
    case_ids: Sequence[str],
    settings: CvSettings,
    originals: CompactSet | None = None,
    draws: Sequence[CompactSet] = (),
) -> list[dict[str, np.ndarray]]:
    """Trainer arrays of `case_ids` from `compact`, then from each further draw (`load_draws`), then the same
    cases' original images from `originals` (`load_originals`) when given."""
    return [
        array
        for each in training_sets(compact, settings, originals, draws)
        for array in prepare_training_arrays([each.case(i) for i in case_ids], settings)
    ]


def synthetic(settings: CvSettings) -> bool:
    """Whether the run draws its scar afresh at every sample (`train.synthetic_scar`) instead of reading it."""
    return settings.joint and settings.config.train.synthetic_scar > 0


def training_sets(
    compact: CompactSet, settings: CvSettings, originals: CompactSet | None, draws: Sequence[CompactSet] = ()
) -> list[CompactSet]:
    """The compact sets whose cases train: with synthetic scar only the original images (the trainer draws the
    scar; the injected file is then only the held-out cases' test scar), else every injected draw and the
    originals when given."""
    if synthetic(settings):
        if originals is None:
            raise InputError(compact.path, "train.synthetic_scar trains on the original images: add --add-originals")
        return [originals]
    return [compact, *draws] + ([originals] if originals is not None else [])


def _draw_paths(settings: CvSettings) -> list[str]:
    return [str(path) for path in settings.draws]


def _draw_identity(draws: Sequence[CompactSet]) -> list[dict[str, Any]]:
    """Each draw by path and by what was drawn (a file regenerated with another seed is another run)."""
    return [
        {"path": str(draw.path), "seed": draw.header.get("seed"), "difficulty": draw.header.get("difficulty")}
        for draw in draws
    ]


# How the learning rate of a capped run (`max_iterations`) follows its budgets; recorded in fold.json so that a
# fold trained when the rate followed the clock alone is not taken for one of today's.
CAPPED_LR_RULE = "poly over the budget further spent (iterations or clock)"


def _cap_record(settings: CvSettings) -> dict[str, Any]:
    if settings.max_iterations is None:
        return {}  # uncapped runs: the clock alone, as always; their fold.json stays as it was
    return {"max_iterations": settings.max_iterations, "lr_schedule": CAPPED_LR_RULE}


def _arrays_per_case(settings: CvSettings) -> int:
    if synthetic(settings):
        return 1
    return 1 + len(settings.draws) + (settings.originals is not None)


def predict_case(predictor, case: CompactCase) -> dict[str, np.ndarray]:
    """Probabilities over a held-out case's whole compact window through the Predictor (`predict_grid`: the
    window is already on the network's grid and z-scored with its whole scan's statistics, as in training):
    `la` and, with a scar head, `p_normal` and `p_scar`."""
    maps = predictor.predict_grid(case.normalised(), case.window_geometry)
    names = {"la": "la", "normal": "p_normal", "scar": "p_scar"}
    return {names[name]: value for name, value in maps.items()}


# ---------------------------------------------------------------------------------------------- predictions file


def write_predictions(path: Path, maps: dict[str, dict[str, np.ndarray]], header: dict[str, Any]) -> Path:
    """Store probability maps {case id: {map name: array}} (quantised to uint8 = round(p·255)) with a JSON
    header as a packed file (`atrialjsq.io.packed`), atomically. Map names: `la`, `p_normal`, `p_scar`."""
    arrays: dict[str, np.ndarray] = {}
    shapes, names = {}, {}
    for case_id, case_maps in maps.items():
        for name, probability in case_maps.items():
            codes = np.clip(np.rint(np.asarray(probability) * 255.0), 0, 255).astype(np.uint8)
            arrays[f"{case_id}/{name}"] = codes
            shapes[case_id] = list(codes.shape)
        names[case_id] = sorted(case_maps)
    # "shapes" and "maps" stay in the header: the reader walks them, and readers from before io.packed need them.
    return write_packed(path, arrays, {"format": PREDICTIONS_FORMAT, **header, "shapes": shapes, "maps": names})


def _legacy_table(header: dict[str, Any], members: frozenset[str]) -> dict[str, dict[str, Any]]:
    """The array table of a predictions file written before packed files listed their arrays (all uint8)."""
    return {
        f"{case_id}/{name}": array_spec(np.uint8, shape)
        for case_id, shape in header["shapes"].items()
        for name in header["maps"][case_id]
    }


def read_predictions(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """(header, {case id: {map name: probability float32}}) of a predictions file."""
    path = Path(path)
    header, arrays = read_packed(path, expect_format=PREDICTIONS_FORMAT, what="predictions file", legacy=_legacy_table)
    try:
        maps = {
            case_id: {name: arrays[f"{case_id}/{name}"].astype(np.float32) / 255.0 for name in header["maps"][case_id]}
            for case_id in header["shapes"]
        }
    except (KeyError, TypeError) as error:
        raise InputError(path, f"unreadable predictions file ({type(error).__name__}: {error})") from None
    return header, maps


# ---------------------------------------------------------------------------------------------- folds


MAX_ITERATIONS = 10_000_000  # the iteration cap of a time-boxed run without --max-iterations


def timeboxed_config(settings: CvSettings):
    """The run's config as the trainer gets it: a wall-clock stop at `settings.seconds` and the learning rate
    decaying over that budget (linear warm-up over its first 5 %, then poly 0.9 to zero at the deadline), so
    every budget ends at a converged, low-rate point whatever the machine's speed."""
    from dataclasses import replace

    config = settings.config
    cap = settings.max_iterations if settings.max_iterations is not None else MAX_ITERATIONS
    optim = replace(config.optim, schedule="poly_clock", warmup=0.05, poly_power=0.9)
    train = replace(config.train, seconds=float(settings.seconds), iterations=int(cap))
    return replace(config, optim=optim, train=train)


def _config_summary(config, result) -> dict[str, Any]:
    return {
        "config": config.name,
        "iterations": result.iteration,
        "train_seconds": round(result.seconds, 3),
        "setup_seconds": round(result.setup_seconds, 3),
        "seconds_per_iteration": round(result.seconds / max(result.iteration, 1), 5),
    }


def _callbacks(settings: CvSettings, out: Path) -> list:
    if not settings.snapshot_seconds:
        return []
    from atrialjsq.train.trainer import SnapshotCallback  # imports torch: only where training happens

    return [SnapshotCallback(out / "snapshots", settings.snapshot_seconds)]


def run_identity(compact: CompactSet, settings: CvSettings, draws: Sequence[CompactSet] = ()) -> dict[str, Any]:
    """What makes a fold's run this one besides its config and cases: the data files and the options."""
    header = {key: compact.header.get(key) for key in ("source", "scar", "seed", "difficulty")}
    originals = None if settings.originals is None else str(settings.originals)
    identity: dict[str, Any] = {
        "compact": str(compact.path),
        "compact_header": header,
        "originals": originals,
        "tta": settings.tta,
    }
    if settings.draws:  # only when used, so that runs made before draws existed keep their identity
        identity["draws"] = _draw_identity(draws)
    return identity


def _check_done_fold(
    done: Path, summary: dict[str, Any], compact: CompactSet, settings: CvSettings, draws: Sequence[CompactSet] = ()
) -> None:
    """A finished fold is reused only if it was made the same way (fold.json of any version)."""
    expected = {
        "config": settings.config.name,
        "seconds_budget": settings.seconds,
        "tta": settings.tta,
        "originals": None if settings.originals is None else str(settings.originals),
    }
    if settings.draws:
        expected["draws"] = _draw_paths(settings)
    expected.update(_cap_record(settings))
    changed = [
        f"{key}: {summary.get(key)!r} -> {value!r}" for key, value in expected.items() if summary.get(key) != value
    ]
    identity = summary.get("identity")
    if identity is not None and identity != json_like(run_identity(compact, settings, draws)):
        changed.append("the data files or options")
    if changed:
        raise InputError(done, f"this fold was made otherwise ({'; '.join(changed[:3])}); use a new --out")


def run_fold(
    cv: CrossValidation,
    compact: CompactSet,
    fold: FoldSplit,
    settings: CvSettings,
    originals: CompactSet | None = None,
    draws: Sequence[CompactSet] = (),
) -> dict[str, Any]:
    """Train on the fold's training cases (`kfold`: a finished run is kept, an interrupted one resumed),
    predict its held-out cases, write fold<k>/predictions.npz and fold<k>/fold.json."""
    from atrialjsq.train.validation import dice

    fold_dir = cv.run_dir(fold)
    result = cv.train(
        fold,
        timeboxed_config(settings),
        lambda: training_cases(compact, fold.train, settings, originals, draws),
        meta={**settings.extra, "seconds_budget": settings.seconds},
        identity=run_identity(compact, settings, draws),
        callbacks=_callbacks(settings, fold_dir),
        compile=settings.compile,
    )
    predictor = cv.predictor(fold, tta=settings.tta)
    maps, quick = {}, {}
    for case_id in fold.val:
        case = compact.case(case_id)
        maps[case_id] = predict_case(predictor, case)
        if "la" in maps[case_id]:
            quick[case_id] = round(dice(maps[case_id]["la"] > 0.5, case.la > 0), 5)
    summary = {
        "fold": fold.number,
        **_config_summary(settings.config, result),
        "seconds_budget": settings.seconds,
        "tta": settings.tta,
        "compile": settings.compile,
        "device": str(predictor.fine.device),
        "train_cases": len(fold.train),
        "train_arrays": len(fold.train) * _arrays_per_case(settings),
        "originals": None if settings.originals is None else str(settings.originals),
        **({"draws": _draw_paths(settings)} if settings.draws else {}),
        **_cap_record(settings),
        "dice_train_grid": quick,
        "dice_train_grid_mean": round(float(np.mean(list(quick.values()))), 5) if quick else None,
        "identity": run_identity(compact, settings, draws),
    }
    write_predictions(fold_dir / PREDICTIONS_FILE, maps, {**summary, "compact": str(compact.path)})
    write_json(fold_dir / FOLD_FILE, summary)  # written last: its presence marks the fold done
    return summary


def run_cv(compact_path: str | Path, out: str | Path, folds: Sequence[int] | None, settings: CvSettings) -> list[dict]:
    """Run the requested folds (all k when None) into `out`; returns each fold's summary. A fold whose
    fold.json is there is done and skipped (its summary read back); an interrupted one resumes."""
    compact = load_compact(compact_path)
    _check_spacing(compact, settings.config)
    originals = load_originals(compact, settings)
    draws = load_draws(compact, settings)
    cv = CrossValidation(
        out, compact.case_ids, settings.k, settings.seed, device=settings.device, progress=settings.progress
    )
    summaries = []
    for fold in cv.select(folds):
        done = cv.run_dir(fold) / FOLD_FILE
        if done.is_file():
            summary = json.loads(done.read_text())
            _check_done_fold(done, summary, compact, settings, draws)
            print(f"fold {fold.number}: done ({done}), skipped", flush=True)
        else:
            summary = run_fold(cv, compact, fold, settings, originals, draws)
            print(
                f"fold {fold.number}: {summary['iterations']} iterations in {summary['train_seconds']:.1f} s, "
                f"LA Dice on the training grid {summary['dice_train_grid_mean']}",
                flush=True,
            )
        summaries.append(summary)
    return summaries


def run_final(
    compact_path: str | Path, out: str | Path, settings: CvSettings, export: str | Path | None = None
) -> dict[str, Any]:
    """Train on every case of the compact file for the budget; export a slim fp16 model file when asked."""
    from atrialjsq.train.checkpoint import export_model

    compact = load_compact(compact_path)
    _check_spacing(compact, settings.config)
    out = Path(out)
    originals, draws = load_originals(compact, settings), load_draws(compact, settings)
    arrays = training_cases(compact, compact.case_ids, settings, originals, draws)
    meta = {"train_cases": compact.case_ids, "data": compact.header.get("source"), **settings.extra}
    from atrialjsq.train.trainer import TrainOptions, fit  # imports torch: only where training happens

    options = TrainOptions(
        device=settings.device,
        compile=settings.compile,
        progress=settings.progress,
        callbacks=_callbacks(settings, out),
    )
    result = fit(
        timeboxed_config(settings), arrays, None, out, options, meta={**meta, "seconds_budget": settings.seconds}
    )
    cases = len(compact.case_ids)  # each case gives one training array per draw, and one more with originals
    summary = {
        **_config_summary(settings.config, result),
        "seconds_budget": settings.seconds,
        "cases": cases,
        "train_arrays": len(arrays),
    }
    if export is not None:
        if result.last_checkpoint is None:  # a zero-iteration run writes none
            raise InputError(out, "training wrote no checkpoint to export")
        trained_on = f"{cases} LASC 2018 cases{_how_seen(settings)} ({compact.header.get('layout', 'compact')})"
        model_meta = {"trained_on": trained_on, **summary}
        path = export_model(result.last_checkpoint, export, meta=model_meta)
        summary["export"] = str(path)
        summary["export_bytes"] = path.stat().st_size
    write_json(out / "final.json", summary)
    return summary


def _how_seen(settings: CvSettings) -> str:
    """How each training case was seen, for the model file's `trained_on`."""
    if synthetic(settings):
        share = settings.config.train.synthetic_scar
        return f" (as acquired, {share:.0%} of samples with a fresh synthetic scar draw in the LA wall)"
    draws = 1 + len(settings.draws)
    scar = "with injected scar" if draws == 1 else f"with {draws} draws of injected scar"
    if settings.originals is not None:
        return f" (each {scar} and as acquired)"
    return f" (each {scar})" if draws > 1 else ""
