"""Run logs: `log.csv` (one row per iteration), `val.csv` (one row per validation) and `loss.png`.

Rows are appended and flushed at least at every checkpoint; on `--resume` the rows at or after the
checkpoint's iteration (written after the last checkpoint by the interrupted run) are dropped first, so the
log always describes one uninterrupted trajectory.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from atrialjsq.io.atomic import atomic_path, save_figure


class CsvLog:
    """Append-only CSV with a header fixed by the first row written (or found in an existing file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fields: list[str] | None = None
        if self.path.is_file() and self.path.stat().st_size > 0:
            with self.path.open(newline="") as handle:
                self.fields = next(csv.reader(handle), None)

    def append(self, rows: Sequence[Mapping[str, float | int | str]]) -> None:
        if not rows:
            return
        if self.fields is None:
            self.fields = list(rows[0])
            with atomic_path(self.path) as tmp:
                with tmp.open("w", newline="") as handle:
                    csv.writer(handle).writerow(self.fields)
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields, extrasaction="ignore")
            writer.writerows(_format(row) for row in rows)

    def truncate_from(self, iteration: int) -> None:
        """Drop rows whose `iteration` is >= `iteration` (rewritten atomically)."""
        rows = read_csv(self.path)
        if self.fields is None:
            return
        kept = [row for row in rows if int(float(row["iteration"])) < iteration]
        with atomic_path(self.path) as tmp:
            with tmp.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=self.fields)
                writer.writeheader()
                writer.writerows(kept)


def _format(row: Mapping[str, float | int | str]) -> dict[str, str]:
    # repr() of a float round-trips exactly, so resumed and uninterrupted logs can be compared bit for bit.
    return {k: repr(float(v)) if isinstance(v, float) else str(v) for k, v in row.items()}


def read_csv(path: str | Path) -> list[dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def column(rows: Sequence[Mapping[str, str]], name: str) -> list[float]:
    return [float(row[name]) if row.get(name) not in (None, "") else math.nan for row in rows]


def moving_mean(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over the last `window` entries, NaN entries left out (NaN where the window holds no number):
    per-iteration losses of a batch of two jump by orders of magnitude, and only their trend is worth reading."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    out: list[float] = []
    total, count = 0.0, 0
    finite = [v if math.isfinite(v) else None for v in values]
    for i, value in enumerate(finite):
        if value is not None:
            total, count = total + value, count + 1
        dropped = finite[i - window] if i >= window else None
        if dropped is not None:
            total, count = total - dropped, count - 1
        out.append(total / count if count else math.nan)
    return out


def plot_curves(log_csv: str | Path, val_csv: str | Path, out_png: str | Path) -> Path | None:
    """Loss terms (log scale) and the total loss (linear: its SE terms can take it below zero), each as a moving
    mean over about a 50th of the run on its faint raw values, and the validation Dice against iteration; nothing
    is written without rows."""
    rows = read_csv(log_csv)
    if not rows:
        return None
    import matplotlib  # figures only: deferred, slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # figures only: deferred, slow to import

    iterations = column(rows, "iteration")
    window = max(1, len(rows) // 50)
    part_names = [name for name in rows[0] if name.startswith("loss_")]
    fig, (ax_parts, ax_total, ax_val) = plt.subplots(1, 3, figsize=(15, 4))
    for name in part_names:
        values = column(rows, name)
        if any(v > 0 for v in values if math.isfinite(v)):
            positive = [v if v > 0 else math.nan for v in values]
            (line,) = ax_parts.plot(iterations, moving_mean(positive, window), label=name, linewidth=1.2)
            ax_parts.plot(iterations, positive, color=line.get_color(), alpha=0.12, linewidth=0.5)
    ax_parts.set_yscale("log")
    ax_parts.set_ylabel("loss term")
    if ax_parts.get_legend_handles_labels()[1]:
        ax_parts.legend(fontsize=7)
    ax_parts.set_title(f"loss terms (mean over {window} iterations)")
    if "loss" in rows[0]:
        total = column(rows, "loss")
        ax_total.plot(iterations, total, color="0.6", alpha=0.3, linewidth=0.5)
        ax_total.plot(iterations, moving_mean(total, window), color="k", linewidth=1.5)
    ax_total.set_title("total loss")
    val_rows = read_csv(val_csv)
    if val_rows:
        val_iterations = column(val_rows, "iteration")
        for name in ("la_dice", "scar_dice"):
            ax_val.plot(val_iterations, column(val_rows, name), marker="o", label=name)
        ax_val.set_ylim(0, 1)
        ax_val.legend(fontsize=7)
    else:
        # no validation cases, or none scored yet (a run stopped before its first validation)
        ax_val.text(0.5, 0.5, "no validation scores:\nlast.pt is the model", ha="center", va="center")
        ax_val.set_axis_off()
    ax_val.set_title("validation Dice")
    for ax in (ax_parts, ax_total, ax_val):
        ax.set_xlabel("iteration")
    fig.tight_layout()
    return save_figure(fig, out_png, dpi=100)
