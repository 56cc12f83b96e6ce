"""Where does IIR's real-scan burden come from? IIR > 1.32 on the manual LA with the wall band cut at the endocardium.

    python studies/lasc2018/scripts/iir_band_study.py DATA_DIR OUT_DIR [--network BURDEN_CSV] [--cases N]

The clinical comparator of `real_burden_agreement.py` classifies the quantification band (2 mm inside to 3 mm
outside the manual LA) and calls a surface element scar where any sample along its normal reaches IIR 1.32 (a
maximum projection). The LA label is the blood pool, so the band's inner 2 mm is blood, whose own noise and
the bright partial-volume rim at the endocardium can reach 1.32. This measures IIR's burden with the band's
inner edge at 2, 1 and 0 mm inside, and, with `--network` (a `burden_agreement.csv`), the network's ratio and
rank correlation against each. Numbers only; no image data leaves the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from tqdm import tqdm

from atrialjsq.cli.text import positive
from atrialjsq.data.layouts import index_dataset, load_case
from atrialjsq.errors import InputError
from atrialjsq.io.atomic import atomic_path, write_json
from atrialjsq.io.volume import Volume
from atrialjsq.quantify.baselines import scar_from_image
from atrialjsq.quantify.burden import compute_burden
from atrialjsq.surface.band import BandParams

INWARD_MM = (2.0, 1.0, 0.0)  # the default band's inner edge first
OUTWARD_MM = 3.0
THRESHOLDS = (1.32, 1.2)


def case_row(case_id: str, image: Volume, la: Volume) -> dict[str, float | str]:
    """IIR burdens (% of the manual LA's surface) for each band and threshold."""
    shifted = Volume(np.asarray(image.array, np.float32) - float(image.array.min()), image.geometry)
    row: dict[str, float | str] = {"case": case_id}
    for inward in INWARD_MM:
        band = BandParams(inward_mm=inward, outward_mm=OUTWARD_MM)
        for threshold in THRESHOLDS:
            scar = scar_from_image(shifted, la, "iir", iir_threshold=threshold, band_params=band)
            row[f"iir_{threshold:g}_in{inward:g}_percent"] = round(compute_burden(scar).burden_percent, 3)
    return row


def summarise(rows: list[dict], network: dict[str, float] | None) -> dict:
    summary: dict = {"cases": len(rows), "outward_mm": OUTWARD_MM}
    for inward in INWARD_MM:
        for threshold in THRESHOLDS:
            key = f"iir_{threshold:g}_in{inward:g}_percent"
            values = np.array([float(r[key]) for r in rows])
            entry: dict = {"median_percent": round(float(np.median(values)), 2)}
            if network is not None:
                net = np.array([network[str(r["case"])] for r in rows])
                called = values >= 2.0
                entry["spearman"] = round(float(spearmanr(net, values).statistic), 3)
                entry["cases_at_least_2_percent"] = int(called.sum())
                if called.any():
                    entry["median_ratio_network_over_iir"] = round(float(np.median(net[called] / values[called])), 3)
            summary[key] = entry
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--network", type=Path, help="a real_burden_agreement.py burden_agreement.csv to compare")
    parser.add_argument("--cases", type=positive(int), help="only the first N cases (a quick look)")
    args = parser.parse_args(argv)
    network = None
    if args.network is not None:
        if not args.network.is_file():
            parser.error(f"{args.network}: no such file")
        with args.network.open(newline="") as handle:
            network = {row["case"]: float(row["network_percent"]) for row in csv.DictReader(handle)}
    try:
        refs = list(index_dataset(args.data))[: args.cases]
        if network is not None:
            refs = [ref for ref in refs if ref.case_id in network]
        if not refs:
            raise InputError(args.network, f"none of its cases is in {args.data}")  # the data had some
        rows = []
        for ref in tqdm(refs, desc="IIR bands", unit="case"):
            case = load_case(ref)
            rows.append(case_row(ref.case_id, case.image, case.labels["la"]))
    except InputError as error:  # one line, nothing written
        parser.exit(2, f"error: {error}\n")
    summary = summarise(rows, network)
    with atomic_path(args.out / "iir_bands.csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_json(args.out / "iir_bands.json", summary)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
