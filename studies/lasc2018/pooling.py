"""One cross-validation table from folds scored one at a time (often in different sessions).

Each fold's results folder (`scripts/real_model_results.sh` here: ``docs/results/lasc2018_fold<k>/``) holds the
LA per-case table on the native grid (`la_native_per_case.csv`, from `score-model`) and the scar rows'
per-case tables (`<row>_per_case.csv`, from `score-scar`). `pool_folds` merges them case by case (a case in
two folds, or a fold lacking a row the others have, is refused: the pooled rows must be the same cases),
and writes the LA summary over every held-out case and the scar table (Table 2 layout, paired tests against
AJSQnet-SESA over all cases) with the evaluation stage's statistics and tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atrialjsq.errors import InputError
from atrialjsq.evaluate.statistics import mean_sd_text, read_metric_csv, summary_stats
from atrialjsq.evaluate.table_files import write_table
from atrialjsq.evaluate.tables import NOT_AVAILABLE, MethodResults, build_table
from atrialjsq.io.atomic import atomic_path, write_json
from studies.lasc2018.scar import REFERENCE_LABEL, SCAR_COLUMNS, per_case_file, write_per_case

LA_FILE = "la_native_per_case.csv"
LA_METRICS = ("Dice_LA", "Jaccard_LA", "HD95_vox", "ASD_vox", "HD95_mm", "ASD_mm")
LA_PERCENT = ("Dice_LA", "Jaccard_LA")


def merge_fold_tables(tables: Sequence[tuple[Path, dict[str, dict[str, float]]]]) -> dict[str, dict[str, float]]:
    """Per-case tables of disjoint folds as one; a case in two of them is refused (naming the file)."""
    merged: dict[str, dict[str, float]] = {}
    for path, table in tables:
        twice = sorted(set(table) & set(merged))
        if twice:
            raise InputError(path, f"case(s) {', '.join(twice[:3])} are in another fold's table too")
        merged.update(table)
    return merged


def _scar_rows(folder: Path) -> list[tuple[str, bool]]:
    """(label, reports its own LA) of each row of the fold's scar table, in table order."""
    import csv

    path = folder / "scar_table.csv"
    if not path.is_file():
        raise InputError(path, "no such file (score the fold's scar with `python -m studies.lasc2018 score-scar`)")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "Method" not in rows[0]:
        raise InputError(path, "not a scar table (no Method column)")
    return [(row["Method"], row.get("DiceLA") != NOT_AVAILABLE) for row in rows]


def pool_folds(fold_folders: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    """Pool the fold results in `folders` into `out`: la_per_case.csv, la_summary.json/.md and
    scar_table.md/.csv/_stats.csv with each row's pooled per-case table."""
    folders = [Path(folder) for folder in fold_folders]
    if len(folders) < 2:
        raise InputError(None, "pooling needs the results of at least two folds")
    for folder in folders:
        if not (folder / LA_FILE).is_file():
            raise InputError(folder / LA_FILE, "no such file (score the fold with scripts/real_model_results.sh)")
    la_tables = [(folder / LA_FILE, read_metric_csv(folder / LA_FILE)) for folder in folders]
    for path, per_case in la_tables:
        missing = [metric for metric in LA_METRICS if metric not in next(iter(per_case.values()))]
        if missing:
            raise InputError(path, f"lacks the column(s) {', '.join(missing)}")
    la = merge_fold_tables(la_tables)
    rows = _scar_rows(folders[0])
    for folder in folders[1:]:
        if sorted(_scar_rows(folder)) != sorted(rows):
            raise InputError(folder / "scar_table.csv", f"has other rows than {folders[0] / 'scar_table.csv'}")
    labels = [label for label, _ in rows]
    scar = {
        label: merge_fold_tables(
            [(f / per_case_file(label), read_metric_csv(f / per_case_file(label))) for f in folders]
        )
        for label in labels
    }
    for label, per_case in scar.items():
        if set(per_case) != set(la):
            raise InputError(None, f"scar row {label!r} covers other cases than the LA tables")

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_per_case(la, out / "la_per_case.csv")
    overall = {metric: summary_stats(row[metric] for row in la.values()) for metric in LA_METRICS}
    summary = {"folds": [str(folder) for folder in folders], "cases": len(la), "overall": overall}
    write_json(out / "la_summary.json", summary)
    cells = []
    for metric in LA_METRICS:
        scale = 100.0 if metric in LA_PERCENT else 1.0
        unit = " %" if metric in LA_PERCENT else ""
        stats = {key: overall[metric][key] * scale for key in ("mean", "std")}
        cells.append(mean_sd_text(stats, "{:.1f}".format if scale > 1 else "{:.2f}".format) + unit)
    lines = [
        f"## LA on the native grid, {len(la)} held-out cases ({len(folders)} folds pooled)",
        "",
        "| cases | " + " | ".join(LA_METRICS) + " |",
        "|---:|" + "---:|" * len(LA_METRICS),
        f"| {len(la)} | " + " | ".join(cells) + " |",
        "",
    ]
    with atomic_path(out / "la_summary.md") as tmp:
        tmp.write_text("\n".join(lines))

    for label, per_case in scar.items():
        write_per_case(per_case, out / per_case_file(label))
    methods = [MethodResults(label, scar[label], reports_la) for label, reports_la in rows]
    reference = REFERENCE_LABEL if REFERENCE_LABEL in scar else None
    title = f"Scar on real anatomy (LASC 2018 with injected scar), {len(la)} held-out cases of {len(folders)} folds"
    table = build_table(title, methods, reference, columns=SCAR_COLUMNS)
    paths = write_table(table, out / "scar_table", methods=methods)
    return {"cases": len(la), "rows": labels, "la": overall, "tables": [str(p) for p in paths]}
