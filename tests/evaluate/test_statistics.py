"""Summary statistics by hand, and paired tests on constructed pairs whose p-values are known in closed form."""

import csv
import math

import numpy as np
import pytest

from atrialjsq.cli import main
from atrialjsq.errors import InputError
from atrialjsq.evaluate.statistics import (
    compare_tables,
    mean_sd_text,
    paired_tests,
    read_metric_csv,
    significance_stars,
    summary_stats,
)


def _write_csv(path, rows):
    columns = list(rows[0])
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_summary_stats_of_no_value_is_nan_with_n_zero():
    for values in ([], [math.nan, math.nan]):
        stats = summary_stats(values)
        assert stats["n"] == 0 and all(math.isnan(stats[key]) for key in ("mean", "std", "median"))


def test_summary_stats_of_one_value_has_an_undefined_sd():
    stats = summary_stats([0.8, math.nan])
    assert (stats["mean"], stats["median"], stats["n"]) == (0.8, 0.8, 1) and math.isnan(stats["std"])


def test_summary_stats_of_three_values_drops_the_nan():
    # 1, 2, 6: mean 3, deviations −2, −1, 3 → sum of squares 14, sample variance 14 / 2 = 7
    stats = summary_stats([1.0, math.nan, 6.0, 2.0])
    assert stats == {"mean": 3.0, "std": pytest.approx(math.sqrt(7.0)), "median": 2.0, "n": 3}


def test_summary_stats_keeps_an_infinite_value():
    stats = summary_stats(np.array([1.0, np.inf, 3.0]))
    assert stats["mean"] == math.inf and math.isnan(stats["std"]) and stats["median"] == 3.0 and stats["n"] == 3


def test_mean_sd_text_prints_a_dash_not_nan():
    assert mean_sd_text(summary_stats([1.0, 2.0, 6.0])) == "3.000 ± 2.646"  # √7 = 2.6458
    assert mean_sd_text(summary_stats([0.8])) == "0.800 ± –"
    assert mean_sd_text(summary_stats([])) == "–"
    assert mean_sd_text(summary_stats([0.25, 0.75]), "{:.1%}".format) == "50.0% ± 35.4%"  # SD = 0.5/√2


def test_wilcoxon_exact_p_when_every_difference_has_one_sign():
    # 10 pairs, B always larger, distinct |differences|: exact two-sided p = 2 / 2**10.
    a = np.arange(10.0)
    b = a + np.linspace(0.1, 1.0, 10)
    wilcoxon_p, _ = paired_tests(a, b)
    assert wilcoxon_p == pytest.approx(2 / 2**10)
    assert significance_stars(wilcoxon_p) == "*"


def test_a_failed_case_counts_as_the_worst_result_not_a_dropped_pair():
    """A 0.1-0.9 mm better on nine cases, and an empty mask (HD = inf) on the tenth. Dropped, the nine would
    give p = 2/2**9 in A's favour. Counted as the largest difference: W+ = 10 (its rank) against W- = 45; of the
    2**10 sign patterns, 43 have a positive rank sum <= 10 (the subsets of 1..10 summing to at most 10), so the
    exact two-sided p is 2·43/2**10. The t-test has no mean to test: n/a."""
    b = np.arange(10.0) + 5.0
    a = b - np.append(np.linspace(0.1, 0.9, 9), 0.0)
    a[9] = np.inf
    wilcoxon_p, ttest_p = paired_tests(a, b)
    assert wilcoxon_p == pytest.approx(2 * 43 / 2**10) and math.isnan(ttest_p)
    results, _ = compare_tables(
        {f"c{i}": {"HD_mm": a[i]} for i in range(10)}, {f"c{i}": {"HD_mm": b[i]} for i in range(10)}
    )
    assert results[0].n == 10 and results[0].mean_a == np.inf


def test_paired_t_matches_closed_form_for_two_degrees_of_freedom():
    # Differences 1, 2, 3: mean 2, sd 1, t = 2√3, df = 2, where the two-sided p is 1 − t / √(t² + 2).
    a = np.array([5.0, 1.0, 7.0])
    b = a + np.array([1.0, 2.0, 3.0])
    t = 2 * math.sqrt(3)
    _, ttest_p = paired_tests(a, b)
    assert ttest_p == pytest.approx(1 - t / math.sqrt(t**2 + 2))


def test_float_noise_ties_in_both_tests():
    """The same predictions scored twice (another numpy or edt build) differ by ~1e-16: neither test may call
    that a difference. The t-test ran on the raw values and gave p < 0.001 for it."""
    a = np.array([0.1 + 0.2, 0.7, 0.55, 0.8, 0.9, 0.61])
    assert paired_tests(a, a * (1 + 1e-15)) == (1.0, 1.0)


def test_identical_and_tiny_samples():
    assert paired_tests(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == (1.0, 1.0)
    assert all(math.isnan(p) for p in paired_tests(np.array([1.0]), np.array([2.0])))


def test_stars_follow_the_paper():
    assert [significance_stars(p) for p in (0.5, 0.01, 0.0099, 0.001, 0.0009, math.nan)] == ["", "", "*", "*", "**", ""]


def test_compare_pairs_by_case_and_drops_undefined_values(tmp_path):
    a_rows = [{"case": f"c{i}", "Dice_s": i / 10, "HD_mm": 10.0 + i, "n_surface": 100} for i in range(10)]
    b_rows = [
        {"case": f"c{i}", "Dice_s": i / 10 + 0.01 * (i + 1), "HD_mm": 10.0 + i, "n_surface": 100} for i in range(10)
    ]
    a_rows[3]["Dice_s"] = "nan"
    b_rows.append({"case": "extra", "Dice_s": 0.5, "HD_mm": 1.0, "n_surface": 100})
    table_a = read_metric_csv(_write_csv(tmp_path / "a.csv", a_rows))
    table_b = read_metric_csv(_write_csv(tmp_path / "b.csv", b_rows))
    results, cases = compare_tables(table_a, table_b)
    assert len(cases) == 10
    by_metric = {r.metric: r for r in results}
    assert "n_surface" not in by_metric
    dice = by_metric["Dice_s"]
    assert dice.n == 9  # the NaN case is left out
    assert dice.wilcoxon_p == pytest.approx(2 / 2**9)
    assert by_metric["HD_mm"].wilcoxon_p == 1.0 and by_metric["HD_mm"].mean_a == pytest.approx(14.5)


def test_cli_prints_markdown_with_stars(tmp_path, capsys):
    a = _write_csv(tmp_path / "a.csv", [{"case": f"c{i}", "Dice_s": float(i)} for i in range(10)])
    b = _write_csv(tmp_path / "b.csv", [{"case": f"c{i}", "Dice_s": i + 0.1 * (i + 1)} for i in range(10)])
    out = tmp_path / "cmp.csv"
    assert main(["compare", str(a), str(b), "--names", "base", "new", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| metric | n | mean base | mean new |" in text
    assert "| Dice_s | 10 |" in text and "0.00195*" in text
    with open(out) as handle:
        row = next(csv.DictReader(handle))
    assert float(row["wilcoxon_p"]) == pytest.approx(2 / 2**10) and row["wilcoxon_stars"] == "*"


def test_bad_csv_is_an_input_error(tmp_path):
    (tmp_path / "x.csv").write_text("name,Dice\na,1\n")
    with pytest.raises(InputError, match="case"):
        read_metric_csv(tmp_path / "x.csv")
    assert main(["compare", str(tmp_path / "x.csv"), str(tmp_path / "missing.csv")]) == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"case,Dice_s\nc1,0.5\nc2,abc\n", "case 'c2': Dice_s is 'abc', not a number"),
        (b"case,Dice_s,HD_mm\nc1,0.5,3\nc2,0.6\n", "line 3 (case 'c2') has fewer cells than the header"),
        (b"case,Dice_s\nc1,\xff\xfe0.5\n", "is not a UTF-8 text CSV"),
    ],
)
def test_a_cell_that_would_silently_drop_a_case_is_refused(tmp_path, capsys, content, reason):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    good = _write_csv(tmp_path / "good.csv", [{"case": "c1", "Dice_s": 0.4}, {"case": "c2", "Dice_s": 0.7}])
    assert main(["compare", str(good), str(bad)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {bad}: {reason}"


def test_text_columns_empty_cells_and_inf_are_read_as_written(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("case,layout,Dice_s,HD_mm\nc1,lascarqs1,0.5,inf\nc2,imagesTr,,3\nc3,imagesTr,nan,2\n")
    table = read_metric_csv(path)
    assert math.isnan(table["c1"]["layout"]) and math.isinf(table["c1"]["HD_mm"])
    assert math.isnan(table["c2"]["Dice_s"]) and math.isnan(table["c3"]["Dice_s"]) and table["c3"]["HD_mm"] == 2.0
