"""Time-to-accuracy curves: score every snapshot of time-boxed recipe runs through the Predictor, then plot.

    python studies/lasc2018/scripts/score_snapshots.py RUNS_DIR OUT_CSV FIGURE [--fold 0] \
        [--src DIR]   (default: $LASC2018, else ../shared/data/lasc2018)

RUNS_DIR holds one folder per recipe (`time_to_accuracy.sh` beside this script), each with fold<k>/snapshots/t*.pt, the
deadline's fold<k>/last.pt and folds.json. Each model is scored on the fold's held-out cases exactly as
`atrialjsq predict` runs it (original images, native grid, largest component; `python -m studies.lasc2018 score-model`).
OUT_CSV gets one row per (recipe, model): training seconds, iterations, mean ± SD of Dice, HD95 and ASD in
voxels; the figure plots mean Dice and HD95 against CPU minutes. Numbers only: no images are written.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from atrialjsq.data.splits import load_folds
from atrialjsq.train.checkpoint import load_model_file

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018.model_scoring import score_model

COLUMNS = ("recipe", "model", "seconds", "iterations", "cases", "Dice_LA", "Dice_LA_sd", "HD95_vox", "HD95_vox_sd",
           "ASD_vox", "ASD_vox_sd")  # fmt: skip


def models_of(fold_dir: Path) -> list[tuple[Path, float, int]]:
    """(file, training seconds, iterations) of each snapshot and of the deadline's checkpoint, in time order."""
    found = []
    for path in sorted((fold_dir / "snapshots").glob("t*.pt")):
        meta = load_model_file(path)["meta"]
        found.append((path, float(meta["seconds"]), int(meta["iteration"])))
    last = fold_dir / "last.pt"
    if last.is_file():
        meta = load_model_file(last)["meta"]
        summary = json.loads((fold_dir / "fold.json").read_text()) if (fold_dir / "fold.json").is_file() else {}
        found.append((last, float(summary.get("train_seconds", meta.get("train_seconds", 0.0))),
                      int(summary.get("iterations", 0))))  # fmt: skip
    return found


def score_runs(runs: Path, out_csv: Path, fold: int, src: Path) -> list[dict]:
    rows = []
    for recipe_dir in sorted(p for p in runs.iterdir() if (p / f"fold{fold}").is_dir()):
        case_ids = load_folds(recipe_dir / "folds.json")[fold]["val"]
        for path, seconds, iterations in models_of(recipe_dir / f"fold{fold}"):
            summary = score_model(path, src, case_ids, recipe_dir / "scores" / path.stem, progress=False)
            overall = summary["overall"]
            row = {"recipe": recipe_dir.name, "model": path.stem, "seconds": round(seconds, 1),
                   "iterations": iterations, "cases": overall["Dice_LA"]["n"]}  # fmt: skip
            for name in ("Dice_LA", "HD95_vox", "ASD_vox"):
                row[name] = round(overall[name]["mean"], 5)
                row[f"{name}_sd"] = round(overall[name]["std"], 5)
            print(row, flush=True)
            rows.append(row)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def plot(rows: list[dict], figure: Path, title: str) -> None:
    """Dice against wall-clock minutes and against iterations (the wall clock is shared with whatever else ran
    on the machine; iterations are not), and HD95 against minutes."""
    fig, (dice_ax, iter_ax, hd_ax) = plt.subplots(1, 3, figsize=(14, 3.9))
    for recipe in dict.fromkeys(row["recipe"] for row in rows):
        mine = [row for row in rows if row["recipe"] == recipe]
        minutes = [float(row["seconds"]) / 60 for row in mine]
        dice = [100 * float(row["Dice_LA"]) for row in mine]
        rate = float(mine[-1]["seconds"]) / max(int(mine[-1]["iterations"]), 1)
        dice_ax.plot(minutes, dice, marker="o", label=f"{recipe} ({rate:.2f} s/it)")
        iter_ax.plot([int(row["iterations"]) for row in mine], dice, marker="o", label=recipe)
        hd_ax.plot(minutes, [float(row["HD95_vox"]) for row in mine], marker="o", label=recipe)
    dice_ax.set_ylabel("LA Dice on held-out cases (%)")
    iter_ax.set_ylabel("LA Dice on held-out cases (%)")
    hd_ax.set_ylabel("HD95 (voxels of the native grid)")
    for ax, label in ((dice_ax, "training wall-clock minutes (2-core CPU)"), (iter_ax, "iterations (batch 2)"),
                      (hd_ax, "training wall-clock minutes (2-core CPU)")):  # fmt: skip
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    dice_ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("out_csv", type=Path)
    parser.add_argument("figure", type=Path)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--src", type=Path, default=Path(os.environ.get("LASC2018", "../shared/data/lasc2018")))
    parser.add_argument("--title", default="LASC 2018 fold 0 (16 held-out cases), Predictor on the native grid")
    parser.add_argument("--plot-only", action="store_true", help="re-plot OUT_CSV without scoring")
    args = parser.parse_args()
    if args.plot_only:
        rows = list(csv.DictReader(args.out_csv.open()))
    else:
        rows = score_runs(args.runs, args.out_csv, args.fold, args.src)
    plot(rows, args.figure, args.title)


if __name__ == "__main__":
    main()
