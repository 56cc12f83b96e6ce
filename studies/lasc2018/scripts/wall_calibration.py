"""How bright is the real LA wall? The IIR distribution of LASC 2018 walls next to the synthetic scar's, per case.

    python studies/lasc2018/scripts/wall_calibration.py DATA_DIR docs/results/scar_calibration   # the h5 release

For every case: IIR = (voxel - air) / mean blood pool (blood: > 3 mm inside the expert LA label; air: the image
minimum, as `inject-scar` measures it), over the outer wall shell 0-3 mm outside the label. Per case: the median
and 90th/99th percentiles of wall IIR, the share of wall above 1.2 and 1.32 (the interstitial-fibrosis and
dense-scar cut-offs of Benito et al. 2017), the mean IIR of the voxels above 1.32, and the spatial scale of the
enhancement (the distance at which the correlation of wall IIR along the shell falls to 1/2). Written as a CSV
(numbers only, no image data), a JSON summary and a histogram of all wall voxels against the synthetic scar's IIR
range (`train.scar_synthesis.SynthesisRanges`).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import edt
import numpy as np

from atrialjsq.data.layouts import index_dataset, load_case
from atrialjsq.train.scar_synthesis import SynthesisRanges

SHELL_MM = 3.0
BLOOD_CORE_MM = 3.0


def wall_statistics(image: np.ndarray, la: np.ndarray, spacing) -> tuple[dict, np.ndarray]:
    outside = edt.edt((~la).astype(np.uint8), anisotropy=tuple(spacing))
    inside = edt.edt(la.astype(np.uint8), anisotropy=tuple(spacing))
    zero = float(image.min())
    blood = float((image[inside > BLOOD_CORE_MM] - zero).mean())
    shell = (outside > 0) & (outside <= SHELL_MM)
    iir = (image[shell] - zero) / blood
    dense = iir[iir > 1.32]
    # Spatial scale: correlation of IIR between shell voxels k voxels apart along x (both in the shell).
    scale = float("nan")
    for k in range(1, 8):
        a = shell[:-k] & shell[k:]
        if a.sum() < 50:
            break
        x, y = (image[:-k][a] - zero) / blood, (image[k:][a] - zero) / blood
        if np.corrcoef(x, y)[0, 1] < 0.5:
            scale = k * float(spacing[0])
            break
    row = {
        "wall_voxels": int(shell.sum()),
        "iir_median": round(float(np.median(iir)), 4),
        "iir_p90": round(float(np.percentile(iir, 90)), 4),
        "iir_p99": round(float(np.percentile(iir, 99)), 4),
        "share_above_1_2": round(float(np.mean(iir > 1.2)), 4),
        "share_above_1_32": round(float(np.mean(iir > 1.32)), 4),
        "mean_iir_above_1_32": round(float(dense.mean()), 4) if dense.size else None,
        "half_correlation_mm": scale,
    }
    return row, iir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, pooled = [], []
    for ref in index_dataset(args.data):
        case = load_case(ref)
        row, iir = wall_statistics(case.image.array.astype(np.float32), case.la.array > 0, case.image.geometry.spacing)
        rows.append({"case": ref.case_id, **row})
        pooled.append(iir)
    with (args.out / "wall_iir_lasc2018.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    all_iir = np.concatenate(pooled)
    ranges = SynthesisRanges()
    dense_means = [r["mean_iir_above_1_32"] for r in rows if r["mean_iir_above_1_32"] is not None]
    summary = {
        "cases": len(rows),
        "wall_iir_percentiles": {str(q): round(float(np.percentile(all_iir, q)), 4) for q in (10, 50, 90, 99)},
        "share_above_1_32_median": round(float(np.median([r["share_above_1_32"] for r in rows])), 4),
        "share_above_1_2_median": round(float(np.median([r["share_above_1_2"] for r in rows])), 4),
        "mean_iir_above_1_32_median": round(float(np.median(dense_means)), 4),
        "half_correlation_mm_median": float(np.nanmedian([r["half_correlation_mm"] for r in rows])),
        "synthetic_iir_range": list(ranges.iir),
        "shell_mm": SHELL_MM,
        "spacing": "the release's (0.625 x 0.625 x 1.25 mm assumed)",
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7, 4))
    ax.hist(np.clip(all_iir, 0, 3), bins=120, density=True, color="#888888", label="real LA wall, 0-3 mm (80 scans)")
    ax.axvspan(*ranges.iir, color="#d7301f", alpha=0.15, label="synthetic scar IIR range (training)")
    for cut in (1.2, 1.32):
        ax.axvline(cut, color="k", linewidth=0.8, linestyle="--")
    ax.set_xlabel("IIR (voxel / mean blood pool, measured from air)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out / "wall_iir.png", dpi=110)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
