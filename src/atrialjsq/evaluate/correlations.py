"""The paper's correlation study (§4.2.3, Fig. 8): scatter plots with least-squares lines and r².

(a) Dice_s against Dice_LA; (b) Dice_s against the manual (green) and automatic (orange) scar percentage;
(c) automatic against manual scar percentage. Cases where a value is undefined (NaN/inf) are left out of
that panel only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from atrialjsq.errors import InputError
from atrialjsq.io.atomic import save_figure

REQUIRED_COLUMNS = ("Dice_LA", "Dice_s", "scar_pct_manual", "scar_pct_auto")
MANUAL_COLOUR, AUTO_COLOUR = "tab:green", "tab:orange"


@dataclass(frozen=True)
class LinearFit:
    """Least-squares line y = slope·x + intercept and its coefficient of determination over n points."""

    slope: float
    intercept: float
    r2: float
    n: int


def linear_fit(x, y) -> LinearFit:
    """Fit over the points where both values are finite; NaN fit with fewer than 2 points or constant x."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2 or np.ptp(x) == 0:
        return LinearFit(math.nan, math.nan, math.nan, int(x.size))
    result = stats.linregress(x, y)
    r2 = float(result.rvalue**2) if np.ptp(y) > 0 else 1.0  # a flat y lies exactly on the flat line
    return LinearFit(float(result.slope), float(result.intercept), r2, int(x.size))


def columns_of(table: dict[str, dict[str, float]], source: str | Path) -> dict[str, np.ndarray]:
    """The four columns Fig. 8 needs, as arrays in case order (raises `InputError` naming `source`)."""
    first = next(iter(table.values()))
    absent = [name for name in REQUIRED_COLUMNS if name not in first]
    if absent:
        raise InputError(source, f"missing column(s) {', '.join(absent)} (needs {', '.join(REQUIRED_COLUMNS)})")
    return {name: np.array([row[name] for row in table.values()], dtype=np.float64) for name in REQUIRED_COLUMNS}


def correlation_fits(columns: dict[str, np.ndarray]) -> dict[str, LinearFit]:
    """The four fits of Fig. 8: panel a, panel b (manual and automatic), panel c."""
    return {
        "dice_s_vs_dice_la": linear_fit(columns["Dice_LA"], columns["Dice_s"]),
        "dice_s_vs_scar_pct_manual": linear_fit(columns["scar_pct_manual"], columns["Dice_s"]),
        "dice_s_vs_scar_pct_auto": linear_fit(columns["scar_pct_auto"], columns["Dice_s"]),
        "scar_pct_auto_vs_manual": linear_fit(columns["scar_pct_manual"], columns["scar_pct_auto"]),
    }


def _scatter_with_line(axis, x, y, fit: LinearFit, colour: str, label: str) -> None:
    keep = np.isfinite(x) & np.isfinite(y)
    axis.scatter(x[keep], y[keep], s=18, color=colour, alpha=0.8, edgecolors="none")
    if math.isfinite(fit.slope):
        xs = np.array([x[keep].min(), x[keep].max()])
        axis.plot(xs, fit.slope * xs + fit.intercept, color=colour, label=f"{label} (r² = {fit.r2:.3f}, n = {fit.n})")


def plot_correlations(columns: dict[str, np.ndarray], path: str | Path, title: str | None = None):
    """Draw the three panels into a PNG at `path` (atomically); returns the fits."""
    import matplotlib  # figures only: deferred, slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # figures only: deferred, slow to import

    fits = correlation_fits(columns)
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    a, b, c = axes
    _scatter_with_line(a, columns["Dice_LA"], columns["Dice_s"], fits["dice_s_vs_dice_la"], "tab:blue", "fit")
    a.set(xlabel="Dice LA", ylabel="Dice scar", title="(a) Dice scar vs Dice LA")
    _scatter_with_line(
        b, columns["scar_pct_manual"], columns["Dice_s"], fits["dice_s_vs_scar_pct_manual"], MANUAL_COLOUR, "manual"
    )
    _scatter_with_line(
        b, columns["scar_pct_auto"], columns["Dice_s"], fits["dice_s_vs_scar_pct_auto"], AUTO_COLOUR, "automatic"
    )
    b.set(xlabel="scar percentage of the LA surface (%)", ylabel="Dice scar", title="(b) Dice scar vs scar %")
    _scatter_with_line(
        c, columns["scar_pct_manual"], columns["scar_pct_auto"], fits["scar_pct_auto_vs_manual"], "tab:red", "fit"
    )
    both = np.concatenate([columns["scar_pct_manual"], columns["scar_pct_auto"]])
    both = both[np.isfinite(both)]
    if both.size:
        c.plot([both.min(), both.max()], [both.min(), both.max()], "--", color="grey", lw=1, label="y = x")
    c.set(xlabel="manual scar (%)", ylabel="automatic scar (%)", title="(c) automatic vs manual scar %")
    for axis in axes:
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(loc="best", fontsize=9)
    if title:
        figure.suptitle(title)
    save_figure(figure, path, dpi=120)
    return fits
