"""The budget comparison pools fold folders, pairs cases, and computes the real-scan ratio and ranking by hand."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from script_loader import load_script

SCRIPT = Path(__file__).parents[2] / "studies" / "lasc2018" / "scripts" / "budget_comparison.py"


def _csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _fold(root: Path, cases: list[str], dice: list[float], network: list[float], iir: list[float]) -> Path:
    _csv(
        root / "la_native_per_case.csv",
        [{"case": c, "Dice_LA": d, "HD95_vox": 2.0} for c, d in zip(cases, dice, strict=True)],
    )
    scar = [{"case": c, "Dice_s": d / 2, "scar_pct_error": 1.0} for c, d in zip(cases, dice, strict=True)]
    _csv(root / "AJSQnet-SESA_per_case.csv", scar)
    _csv(root / "LA_M_IIR_per_case.csv", [{"case": c, "Dice_s": 0.4, "scar_pct_error": 3.0} for c in cases])
    rows = [
        {"case": c, "network_percent": n, "iir_1.32_percent": i, "iir_1.2_percent": 2 * i}
        for c, n, i in zip(cases, network, iir, strict=True)
    ]
    _csv(root / "real_burden" / "burden_agreement.csv", rows)
    return root


def test_two_folds_pooled_and_paired_by_case(tmp_path):
    module = load_script(SCRIPT)
    short = [
        _fold(tmp_path / "s0", ["a", "b"], [0.80, 0.90], [1.0, 5.0], [1.0, 10.0]),
        _fold(tmp_path / "s1", ["c", "d"], [0.70, 0.60], [6.0, 20.0], [12.0, 40.0]),
    ]
    long = [
        _fold(tmp_path / "l0", ["a", "b"], [0.85, 0.95], [1.0, 8.0], [1.0, 10.0]),
        _fold(tmp_path / "l1", ["c", "d"], [0.75, 0.65], [9.0, 30.0], [12.0, 40.0]),
    ]
    rows = {row["metric"]: row for row in module.compare(short, long, None)}
    dice = rows["LA Dice (native grid)"]
    assert dice["n"] == 4 and dice["short"] == pytest.approx(0.75) and dice["long"] == pytest.approx(0.80)
    assert dice["wilcoxon_p"] == pytest.approx(0.125)  # four positive differences: 2 / 2⁴
    # long: 0.85, 0.95, 0.75, 0.65 → deviations ±0.05, ±0.15 from 0.80: sample SD √(2·0.0025 + 2·0.0225) / √3
    assert dice["long_sd"] == pytest.approx(np.sqrt(0.05 / 3))
    full = rows["scar Dice_s, full surface"]
    assert full["long"] == pytest.approx(0.40) and full["LA_M+IIR"] == pytest.approx(0.4)
    assert "scar Dice_s, known surface" not in rows  # no known/ tables and no --short-known
    # ratios where IIR ≥ 2 %: short 0.5, 0.5, 0.5 → 0.5; long 0.8, 0.75, 0.75 → 0.75 (case a left out)
    burden = module.burden_agreement(long)
    assert burden["cases_with_iir_1.32_at_least_2_percent"] == 3
    assert burden["median_ratio_vs_iir_1.32_where_at_least_2_percent"] == 0.75
    assert burden["spearman_vs_iir_1.32"] == 1.0
    assert module.burden_agreement(short)["median_ratio_vs_iir_1.32_where_at_least_2_percent"] == 0.5


def test_learngc_rows_come_from_their_own_folders_per_surface(tmp_path):
    module = load_script(SCRIPT)
    short = [_fold(tmp_path / "s0", ["a", "b", "c"], [0.80, 0.90, 0.70], [1.0, 5.0, 6.0], [1.0, 10.0, 12.0])]
    long = [_fold(tmp_path / "l0", ["a", "b", "c"], [0.90, 1.00, 0.80], [1.0, 8.0, 9.0], [1.0, 10.0, 12.0])]
    full, known = tmp_path / "learngc_full", tmp_path / "learngc_known"
    _csv(
        full / "LA_M_LearnGC_per_case.csv",
        [{"case": c, "Dice_s": v} for c, v in zip("abc", [0.3, 0.4, 0.5], strict=True)],
    )
    _csv(known / "LA_M_LearnGC_per_case.csv", [{"case": c, "Dice_s": 0.9} for c in "abc"])
    for folder in (*short, *long):  # known-surface tables: the network's Dice_s is its full one + 0.1
        network = module.pooled([folder], "AJSQnet-SESA_per_case.csv")
        rows = [{"case": c, "Dice_s": network[c]["Dice_s"] + 0.1, "Sensitivity": 1, "Specificity": 1} for c in "abc"]
        _csv(folder / "known" / "AJSQnet-SESA_per_case.csv", rows)
    rows = {row["metric"]: row for row in module.compare(short, long, None, [full, known])}
    # long network full-surface Dice_s: 0.45, 0.5, 0.4 (half the LA Dice) → mean 0.45; LearnGC 0.4
    assert rows["scar Dice_s, full surface"]["LA_M+LearnGC"] == pytest.approx(0.4)
    assert rows["scar Dice_s, known surface"]["LA_M+LearnGC"] == pytest.approx(0.9)
    assert rows["scar Dice_s, known surface"]["long"] == pytest.approx(0.55)
    assert "LA_M+LearnGC" not in rows["LA Dice (native grid)"]
    table = module.markdown(list(rows.values()), ["short", "long"])
    assert "IIR / Otsu / MGMM / LearnGC" not in table  # Otsu and MGMM were not given: no column for them
    assert "IIR / LearnGC" in table and "0.400 (" in table
