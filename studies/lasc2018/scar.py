"""Scar on real anatomy: synthetic scar injected into the LASC 2018 atria, then scored.

LASC 2018 has LA labels but no scar labels. `inject_compact` draws scar of known extent into the LA wall of
each compact case (`phantom.inject.inject_scar`, seed = `phantom.writer.case_seed(seed, index)`) on the case's
1 mm window, in 8-bit code units (zero = the darkest voxel of the scan, so intensity ratios mean what they
mean on a magnitude image), and writes a new compact file whose "native" grid *is* that window (the scar
truth lives there): image requantised to 256 levels (the injected intensities are not 8-bit any more), LA
and scar labels exact.
Networks train on it with the same `cv` command as the LA study (joint configs get the wall-band targets with
the injected scar projected onto them), so only the held-out cases of each fold are scored.

`score_scar_study` builds the table: the classic baselines (IIR, Otsu, MGMM; `quantify.baselines`) given the
manual LA and, when LA predictions are given, given the predicted LA; and each network's scar
(`quantify.surface_scar.scar_from_probabilities` on its own LA, or on the given predicted LA for a network
without an LA head, e.g. unet-scar). Metrics are the evaluation stage's (`evaluate.evaluate_dir.evaluate_case`:
Dice_LA, Accuracy, Dice_s, Dice_g, scar % of the surface) plus the absolute scar-percentage error, tabulated
with `evaluate.tables` (mean ± SD, paired test against the reference row).

These are the building blocks of `experiments.paper_tables` (which needs dataset folders and SimpleITK on the
training machine); this path keeps the GPU side free of SimpleITK, like the LA study.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from tqdm import tqdm

from atrialjsq.errors import InputError
from atrialjsq.evaluate.tables import Column
from studies.lasc2018.compact import CompactCase, build_compact, load_compact

CLASSIC = ("iir", "otsu", "mgmm")
CLASSIC_LABELS = {"iir": "IIR", "otsu": "Otsu", "mgmm": "MGMM"}
REFERENCE_LABEL = "AJSQnet-SESA"
SCAR_COLUMNS = (
    Column("DiceLA", "Dice_LA", "LA"),
    Column("Accuracy", "Accuracy", "Scar"),
    Column("Dice_s", "Dice_s", "Scar"),
    Column("Dice_g", "Dice_g", "Scar"),
    Column("Scar % error", "scar_pct_error", "Scar"),
)


def inject_compact(
    src: str | Path,
    out: str | Path,
    seed: int = 0,
    difficulty: str = "medium",
    limit: int | None = None,
) -> Path:
    """Inject scar into every case of the compact file `src` (the first `limit` by id) and write `out`."""
    from atrialjsq.data.case import Case
    from atrialjsq.io.volume import Volume
    from atrialjsq.phantom.inject import inject_scar
    from atrialjsq.phantom.writer import case_seed

    compact = load_compact(src)
    cases = compact.cases[:limit] if limit is not None else compact.cases
    injected = []
    for index, case in enumerate(tqdm(cases, desc="inject scar", unit="case", disable=None)):
        window = case.window_geometry
        source = f"{compact.path}:{case.case_id}"
        # The 8-bit codes, not the release's z-scored values: zero is then the darkest voxel of the scan (air),
        # which intensity ratios (the injected scar's IIR, the IIR baseline) need.
        codes = Volume(case.codes.astype(np.float32), window)
        base = Case(case.case_id, codes, {"la": Volume(case.la, window)}, {"source": source})
        case_with_scar, params = inject_scar(base, seed=case_seed(seed, index), difficulty=difficulty)
        scar = params["scar"]
        case_with_scar.meta = {
            "source": source,
            "compact_meta": {
                "seed": int(params["seed"]),
                "iir": float(params["iir"]),
                "scar_kind": str(scar.get("kind")),
                "burden": float(scar.get("burden", math.nan)),
                "burden_measured": float(scar.get("burden_measured", math.nan)),
            },
        }
        injected.append(case_with_scar)
    header = {"source": str(compact.path), "scar": "injected", "seed": seed, "difficulty": difficulty}
    spacing = compact.spacing
    return build_compact(injected, out, spacing=spacing, z_margin_mm=1e6, lossy=True, header=header)


# ---------------------------------------------------------------------------------------------- scoring


def _on_native(case: CompactCase, probability: np.ndarray):
    from atrialjsq.infer.predictor import to_input_grid
    from atrialjsq.io.volume import Volume

    mapped = to_input_grid(np.asarray(probability, dtype=np.float32), case.window_geometry, case.native_geometry)
    return Volume(mapped, case.native_geometry)


def _truth(case: CompactCase, unknown: np.ndarray | None = None):
    from atrialjsq.evaluate.evaluate_dir import GroundTruth

    if case.scar is None:
        raise InputError(None, f"case {case.case_id} has no scar label: score a compact file made by inject_compact")
    if case.scar.shape != case.la_native.shape:
        raise InputError(None, f"case {case.case_id}: scar and native LA grids differ (not an injected compact file)")
    spacing = case.native_geometry.spacing
    return GroundTruth(case.case_id, case.la_native > 0, case.scar > 0, spacing, Path("."), exclude=unknown)


def _row(case: CompactCase, la, scar_mask: np.ndarray, unknown: np.ndarray | None = None) -> dict[str, float]:
    from atrialjsq.evaluate.evaluate_dir import evaluate_case

    # every automatic scar here is painted into the wall band (`scar_in_band`): the network's and the baselines'
    row = evaluate_case(_truth(case, unknown), la.array > 0, scar_mask, scar_form="band")
    row.pop("case")
    metrics = cast(dict[str, float], row)  # every entry but the case id (popped) is a metric, a float
    metrics["scar_pct_error"] = abs(float(metrics["scar_pct_auto"]) - float(metrics["scar_pct_manual"]))
    return metrics


def _classic_scar(case: CompactCase, la, method: str) -> np.ndarray:
    from atrialjsq.quantify.baselines import scar_from_image

    if not la.array.any():  # no LA surface: no scar on it
        return np.zeros(la.geometry.shape, dtype=bool)
    # The 8-bit codes (0 = the darkest voxel of the scan, as on a magnitude image), not the z-scored decoded
    # values: IIR is a ratio of intensities and means nothing on values that can be negative.
    return scar_from_image(_native_image(case), la, method).scar.array > 0


def _native_image(case: CompactCase):
    """The 8-bit codes (0 = the darkest voxel of the scan) on the native grid, where the scar truth lives."""
    from atrialjsq.io.volume import Volume

    image = Volume(case.codes.astype(np.float32), case.window_geometry)
    return image if image.geometry == case.native_geometry else _on_native(case, image.array)


def learngc_by_fold(
    compact, folds: Sequence[Mapping[str, Sequence[str]]], scored: Sequence[str] | None = None, progress: bool = True
) -> dict[str, Any]:
    """{held-out case id: LearnGC classifier trained on its fold's training cases} (manual LA and injected scar
    on the native grid; `quantify.learngc`), so no case is scored by a classifier that saw it. Only folds
    holding out a case of `scored` (all when None) are trained."""
    from atrialjsq.quantify.learngc import train_learngc

    held: dict[str, int] = {}
    for number, fold in enumerate(folds):
        for case_id in fold["val"]:
            if case_id in held:
                raise InputError(None, f"case {case_id} is held out by two folds ({held[case_id]} and {number})")
            held[case_id] = number
    wanted = set(held) if scored is None else set(scored)
    classifiers: dict[str, Any] = {}
    needed = [(n, f) for n, f in enumerate(folds) if wanted & set(f["val"])]
    for number, fold in tqdm(needed, desc="train LearnGC", unit="fold", disable=not progress or None):
        cases = [compact.case(case_id) for case_id in fold["train"]]
        triples = [(_native_image(c), _truth_la(c), _scar_volume(c)) for c in cases]
        try:
            classifier = train_learngc(triples, case_ids=list(fold["train"]))
        except ValueError as error:
            raise InputError(None, f"LearnGC for fold {number}: {error}") from None
        classifiers.update({case_id: classifier for case_id in fold["val"]})
    return classifiers


def _scar_volume(case: CompactCase):
    from atrialjsq.io.volume import Volume

    truth = _truth(case)
    return Volume(truth.scar.astype(np.uint8), case.native_geometry)


def _learngc_scar(case: CompactCase, la, classifier) -> np.ndarray:
    from atrialjsq.quantify.learngc import scar_by_learngc

    if not la.array.any():
        return np.zeros(la.geometry.shape, dtype=bool)
    return scar_by_learngc(_native_image(case), la, classifier).scar.array > 0


def _network_scar(case: CompactCase, la, maps: Mapping[str, np.ndarray]) -> np.ndarray:
    from atrialjsq.quantify.surface_scar import scar_from_probabilities

    if not la.array.any():
        return np.zeros(la.geometry.shape, dtype=bool)
    result = scar_from_probabilities(la, _on_native(case, maps["p_normal"]), _on_native(case, maps["p_scar"]))
    return result.scar.array > 0


def _predicted_la(case: CompactCase, probability: np.ndarray):
    from atrialjsq.io.volume import Volume
    from studies.lasc2018.scoring import native_mask

    return Volume(native_mask(case, probability).astype(np.uint8), case.native_geometry)


def _load_runs(files: Sequence[str | Path]) -> dict[str, dict[str, np.ndarray]]:
    """{case id: maps} over a run's predictions files (one per fold); a case predicted twice is refused."""
    from studies.lasc2018.cross_validation import read_predictions

    merged: dict[str, dict[str, np.ndarray]] = {}
    for path in files:
        _, maps = read_predictions(path)
        twice = sorted(set(maps) & set(merged))
        if twice:
            raise InputError(path, f"case(s) {', '.join(twice[:3])} are predicted in another file too")
        merged.update(maps)
    return merged


def write_per_case(per_case: Mapping[str, Mapping[str, float]], path: Path) -> None:
    from atrialjsq.io.atomic import atomic_path

    names = list(next(iter(per_case.values())))
    with atomic_path(path) as tmp:
        with tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["case", *names])
            for case_id, row in sorted(per_case.items()):
                writer.writerow([case_id, *(f"{row[name]:.6g}" for name in names)])


UNKNOWN_REACH_MM = 3.0  # as far out as the training's unknown rule looks (`train.scar_synthesis.UNSURE_REACH_MM`)


def unknown_wall(original: np.ndarray, la: np.ndarray, scar: np.ndarray, spacing, iir: float = 1.32) -> np.ndarray:
    """Where the injected truth is unknown: the first layer outside the LA within UNKNOWN_REACH_MM of wall that
    was already brighter than `iir` × the blood pool *before* the injection (real enhancement that no label
    marks), away from the injected scar (which overwrote it, so its truth is known). Left out of the scar
    metrics as `exclude` (the surface voxels next to it), like the wall the training loss leaves out (which looks
    0-3 mm out along each band voxel's normal; this carries the enhancement up to 3 mm in any direction).

    `original` is the pre-injection image on the scar truth's grid, zero = its darkest voxel (the 8-bit codes)."""
    import edt
    from scipy import ndimage

    from atrialjsq.quantify.baselines import blood_pool

    la, scar = np.asarray(la) > 0, np.asarray(scar) > 0
    anisotropy = tuple(float(s) for s in spacing)
    image = np.asarray(original, dtype=np.float64)
    image = image - image.min()
    blood = float(image[blood_pool(la, spacing)].mean())
    outside = edt.edt(np.ascontiguousarray(~la, dtype=np.uint8), anisotropy=anisotropy)
    wall = (outside > 0) & (outside <= UNKNOWN_REACH_MM)
    # Enhancement under the injected scar was overwritten by it: there the truth (scar) is known.
    enhanced = wall & (image > iir * blood) & ~scar
    if not enhanced.any():
        return enhanced
    # Carry the enhancement to the first layer (next to the surface voxels) along the wall, up to the reach.
    near = edt.edt(np.ascontiguousarray(~enhanced, dtype=np.uint8), anisotropy=anisotropy)
    first_layer = wall & ndimage.binary_dilation(la, ndimage.generate_binary_structure(3, 1))
    known = ndimage.binary_dilation(scar, ndimage.generate_binary_structure(3, 3))
    return first_layer & (near <= UNKNOWN_REACH_MM) & ~known


def score_scar_study(
    compact_path: str | Path,
    out: str | Path,
    networks: Mapping[str, Sequence[str | Path]] | None = None,
    la_predictions: Sequence[str | Path] | None = None,
    baselines: Sequence[str] = CLASSIC,
    reference: str = REFERENCE_LABEL,
    progress: bool = True,
    learngc_folds: Sequence[Mapping[str, Sequence[str]]] | None = None,
    original: str | Path | None = None,
    unknown_iir: float = 1.32,
) -> dict[str, Any]:
    """Score every row on the cases the networks held out (all cases when no network is given) and write
    `scar_table.md/.csv/_stats.csv` and `<row>_per_case.csv` into `out`. `networks` maps a row label to its
    run's predictions files; `la_predictions` are the LA run used for "LA_pred+…" rows and for networks
    without an LA head; `learngc_folds` (the runs' folds) adds LearnGC rows, its classifier trained per fold.
    `original`: the compact file the scar was injected into; with it, the surface next to wall that was already
    enhanced above `unknown_iir` is left out of every row's metrics (`unknown_wall`: its truth is unknown)."""
    from atrialjsq.evaluate.table_files import write_table
    from atrialjsq.evaluate.tables import MethodResults, build_table

    unknown = sorted(set(baselines) - set(CLASSIC))
    if unknown:
        raise InputError(None, f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(CLASSIC)}")
    runs = {label: _load_runs(files) for label, files in (networks or {}).items()}
    la_run = _load_runs(la_predictions) if la_predictions else None
    compact = load_compact(compact_path)
    scored = sorted(set().union(*(set(run) for run in runs.values()))) if runs else compact.case_ids
    for label, run in runs.items():
        if set(run) != set(scored):
            raise InputError(None, f"row {label!r} predicts other cases than the other rows")
    if la_run is not None and not set(scored) <= set(la_run):
        raise InputError(None, "the LA predictions do not cover every scored case")

    if original is not None and not unknown_iir > 0:
        raise InputError(None, f"--unknown-iir must be a positive intensity ratio, got {unknown_iir}")
    before = load_compact(original) if original is not None else None
    if before is not None and not set(scored) <= set(before.case_ids):
        missing = sorted(set(scored) - set(before.case_ids))
        raise InputError(original, f"has no case {missing[0]} (the original of an injected case)")
    learngc = learngc_by_fold(compact, learngc_folds, scored, progress) if learngc_folds else None
    if learngc is not None and not set(scored) <= set(learngc):
        raise InputError(None, "the LearnGC folds do not hold out every scored case")
    rows: dict[str, dict[str, dict[str, float]]] = {}
    reports_la: dict[str, bool] = {}
    for case_id in tqdm(scored, desc="score scar", unit="case", disable=not progress or None):
        case = compact.case(case_id)
        manual = _truth_la(case)
        predicted = _predicted_la(case, la_run[case_id]["la"]) if la_run is not None else None
        unsure = _unknown_for(case, before.case(case_id), unknown_iir) if before is not None else None
        for method in baselines:
            label = f"LA_M+{CLASSIC_LABELS[method]}"
            rows.setdefault(label, {})[case_id] = _row(case, manual, _classic_scar(case, manual, method), unsure)
            reports_la[label] = False
            if predicted is not None:
                label = f"LA_pred+{CLASSIC_LABELS[method]}"
                rows.setdefault(label, {})[case_id] = _row(
                    case, predicted, _classic_scar(case, predicted, method), unsure
                )
                reports_la[label] = True
        if learngc is not None:
            scar = _learngc_scar(case, manual, learngc[case_id])
            rows.setdefault("LA_M+LearnGC", {})[case_id] = _row(case, manual, scar, unsure)
            reports_la["LA_M+LearnGC"] = False
            if predicted is not None:
                scar = _learngc_scar(case, predicted, learngc[case_id])
                rows.setdefault("LA_pred+LearnGC", {})[case_id] = _row(case, predicted, scar, unsure)
                reports_la["LA_pred+LearnGC"] = True
        for label, run in runs.items():
            maps = run[case_id]
            if "p_scar" not in maps:
                raise InputError(None, f"row {label!r} has no scar head output")
            if "la" in maps:
                la = _predicted_la(case, maps["la"])
            elif predicted is not None:
                la = predicted
            else:
                raise InputError(None, f"row {label!r} has no LA head: give --la-predictions")
            rows.setdefault(label, {})[case_id] = _row(case, la, _network_scar(case, la, maps), unsure)
            reports_la[label] = True

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for label, per_case in rows.items():
        write_per_case(per_case, out / per_case_file(label))
    methods = [MethodResults(label, per_case, reports_la[label]) for label, per_case in rows.items()]
    table = build_table(
        "Scar on real anatomy (LASC 2018 with injected scar), held-out cases",
        methods,
        reference if reference in rows else None,
        columns=SCAR_COLUMNS,
    )
    table.notes.append(f"{len(scored)} cases; scar injected with {compact.header.get('difficulty')} difficulty.")
    if before is not None:
        table.notes.append(f"Surface next to wall already above IIR {unknown_iir} before the injection left out.")
    paths = write_table(table, out / "scar_table", methods=methods)
    return {"cases": len(scored), "rows": list(rows), "tables": [str(p) for p in paths]}


def _unknown_for(case: CompactCase, original: CompactCase, iir: float) -> np.ndarray:
    """`unknown_wall` of an injected case from its original (the same window, before the injection)."""
    truth = _truth(case)  # refuses a case without an injected scar label
    codes = original.codes.astype(np.float32)
    if codes.shape != truth.la.shape:
        raise InputError(None, f"case {case.case_id}: the original's window differs from the injected case's grid")
    assert truth.scar is not None  # _truth refused a case without one
    return unknown_wall(codes, truth.la, truth.scar, truth.spacing, iir)


def _truth_la(case: CompactCase):
    from atrialjsq.io.volume import Volume

    return Volume((case.la_native > 0).astype(np.uint8), case.native_geometry)


def per_case_file(label: str) -> str:
    """The file name of a row's per-case table (the label with file-name-safe characters)."""
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)
    return f"{slug}_per_case.csv"
