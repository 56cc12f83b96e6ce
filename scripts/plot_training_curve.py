"""Plot a time-boxed training log (log.csv: iteration, elapsed seconds, lr, loss) against CPU minutes."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(log: str, out: str, title: str) -> None:
    rows = list(csv.DictReader(Path(log).open()))
    minutes = [float(r.get("elapsed") or r["seconds"]) / 60 for r in rows]  # trainer logs: elapsed
    loss = [float(r["loss"]) for r in rows]
    lr = [float(r["lr"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(minutes, loss, lw=0.8, color="tab:blue")
    ax.set_xlabel("wall-clock minutes (2-core CPU)")
    ax.set_ylabel("total loss (eq. 7)", color="tab:blue")
    twin = ax.twinx()
    twin.plot(minutes, lr, color="tab:orange", lw=1)
    twin.set_ylabel("learning rate", color="tab:orange")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main(*sys.argv[1:4])
