"""The same recipe at two training budgets, on the folds scored at both: paired by held-out case.

    python studies/lasc2018/scripts/budget_comparison.py OUT_DIR \
        --short docs/results/real132_fold{0,1,2,4} --long docs/results/real132_long_fold{0,1,2,4} \
        [--short-known docs/results/real132_cv_known] [--names "CV budget" "4,500 iterations"] \
        [--learngc docs/results/synth3_cv_band docs/results/synth3_cv_known]

Each results folder is one fold as `studies/lasc2018/scripts/real_model_results.sh` writes it (`la_native_per_case.csv`,
`AJSQnet-SESA_per_case.csv`, `real_burden/burden_agreement.csv`, optionally `known/AJSQnet-SESA_per_case.csv`);
`--short-known` is a folder whose `AJSQnet-SESA_per_case.csv` holds the short runs' known-surface scores when their
fold folders have no `known/`. The given-LA methods (IIR, Otsu, MGMM on the manual LA) are read from the long
folders: they do not depend on the network. LearnGC needs a classifier trained per fold, so its rows come from
an earlier scoring of the same injected scar on the same folds (`--learngc FULL KNOWN`: folders holding
`LA_M_LearnGC_per_case.csv` for the full and the known surface). Writes `comparison.csv` and `comparison.md`
(means, Wilcoxon paired by case) and `real_burden.json` (median ratio to IIR ≥ 1.32 where it finds ≥ 2 %,
Spearman, per budget whose folds all have `real_burden/`). Numbers only.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from atrialjsq.evaluate.statistics import paired_tests, read_metric_csv
from atrialjsq.io.atomic import atomic_path, write_json

NETWORK = "AJSQnet-SESA_per_case.csv"
GIVEN_LA = {"IIR": "LA_M_IIR_per_case.csv", "Otsu": "LA_M_Otsu_per_case.csv", "MGMM": "LA_M_MGMM_per_case.csv"}
# (row label, file inside a fold folder, column)
ROWS = (
    ("LA Dice (native grid)", "la_native_per_case.csv", "Dice_LA"),
    ("LA HD95 (voxels)", "la_native_per_case.csv", "HD95_vox"),
    ("scar Dice_s, full surface", NETWORK, "Dice_s"),
    ("scar burden error (points), full surface", NETWORK, "scar_pct_error"),
    ("scar Dice_s, known surface", f"known/{NETWORK}", "Dice_s"),
    ("scar sensitivity, known surface", f"known/{NETWORK}", "Sensitivity"),
    ("scar specificity, known surface", f"known/{NETWORK}", "Specificity"),
)


def pooled(folders: Sequence[Path], name: str, fallback: Path | None = None) -> dict[str, dict[str, float]]:
    """The per-case rows of `name` from every fold folder (or from `fallback`'s file of that base name)."""
    table: dict[str, dict[str, float]] = {}
    for folder in folders:
        path = folder / name
        if path.is_file():
            table.update(read_metric_csv(path))
    if not table and fallback is not None:
        table = read_metric_csv(fallback / Path(name).name)
    return table


def burden_agreement(folders: Sequence[Path]) -> dict[str, float]:
    """Median network/IIR ≥ 1.32 ratio (cases where IIR finds ≥ 2 %) and Spearman correlations, pooled."""
    network, iir132, iir12 = [], [], []
    for folder in folders:
        with (folder / "real_burden" / "burden_agreement.csv").open() as handle:
            for row in csv.DictReader(handle):
                network.append(float(row["network_percent"]))
                iir132.append(float(row["iir_1.32_percent"]))
                iir12.append(float(row["iir_1.2_percent"]))
    net, a, b = np.array(network), np.array(iir132), np.array(iir12)
    enough = a >= 2.0
    return {
        "cases": int(net.size),
        "median_ratio_vs_iir_1.32_where_at_least_2_percent": round(float(np.median(net[enough] / a[enough])), 3),
        "cases_with_iir_1.32_at_least_2_percent": int(enough.sum()),
        "spearman_vs_iir_1.32": round(float(stats.spearmanr(net, a).statistic), 3),
        "spearman_vs_iir_1.2": round(float(stats.spearmanr(net, b).statistic), 3),
        "network_median_percent": round(float(np.median(net)), 2),
        "iir_1.32_median_percent": round(float(np.median(a)), 2),
    }


LEARNGC = "LA_M_LearnGC_per_case.csv"


def given_la_tables(long: Sequence[Path], known: bool, learngc: Sequence[Path] | None) -> dict[str, dict]:
    """Per-case rows of each given-LA method on one surface: IIR/Otsu/MGMM from the long folds, LearnGC from
    `learngc` (full, known) when given."""
    folder = "known/" if known else ""
    tables = {method: pooled(long, folder + file) for method, file in GIVEN_LA.items()}
    if learngc is not None:
        path = learngc[1 if known else 0] / LEARNGC
        if path.is_file():
            tables["LearnGC"] = read_metric_csv(path)
    return tables


def compare(
    short: Sequence[Path], long: Sequence[Path], short_known: Path | None, learngc: Sequence[Path] | None = None
) -> list[dict]:
    """One row per metric: the two budgets' means over the cases both scored, the paired Wilcoxon p, and the
    given-LA methods' means on the same cases where the metric is a scar one."""
    rows = []
    for label, name, column in ROWS:
        a = pooled(short, name, short_known if name.startswith("known/") else None)
        b = pooled(long, name)
        cases = sorted(set(a) & set(b))
        if not cases:
            continue
        x = np.array([a[c][column] for c in cases])
        y = np.array([b[c][column] for c in cases])
        row = {"metric": label, "n": len(cases), "short": float(x.mean()), "long": float(y.mean())}
        row.update(short_sd=float(x.std(ddof=1)), long_sd=float(y.std(ddof=1)))
        row["wilcoxon_p"] = paired_tests(x, y)[0]
        if name.endswith(NETWORK):
            for method, given in given_la_tables(long, name.startswith("known/"), learngc).items():
                if all(c in given and column in given[c] for c in cases):
                    values = np.array([given[c][column] for c in cases])
                    row[f"LA_M+{method}"] = float(values.mean())
                    row[f"long_vs_{method}_p"] = paired_tests(y, values)[0]
        rows.append(row)
    return rows


def markdown(rows: list[dict], names: Sequence[str]) -> str:
    methods = [m for m in (*GIVEN_LA, "LearnGC") if any(f"LA_M+{m}" in row for row in rows)]
    lines = [
        f"| {len(rows) and rows[0]['n']} held-out cases | {names[0]} | {names[1]} | p | "
        f"on the manual LA: {' / '.join(methods) or '–'} (p against {names[1]}) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = [
            f"{row[f'LA_M+{m}']:.3f} ({row[f'long_vs_{m}_p']:.2g})" if f"LA_M+{m}" in row else "–" for m in methods
        ]
        given = " / ".join(cells) if any(f"LA_M+{m}" in row for m in methods) else "–"
        lines.append(f"| {row['metric']} (n = {row['n']}) | {row['short']:.3f} | {row['long']:.3f} | "
                     f"{row['wilcoxon_p']:.2g} | {given} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--short", type=Path, nargs="+", required=True)
    parser.add_argument("--long", type=Path, nargs="+", required=True)
    parser.add_argument("--short-known", type=Path)
    parser.add_argument("--names", nargs=2, default=["CV budget", "4,500 iterations"])
    parser.add_argument("--learngc", type=Path, nargs=2, metavar=("FULL", "KNOWN"))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rows = compare(args.short, args.long, args.short_known, args.learngc)
    # (a budget whose folds were not scored on the real scans as acquired has no real-scan row)
    burden = {
        name: burden_agreement(folders)
        for name, folders in zip(args.names, (args.short, args.long), strict=True)
        if all((folder / "real_burden" / "burden_agreement.csv").is_file() for folder in folders)
    }
    args.out.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(key for row in rows for key in row))  # every row's columns, first seen first
    with atomic_path(args.out / "comparison.csv") as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    text = markdown(rows, args.names)
    with atomic_path(args.out / "comparison.md") as tmp:
        tmp.write_text(text)
    if burden:
        write_json(args.out / "real_burden.json", burden)
    print(text)
    print(json.dumps(burden, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
