"""Scar accuracy on real anatomy against the injected scar's contrast: where the network's scar head fails.

Each LASC 2018 case carries one injected scar drawn with its own intensity ratio (IIR: scar over normal wall,
`phantom.inject`) and kind (post- or pre-ablation pattern). This joins those draws (from the injected compact
file's per-case metadata) with the per-case scar metrics of every row of a scar table folder, and writes one
row per case (numbers only) plus a summary by IIR quartile and by kind on stdout.

    python studies/lasc2018/scripts/scar_by_contrast.py devdata/lasc_150_scar.npz docs/results/lasc2018_cv \
        docs/results/lasc2018_cv/scar_by_contrast.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from atrialjsq.errors import InputError
from atrialjsq.io.atomic import atomic_path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018.compact import load_compact

METRICS = ("Dice_s", "Sensitivity", "scar_pct_error")
QUARTILES = 4


def read_rows(folder: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{row label: {case: {metric: value}}} from the `<label>_per_case.csv` files of a scar table folder."""
    rows = {}
    for path in sorted(folder.glob("*_per_case.csv")):
        if path.name.startswith("la_"):
            continue  # the LA-only tables
        with open(path, newline="", encoding="utf-8") as handle:
            table = {r["case"]: {m: float(r[m] or "nan") for m in METRICS if m in r} for r in csv.DictReader(handle)}
        if table and all(m in next(iter(table.values())) for m in METRICS):
            rows[path.name.removesuffix("_per_case.csv")] = table
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("compact", type=Path, help="the injected compact file the table was scored on")
    parser.add_argument("results", type=Path, help="a scar table folder (<row>_per_case.csv)")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    try:
        compact = load_compact(args.compact)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    draws = {case.case_id: case.info.get("meta") or {} for case in compact.cases}
    draws = {case: meta for case, meta in draws.items() if isinstance(meta.get("iir"), (int, float))}
    rows = read_rows(args.results)
    cases = sorted(set(draws).intersection(*(set(t) for t in rows.values()))) if rows else []
    if not cases:
        print(
            f"error: {args.results}: no scar per-case table shares cases (with an injected IIR) with {args.compact}",
            file=sys.stderr,
        )
        return 1
    iir = np.array([float(draws[c].get("iir", np.nan)) for c in cases])
    kinds = [str(draws[c].get("scar_kind")) for c in cases]
    records = []
    for i, case in enumerate(cases):
        record: dict[str, object] = {"case": case, "iir": round(float(iir[i]), 4), "scar_kind": kinds[i]}
        for label, table in rows.items():
            record.update({f"{label}:{m}": table[case][m] for m in METRICS})
        records.append(record)
    with atomic_path(args.out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    order = np.argsort(iir)
    print(f"{len(cases)} cases; Dice_s (sensitivity) per IIR quartile and kind, Spearman rho of Dice_s with IIR")
    groups = [(f"IIR {iir[q].min():.2f}-{iir[q].max():.2f}", q) for q in np.array_split(order, QUARTILES)]
    groups += [(kind, np.array([i for i, k in enumerate(kinds) if k == kind])) for kind in sorted(set(kinds))]
    for label, table in rows.items():
        dice = np.array([table[c]["Dice_s"] for c in cases])
        sens = np.array([table[c]["Sensitivity"] for c in cases])
        rho = stats.spearmanr(iir, dice).statistic
        cells = "  ".join(f"{name}: {dice[g].mean():.3f} ({sens[g].mean():.2f})" for name, g in groups)
        print(f"{label:16s} rho {rho:+.2f}  {cells}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
