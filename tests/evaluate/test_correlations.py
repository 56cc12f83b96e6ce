"""Fig. 8 fits on constructed data with known r², and the PNG the command writes."""

import csv

import numpy as np
import pytest
from matplotlib import image as mpimg

from atrialjsq.cli import main
from atrialjsq.errors import InputError
from atrialjsq.evaluate.correlations import columns_of, correlation_fits, linear_fit


def test_exact_line_and_hand_computed_r2():
    x = np.array([0.80, 0.85, 0.90, 0.95])
    exact = linear_fit(x, 2 * x - 1)
    assert exact.slope == pytest.approx(2) and exact.intercept == pytest.approx(-1) and exact.r2 == pytest.approx(1)
    # x = 1..4, y = 1, 3, 2, 4: Σdxdy = 4, Σdx² = Σdy² = 5, so r = 0.8 and r² = 0.64.
    partial = linear_fit([1, 2, 3, 4], [1, 3, 2, 4])
    assert partial.r2 == pytest.approx(0.64) and partial.slope == pytest.approx(0.8)


def test_undefined_points_are_dropped():
    fit = linear_fit([1, 2, np.nan, 3, np.inf], [2, 4, 5, 6, 1])
    assert fit.n == 3 and fit.r2 == pytest.approx(1.0)
    assert np.isnan(linear_fit([1.0], [2.0]).r2)


def _write(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_command_writes_png_and_prints_r2(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        manual = 5.0 + 2.0 * i
        rows.append(
            {
                "case": f"c{i:02d}",
                "Dice_LA": 0.85 + 0.01 * i,
                "Dice_s": 0.3 + 0.02 * i,  # exactly linear in Dice_LA and in the manual scar %
                "scar_pct_manual": manual,
                "scar_pct_auto": 0.5 * manual + 3.0 + (rng.normal() if i % 2 else 0.0),
            }
        )
    rows.append({"case": "nan", "Dice_LA": 0.9, "Dice_s": "nan", "scar_pct_manual": 0.0, "scar_pct_auto": 0.0})
    _write(tmp_path / "per_case.csv", rows)
    out = tmp_path / "fig8.png"
    assert main(["plot-correlations", str(tmp_path / "per_case.csv"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "dice_s_vs_dice_la: r² = 1.000" in text and "dice_s_vs_scar_pct_manual: r² = 1.000" in text
    assert "warning" not in captured.err  # 12 and 13 usable cases
    picture = mpimg.imread(out)
    assert picture.shape[0] > 400 and picture.shape[1] > 1200
    assert picture[..., :3].std() > 0.05  # not a blank canvas
    table = {row["case"]: {k: float(v) for k, v in row.items() if k != "case"} for row in rows}
    fits = correlation_fits(columns_of(table, "x"))
    assert fits["dice_s_vs_dice_la"].n == 12 and fits["scar_pct_auto_vs_manual"].n == 13
    assert 0.5 < fits["scar_pct_auto_vs_manual"].r2 < 1.0


def test_missing_column_names_the_file(tmp_path):
    _write(tmp_path / "p.csv", [{"case": "a", "Dice_LA": 0.9}])
    with pytest.raises(InputError, match="Dice_s"):
        columns_of({"a": {"Dice_LA": 0.9}}, tmp_path / "p.csv")
    assert main(["plot-correlations", str(tmp_path / "p.csv"), "--out", str(tmp_path / "f.png")]) == 1
    assert not (tmp_path / "f.png").exists()


def test_too_few_cases_for_a_correlation_are_warned(tmp_path, capsys):
    rows = [
        {"case": "a", "Dice_LA": 0.9, "Dice_s": 0.5, "scar_pct_manual": 10.0, "scar_pct_auto": ""},
        {"case": "b", "Dice_LA": 0.8, "Dice_s": 0.6, "scar_pct_manual": 20.0, "scar_pct_auto": ""},
    ]
    _write(tmp_path / "p.csv", rows)
    assert main(["plot-correlations", str(tmp_path / "p.csv"), "--out", str(tmp_path / "f.png")]) == 0
    err = capsys.readouterr().err
    # two cases: every fit is exact and says nothing; the empty scar_pct_auto leaves none
    assert f"warning: {tmp_path / 'p.csv'}: dice_s_vs_dice_la has 2 usable case(s)" in err
    assert "dice_s_vs_scar_pct_auto has 0 usable case(s)" in err


def test_a_figure_name_that_is_not_png_and_a_folder_for_the_csv_are_refused(tmp_path, capsys):
    _write(tmp_path / "p.csv", [{"case": "a", "Dice_LA": 0.9, "Dice_s": 0.5, "scar_pct_manual": 1, "scar_pct_auto": 2}])
    assert main(["plot-correlations", str(tmp_path / "p.csv"), "--out", str(tmp_path / "g.txt")]) == 1
    assert (
        capsys.readouterr().err.strip() == f"error: {tmp_path / 'g.txt'}: the figure is a PNG: give --out a .png name"
    )
    assert main(["plot-correlations", str(tmp_path), "--out", str(tmp_path / "f.png")]) == 1
    assert capsys.readouterr().err.strip() == f"error: {tmp_path}: is a folder, not a per-case CSV"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]
