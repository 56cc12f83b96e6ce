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


def plot_curves(log_csv: str | Path, val_csv: str | Path, out_png: str | Path) -> Path | None:
    """Loss parts against iteration (log scale) and validation Dice; nothing is written without rows."""
    rows = read_csv(log_csv)
    if not rows:
        return None
    import matplotlib  # figures only: deferred, slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # figures only: deferred, slow to import

    iterations = column(rows, "iteration")
    loss_names = [name for name in rows[0] if name == "loss" or name.startswith("loss_")]
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for name in loss_names:
        values = column(rows, name)
        if any(v > 0 for v in values if math.isfinite(v)):
            ax_loss.plot(iterations, values, label=name, linewidth=1.5 if name == "loss" else 0.8)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(fontsize=7)
    ax_loss.set_title("training loss")
    val_rows = read_csv(val_csv)
    if val_rows:
        val_iterations = column(val_rows, "iteration")
        for name in ("la_dice", "scar_dice"):
            ax_val.plot(val_iterations, column(val_rows, name), marker="o", label=name)
        ax_val.set_ylim(0, 1)
        ax_val.legend(fontsize=7)
    ax_val.set_xlabel("iteration")
    ax_val.set_title("validation Dice")
    fig.tight_layout()
    return save_figure(fig, out_png, dpi=100)
