"""Does an intensity gate trim the network's scar where the wall is not enhanced? Dice_s with and without it.

    python studies/lasc2018/scripts/scar_iir_gate.py INJECTED.npz ORIGINAL.npz OUT.csv PREDICTIONS.npz... \
        [--gates 1.0 1.1 1.2]

The network's scar spreads past the injected lesions' edges (`scar_false_positives.py`: most of its false positives
on the known surface lie within 3 mm of the injected scar, about twice IIR's rate there). A gate keeps the network's
scar only where the wall band is at least `gate` times the blood pool (`quantify.baselines.scar_from_image`'s IIR on
the network's own LA, no manual label): wall no brighter than blood is not scar by any clinical rule (Benito et
al. 2017 call IIR above 1.2 interstitial fibrosis and above 1.32 dense scar). Each case is
scored as the study scores the network, on the full surface and on the surface whose truth is known. One row per
case and gate (gate 0: the network as it is). Numbers only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from atrialjsq.quantify.baselines import scar_from_image

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018.compact import load_compact
from studies.lasc2018.held_out import add_injected_run_arguments, run_script, write_rows
from studies.lasc2018.scar import _load_runs, _native_image, _network_scar, _predicted_la, _row, _unknown_for


def gated(scar: np.ndarray, enhanced: np.ndarray | None) -> np.ndarray:
    """The network's painted scar kept only on band voxels the gate's IIR map calls enhanced (None: no gate)."""
    return scar if enhanced is None else scar & enhanced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_injected_run_arguments(parser)
    parser.add_argument("--gates", type=float, nargs="+", default=[1.0, 1.1, 1.2])
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    injected, original, runs = load_compact(args.injected), load_compact(args.original), _load_runs(args.predictions)
    rows = []
    for case_id in tqdm(sorted(runs), desc="gate", unit="case", disable=None):
        case, maps = injected.case(case_id), runs[case_id]
        la = _predicted_la(case, maps["la"])
        if not la.array.any():
            continue
        scar = _network_scar(case, la, maps)
        unknown = _unknown_for(case, original.case(case_id), 1.32)
        image = _native_image(case)
        for gate in [0.0, *args.gates]:
            enhanced = scar_from_image(image, la, "iir", iir_threshold=gate).scar.array > 0 if gate else None
            call = gated(scar, enhanced)
            full, known = _row(case, la, call), _row(case, la, call, unknown)
            rows.append(
                {
                    "case": case_id,
                    "gate": gate,
                    "Dice_s_full": round(full["Dice_s"], 5),
                    "Dice_s_known": round(known["Dice_s"], 5),
                    "specificity_known": round(known["Specificity"], 5),
                    "sensitivity_known": round(known["Sensitivity"], 5),
                    "scar_pct_error_full": round(full["scar_pct_error"], 4),
                }
            )
    write_rows(args.out, rows)
    for gate in [0.0, *args.gates]:
        at = [row for row in rows if row["gate"] == gate]
        means = {
            key: np.nanmean([row[key] for row in at]) for key in ("Dice_s_full", "Dice_s_known", "specificity_known")
        }
        print(f"gate {gate:g}: " + ", ".join(f"{key} {value:.4f}" for key, value in means.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
