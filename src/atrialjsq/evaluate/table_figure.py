"""`<table>.png`: the per-case values behind a results table, one panel per column, one box per method.

A table of mean ± SD hides what a reader comparing methods asks first: is one method better on most cases, or
is the mean carried by a few failures? Each panel draws every case as a dot over its method's box (median,
quartiles), the reference method's box shaded, and the table's significance marks above the boxes, so the
figure and the table cannot disagree. Columns a method has no output for ("N/A") and cases without a finite
value (an empty prediction's infinite distance) are left out of the boxes; how many were left out is printed
under the method's name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atrialjsq.evaluate.tables import MethodResults, ResultTable
from atrialjsq.io.atomic import save_figure

REFERENCE_COLOUR = "#f4c27a"
BOX_COLOUR = "#cfd8e3"
PANELS_PER_ROW = 3  # the paper's LA columns on one row, its scar columns on the next


@dataclass(frozen=True)
class Box:
    """One method in one panel: its finite per-case values, the cases left out, the table's marks."""

    label: str
    values: np.ndarray
    left_out: int
    stars: str
    reference: bool


def panel_boxes(table: ResultTable, methods: Sequence[MethodResults]) -> list[tuple[str, list[Box]]]:
    """Per table column that any method reports: (panel title, the boxes of the methods that report it)."""
    by_label = {method.label: method for method in methods}
    missing = [label for label in table.labels if label not in by_label]
    if missing:
        raise ValueError(f"no per-case values for table row(s) {', '.join(missing)}")
    panels = []
    for j, column in enumerate(table.columns):
        boxes = []
        for label, row in zip(table.labels, table.cells, strict=True):
            cell = row[j]
            if not cell.available:
                continue
            raw = [values.get(column.metric, math.nan) for values in by_label[label].per_case.values()]
            values = np.asarray(raw, dtype=np.float64)
            finite = values[np.isfinite(values)]
            boxes.append(Box(label, finite, int(values.size - finite.size), cell.stars, label == table.reference))
        if boxes:
            panels.append((f"{column.header} ({column.group})", boxes))
    return panels


def plot_table(table: ResultTable, methods: Sequence[MethodResults], path: str | Path) -> Path | None:
    """Draw the table's per-case values into a PNG at `path` (atomically); None when no column has a value."""
    panels = panel_boxes(table, methods)
    if not any(box.values.size for _, boxes in panels for box in boxes):
        return None
    import matplotlib  # figures only: deferred, slow to import

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # figures only: deferred, slow to import

    columns = min(len(panels), PANELS_PER_ROW)
    rows = math.ceil(len(panels) / columns)
    width = max(3.2, 0.55 * max(len(boxes) for _, boxes in panels) + 1.4)
    figure, axes = plt.subplots(rows, columns, figsize=(width * columns, 4.6 * rows), squeeze=False)
    rng = np.random.default_rng(0)  # the jitter only spreads the dots; fixed so reruns draw the same figure
    for axis, (title, boxes) in zip(axes.flat, panels, strict=False):
        _draw_panel(axis, title, boxes, rng)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    marks = f"* p < 0.01, ** p < 0.001 against {table.reference} (paired by case)" if table.reference else ""
    figure.suptitle(f"{table.title}\n{marks}" if marks else table.title, fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path, dpi=110)


def _draw_panel(axis, title: str, boxes: list[Box], rng: np.random.Generator) -> None:
    positions = np.arange(1, len(boxes) + 1)
    drawn = [(p, box) for p, box in zip(positions, boxes, strict=True) if box.values.size]
    if drawn:
        artists = axis.boxplot(
            [box.values for _, box in drawn],
            positions=[p for p, _ in drawn],
            widths=0.6,
            showfliers=False,
            patch_artist=True,
            medianprops={"color": "black"},
        )
        for patch, (_, box) in zip(artists["boxes"], drawn, strict=True):
            patch.set_facecolor(REFERENCE_COLOUR if box.reference else BOX_COLOUR)
        for p, box in drawn:
            jitter = rng.uniform(-0.18, 0.18, box.values.size)
            axis.scatter(p + jitter, box.values, s=9, color="tab:blue", alpha=0.6, edgecolors="none", zorder=3)
        top = max(float(box.values.max()) for _, box in drawn)
        bottom = min(float(box.values.min()) for _, box in drawn)
        for p, box in drawn:
            if box.stars:
                axis.text(p, top + 0.04 * (top - bottom or 1.0), box.stars, ha="center", va="bottom")
        axis.set_ylim(top=top + 0.12 * (top - bottom or 1.0))
    names = [box.label + (f"\n({box.left_out} left out)" if box.left_out else "") for box in boxes]
    axis.set_xticks(positions, names, rotation=35, ha="right", fontsize=8)
    axis.set_xlim(0.4, len(boxes) + 0.6)
    axis.set_title(title, fontsize=10)
    axis.grid(axis="y", alpha=0.3)
