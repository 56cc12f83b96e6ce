"""Files in, case folders out: read → predict → scar on the surface → every output of `report.outputs`.

Each case is written atomically to `<out>/<case_id>/`, so a case that fails (missing file, 2D or 4D image,
NaN values, a field of view that cannot hold an LA, no LA found) leaves no folder behind; an existing case
folder is only written into when the caller allows it (`plan_outputs`), and files a user put there are kept.
The other cases are still processed: one bad file in a batch of hundreds should not cost the rest. The
caller exits 1 at the end when any case failed.
"""

from __future__ import annotations

import contextlib
import csv
import sys
import time
from collections import deque
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from tqdm import tqdm

from atrialjsq.data.image_sanity import check_image_values
from atrialjsq.data.plausibility import check_field_of_view
from atrialjsq.data.preprocess import content_or_whole
from atrialjsq.errors import InputError
from atrialjsq.infer.domain import out_of_domain_warnings
from atrialjsq.infer.inputs import InputCase, collect_inputs, named
from atrialjsq.infer.predictor import Prediction, Predictor
from atrialjsq.io.atomic import atomic_path
from atrialjsq.io.claim import claim
from atrialjsq.io.image_io import is_dicom_dir
from atrialjsq.io.nifti_check import forms_caveat, orientation_caveat
from atrialjsq.io.orientation import OBLIQUE_WARNING_DEG, tilt_problem
from atrialjsq.io.volume import Volume
from atrialjsq.model.configs import TrainConfig
from atrialjsq.quantify.analysis import Provenance
from atrialjsq.quantify.contrast import contrast_problem
from atrialjsq.quantify.staging import burden_text
from atrialjsq.report.outputs import REPORT_JSON
from atrialjsq.workflows.case import CaseOptions, CaseOutcome, PendingCase, finish_case
from atrialjsq.workflows.output_pool import OutputPool, finished

EXISTING_CHOICES = ("refuse", "overwrite", "skip")


@dataclass
class OutputPlan:
    """Which cases to predict, which finished ones to skip, and which would overwrite a folder unasked."""

    todo: list[InputCase] = field(default_factory=list)
    skipped: list[InputCase] = field(default_factory=list)
    conflicts: list[InputError] = field(default_factory=list)


def plan_outputs(cases: list[InputCase], out_root: str | Path, existing: str = "refuse") -> OutputPlan:
    """Decide per case what to do with an existing `<out_root>/<case_id>/`, before any work is done.

    "refuse" (the default) makes every existing case folder a conflict; "overwrite" predicts into it (only
    this package's output files are replaced, other files are kept); "skip" leaves finished cases (those
    with a report.json) alone, as nnU-Net's predictor does, and still refuses unfinished existing folders.
    """
    if existing not in EXISTING_CHOICES:
        raise ValueError(f"existing must be one of {EXISTING_CHOICES}, got {existing!r}")
    plan = OutputPlan()
    for case in cases:
        folder = Path(out_root) / case.case_id
        if not folder.exists() and not folder.is_symlink():
            plan.todo.append(case)
        elif not folder.is_dir():
            plan.conflicts.append(InputError(folder, "exists and is not a folder; move it away"))
        elif existing == "overwrite":
            plan.todo.append(case)
        elif existing == "skip" and (folder / REPORT_JSON).is_file():
            plan.skipped.append(case)
        elif existing == "skip":
            plan.conflicts.append(
                InputError(folder, f"exists but holds no finished case ({REPORT_JSON}); --overwrite predicts into it")
            )
        else:
            plan.conflicts.append(
                InputError(
                    folder,
                    "output folder exists; pass --overwrite to replace its outputs (other files are kept) or "
                    "--skip-existing to keep finished cases",
                )
            )
    return plan


def predict_case(
    predictor: Predictor,
    case: InputCase,
    out_root: str | Path,
    *,
    probability_maps: bool = False,
    figure: bool = True,
    regional: bool = True,
    existing: str = "refuse",
    dicom_seg: bool = True,
) -> CaseOutcome:
    """Predict one input and write `<out_root>/<case_id>/`; InputError for anything wrong with the input.

    The case folder is claimed for the whole case (`io.claim`): a second run into the same folder is refused,
    and unless `existing` is "overwrite" a folder that another run finished meanwhile is never replaced."""
    started = time.perf_counter()
    options = CaseOptions(probability_maps, figure, regional, existing == "overwrite", dicom_seg)
    with claim(Path(out_root) / case.case_id):
        outcome = finish_case(network_half(predictor, case, out_root, options))
    outcome.timings["total"] = time.perf_counter() - started
    return outcome


def network_half(predictor: Predictor, case: InputCase, out_root: str | Path, options: CaseOptions) -> PendingCase:
    """Read and check the image and run the network; the rest of the case is `workflows.case.finish_case`."""
    started = time.perf_counter()
    image = case.read()
    content = content_or_whole(image.array)  # constant padding does not count, here, in the network and the border
    check_field_of_view(image.geometry.cropped(content), case.path)
    # a mask, CT or noise is refused, not predicted; so is a scan whose network grid would not fit in memory
    check_image_values(image.array, image.geometry, case.path, network_spacing=predictor.fine.spacing)
    read_s = time.perf_counter() - started
    prediction = predictor.predict_volume(image, source=str(case.path), content=content)
    if prediction.la is None or prediction.p_normal is None or prediction.p_scar is None:
        raise ValueError("predict_case needs a model with LA and scar heads (task 'joint')")
    if not prediction.la.array.any():
        raise InputError(case.path, "no LA found: no voxel has an LA probability above 0.5")
    broken = [name for name in ("p_normal", "p_scar") if not np.isfinite(getattr(prediction, name).array).all()]
    if prediction.la_prob is not None and not np.isfinite(prediction.la_prob.array).all():
        broken.insert(0, "p_LA")
    if broken:  # NaN would read as "no scar" downstream: a confident 0 % from a broken network
        raise InputError(case.path, f"the network's {' and '.join(broken)} hold NaN or infinite values: no result")
    timings = {"read": read_s, **prediction.timings}
    return PendingCase(
        case_id=case.case_id,
        source=str(case.path),
        out_dir=Path(out_root) / case.case_id,
        image=image,
        la=prediction.la,
        p_normal=prediction.p_normal,
        p_scar=prediction.p_scar,
        provenance=_provenance(predictor, case, prediction, timings, image),
        probability_maps=_probability_maps(prediction) if options.probability_maps else None,
        options=options,
        dicom_source=Path(case.path) if options.dicom_seg and is_dicom_dir(case.path) else None,
        content=content,
    )


def _probability_maps(prediction: Prediction) -> dict[str, Any]:
    return {"la": prediction.la_prob, "normal": prediction.p_normal, "scar": prediction.p_scar}


# Pieces of the LA prediction dropped by the largest-component step beyond this share of the kept LA (or
# volume) mean the network was unsure where the LA is.
DROPPED_LA_SHARE, DROPPED_LA_ML = 0.10, 5.0


def _trained_rotation_deg(predictor: Predictor) -> float:
    """The largest rotation the fine network saw in training (0 when it was trained without augmentation)."""
    fine = getattr(predictor, "fine", None)
    if fine is None:  # a stand-in without a network: the training default
        return TrainConfig().rotate_deg
    train = fine.config.train
    return float(train.rotate_deg) if getattr(train, "augment", True) else 0.0


def prediction_warnings(predictor: Predictor, prediction: Prediction) -> list[str]:
    """What the network's own run says about trusting it: an input grid far oblique to the patient axes, the
    localiser found no LA, or the LA came in pieces."""
    found = []
    on_input = next((v for v in (prediction.la, prediction.la_prob, prediction.p_scar) if v is not None), None)
    rotated = _trained_rotation_deg(predictor)
    tilted = tilt_problem(on_input.geometry, max(OBLIQUE_WARNING_DEG, 2 * rotated)) if on_input is not None else None
    if tilted is not None:
        found.append(
            f"{tilted} (the network was trained on axis-aligned scans rotated by at most {rotated:g}°); check the "
            "segmentation"
        )
    if getattr(predictor, "crop", "whole") != "whole" and not prediction.localization.found:
        finder = "the localiser" if predictor.localizer is not None else "the coarse pass over the whole image"
        found.append(f"{finder} found no LA: the fine network was run around the image centre instead")
    if prediction.la is not None and prediction.dropped_la_ml > 0:
        kept_ml = float(prediction.la.array.astype(bool).sum()) * prediction.la.geometry.voxel_volume_mm3 / 1e3
        if prediction.dropped_la_ml > max(DROPPED_LA_ML, DROPPED_LA_SHARE * kept_ml):
            found.append(
                f"the LA prediction came in pieces: {prediction.dropped_la_ml:.1f} mL outside the largest one "
                f"({kept_ml:.1f} mL, kept) was dropped; check the segmentation"
            )
    return found


def _provenance(
    predictor: Predictor, case: InputCase, prediction: Prediction, timings: dict, image: Volume
) -> Provenance:
    localization = prediction.localization
    name = predictor.info.get("name", "?")
    meta = predictor.info.get("meta") or {}
    spacing = image.geometry.spacing
    untrusted = out_of_domain_warnings(meta, name, case.path, spacing, prediction.field_of_view_mm)
    contrast = contrast_problem(image, prediction.la) if prediction.la is not None else None
    untrusted += [contrast] if contrast else []
    caveats = [c for c in (orientation_caveat(case.path), forms_caveat(case.path, image.geometry)) if c]
    return Provenance(
        case_id=case.case_id,
        method="ajsqnet",
        model=name,
        model_version=predictor.info.get("version", ""),
        model_meta=meta,
        inputs={"image": str(case.path), "assumed": list(case.assumed)},
        warnings=[*untrusted, *caveats, *prediction_warnings(predictor, prediction)],
        untrusted=untrusted,
        timings=dict(timings),
        details={
            "prediction": {
                "crop": predictor.crop,
                "tta": predictor.tta,
                "device": str(predictor.fine.device),
                "localized": localization.found,
                "la_centre_mm": list(localization.centre_mm),
            }
        },
    )


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C in a batch: carries the outcomes of the cases finished before it (the current one left no folder)."""

    def __init__(self, outcomes: list[CaseOutcome]) -> None:
        super().__init__()
        self.outcomes = outcomes


SUMMARY_COLUMNS = (
    "case",
    "status",
    "la_volume_ml",
    "burden_percent",
    "utah",
    "decaaf",
    "warnings",
    "seconds",
    "source",
    "error",
)


def _burden_for_table(burden_percent: float) -> float:
    """Two decimals, or as many as `burden_text` needs for the number to stay in its stage (5.004, not 5.0)."""
    text = burden_text(burden_percent)
    decimals = max(2, len(text.partition(".")[2]))
    return round(float(burden_percent), decimals)


def summary_rows(outcomes: list[CaseOutcome], skipped: list[InputCase], pending: list[InputCase]) -> list[dict]:
    """One row per case of a batch: written (with its headline numbers), failed (with the error), skipped
    (finished before) or not_run (after an interruption)."""
    rows = []
    for outcome in outcomes:
        row: dict[str, Any] = {"case": outcome.case_id, "source": outcome.source}
        if outcome.ok and outcome.burden is not None:
            burden = outcome.burden
            staged = burden.staged
            row.update(
                status="written",
                la_volume_ml=round(burden.la_volume_ml, 2),
                burden_percent=_burden_for_table(burden.burden_percent),
                utah=burden.utah_stage if staged else "",
                decaaf=burden.decaaf_stage if staged else "",
                warnings=len(outcome.warnings),
                seconds=round(outcome.timings.get("total", 0.0), 2),
            )
        else:
            row.update(status="failed", error=outcome.error or "")
        rows.append(row)
    rows += [{"case": case.case_id, "source": str(case.path), "status": "skipped"} for case in skipped]
    rows += [{"case": case.case_id, "source": str(case.path), "status": "not_run"} for case in pending]
    return rows


def write_summary(path: str | Path, rows: list[dict]) -> Path:
    """The batch's summary CSV, written atomically (a spreadsheet opens it; `case` matches the folder names)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in SUMMARY_COLUMNS})
    return path


def predict_cases(
    predictor: Predictor,
    cases: list[InputCase],
    out_root: str | Path,
    *,
    probability_maps: bool = False,
    figure: bool = True,
    regional: bool = True,
    progress: bool = True,
    errors_to: TextIO | None = None,
    existing: str = "refuse",
    dicom_seg: bool = True,
    output_workers: int = 0,
    pool: OutputPool | None = None,
) -> list[CaseOutcome]:
    """Predict every case in turn with a progress bar; failures are printed as `error: <path>: <reason>`.

    With `output_workers` > 0, each case's analysis and files are written by a worker process while this one
    predicts the next cases (`workflows.output_pool`); outcomes, errors and warnings still come in input order,
    and each case folder stays claimed until its files are written. A caller that opened an `OutputPool` before
    loading the model (so that its workers started meanwhile) passes it as `pool`, and `output_workers` is unused."""
    errors_to = errors_to or sys.stderr
    options = CaseOptions(probability_maps, figure, regional, existing == "overwrite", dicom_seg)
    outcomes: list[CaseOutcome] = []
    inflight: deque[_InFlight] = deque()
    bar = tqdm(cases, desc="predict", unit="case", disable=not progress or len(cases) < 2, file=sys.stderr)
    with contextlib.ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(OutputPool(output_workers if len(cases) > 1 else 0))
        entry: _InFlight | None = None
        try:
            for case in bar:
                bar.set_postfix_str(case.case_id)
                entry = _InFlight(case, time.perf_counter(), contextlib.ExitStack())
                try:
                    entry.held.enter_context(claim(Path(out_root) / case.case_id))
                    entry.future = pool.submit(finish_case, network_half(predictor, case, out_root, options))
                except CASE_FAILURES as failure:  # this case fails, the batch goes on
                    entry.future = finished(error=_case_error(case, failure))
                inflight.append(entry)
                entry = None
                while len(inflight) > pool.workers:  # no workers: each case settles before the next starts
                    outcomes.append(_settle(inflight.popleft(), errors_to))
            while inflight:
                outcomes.append(_settle(inflight.popleft(), errors_to))
        except KeyboardInterrupt:
            bar.close()
            pool.stop()
            if entry is not None:
                entry.held.close()
            while inflight and _settled(inflight[0]):  # cases finished before the interruption, failed ones too
                outcomes.append(_settle(inflight.popleft(), errors_to))
            for left in inflight:
                left.held.close()
            raise BatchInterrupted(outcomes) from None
        except BaseException:  # a bug or a dead worker: no claim outlives the batch, none is released under a writer
            pool.stop()
            for left in [*inflight, *([entry] if entry is not None else [])]:
                left.held.close()
            raise
    return outcomes


@dataclass
class _InFlight:
    """A case of a batch between its start and its files: its claim on the folder is held until it settles."""

    case: InputCase
    started: float
    held: contextlib.ExitStack
    future: Future = field(default_factory=Future)


def _settled(entry: _InFlight) -> bool:
    """Whether the case has its outcome: its files written, or an error line of its own to print."""
    future = entry.future
    if not future.done() or future.cancelled():
        return False
    failure = future.exception()
    return failure is None or isinstance(failure, CASE_FAILURES)


# What fails one case of a batch and not the rest: its input, the operating system (a full disk, a vanished
# folder), or its size (one huge volume: the others still fit). Nothing of the case is left behind: every
# output is written under a temporary name, then renamed.
CASE_FAILURES = (InputError, OSError, MemoryError, torch.OutOfMemoryError)


def _case_error(case: InputCase, failure: BaseException) -> InputError:
    """A case's failure as its one error line."""
    if isinstance(failure, InputError):
        return failure
    if isinstance(failure, OSError):
        where = f" ({failure.filename})" if failure.filename else ""
        return InputError(case.path, f"{failure.strerror or failure}{where}")
    detail = f"{type(failure).__name__}: {str(failure)[:120]}" if str(failure) else type(failure).__name__
    return InputError(case.path, f"ran out of memory while predicting ({detail}): crop the scan around the heart")


def _settle(entry: _InFlight, errors_to: TextIO) -> CaseOutcome:
    """Wait for the case's files, release its folder, print its error or warnings and time it."""
    try:
        outcome = entry.future.result()
        outcome.timings["total"] = time.perf_counter() - entry.started
    except CASE_FAILURES as failure:
        error = _case_error(entry.case, failure)
        tqdm.write(f"error: {error}", file=errors_to)
        outcome = CaseOutcome(entry.case.case_id, str(entry.case.path), error=str(error))
    except BrokenProcessPool as error:
        raise RuntimeError(
            f"{entry.case.path}: an output worker process died while finishing this case (out of memory?); rerun "
            "with --skip-existing, and --output-workers 0 to finish every case in one process"
        ) from error
    finally:
        entry.held.close()
    for warning in outcome.warnings:
        tqdm.write(f"warning: {outcome.out_dir}: {warning}", file=errors_to)
    return outcome


def predict_file(
    path: str | Path,
    out: str | Path,
    model: str | None = None,
    *,
    device: str = "cpu",
    existing: str = "refuse",
    case_id: str | None = None,
    **options: Any,
) -> CaseOutcome:
    """Predict one scan (a file or a DICOM series folder) into `<out>/<case id>/`, as `atrialjsq predict` does,
    and return its outcome (`outcome.burden`: LA volume, burden, stages; `outcome.out_dir`: the files).

    The Python entry point for notebooks and scripts; `options` are `predict_case`'s (`figure`, `regional`,
    `probability_maps`, `dicom_seg`). Raises `InputError` (with the file and the reason) when the scan is refused.
    """
    if Path(out).exists() and not Path(out).is_dir():
        raise InputError(out, "exists and is not a folder: give an output folder")
    cases, errors = collect_inputs([path])
    if errors:
        raise errors[0]
    cases = named(cases, case_id)
    if len(cases) != 1:
        raise InputError(path, f"holds {len(cases)} cases; predict_file takes one scan")
    plan = plan_outputs(cases, out, existing)
    if plan.conflicts:
        raise plan.conflicts[0]
    if plan.skipped:
        raise InputError(Path(out) / cases[0].case_id, "already finished (existing='skip')")
    predictor = require_joint(Predictor.from_checkpoint(model, device), model)
    return predict_case(predictor, cases[0], out, existing=existing, **options)


def require_joint(predictor: Predictor, model: str | None) -> Predictor:
    """`predictor`, or an `InputError` naming the model when it lacks the LA or the scar head: `predict` writes
    both, so a single-task model (a Table 5 LA baseline, a scar-only network) is refused before any scan runs."""
    heads = predictor.fine.config.heads
    if "la" not in heads or "scar" not in heads:
        path = predictor.info.get("path") or model
        raise InputError(
            path, f"predict needs a model with LA and scar heads (task 'joint'), this one has {sorted(heads)}"
        )
    return predictor
