"""Run logs: the moving mean the loss figure draws, and the figure of a run without validation cases."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from atrialjsq.train import logging as logging_module
from atrialjsq.train.logging import CsvLog, moving_mean, plot_curves


def test_moving_mean_by_hand_skips_missing_values() -> None:
    assert moving_mean([1.0, 2.0, 3.0, 4.0], 2) == [1.0, 1.5, 2.5, 3.5]
    assert moving_mean([1.0, 2.0, 3.0, 4.0], 1) == [1.0, 2.0, 3.0, 4.0]
    # a NaN is left out of its windows; a window of NaN only is NaN
    smoothed = moving_mean([math.nan, 2.0, math.nan, 6.0, math.nan, math.nan], 2)
    assert math.isnan(smoothed[0]) and smoothed[1:4] == [2.0, 2.0, 6.0] and smoothed[4] == 6.0
    assert math.isnan(smoothed[5])
    # a window longer than the run is the running mean
    assert moving_mean([4.0, 0.0, 2.0], 10) == [4.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="window"):
        moving_mean([1.0], 0)


def test_the_figure_of_a_run_without_validation_and_with_a_negative_total(tmp_path: Path, monkeypatch) -> None:
    log = CsvLog(tmp_path / "log.csv")
    # 200 rows: the figure's moving mean spans 4 iterations; the total falls below zero (a linear axis)
    log.append([{"iteration": i, "loss": 1.0 - 0.01 * i, "loss_la_bce": 0.5 / (i + 1)} for i in range(200)])
    out = plot_curves(tmp_path / "log.csv", tmp_path / "val.csv", tmp_path / "loss.png")
    assert out == tmp_path / "loss.png" and out.stat().st_size > 1000
    figures = []
    monkeypatch.setattr(logging_module, "save_figure", lambda fig, path, dpi: figures.append(fig) or Path(path))
    plot_curves(tmp_path / "log.csv", tmp_path / "val.csv", tmp_path / "again.png")
    parts, total, validation = figures[0].axes
    assert parts.get_yscale() == "log" and total.get_yscale() == "linear"
    raw, smooth = total.get_lines()
    assert smooth.get_ydata()[3] == pytest.approx((1.0 + 0.99 + 0.98 + 0.97) / 4)  # the trailing 4-iteration mean
    assert smooth.get_ydata()[199] == pytest.approx(1.0 - 0.01 * 197.5)  # iterations 196-199
    assert min(raw.get_ydata()) < 0 and not validation.axison  # no validation: the panel says so, no axes
    assert plot_curves(tmp_path / "none.csv", tmp_path / "val.csv", tmp_path / "empty.png") is None
    assert not (tmp_path / "empty.png").exists()
