"""Table layout and significance marks (`evaluate.tables`) on constructed per-case results with known p-values."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from atrialjsq.evaluate.table_files import write_table
from atrialjsq.evaluate.tables import PAPER_COLUMNS, Cell, MethodResults, build_table, format_markdown

HEADERS = [column.header for column in PAPER_COLUMNS]


def test_cell_text_follows_the_paper_layout():
    assert Cell(0.91349, 0.03151, 20).text() == "0.913 ± 0.032"
    assert Cell(1.6, 0.717, 20, p=0.005).text() == "1.600 ± 0.717*"
    assert Cell(1.6, 0.717, 20, p=0.0009).text() == "1.600 ± 0.717**"
    assert Cell(1.6, 0.717, 20, p=0.01).text() == "1.600 ± 0.717"  # p < 0.01 is needed, as in the paper
    assert Cell(available=False).text() == "N/A"
    assert Cell(n=0).text() == "–"
    assert Cell(math.inf, math.nan, 3).text() == "inf"  # a failed case (no prediction) shows, not hidden


def _per_case(values: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    n = len(next(iter(values.values())))
    return {f"case{i:02d}": {metric: column[i] for metric, column in values.items()} for i in range(n)}


def test_significance_marks_match_exact_wilcoxon_p_values():
    # 12 cases; reference values r_i, method values r_i + d_i with distinct positive d_i. With every difference
    # of one sign the exact two-sided Wilcoxon p is 2 / 2^n: n = 12 → 0.000488 (**), n = 10 → 0.00195 (*),
    # n = 6 → 0.03125 (no mark). NaN cases drop out per metric, which sets n per column.
    n = 12
    ref = 0.5 + 0.01 * np.arange(n)
    diff = 0.001 * (np.arange(n) + 1)
    nan2 = np.where(np.arange(n) < 2, np.nan, 1.0)
    nan6 = np.where(np.arange(n) < 6, np.nan, 1.0)
    reference = _per_case({"Dice_s": list(ref), "Accuracy": list(ref), "Dice_g": list(ref), "Dice_LA": list(ref)})
    better = _per_case(
        {
            "Dice_s": list(ref + diff),
            "Accuracy": list((ref + diff) * nan2),
            "Dice_g": list((ref + diff) * nan6),
            "Dice_LA": list(ref),  # identical to the reference: p = 1
        }
    )
    table = build_table(
        "t", [MethodResults("A", better), MethodResults("SESA", reference)], reference="SESA", test="wilcoxon"
    )
    cells = dict(zip([c.metric for c in PAPER_COLUMNS], table.cells[0], strict=True))
    assert cells["Dice_s"].p == pytest.approx(2 / 2**12)
    assert cells["Dice_s"].stars == "**"
    assert cells["Accuracy"].p == pytest.approx(2 / 2**10) and cells["Accuracy"].n == 10
    assert cells["Accuracy"].stars == "*"
    assert cells["Dice_g"].p == pytest.approx(2 / 2**6) and cells["Dice_g"].stars == ""
    assert cells["Dice_LA"].p == 1.0 and cells["Dice_LA"].stars == ""
    # mean ± std by hand: mean of r_i + d_i = 0.5 + 0.01·5.5 + 0.001·6.5; std (ddof=1) of 0.011·i
    assert cells["Dice_s"].mean == pytest.approx(0.5 + 0.055 + 0.0065)
    assert cells["Dice_s"].std == pytest.approx(0.011 * np.sqrt(n * (n + 1) / 12))
    assert all(math.isnan(cell.p) for cell in table.cells[1])  # the reference is not tested against itself


def test_ttest_option_uses_the_paired_t_test():
    # One outlying difference: every difference is positive (Wilcoxon p = 2/4096) but t ≈ 1, p ≈ 0.34.
    diff = [0.001 * (i + 1) for i in range(11)] + [100.0]
    reference = _per_case({"HD_mm": [0.0] * 12})
    method = _per_case({"HD_mm": diff})
    methods = [MethodResults("A", method), MethodResults("SESA", reference)]
    wilcoxon = build_table("t", methods, "SESA", "wilcoxon").cells[0][2]
    ttest = build_table("t", methods, "SESA", "ttest").cells[0][2]
    assert wilcoxon.stars == "**"
    # one outlier a among near-zero differences: mean ≈ a/n, SD ≈ a/√n, so t ≈ 1; two-sided p of t = 1 with
    # 11 degrees of freedom is 0.3388 (t tables)
    assert ttest.p == pytest.approx(0.3388, abs=0.002) and ttest.stars == ""
    with pytest.raises(ValueError):
        build_table("t", methods, "SESA", "kruskal")


def test_rows_without_their_own_la_show_na_and_no_reference_means_no_marks(tmp_path: Path):
    values = {"Dice_LA": [1.0, 1.0, 1.0], "ASD_mm": [0.0] * 3, "HD_mm": [0.0] * 3}
    values |= {"Accuracy": [0.8, 0.9, 1.0], "Dice_s": [0.4, 0.5, 0.6], "Dice_g": [0.7, 0.8, 0.9]}
    manual = MethodResults("LA_M+Otsu", _per_case(values), reports_la=False)
    table = build_table("Table 2", [manual], reference="AJSQnet-SESA")
    assert table.reference is None  # not run yet: no marks at all
    texts = [cell.text() for cell in table.cells[0]]
    assert texts == ["N/A", "N/A", "N/A", "0.900 ± 0.100", "0.500 ± 0.100", "0.800 ± 0.100"]
    markdown = format_markdown(table)
    assert "| LA_M+Otsu | N/A | N/A | N/A | 0.900 ± 0.100 | 0.500 ± 0.100 | 0.800 ± 0.100 |" in markdown
    assert "No significance marks" in markdown

    paths = write_table(table, tmp_path / "table2")
    assert [p.name for p in paths] == ["table2.md", "table2.csv", "table2_stats.csv"]
    with open(tmp_path / "table2.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["Method", *HEADERS], ["LA_M+Otsu", "N/A", "N/A", "N/A", *texts[3:]]]
    with open(tmp_path / "table2_stats.csv", newline="", encoding="utf-8") as handle:
        stats = list(csv.DictReader(handle))
    dice_s = next(r for r in stats if r["metric"] == "Dice_s")
    assert float(dice_s["mean"]) == pytest.approx(0.5) and dice_s["n"] == "3"
    assert not list(tmp_path.glob(".*"))  # atomic writes leave no temporary files


def test_notes_end_with_one_full_stop():
    from atrialjsq.evaluate.tables import sentence

    assert sentence("Not run yet: Dangi et al.") == "Not run yet: Dangi et al."
    assert sentence("Pooled: fold(s) 0 ") == "Pooled: fold(s) 0."


def test_a_mean_over_fewer_cases_than_its_column_says_so():
    """Dice_s is undefined where neither label has scar: a method calling no scar on the scar-free case drops it
    (mean over 5), one with a false positive scores 0 there (mean over 6). Side by side, the smaller set says so;
    the mark still compares the 5 cases both have."""
    dice_s = [0.8, 0.7, 0.9, 0.6, 0.75]
    a = _per_case({"Dice_s": [*dice_s, math.nan]})
    b = _per_case({"Dice_s": [*dice_s, 0.0]})
    table = build_table("t", [MethodResults("A", a), MethodResults("B", b)], reference="B")
    column = [c.metric for c in PAPER_COLUMNS].index("Dice_s")
    cell_a, cell_b = table.cells[0][column], table.cells[1][column]
    assert (cell_a.n, cell_b.n, cell_a.p) == (5, 6, 1.0)
    assert cell_a.text() == "0.750 ± 0.112 (n = 5)"  # mean 0.75, SD (ddof 1) = sqrt(0.05 / 4) = 0.1118
    assert cell_b.text() == "0.625 ± 0.322"
    assert "(n = k): the mean is over fewer cases" in format_markdown(table)
