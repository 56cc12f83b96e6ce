"""The experiment runner behind `atrialjsq experiment ablation|dpm|dtm`: the paper's Tables 2, 4 and 5, rebuilt.

For every row (method) and cross-validation fold it trains the row's networks on the fold's training cases,
predicts the held-out cases, evaluates them against the ground truth by the paper's protocol, and finally
tabulates mean ± std with significance marks against AJSQnet-SESA (`evaluate.tables`). Layout under `out`:

    experiment.json                        the options the results were made with (a rerun must match them)
    cache/                                 the preprocessing cache (unless --cache points elsewhere)
    folds.json                             the k folds of case ids
    models/<config>/fold<k>/last.pt        one training run per network and fold, shared between rows
    <row>/fold<k>/pred/<case>/LA_predict.nii.gz, scar_predict.nii.gz
    <row>/fold<k>/per_case.csv             the cell's metrics, written last: its presence marks the cell done
    <row>/per_case.csv                     all folds together, once every fold is done
    table2.md / table2.csv / table2_stats.csv   (table4.* for `dpm`)

Rerunning skips done cells, skips predicted cases of an interrupted cell and resumes interrupted training from
its last checkpoint (the trainer's resume reproduces the uninterrupted run). A network serving several rows
(unet-la-bce: the LA of "LA_U-Net+Otsu/MGMM" and "U-Net_LA/scar-BCE") is trained once per fold.

How each row gets its LA and scar (paper §4.1–4.3, Table 2 caption):
- "LA_M+…": the manual LA, scar by Otsu / MGMM on the image (`quantify.baselines`); LA columns are N/A.
- "LA_M+LearnGC": the manual LA, scar by LearnGC (`quantify.learngc`), its classifier trained on the fold's
  training cases (models/learngc/fold<k>/learngc.json).
- "LA_U-Net+…": the LA of U-Net_LA-BCE, scar by Otsu / MGMM on that LA; LA columns N/A (paper layout).
- "U-Net_LA/scar-X": two separate U-Nets trained with loss X; the scar network's normal-wall and scar
  probabilities are projected onto the surface of the LA predicted by the LA network of the same row (for the
  BCE row that is U-Net_LA-BCE, the LA the paper's LA_U-Net rows use; the paper does not state which LA the
  Dice and SE rows project onto, and the row's own LA keeps each row one self-contained pipeline).
- "AJSQnet-X" and the Table 4 rows: one joint network; its scar is projected onto its own LA.
- Table 5 rows: one LA network each (U-Net_LA-BCE/-SE and the three distance-map heads of `model.dtm_heads`),
  LA only (no scar predicted or scored), marks against U-Net_LA-SE.
Network scar → surface follows `quantify.surface_scar.scar_from_probabilities` (the prediction pipeline's rule).

Test time: each held-out case goes through `infer.predictor.Predictor` exactly as `atrialjsq predict --model
models/<config>/fold<k>/last.pt` runs it (the whole image tiled, since a lone network has no localiser; the
probabilities resampled back onto the case's grid; largest LA component), so a table reports what a user gets.
The paper cropped an ROI at the image centre instead; the cache's ROI (`center="image"`, paper §4.1, or
`center="la"`, recorded) now only places the training windows.
Models are scored with last.pt: the paper had no validation set and picked the converged model, and best.pt
would be selected on held-out cases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from atrialjsq.data.case import Case
from atrialjsq.data.layouts import CaseRef
from atrialjsq.errors import InputError
from atrialjsq.evaluate.statistics import read_metric_csv
from atrialjsq.evaluate.tables import PAPER_COLUMNS, Column
from atrialjsq.experiments.kfold import CrossValidation, FoldSplit
from atrialjsq.hardware import resolve_device
from atrialjsq.io import Volume, atomic_output, write_volume
from atrialjsq.io.atomic import write_json
from atrialjsq.io.geometry import triple
from atrialjsq.io.output_check import check_output_folder
from atrialjsq.model.configs import apply_overrides, get_config
from atrialjsq.quantify.baselines import scar_from_image
from atrialjsq.quantify.learngc import LearnGCClassifier, scar_by_learngc, train_learngc
from atrialjsq.quantify.surface_scar import scar_from_probabilities

EXPERIMENT_FORMAT = "atrialjsq-experiment-v1"
REFERENCE_ROW = "ajsq-sesa"
CLASSIC_METHODS = ("otsu", "mgmm")
LEARNGC = "learngc"  # LearnGC (`quantify.learngc`): its classifier is trained per fold on the manual labels
MANUAL = "manual"
NO_SCAR = "none"  # an LA-only row (Table 5): no scar is predicted or scored
CENTERS = ("image", "la")
PRED_LA = "LA_predict.nii.gz"
PRED_SCAR = "scar_predict.nii.gz"


@dataclass(frozen=True)
class Row:
    """One method of a table: where its LA comes from (`manual` or a config) and its scar (a classic method on
    the image, or a config whose scar head is projected onto that LA)."""

    key: str
    label: str
    la: str
    scar: str
    reports_la: bool = True
    definition: tuple[str, ...] = ()

    @property
    def networks(self) -> list[str]:
        """Configs to train for this row, LA network first."""
        names = [name for name in (self.la, self.scar) if name not in (MANUAL, NO_SCAR, LEARNGC, *CLASSIC_METHODS)]
        return list(dict.fromkeys(names))


TABLE2_ROWS = (
    Row("lam-otsu", "LA_M+Otsu", MANUAL, "otsu", reports_la=False),
    Row("lam-mgmm", "LA_M+MGMM", MANUAL, "mgmm", reports_la=False),
    Row("lam-learngc", "LA_M+LearnGC", MANUAL, LEARNGC, reports_la=False),
    Row("launet-otsu", "LA_U-Net+Otsu", "unet-la-bce", "otsu", reports_la=False),
    Row("launet-mgmm", "LA_U-Net+MGMM", "unet-la-bce", "mgmm", reports_la=False),
    Row("unet-bce", "U-Net_LA/scar-BCE", "unet-la-bce", "unet-scar-bce"),
    Row("unet-dice", "U-Net_LA/scar-Dice", "unet-la-dice", "unet-scar-dice"),
    Row("unet-se", "U-Net_LA/scar-SE", "unet-la-se", "unet-scar-se"),
    Row("ajsq-bce", "AJSQnet-BCE", "ajsq-bce", "ajsq-bce"),
    Row("ajsq-se", "AJSQnet-SE", "ajsq-se", "ajsq-se"),
    Row(REFERENCE_ROW, "AJSQnet-SESA", "ajsq-sesa", "ajsq-sesa"),
)

TABLE4_ROWS = (
    Row(REFERENCE_ROW, "AJSQnet-SESA", "ajsq-sesa", "ajsq-sesa", definition=("exp(-|φ|)", "L2")),
    Row("ajsq-sesa-expit", "SESA-expit", "ajsq-sesa-expit", "ajsq-sesa-expit", definition=("expit(-φ)", "L2")),
    Row(
        "ajsq-sesa-hellinger",
        "SESA-Hellinger",
        "ajsq-sesa-hellinger",
        "ajsq-sesa-hellinger",
        definition=("exp(-|φ|)", "Hellinger"),
    ),
    Row("ajsq-sesa-norm", "SESA-norm", "ajsq-sesa-norm", "ajsq-sesa-norm", definition=("exp(-|φ|)†", "L2")),
    Row(
        "ajsq-sesa-expit-norm",
        "SESA-expit-norm",
        "ajsq-sesa-expit-norm",
        "ajsq-sesa-expit-norm",
        definition=("expit(-φ)†", "L2"),
    ),
)


# Table 5 (LA segmentation with distance-map shape constraints): the same U-Net_LA backbone and budget, LA only;
# marks against U-Net_LA-SE, the paper's proposal in that table.
TABLE5_REFERENCE = "unet-la-se"
TABLE5_ROWS = (
    Row("unet-la-bce", "U-Net_LA-BCE", "unet-la-bce", NO_SCAR),
    Row(TABLE5_REFERENCE, "U-Net_LA-SE", "unet-la-se", NO_SCAR),
    Row("unet-la-dangi", "Dangi et al.", "unet-la-dangi", NO_SCAR),
    Row("unet-la-audebert", "Audebert et al.", "unet-la-audebert", NO_SCAR),
    Row("unet-la-xue", "Xue et al.", "unet-la-xue", NO_SCAR),
)


@dataclass(frozen=True)
class TableSpec:
    file_stem: str
    title: str
    rows: tuple[Row, ...]
    definition_headers: tuple[str, ...] = ()
    reference: str = REFERENCE_ROW
    columns: tuple[Column, ...] = PAPER_COLUMNS


TABLES = {
    "ablation": TableSpec(
        "table2", "Table 2: LA segmentation and scar quantification (ablation and baselines)", TABLE2_ROWS
    ),
    "dpm": TableSpec(
        "table4",
        "Table 4: AJSQnet-SESA with different DPM and SE-scar definitions († = normalised with the background)",
        TABLE4_ROWS,
        ("DPM", "L_SE^scar"),
    ),
    "dtm": TableSpec(
        "table5",
        "Table 5: LA segmentation without and with distance-map (DTM) shape constraints",
        TABLE5_ROWS,
        reference=TABLE5_REFERENCE,
        columns=PAPER_COLUMNS[:3],
    ),
}


def select_rows(table: str, wanted: Sequence[str] | None = None) -> list[Row]:
    """The table's rows, or those named in `wanted` (row keys or labels, case-insensitive), in table order."""
    if table not in TABLES:
        raise InputError(None, f"unknown experiment {table!r}; choose from {', '.join(TABLES)}")
    rows = list(TABLES[table].rows)
    if not wanted:
        return rows
    names = {name.strip().lower() for name in wanted if name.strip()}
    known = {row.key.lower() for row in rows} | {row.label.lower() for row in rows}
    unknown = sorted(names - known)
    if unknown:
        keys = ", ".join(row.key for row in rows)
        raise InputError(None, f"unknown row(s) {', '.join(unknown)} for {table}; choose from {keys}")
    return [row for row in rows if row.key.lower() in names or row.label.lower() in names]


# ---------------------------------------------------------------------------------------------- settings


@dataclass
class ExperimentSettings:
    """What to run on and how; `recorded()` is what must match when results in `out` are reused."""

    data: Path
    out: Path
    folds: int = 5
    iterations: int | None = None
    tiny: bool = False
    seed: int = 0
    center: str = "image"
    spacing: tuple[float, float, float] | None = None
    cache: Path | None = None
    device: str | None = None
    test: str = "wilcoxon"
    workers: int = 1
    progress: bool = True
    overrides: dict[str, Any] = field(default_factory=dict)  # dotted config changes for every network

    def __post_init__(self) -> None:
        self.data, self.out = Path(self.data), Path(self.out)
        self.cache = Path(self.cache) if self.cache is not None else None
        if self.folds < 2:
            raise InputError(None, f"--folds must be at least 2, got {self.folds}")
        if self.iterations is not None and self.iterations < 1:
            raise InputError(None, f"--iterations must be at least 1, got {self.iterations}")
        if self.spacing is not None:
            if len(self.spacing) != 3 or min(self.spacing) <= 0:
                raise InputError(None, f"--spacing needs three positive values, got {list(self.spacing)}")
            self.spacing = triple(float(s) for s in self.spacing)
        if self.center not in CENTERS:
            raise InputError(None, f"--center must be one of {', '.join(CENTERS)}, got {self.center!r}")
        if self.test not in ("wilcoxon", "ttest"):
            raise InputError(None, f"--test must be wilcoxon or ttest, got {self.test!r}")

    @property
    def cache_dir(self) -> Path:
        return self.cache if self.cache is not None else self.out / "cache"

    def recorded(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "iterations": self.iterations,
            "tiny": self.tiny,
            "seed": self.seed,
            "center": self.center,
            "spacing": list(self.spacing) if self.spacing is not None else None,
            "overrides": dict(sorted(self.overrides.items())),
        }

    def config(self, name: str):
        """The named preset at this experiment's size, grid and training length."""
        overrides: dict[str, Any] = {}
        if self.iterations is not None:
            overrides["train"] = {"iterations": self.iterations}
        if self.spacing is not None:
            overrides["data"] = {"spacing": self.spacing}
        try:
            return apply_overrides(get_config(name, tiny=self.tiny, **overrides), self.overrides)
        except ValueError as error:
            raise InputError(None, f"config: {error}") from None


@dataclass
class RunLog:
    """What a call did, so callers (and tests) can tell a rerun that recomputed nothing."""

    trained: list[str] = field(default_factory=list)  # "<config>/fold<k>" trained or resumed in this call
    predicted: list[str] = field(default_factory=list)  # "<row>/fold<k>/<case>"
    evaluated: list[str] = field(default_factory=list)  # "<row>/fold<k>" cells computed in this call
    skipped: list[str] = field(default_factory=list)  # cells found done
    tables: list[Path] = field(default_factory=list)


def _check_recorded(settings: ExperimentSettings) -> bool:
    """Refuse to mix results made with other options (experiment.json); True when nothing is recorded yet."""
    path = settings.out / "experiment.json"
    wanted = settings.recorded()
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(path, f"not valid JSON ({error})") from None
        previous = saved.get("settings", {}) if isinstance(saved, dict) else {}
        changed = [
            f"{key}={previous.get(key)!r} (now {value!r})"
            for key, value in wanted.items()
            if previous.get(key) != value
        ]
        if changed:
            raise InputError(
                path, f"results here were made with {', '.join(changed)}; rerun with the same options or a new --out"
            )
        return False
    return True


def _record(settings: ExperimentSettings) -> None:
    document = {"format": EXPERIMENT_FORMAT, "settings": settings.recorded(), "data": str(settings.data)}
    write_json(settings.out / "experiment.json", document)


# ---------------------------------------------------------------------------------------------- data


def _ensure_cache(settings: ExperimentSettings, refs: list[CaseRef]):
    """The preprocessing cache at the experiment's grid, built once (and checked when it already exists)."""
    from atrialjsq.data.cache import build_cache, load_cache  # loads SimpleITK: deferred (tests/test_import_graph.py)

    data = settings.config(REFERENCE_ROW).data
    root = settings.cache_dir
    if (root / "dataset.json").is_file():
        index = load_cache(root)
        expected = (tuple(float(s) for s in data.spacing), tuple(data.roi), tuple(data.margin))
        found = (tuple(index.spacing), tuple(index.roi), tuple(index.margin))
        if found != expected:
            raise InputError(root, f"cache grid (spacing, roi, margin) {found} does not match the models' {expected}")
        center = json.loads((root / "dataset.json").read_text()).get("center")
        if center != settings.center:
            raise InputError(root, f"cache ROI is centred on {center!r}, the experiment on {settings.center!r}")
    else:
        index = build_cache(
            refs,
            root,
            spacing=data.spacing,
            roi=data.roi,
            margin=data.margin,
            workers=settings.workers,
            center=settings.center,
            k=settings.folds,
            seed=settings.seed,
        )
    missing = sorted({ref.case_id for ref in refs} - set(index.case_ids))
    if missing:
        raise InputError(root, f"cache lacks case(s) {', '.join(missing[:5])} of {settings.data}; rebuild it")
    return index


# ---------------------------------------------------------------------------------------------- one fold


class FoldRunner:
    """Trains, predicts and evaluates the pending cells of one fold.

    Prediction goes case by case through every pending row, so a case is read and each network run on it once,
    and memory holds one case's maps at a time (full-size LGE grids are ~30 M voxels): the LA masks of the
    current case, which several rows share, and the probability maps of the last network run.
    """

    def __init__(
        self,
        settings: ExperimentSettings,
        index,
        refs: dict[str, CaseRef],
        cv: CrossValidation,
        fold: FoldSplit,
        log: RunLog,
    ):
        self.settings, self.index, self.refs, self.log = settings, index, refs, log
        self.cv, self.fold, self.number = cv, fold, fold.number
        self._networks: dict[str, Any] = {}
        self._case: Case | None = None
        self._la_masks: dict[str, Volume] = {}  # network → LA mask of the current case
        self._last_maps: tuple[str, dict[str, Volume]] | None = None

    # ---- training

    def ensure_trained(self, names: Sequence[str]) -> None:
        """Train each network on this fold's training cases (`kfold`: a finished run is kept, a partial one
        resumed). The training arrays are loaded once, and only when something needs training."""
        from atrialjsq.data.cache import load_cached_case  # loads SimpleITK: deferred (tests/test_import_graph.py)

        loaded: list = []

        def train_cases() -> list:
            if not loaded:
                loaded.extend(load_cached_case(self.index, case_id) for case_id in self.fold.train)
            return loaded

        for name in names:
            result = self.cv.train(self.fold, self.settings.config(name), train_cases, name=name)
            if result.trained:
                self.log.trained.append(f"{name}/fold{self.number}")

    def learngc(self):
        """LearnGC's classifier for this fold: trained on the fold's training cases (image, manual LA and scar)
        once, then read from models/learngc/fold<k>/learngc.json."""
        from atrialjsq.data.layouts import load_case  # loads SimpleITK: deferred (tests/test_import_graph.py)

        path = self.cv.run_dir(self.fold, LEARNGC) / "learngc.json"
        if LEARNGC not in self._networks:
            if not path.is_file():
                cases = [load_case(self.refs[case_id]) for case_id in self.fold.train]
                triples = [(c.image, c.labels["la"], c.labels["scar"]) for c in cases]
                try:
                    train_learngc(triples, case_ids=self.fold.train).save(path)
                except ValueError as error:
                    raise InputError(path, f"LearnGC for fold {self.number}: {error}") from None
                self.log.trained.append(f"{LEARNGC}/fold{self.number}")
            classifier = LearnGCClassifier.load(path)
            if sorted(classifier.cases) != sorted(self.fold.train):
                raise InputError(path, f"was trained on other cases than fold {self.number}'s; use a new --out")
            self._networks[LEARNGC] = classifier
        return self._networks[LEARNGC]

    def predictor(self, name: str):
        """The trained network as `atrialjsq predict --model <its last.pt>` runs it (same defaults)."""
        if name not in self._networks:
            self._networks[name] = self.cv.predictor(self.fold, name)
        return self._networks[name]

    # ---- prediction

    def case(self, case_id: str) -> Case:
        from atrialjsq.data.layouts import load_case  # loads SimpleITK: deferred (tests/test_import_graph.py)

        if self._case is None or self._case.case_id != case_id:
            self._case = load_case(self.refs[case_id])
        return self._case

    def network_outputs(self, name: str, case_id: str) -> dict[str, Volume]:
        """The network's maps for the current case on its original grid, from the Predictor on the case's image
        (what a user gets): `la` (largest component of p > 0.5) and, with a scar head, `p_normal` and `p_scar`."""
        if self._last_maps is None or self._last_maps[0] != name:
            prediction = self.predictor(name).predict_volume(self.case(case_id).image, str(case_id))
            candidates = {"la": prediction.la, "p_normal": prediction.p_normal, "p_scar": prediction.p_scar}
            maps = {key: value for key, value in candidates.items() if value is not None}
            self._last_maps = (name, maps)
            if "la" in maps:
                self._la_masks[name] = maps["la"]
        return self._last_maps[1]

    def la_for(self, row: Row, case_id: str) -> Volume:
        if row.la == MANUAL:
            case = self.case(case_id)
            if case.la is None:
                raise InputError(self.refs[case_id].image_path, "no manual LA label")
            return case.la.like((case.la.array > 0).astype(np.uint8))
        if row.la not in self._la_masks:
            self.network_outputs(row.la, case_id)
        return self._la_masks[row.la]

    def scar_for(self, row: Row, case_id: str, la: Volume) -> Volume:
        if not la.array.any():  # no LA surface: the method found no atrium, hence no scar on it
            return la.like(np.zeros(la.geometry.shape, dtype=np.uint8))
        if row.scar in CLASSIC_METHODS:
            return scar_from_image(self.case(case_id).image, la, row.scar).scar
        if row.scar == LEARNGC:
            return scar_by_learngc(self.case(case_id).image, la, self.learngc()).scar
        maps = self.network_outputs(row.scar, case_id)
        return scar_from_probabilities(la, maps["p_normal"], maps["p_scar"]).scar

    def predict_case(self, rows: Sequence[Row], case_id: str) -> None:
        """Write every row's prediction of one held-out case (rows that already have it are skipped)."""
        self._la_masks, self._last_maps = {}, None
        for row in rows:
            folder = cell_dir(self.settings.out, row, self.number) / "pred" / case_id
            wanted = (PRED_LA,) if row.scar == NO_SCAR else (PRED_LA, PRED_SCAR)
            if all((folder / name).is_file() for name in wanted):
                continue
            la = self.la_for(row, case_id)
            scar = None if row.scar == NO_SCAR else self.scar_for(row, case_id, la)
            with atomic_output(folder) as tmp:
                write_volume(la, tmp / PRED_LA, label=True)
                if scar is not None:
                    write_volume(scar, tmp / PRED_SCAR, label=True)
            self.log.predicted.append(f"{row.key}/fold{self.number}/{case_id}")
        self._la_masks, self._last_maps, self._case = {}, None, None

    # ---- evaluation

    def evaluate_cell(self, cell: Path, row: Row) -> list[dict]:
        from atrialjsq.evaluate.evaluate_dir import (  # loads SimpleITK: deferred (tests/test_import_graph.py)
            evaluate_case,
            read_ground_truth,
            read_prediction,
        )

        rows = []
        for case_id in self.fold.val:
            truth = read_ground_truth(self.refs[case_id])
            folder = cell / "pred" / case_id
            la_pred = read_prediction(folder / PRED_LA, truth, False)
            has_scar = truth.scar is not None and row.scar != NO_SCAR
            scar_pred = read_prediction(folder / PRED_SCAR, truth, False) if has_scar else None
            rows.append(evaluate_case(truth, la_pred, scar_pred))
        return rows

    # ---- the fold

    def run(self, rows: Sequence[Row]) -> None:
        """Train, predict and evaluate the rows whose cell in this fold is not done yet."""
        from atrialjsq.evaluate.evaluate_dir import (
            write_per_case_csv,  # loads SimpleITK: deferred (tests/test_import_graph.py)
        )

        pending = []
        for row in rows:
            if (cell_dir(self.settings.out, row, self.number) / "per_case.csv").is_file():
                self.log.skipped.append(f"{row.key}/fold{self.number}")
            else:
                pending.append(row)
        if not pending:
            return
        self.ensure_trained(list(dict.fromkeys(name for row in pending for name in row.networks)))
        bar = tqdm(self.fold.val, desc=f"predict fold{self.number}", unit="case", disable=not self.settings.progress)
        for case_id in bar:
            self.predict_case(pending, case_id)
        for row in tqdm(pending, desc=f"evaluate fold{self.number}", unit="row", disable=not self.settings.progress):
            cell = cell_dir(self.settings.out, row, self.number)
            write_per_case_csv(self.evaluate_cell(cell, row), cell / "per_case.csv")
            self.log.evaluated.append(f"{row.key}/fold{self.number}")


def cell_dir(out: Path, row: Row, fold: int) -> Path:
    return Path(out) / row.key / f"fold{fold}"


# ---------------------------------------------------------------------------------------------- tables


def _merge_folds(out: Path, row: Row, k: int) -> Path | None:
    """`<row>/per_case.csv` from every fold's cell CSV, or None while a fold is missing."""
    from atrialjsq.evaluate.evaluate_dir import (
        write_per_case_csv,  # loads SimpleITK: deferred (tests/test_import_graph.py)
    )

    parts = [cell_dir(out, row, fold) / "per_case.csv" for fold in range(k)]
    if not all(part.is_file() for part in parts):
        return None
    rows: list[dict[str, Any]] = []
    for part in parts:
        rows.extend({"case": case, **values} for case, values in read_metric_csv(part).items())
    target = out / row.key / "per_case.csv"
    write_per_case_csv(sorted(rows, key=lambda r: r["case"]), target)
    return target


def write_tables(table: str, out: str | Path, folds: int, test: str = "wilcoxon") -> list[Path]:
    """Tabulate every row of `table` whose folds are all done (rows run earlier with --rows included)."""
    from atrialjsq.evaluate.table_files import write_table  # loads SimpleITK: deferred (tests/test_import_graph.py)
    from atrialjsq.evaluate.tables import (  # loads SimpleITK: deferred (tests/test_import_graph.py)
        MethodResults,
        build_table,
        sentence,
    )

    out = Path(out)
    spec = TABLES[table]
    methods, pending = [], []
    reference = None
    for row in spec.rows:
        merged = _merge_folds(out, row, folds)
        if merged is None:
            pending.append(row.label)
            continue
        methods.append(MethodResults(row.label, read_metric_csv(merged), row.reports_la, row.definition))
        if row.key == spec.reference:
            reference = row.label
    result = build_table(
        spec.title, methods, reference, test, columns=spec.columns, definition_headers=spec.definition_headers
    )
    n_cases = max((len(method.per_case) for method in methods), default=0)
    result.notes.append(f"{folds}-fold cross-validation; {n_cases} held-out cases per method.")
    if pending:
        result.notes.append(sentence(f"Not run yet: {', '.join(pending)}"))
    return write_table(result, out / spec.file_stem, methods=methods)


# ---------------------------------------------------------------------------------------------- entry point


def run_experiment(table: str, settings: ExperimentSettings, rows: Sequence[str] | None = None) -> RunLog:
    """Run (or resume) every selected row × fold of `table` ("ablation", "dpm" or "dtm"), then write its table."""
    from atrialjsq.data.layouts import index_dataset  # loads SimpleITK: deferred (tests/test_import_graph.py)

    selected = select_rows(table, rows)
    settings.device = resolve_device(settings.device)
    check_output_folder(settings.out)  # a file in the way: one line, before any case is read
    refs = {ref.case_id: ref for ref in index_dataset(settings.data)}
    no_scar = sorted(case_id for case_id, ref in refs.items() if "scar" not in ref.label_paths)
    if no_scar and any(row.scar != NO_SCAR for row in selected):
        raise InputError(settings.data, f"case(s) {', '.join(no_scar[:5])} have no scar label; the tables need one")
    if settings.folds > len(refs):
        raise InputError(settings.data, f"{len(refs)} cases cannot make {settings.folds} folds; lower --folds")
    first_run = _check_recorded(settings)
    index = _ensure_cache(settings, list(refs.values()))
    cv = CrossValidation(
        settings.out,
        refs,
        settings.folds,
        settings.seed,
        models=settings.out / "models",
        device=settings.device,
        progress=settings.progress,
    )
    if first_run:  # recorded once the data proved usable, so a failed start does not pin the options
        _record(settings)
    log = RunLog()
    for fold in cv.select():
        FoldRunner(settings, index, refs, cv, fold, log).run(selected)
    log.tables = write_tables(table, settings.out, settings.folds, settings.test)
    return log
