"""The paper's result tables (Tables 2 and 4) from per-case CSVs: mean ± std per method and metric, with the
paper's significance marks against a reference method (* p < 0.01, ** p < 0.001, two-sided, paired by case).

Means and standard deviations follow `evaluate_dir.summarize` (`statistics.summary_stats`: NaN left out, an
infinite distance kept so a failed case shows as "inf" instead of vanishing; the SD of one case is undefined and
the cell shows the mean alone); p-values come from `evaluate.statistics` (the `compare` command's paired tests).
Rows without their own LA segmentation (scar from a given LA) show "N/A" in the LA columns, as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from atrialjsq.evaluate.evaluate_dir import summarize
from atrialjsq.evaluate.statistics import NO_VALUE, compare_tables, significance_stars

TESTS = ("wilcoxon", "ttest")
NOT_AVAILABLE = "N/A"
NO_DATA = NO_VALUE  # "–"


@dataclass(frozen=True)
class Column:
    """One column of the paper's tables: its header, the per-case CSV column it summarises, and its group."""

    header: str
    metric: str
    group: str


PAPER_COLUMNS = (
    Column("DiceLA", "Dice_LA", "LA"),
    Column("ASSD (mm)", "ASSD_mm", "LA"),  # the paper's symmetric "ASD"
    Column("HD (mm)", "HD_mm", "LA"),
    Column("Accuracy", "Accuracy", "Scar"),
    Column("Dice_s", "Dice_s", "Scar"),
    Column("Dice_g", "Dice_g", "Scar"),
)

PerCase = Mapping[str, Mapping[str, float]]  # {case id: {metric: value}}, as `statistics.read_metric_csv` gives


@dataclass(frozen=True)
class MethodResults:
    """A table row's input: its label, its per-case metrics, whether it segments the LA itself, and any
    leading descriptive cells (Table 4's DPM and L_SE definitions)."""

    label: str
    per_case: PerCase
    reports_la: bool = True
    definition: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cell:
    mean: float = math.nan
    std: float = math.nan
    n: int = 0
    p: float = math.nan
    available: bool = True
    of: int = 0  # the most cases any method has in this column: a cell over fewer says so (n = ...)

    @property
    def stars(self) -> str:
        return significance_stars(self.p)

    def text(self, decimals: int = 3) -> str:
        """The cell as "mean ± std" with the paper's marks; "N/A" for a column the method has no output for."""
        if not self.available:
            return NOT_AVAILABLE
        if self.n == 0:
            return NO_DATA
        mean = _number(self.mean, decimals)
        fewer = f" (n = {self.n})" if self.n < self.of else ""
        if math.isinf(self.mean) or math.isnan(self.std):
            return f"{mean}{self.stars}{fewer}"
        return f"{mean} ± {_number(self.std, decimals)}{self.stars}{fewer}"


@dataclass
class ResultTable:
    """Rows of cells in the paper's layout, plus what the marks were computed against."""

    title: str
    columns: tuple[Column, ...]
    labels: list[str]
    definitions: list[tuple[str, ...]]
    cells: list[list[Cell]]
    definition_headers: tuple[str, ...] = ()
    reference: str | None = None
    test: str = "wilcoxon"
    notes: list[str] = field(default_factory=list)


def sentence(text: str) -> str:
    """`text` ending with one full stop: a note listing "Xue et al." must not end in "al.."."""
    text = text.rstrip()
    return text if text.endswith(".") else text + "."


def _number(value: float, decimals: int) -> str:
    if math.isnan(value):
        return NO_DATA
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{decimals}f}"


def _p_value(comparison, test: str) -> float:
    return comparison.wilcoxon_p if test == "wilcoxon" else comparison.ttest_p


def build_table(
    title: str,
    methods: Sequence[MethodResults],
    reference: str | None = None,
    test: str = "wilcoxon",
    columns: Sequence[Column] = PAPER_COLUMNS,
    definition_headers: Sequence[str] = (),
) -> ResultTable:
    """Summarise every method per column and test it against `reference` (a label among `methods`).

    The reference row and unavailable cells carry no p-value; without a reference (not run yet) no row does.
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    by_label = {method.label: method for method in methods}
    if len(by_label) != len(methods):
        raise ValueError("method labels must be unique")
    if reference is not None and reference not in by_label:
        reference = None
    metrics = [column.metric for column in columns]
    cells: list[list[Cell]] = []
    for method in methods:
        summary = summarize([{"case": case, **values} for case, values in method.per_case.items()])
        p_values: dict[str, float] = {}
        if reference is not None and method.label != reference:
            comparisons, _ = compare_tables(method.per_case, by_label[reference].per_case, metrics)
            p_values = {c.metric: _p_value(c, test) for c in comparisons}
        row = []
        for column in columns:
            available = method.reports_la or column.group != "LA"
            stats = summary.get(column.metric, {"mean": math.nan, "std": math.nan, "n": 0})
            row.append(
                Cell(stats["mean"], stats["std"], int(stats["n"]), p_values.get(column.metric, math.nan), available)
                if available
                else Cell(available=False)
            )
        cells.append(row)
    for j in range(len(columns)):  # means over different case sets are side by side: the smaller ones say so
        most = max((row[j].n for row in cells if row[j].available), default=0)
        for row in cells:
            row[j] = replace(row[j], of=most)
    return ResultTable(
        title=title,
        columns=tuple(columns),
        labels=[method.label for method in methods],
        definitions=[tuple(method.definition) for method in methods],
        cells=cells,
        definition_headers=tuple(definition_headers),
        reference=reference,
        test=test,
    )


def _test_name(test: str) -> str:
    return "Wilcoxon signed-rank test" if test == "wilcoxon" else "paired t-test"


def _escape(text: str) -> str:
    """A literal "|" (as in exp(-|φ|)) would end a markdown cell."""
    return text.replace("|", "\\|")


def format_markdown(table: ResultTable, decimals: int = 3) -> str:
    """The table as GitHub markdown, paper layout: methods as rows, LA then scar metrics as columns."""
    headers = ["Method", *table.definition_headers, *(f"{c.header} ({c.group})" for c in table.columns)]
    lines = [f"## {table.title}", "", "| " + " | ".join(headers) + " |"]
    lines.append("|" + "---|" * (1 + len(table.definition_headers)) + "---:|" * len(table.columns))
    for label, definition, row in zip(table.labels, table.definitions, table.cells, strict=True):
        padded = list(definition) + [""] * (len(table.definition_headers) - len(definition))
        texts = [cell.text(decimals) for cell in row]
        lines.append("| " + " | ".join(_escape(text) for text in [label, *padded, *texts]) + " |")
    lines.append("")
    if table.reference is not None:
        lines.append(
            f"Marks: \\* p < 0.01, \\*\\* p < 0.001 against {table.reference} "
            f"({_test_name(table.test)}, two-sided, paired by case)."
        )
    else:
        lines.append("No significance marks: the reference method has no results yet.")
    lines.append(
        f"{NOT_AVAILABLE}: the method takes its LA from elsewhere; {NO_DATA}: no case has this value; (n = k): the "
        "mean is over fewer cases than the column's others (the metric is undefined on some cases, e.g. Dice_s "
        "where neither label has scar); the marks compare the cases both methods have."
    )
    lines.extend(table.notes)
    return "\n".join(lines) + "\n"


def paper_rows(table: ResultTable, decimals: int = 3) -> list[list[str]]:
    """Header and rows of formatted cells (what table*.csv holds)."""
    header = ["Method", *table.definition_headers, *(c.header for c in table.columns)]
    rows = [header]
    for label, definition, row in zip(table.labels, table.definitions, table.cells, strict=True):
        padded = list(definition) + [""] * (len(table.definition_headers) - len(definition))
        rows.append([label, *padded, *(cell.text(decimals) for cell in row)])
    return rows


def stats_rows(table: ResultTable) -> list[dict[str, object]]:
    """One record per (method, metric) with the raw numbers behind each cell."""
    records = []
    for label, row in zip(table.labels, table.cells, strict=True):
        for column, cell in zip(table.columns, row, strict=True):
            records.append(
                {
                    "method": label,
                    "metric": column.metric,
                    "available": cell.available,
                    "n": cell.n,
                    "mean": cell.mean,
                    "std": cell.std,
                    "p_vs_reference": cell.p,
                    "stars": cell.stars,
                }
            )
    return records
