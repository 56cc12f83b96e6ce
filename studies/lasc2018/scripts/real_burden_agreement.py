"""Does the network call the enhancement real scans show? Its burden against IIR on the manual LA, held-out scans.

    python studies/lasc2018/scripts/real_burden_agreement.py MODEL.pt DATA_DIR FOLDS.json FOLD OUT_DIR [--label NAME]
    python studies/lasc2018/scripts/real_burden_agreement.py pool OUT_DIR FOLD_OUT_DIR...   # the folds pooled

For each held-out case of the fold (LASC 2018 as acquired: no injected scar), the model's scar burden as `predict`
computes it (the predicted LA's mesh area), and the clinical intensity method on the *manual* LA: IIR above 1.32
(dense scar) and above 1.2 (fibrosis; Benito et al. 2017) in the same wall band, as `quantify --method iir` does,
on the intensities measured from the image minimum (the release is z-scored; IIR needs a true zero). Writes a
per-case CSV, a summary (Spearman rank correlation, the median ratio network / IIR>1.32 where IIR finds at least
2 %) and a Bland–Altman plot. Numbers only; no image data leaves the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from atrialjsq.infer.predictor import Predictor
from atrialjsq.io.volume import Volume
from atrialjsq.quantify.baselines import scar_from_image
from atrialjsq.quantify.burden import compute_burden
from atrialjsq.quantify.surface_scar import scar_from_probabilities

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018.held_out import add_held_out_arguments, held_out_predictions


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "pool":
        if len(argv) < 3:
            raise SystemExit("usage: real_burden_agreement.py pool OUT_DIR FOLD_OUT_DIR...")
        pool(Path(argv[1]), [Path(folder) for folder in argv[2:]])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_held_out_arguments(parser)
    parser.add_argument("--label", default="network")
    args = parser.parse_args(argv)
    predictor = Predictor.from_checkpoint(args.model, "cpu")
    rows = []
    for ref, case, prediction in held_out_predictions(args, predictor):
        network = compute_burden(scar_from_probabilities(prediction.la, prediction.p_normal, prediction.p_scar))
        shifted = Volume(np.asarray(case.image.array, np.float32) - float(case.image.array.min()), case.image.geometry)
        row = {"case": ref.case_id, "network_percent": round(network.burden_percent, 3)}
        for threshold in (1.32, 1.2):
            iir = compute_burden(scar_from_image(shifted, case.labels["la"], "iir", iir_threshold=threshold))
            row[f"iir_{threshold:g}_percent"] = round(iir.burden_percent, 3)
        rows.append(row)
        print(row, flush=True)
    write_agreement(rows, args.out, args.label, f"Fold {args.fold} held-out LASC 2018 scans as acquired", args.fold)
    return 0


def pool(out: Path, folders: list[Path], label: str = "network") -> dict:
    """One table, summary and Bland–Altman plot from the folds' burden_agreement.csv (each case once)."""
    rows: list[dict] = []
    if not folders:
        raise SystemExit("error: pool needs OUT_DIR and at least one fold's real_burden folder")
    missing = [folder / "burden_agreement.csv" for folder in folders if not (folder / "burden_agreement.csv").is_file()]
    if missing:
        raise SystemExit(f"error: {missing[0]}: no such file (run this script on that fold first)")
    for folder in folders:
        with (folder / "burden_agreement.csv").open(newline="") as handle:
            rows += [{k: (v if k == "case" else float(v)) for k, v in row.items()} for row in csv.DictReader(handle)]
    if len({row["case"] for row in rows}) != len(rows):
        raise SystemExit("error: a case appears in more than one fold's table")
    return write_agreement(rows, out, label, f"{len(folders)} folds' held-out LASC 2018 scans as acquired", None)


def write_agreement(rows: list[dict], out: Path, label: str, title: str, fold: int | None) -> dict:
    """The per-case CSV, the summary JSON (Spearman, median ratio where IIR>1.32 finds >= 2 %) and the plot."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "burden_agreement.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    from scipy.stats import spearmanr

    net = np.array([r["network_percent"] for r in rows])
    dense = np.array([r["iir_1.32_percent"] for r in rows])
    fibrosis = np.array([r["iir_1.2_percent"] for r in rows])
    called = dense >= 2.0
    summary = {
        "model": label,
        "fold": fold,
        "cases": len(rows),
        "network_median_percent": round(float(np.median(net)), 2),
        "iir_1.32_median_percent": round(float(np.median(dense)), 2),
        "iir_1.2_median_percent": round(float(np.median(fibrosis)), 2),
        "spearman_vs_iir_1.32": round(float(spearmanr(net, dense).statistic), 3),
        "spearman_vs_iir_1.2": round(float(spearmanr(net, fibrosis).statistic), 3),
        "median_ratio_vs_iir_1.32_where_at_least_2_percent": round(float(np.median(net[called] / dense[called])), 3)
        if called.any()
        else None,
        "cases_with_iir_1.32_at_least_2_percent": int(called.sum()),
    }
    (out / "burden_agreement.json").write_text(json.dumps(summary, indent=1) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, reference, name in ((axes[0], dense, "IIR > 1.32"), (axes[1], fibrosis, "IIR > 1.2")):
        mean, difference = (net + reference) / 2, net - reference
        bias, spread = float(difference.mean()), 1.96 * float(difference.std())
        ax.scatter(mean, difference, s=18, color="#08519c")
        for level, style in ((bias, "-"), (bias - spread, "--"), (bias + spread, "--")):
            ax.axhline(level, color="k", linestyle=style, linewidth=0.8)
        ax.set_xlabel(f"mean of {label} and {name} burden (%)")
        ax.set_ylabel(f"{label} − {name} (percentage points)")
        ax.set_title(f"{name}: bias {bias:+.1f}, limits ±{spread:.1f}", fontsize=10)
    figure.suptitle(f"{title} (n = {len(rows)})", fontsize=10)
    figure.tight_layout()
    figure.savefig(out / "burden_agreement.png", dpi=110)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    raise SystemExit(main())
