"""A result table's files: markdown, the paper's CSV layout, the numbers, and the per-case figure.

Kept apart from `tables` (which builds the table) and `table_figure` (which draws it) so that neither imports the
other: this module is the one place that knows both.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from atrialjsq.evaluate.table_figure import plot_table
from atrialjsq.evaluate.tables import MethodResults, ResultTable, format_markdown, paper_rows, stats_rows
from atrialjsq.io.atomic import atomic_path


def write_table(
    table: ResultTable, stem: str | Path, decimals: int = 3, methods: Sequence[MethodResults] | None = None
) -> list[Path]:
    """`<stem>.md`, `<stem>.csv` (paper layout) and `<stem>_stats.csv` (numbers), each written atomically;
    with the rows' per-case values (`methods`) also `<stem>.png`, their boxes (`table_figure`)."""
    stem = Path(stem)
    markdown, layout, numbers = (stem.with_name(stem.name + suffix) for suffix in (".md", ".csv", "_stats.csv"))
    with atomic_path(markdown) as tmp:
        tmp.write_text(format_markdown(table, decimals), encoding="utf-8")
    with atomic_path(layout) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(paper_rows(table, decimals))
    records = stats_rows(table)
    with atomic_path(numbers) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]) if records else ["method"])
        writer.writeheader()
        writer.writerows(records)
    paths = [markdown, layout, numbers]
    if methods is not None:
        figure = plot_table(table, methods, stem.with_name(stem.name + ".png"))
        paths += [figure] if figure is not None else []
    return paths
