"""k-fold cross-validation of the LA network on a compact data set, and the model trained on every case.

Runs on the GPU machine with only torch, NumPy, SciPy and edt (no SimpleITK): for each requested fold it
trains for a wall-clock budget on the other folds' cases (`timebox`), predicts every held-out case over its
whole compact window (sliding window at the training ROI, optional flip TTA) and stores every head's
probabilities (LA; normal wall and scar for joint and scar configs; uint8, p·255) in
``<out>/fold<k>/predictions.npz``. Scoring on the native grid happens in `scoring`, which
may run on another machine. Folds depend only on the case ids, k and the seed (`data.splits`), and are saved
to ``<out>/folds.json``; a run with other folds in the same folder is refused.

No checkpoint is chosen on held-out labels: each fold is scored with the weights at its deadline. A quick
Dice on the training grid (`dice_train_grid`, threshold 0.5, no post-processing) is logged as a sanity check.
"""

from __future__ import annotations

import json
import lzma
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from atrialjsq.data.compact import CompactCase, CompactSet, centred_window, load_compact, trainer_arrays
from atrialjsq.errors import InputError
from atrialjsq.io.atomic import atomic_path, write_json

PREDICTIONS_FORMAT = "atrialjsq-la-predictions-v1"
PREDICTIONS_FILE = "predictions.npz"


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
    overlap: float = 0.5
    progress: bool = True
    max_iterations: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # A compact file of the same cases without injected scar: its training cases join the training set for the
    # LA only (`scar_known` = 0), so the LA head cannot lean on the bright wall that injection draws.
    originals: Path | None = None
    snapshot_seconds: float | None = None  # also write slim model files every this many seconds (curves)

    @property
    def joint(self) -> bool:
        return "scar" in self.config.heads

    @property
    def window(self) -> tuple[int, int, int]:
        data = self.config.data
        return tuple(int(r) + 2 * int(m) for r, m in zip(data.roi, data.margin, strict=True))


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


def training_cases(compact: CompactSet, case_ids: Sequence[str], settings: CvSettings) -> list[dict[str, np.ndarray]]:
    """Trainer arrays of `case_ids` from `compact`, plus the same cases' original images from
    `settings.originals` when given (checked to hold those cases on the same grid)."""
    arrays = prepare_training_arrays([compact.case(case_id) for case_id in case_ids], settings)
    if settings.originals is None:
        return arrays
    originals = load_compact(settings.originals, ids=list(case_ids))  # refuses a file lacking any of them
    _check_spacing(originals, settings.config)
    for case_id in case_ids:
        if originals.case(case_id).la.shape != compact.case(case_id).la.shape:
            raise InputError(settings.originals, f"case {case_id}: window differs from {compact.path}")
    return arrays + prepare_training_arrays([originals.case(case_id) for case_id in case_ids], settings)


def predict_maps(
    model,
    image: np.ndarray,
    roi,
    device,
    autocast_dtype=None,
    channels_last: bool = False,
    tta: bool = False,
    overlap: float = 0.5,
    tta_axes: tuple[int, ...] = (0, 1, 2),
) -> dict[str, np.ndarray]:
    """Probabilities over a whole z-scored window (sliding windows of the training ROI), float32 on the host:
    `la` = σ(LA logits) and, with a scar head, `p_normal` and `p_scar`."""
    import contextlib

    import torch

    from atrialjsq.infer.sliding_window import sliding_window_probabilities
    from atrialjsq.infer.tta import with_mirroring

    device = torch.device(device)

    def predict(window: torch.Tensor) -> dict[str, torch.Tensor]:
        if channels_last:
            window = window.contiguous(memory_format=torch.channels_last_3d)
        autocast = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            logits = model(window)
        return {name: torch.sigmoid(value.float()) for name, value in logits.items()}

    fn = with_mirroring(predict, tta_axes) if tta else predict
    # A window smaller than the ROI is padded with the image minimum, as training windows and the predictor
    # pad (the sliding window's own zero padding would put mean-grey tissue around the field of view).
    size = tuple(max(int(s), int(r)) for s, r in zip(image.shape, roi, strict=True))
    centre = (np.asarray(image.shape, dtype=np.float64) - 1) / 2
    padded = centred_window(np.asarray(image, dtype=np.float32), centre, size, fill=float(np.min(image)))
    keep = _kept_region(image.shape, centre, size)
    tensor = torch.from_numpy(np.ascontiguousarray(padded))[None, None].to(device)
    with torch.inference_mode():
        outputs = sliding_window_probabilities(tensor, tuple(roi), fn, overlap=overlap)
    maps = {}
    if "la" in outputs:
        maps["la"] = outputs["la"][0, 0][keep].float().cpu().numpy()
    if "scar" in outputs:
        maps["p_normal"] = outputs["scar"][0, 0][keep].float().cpu().numpy()
        maps["p_scar"] = outputs["scar"][0, 1][keep].float().cpu().numpy()
    return maps


def _tta_axes(settings: CvSettings) -> tuple[int, ...]:
    """The predictor's one rule (`infer.tta.tta_axes`): mirror along the axes flipped in training."""
    if not settings.tta:
        return ()
    from atrialjsq.infer.tta import tta_axes

    return tta_axes(settings.config)


def _kept_region(shape, centre, size) -> tuple[slice, ...]:
    """Where an array of `shape` sits inside `centred_window(array, centre, size)`."""
    starts = [int(np.floor(c + 0.5)) - int(n) // 2 for c, n in zip(centre, size, strict=True)]
    return tuple(slice(-start, -start + int(length)) for start, length in zip(starts, shape, strict=True))


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return float("nan") if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


# ---------------------------------------------------------------------------------------------- predictions file


def write_predictions(path: Path, maps: dict[str, dict[str, np.ndarray]], header: dict[str, Any]) -> Path:
    """Store probability maps {case id: {map name: array}} (quantised to uint8 = round(p·255), lzma) with a
    JSON header, atomically. Map names: `la`, `p_normal`, `p_scar`."""
    arrays: dict[str, np.ndarray] = {}
    shapes, names = {}, {}
    for case_id, case_maps in maps.items():
        for name, probability in case_maps.items():
            codes = np.clip(np.rint(np.asarray(probability) * 255.0), 0, 255).astype(np.uint8)
            arrays[f"{case_id}/{name}"] = np.frombuffer(lzma.compress(codes.tobytes(), preset=6), dtype=np.uint8)
            shapes[case_id] = list(codes.shape)
        names[case_id] = sorted(case_maps)
    index = {"format": PREDICTIONS_FORMAT, **header, "shapes": shapes, "maps": names}
    arrays["index"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    return path


def read_predictions(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """(header, {case id: {map name: probability float32}}) of a predictions file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such predictions file")
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(data["index"].tobytes().decode())
            if header.get("format") != PREDICTIONS_FORMAT:
                raise InputError(path, f"not a predictions file (format is not {PREDICTIONS_FORMAT})")
            maps: dict[str, dict[str, np.ndarray]] = {}
            for case_id, shape in header["shapes"].items():
                maps[case_id] = {}
                for name in header["maps"][case_id]:
                    codes = np.frombuffer(lzma.decompress(data[f"{case_id}/{name}"].tobytes()), dtype=np.uint8)
                    maps[case_id][name] = codes.reshape(shape).astype(np.float32) / 255.0
    except InputError:
        raise
    except (OSError, ValueError, KeyError, lzma.LZMAError, json.JSONDecodeError) as error:
        raise InputError(path, f"unreadable predictions file ({type(error).__name__}: {error})") from None
    return header, maps


# ---------------------------------------------------------------------------------------------- folds


def ensure_folds(out: Path, case_ids: Sequence[str], k: int, seed: int) -> list[dict[str, list[str]]]:
    """The k folds of `case_ids`, saved to out/folds.json (a different saved split is refused)."""
    from atrialjsq.data.splits import load_folds, make_folds, save_folds

    folds = make_folds(case_ids, k=k, seed=seed)
    path = out / "folds.json"
    if path.is_file():
        if load_folds(path) != folds:
            raise InputError(path, "holds other folds (other cases, k or seed); use a new --out")
        return folds
    save_folds(folds, path, k=k, seed=seed)
    return folds


def _config_summary(config, result) -> dict[str, Any]:
    return {
        "config": config.name,
        "iterations": result.iterations,
        "train_seconds": round(result.seconds, 3),
        "setup_seconds": round(result.setup_seconds, 3),
        "seconds_per_iteration": round(result.seconds / max(result.iterations, 1), 5),
    }


def _train(settings, arrays, out: Path, meta: dict):
    """One time-boxed training run with the settings' budget, device and limits."""
    from atrialjsq.realdata.timebox import train_for_seconds  # imports torch: only where training happens

    return train_for_seconds(
        settings.config,
        arrays,
        out,
        settings.seconds,
        device=settings.device,
        compile=settings.compile,
        max_iterations=settings.max_iterations,
        progress=settings.progress,
        meta=meta,
        snapshot_seconds=settings.snapshot_seconds,
    )


def run_fold(compact: CompactSet, folds, number: int, out: Path, settings: CvSettings) -> dict[str, Any]:
    """Train on fold `number`'s training cases, predict its held-out cases, write fold<k>/predictions.npz."""

    fold = folds[number]
    held_out = set(fold["val"])
    if held_out & set(fold["train"]):
        raise InputError(out / "folds.json", f"fold {number} trains on held-out cases")
    arrays = training_cases(compact, fold["train"], settings)
    fold_dir = out / f"fold{number}"
    meta = {"fold": number, "train_cases": list(fold["train"]), "held_out": list(fold["val"]), **settings.extra}
    result = _train(settings, arrays, fold_dir, meta)
    del arrays
    device = next(result.model.parameters()).device
    maps, quick = {}, {}
    for case_id in fold["val"]:
        case = compact.case(case_id)
        maps[case_id] = predict_maps(
            result.model,
            case.normalised(),
            settings.config.data.roi,
            device,
            result.autocast_dtype,
            result.channels_last,
            settings.tta,
            settings.overlap,
            _tta_axes(settings),
        )
        if "la" in maps[case_id]:
            quick[case_id] = round(_dice(maps[case_id]["la"] > 0.5, case.la > 0), 5)
    summary = {
        "fold": number,
        **_config_summary(settings.config, result),
        "seconds_budget": settings.seconds,
        "tta": settings.tta,
        "compile": settings.compile,
        "device": str(device),
        "train_cases": len(fold["train"]),
        "train_arrays": len(fold["train"]) * (2 if settings.originals is not None else 1),
        "originals": None if settings.originals is None else str(settings.originals),
        "dice_train_grid": quick,
        "dice_train_grid_mean": round(float(np.mean(list(quick.values()))), 5) if quick else None,
    }
    write_predictions(fold_dir / PREDICTIONS_FILE, maps, {**summary, "compact": str(compact.path)})
    write_json(fold_dir / "fold.json", summary)
    return summary


def run_cv(compact_path: str | Path, out: str | Path, folds: Sequence[int] | None, settings: CvSettings) -> list[dict]:
    """Run the requested folds (all k when None) into `out`; returns each fold's summary."""
    compact = load_compact(compact_path)
    _check_spacing(compact, settings.config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    split = ensure_folds(out, compact.case_ids, settings.k, settings.seed)
    numbers = list(range(settings.k)) if folds is None else list(folds)
    bad = [n for n in numbers if not 0 <= n < settings.k]
    if bad:
        raise InputError(None, f"fold(s) {bad} out of range 0..{settings.k - 1}")
    summaries = []
    for number in numbers:
        summary = run_fold(compact, split, number, out, settings)
        print(
            f"fold {number}: {summary['iterations']} iterations in {summary['train_seconds']:.1f} s, "
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
    arrays = training_cases(compact, compact.case_ids, settings)
    meta = {"train_cases": compact.case_ids, "data": compact.header.get("source"), **settings.extra}
    result = _train(settings, arrays, out, meta)
    summary = {**_config_summary(settings.config, result), "seconds_budget": settings.seconds, "cases": len(arrays)}
    if export is not None:
        trained_on = f"{len(arrays)} LASC 2018 cases ({compact.header.get('layout', 'compact')})"
        model_meta = {"trained_on": trained_on, **summary}
        path = export_model(result.checkpoint, export, meta=model_meta)
        summary["export"] = str(path)
        summary["export_bytes"] = path.stat().st_size
    write_json(out / "final.json", summary)
    return summary
