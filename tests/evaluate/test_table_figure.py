"""The per-case figure of a results table (`evaluate.table_figure`): what goes into each box, and the PNG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from atrialjsq.evaluate.table_figure import panel_boxes, plot_table
from atrialjsq.evaluate.table_files import write_table
from atrialjsq.evaluate.tables import PAPER_COLUMNS, MethodResults, build_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _methods() -> list[MethodResults]:
    # 12 cases. "better" beats the reference on every case by a distinct margin, so the exact two-sided
    # Wilcoxon p for Dice_LA is 2 / 2^12 (**); its HD of case 0 is infinite (an empty prediction) and is left
    # out of the box but counted. "given LA" takes its LA from elsewhere: no LA boxes, only scar ones.
    n = 12
    reference = {f"c{i}": {"Dice_LA": 0.80 + 0.01 * i, "HD_mm": 10.0 + i, "Dice_s": 0.5} for i in range(n)}
    better = {
        f"c{i}": {"Dice_LA": 0.80 + 0.01 * i + 0.001 * (i + 1), "HD_mm": math.inf if i == 0 else 9.0, "Dice_s": 0.6}
        for i in range(n)
    }
    given = {f"c{i}": {"Dice_s": 0.4 + 0.01 * i} for i in range(n)}
    return [
        MethodResults("reference", reference),
        MethodResults("better", better),
        MethodResults("given LA", given, reports_la=False),
    ]


def _columns():
    by_metric = {column.metric: column for column in PAPER_COLUMNS}
    return [by_metric["Dice_LA"], by_metric["HD_mm"], by_metric["Dice_s"]]


def test_boxes_hold_each_methods_finite_values_with_the_tables_marks() -> None:
    methods = _methods()
    table = build_table("t", methods, reference="reference", columns=_columns())
    panels = dict(panel_boxes(table, methods))
    assert list(panels) == ["DiceLA (LA)", "HD (mm) (LA)", "Dice_s (Scar)"]
    dice = {box.label: box for box in panels["DiceLA (LA)"]}
    assert list(dice) == ["reference", "better"]  # the given-LA row has no LA output: no box
    assert dice["reference"].reference and not dice["better"].reference
    assert dice["better"].stars == "**" and dice["reference"].stars == ""
    np.testing.assert_allclose(np.sort(dice["reference"].values), 0.80 + 0.01 * np.arange(12))
    hd = {box.label: box for box in panels["HD (mm) (LA)"]}
    assert hd["better"].left_out == 1 and hd["better"].values.size == 11 and np.all(hd["better"].values == 9.0)
    scar = {box.label: box for box in panels["Dice_s (Scar)"]}
    assert list(scar) == ["reference", "better", "given LA"]
    assert float(np.median(scar["given LA"].values)) == pytest.approx(0.455)  # (0.45 + 0.46) / 2


def test_a_table_row_without_per_case_values_is_refused() -> None:
    methods = _methods()
    table = build_table("t", methods, reference="reference", columns=_columns())
    with pytest.raises(ValueError, match="better"):
        panel_boxes(table, [methods[0], methods[2]])


def test_write_table_adds_the_png_only_when_given_the_rows(tmp_path: Path) -> None:
    methods = _methods()
    table = build_table("t", methods, reference="reference", columns=_columns())
    plain = write_table(table, tmp_path / "plain")
    assert [p.name for p in plain] == ["plain.md", "plain.csv", "plain_stats.csv"]
    with_figure = write_table(table, tmp_path / "fig", methods=methods)
    assert with_figure[-1] == tmp_path / "fig.png"
    assert (tmp_path / "fig.png").read_bytes()[:8] == PNG_SIGNATURE
    names = sorted(p.name for p in tmp_path.iterdir())  # hidden temporaries included: none left behind
    assert names == sorted(
        ["plain.md", "plain.csv", "plain_stats.csv", "fig.md", "fig.csv", "fig_stats.csv", "fig.png"]
    )


def test_no_figure_when_no_case_has_a_finite_value(tmp_path: Path) -> None:
    empty = [MethodResults("only", {"c0": {"Dice_LA": math.nan, "HD_mm": math.inf, "Dice_s": math.nan}})]
    table = build_table("t", empty, columns=_columns())
    assert plot_table(table, empty, tmp_path / "t.png") is None
    assert not (tmp_path / "t.png").exists()
