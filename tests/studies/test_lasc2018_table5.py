"""Table 5 on real data from per-fold per-case tables: pooling by case, marks against U-Net_LA-SE, refusals."""

from __future__ import annotations

import csv

import pytest
from studies.lasc2018.table5 import real_table5

from atrialjsq.errors import InputError


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["case", "Dice_LA", "ASSD_mm", "HD_mm"])
        writer.writeheader()
        writer.writerows(rows)


def _fold(results, config, fold, dice, cases):
    pairs = enumerate(zip(cases, dice, strict=True))
    rows = [{"case": c, "Dice_LA": d, "ASSD_mm": 1.0 + i, "HD_mm": 10.0} for i, (c, d) in pairs]
    _write(results / config / f"fold{fold}_la_native_per_case.csv", rows)


def test_rows_pool_their_folds_and_are_marked_against_se(tmp_path):
    cases0, cases1 = [f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]
    _fold(tmp_path, "unet-la-se", 0, [0.90] * 6, cases0)
    _fold(tmp_path, "unet-la-se", 1, [0.92] * 6, cases1)
    # Dangi is worse than SE on every one of the 12 paired cases: Wilcoxon's exact p = 2 / 2^12 < 0.001.
    _fold(tmp_path, "unet-la-dangi", 0, [0.80 - 0.01 * i for i in range(6)], cases0)
    _fold(tmp_path, "unet-la-dangi", 1, [0.70 - 0.01 * i for i in range(6)], cases1)
    written = real_table5(tmp_path)
    text = next(p for p in written if p.suffix == ".md").read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "0.910 ± 0.010" in rows["U-Net_LA-SE"]  # (6·0.90 + 6·0.92) / 12, sample SD 0.01045
    dangi_mean = (sum(0.80 - 0.01 * i for i in range(6)) + sum(0.70 - 0.01 * i for i in range(6))) / 12
    assert f"{dangi_mean:.3f}" in rows["Dangi et al."] and "**" in rows["Dangi et al."].split("|")[2]
    assert "fold(s) 0, 1 of every row (12 held-out cases)" in text
    assert "Not run yet: U-Net_LA-BCE, Audebert et al., Xue et al." in text.splitlines()  # one full stop


def test_a_row_ahead_of_the_others_is_compared_on_the_shared_folds_only(tmp_path):
    cases0, cases1 = [f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]
    _fold(tmp_path, "unet-la-se", 0, [0.90] * 6, cases0)
    _fold(tmp_path, "unet-la-bce", 0, [0.80] * 6, cases0)
    _fold(tmp_path, "unet-la-bce", 1, [0.50] * 6, cases1)  # not in the table until SE has fold 1 too
    text = next(p for p in real_table5(tmp_path) if p.suffix == ".md").read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "0.800 ± 0.000" in rows["U-Net_LA-BCE"]
    assert "fold(s) 0 of every row (6 held-out cases)" in text
    assert "Scored, left out until every row has them: U-Net_LA-BCE fold(s) 1" in text


def test_a_case_in_two_folds_and_an_empty_folder_are_refused(tmp_path):
    with pytest.raises(InputError, match="no scored fold"):
        real_table5(tmp_path)
    _fold(tmp_path / "apart", "unet-la-se", 0, [0.9], ["a"])
    _fold(tmp_path / "apart", "unet-la-bce", 1, [0.9], ["b"])
    with pytest.raises(InputError, match="share no scored fold"):
        real_table5(tmp_path / "apart")
    _fold(tmp_path, "unet-la-se", 0, [0.9, 0.9], ["a", "b"])
    _fold(tmp_path, "unet-la-se", 1, [0.9, 0.9], ["b", "c"])
    with pytest.raises(InputError, match="another fold"):
        real_table5(tmp_path)
