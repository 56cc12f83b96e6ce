"""Does the 1.5 mm training grid cap the LA's native-grid Dice? The expert label's own round trip, per case.

    python studies/lasc2018/scripts/la_grid_ceiling.py COMPACT.npz OUT_DIR [--sigma-mm 0.6]

A network on the 1.5 mm grid at best reproduces what that grid can hold of the expert label; `predict` resamples
its p_LA onto the native grid (`infer.predictor.to_input_grid`) and cuts it at 0.5. Two such best cases, scored on
the native grid against the expert label (Dice):
- `dice_label`: the label as the training sees it (the compact file's label-aware 1.5 mm resampling, 0/1), taken as
  a perfect network's p_LA;
- `dice_soft`: the native label smoothed by a Gaussian (`--sigma-mm`, about the native voxel) and resampled to
  1.5 mm, a perfect network's calibrated p_LA (a sub-voxel boundary the 0/1 label cannot hold).
The network's held-out Dice sits far below both when the grid is not what limits it. Writes `per_case.csv` and
`summary.json`; numbers only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage
from tqdm import tqdm

from atrialjsq.infer.predictor import to_input_grid
from atrialjsq.io.geometry import Geometry
from atrialjsq.train.validation import dice

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018.compact import load_compact
from studies.lasc2018.held_out import run_script, write_table_and_summary


def round_trip(probability: np.ndarray, coarse: Geometry, native: Geometry) -> np.ndarray:
    """A p_LA on the coarse grid as `predict` makes the native LA of it: resampled, cut at 0.5."""
    return to_input_grid(probability.astype(np.float32), coarse, native) > 0.5


def soft_label(label: np.ndarray, native: Geometry, coarse: Geometry, sigma_mm: float) -> np.ndarray:
    """The native label smoothed by a Gaussian of `sigma_mm` and resampled onto the coarse grid."""
    sigma = [sigma_mm / s for s in native.spacing]
    smooth = ndimage.gaussian_filter(label.astype(np.float32), sigma=sigma)
    return to_input_grid(smooth, native, coarse)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("compact", type=Path, help="a compact file (studies.lasc2018 build)")
    parser.add_argument("out", type=Path, help="folder for per_case.csv and summary.json")
    parser.add_argument("--sigma-mm", type=float, default=0.6)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    compact = load_compact(args.compact)
    rows = []
    for case_id in tqdm(compact.case_ids, desc="grid ceiling", unit="case", disable=None):
        case = compact.case(case_id)
        native, coarse = case.native_geometry, case.window_geometry
        manual = case.la_native > 0
        label = round_trip(case.la, coarse, native)
        soft = round_trip(soft_label(manual, native, coarse, args.sigma_mm), coarse, native)
        rows.append(
            {"case": case_id, "dice_label": round(dice(label, manual), 5), "dice_soft": round(dice(soft, manual), 5)}
        )
    summary: dict = {"cases": len(rows), "sigma_mm": args.sigma_mm}
    for key in ("dice_label", "dice_soft"):
        values = np.array([row[key] for row in rows])
        summary[key] = {"mean": round(float(values.mean()), 4), "min": round(float(values.min()), 4)}
    write_table_and_summary(args.out, rows, summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
