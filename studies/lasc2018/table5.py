"""Table 5 on real scans: each DTM method's held-out LASC 2018 cases, pooled over the folds scored so far.

`studies/lasc2018/scripts/table5_real.sh` trains every Table 5 row (`experiments.paper_tables.TABLE5_ROWS`) on a fold's
training cases and scores the fold's held-out cases through `predict`'s path on the native grid, one
``<results>/<config>/fold<k>_la_native_per_case.csv`` per row and fold (folds often finish in different
sessions). `real_table5` keeps the folds every row present has scored (so that each row's mean is over the
same cases), merges them case by case and writes Table 5 (Dice, ASSD and HD in mm, paired Wilcoxon marks
against U-Net_LA-SE), with the folds used and those scored but left out (a row ahead of the others) in the
notes. Rows without any fold yet are left out and named in the notes.
"""

from __future__ import annotations

import re
from pathlib import Path

from atrialjsq.errors import InputError
from atrialjsq.evaluate.statistics import read_metric_csv
from atrialjsq.evaluate.table_files import write_table
from atrialjsq.evaluate.tables import PAPER_COLUMNS, MethodResults, build_table, sentence
from atrialjsq.experiments.paper_tables import TABLE5_REFERENCE, TABLE5_ROWS
from studies.lasc2018.pooling import merge_fold_tables

FOLD_FILE = re.compile(r"fold(\d+)_la_native_per_case\.csv")
TITLE = "Table 5 on LASC 2018: LA segmentation without and with distance-map (DTM) shape constraints"


def row_folds(results: Path, config: str) -> dict[int, Path]:
    """The per-case table of every fold scored for one row, by fold number."""
    folder = results / config
    if not folder.is_dir():
        return {}
    found = {int(m.group(1)): path for path in folder.iterdir() if (m := FOLD_FILE.fullmatch(path.name))}
    return dict(sorted(found.items()))


def real_table5(results: str | Path, out: str | Path | None = None, test: str = "wilcoxon") -> list[Path]:
    """Write table5_real.md/.csv/_stats.csv into `out` (default `results`); returns the files written."""
    results = Path(results)
    scored = {row.key: row_folds(results, row.key) for row in TABLE5_ROWS}
    present = [folds for folds in scored.values() if folds]
    if not present:
        raise InputError(results, "no scored fold of any Table 5 row (run scripts/table5_real.sh here first)")
    common = sorted(set.intersection(*(set(folds) for folds in present)))
    if not common:
        raise InputError(results, "the rows share no scored fold: their means would be over different cases")
    methods, notes, missing, ahead = [], [], [], []
    reference_label = None
    for row in TABLE5_ROWS:
        folds = scored[row.key]
        if not folds:
            missing.append(row.label)
            continue
        per_case = merge_fold_tables([(folds[k], read_metric_csv(folds[k])) for k in common])
        methods.append(MethodResults(row.label, per_case))
        extra = sorted(set(folds) - set(common))
        if extra:
            ahead.append(f"{row.label} fold(s) {', '.join(map(str, extra))}")
        if row.key == TABLE5_REFERENCE:
            reference_label = row.label
    cases = len(methods[0].per_case)
    notes.append(f"Pooled: fold(s) {', '.join(map(str, common))} of every row ({cases} held-out cases).")
    if ahead:
        notes.append(sentence(f"Scored, left out until every row has them: {'; '.join(ahead)}"))
    table = build_table(TITLE, methods, reference=reference_label, test=test, columns=PAPER_COLUMNS[:3])
    table.notes.extend(notes)
    if missing:
        table.notes.append(sentence(f"Not run yet: {', '.join(missing)}"))
    return write_table(table, Path(out or results) / "table5_real", methods=methods)
