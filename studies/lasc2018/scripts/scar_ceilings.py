"""How high can the network's Dice_s on the injected LASC 2018 scar go? Two ceilings per case.

    python studies/lasc2018/scripts/scar_ceilings.py INJECTED.npz ORIGINAL.npz OUT_DIR [--fractions 0.5 0.76 1]

**The representation.** The scar head's own targets (the normal-wall and scar DPMs of the truth, `data.targets`),
read back through `predict`'s projection onto the manual LA surface (`quantify.surface_scar.
scar_from_probabilities`) and scored as the study scores the network (`dice_targets`): what a network that learnt
its targets perfectly would score, so the part of the gap that the projection and the 1.5 mm grid cost.

**Calling the real enhancement.**
The injected test labels (`inject-scar`) call every surface voxel without injected scar "normal wall", including the
surface next to wall that was already brighter than IIR 1.32 before the injection (`studies.lasc2018.scar.
unknown_wall`: real enhancement, which the clinical rule calls dense scar). The real-scan goal of issue #30 asks the
network to call that enhancement: on scans as acquired, its burden must be 0.5-2 times what IIR > 1.32 finds. A
network cannot tell an injected scan from an acquired one, so on the injected scans it calls about the same share
f of the real enhancement; on the full surface each such voxel is a false positive.

For every case this scores the best such model: it finds every injected scar voxel and nothing else but a share f
of the real enhancement. Its full-surface Dice_s is 2s / (2s + f·u), with s the surface voxels labelled scar and u
the surface voxels next to real enhancement and not labelled scar, both counted by the evaluation's own projection
(`evaluate.scar_metrics.surface_labels`, the surface the known-surface scoring leaves out). Writes
`per_case.csv` and `summary.json` (means over cases; per f, the cases below 0.70). Numbers only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from atrialjsq.evaluate.scar_metrics import surface_labels

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018.compact import load_compact
from studies.lasc2018.held_out import run_script, write_table_and_summary
from studies.lasc2018.scar import _network_scar, _row, _truth, _truth_la, _unknown_for

GOAL = 0.70


def surface_counts(la: np.ndarray, scar: np.ndarray, unknown: np.ndarray, spacing) -> dict[str, int]:
    """Surface voxels of the manual LA: all (`n_surface`), labelled scar (`scar`), and next to real enhancement
    but not labelled scar (`enhanced`): those the known-surface scoring removes (`exclude=unknown`)."""
    full = surface_labels(la, scar, scar, spacing, scar_form="wall")
    known = surface_labels(la, scar, scar, spacing, exclude=unknown, scar_form="wall")
    removed = len(full.manual_scar) - len(known.manual_scar)
    removed_scar = int(full.manual_scar.sum()) - int(known.manual_scar.sum())
    return {"n_surface": len(full.manual_scar), "scar": int(full.manual_scar.sum()), "enhanced": removed - removed_scar}


def dice_bound(scar: int, enhanced: int, fraction: float) -> float:
    """Full-surface Dice_s of a call that holds all `scar` voxels and `fraction` of the `enhanced` ones."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    return 2 * scar / (2 * scar + fraction * enhanced) if scar else float("nan")


def targets_dice_s(case) -> float:
    """Full-surface Dice_s of the truth's own DPM targets read back as the network's maps are."""
    import torch

    from atrialjsq.data.targets import compute_targets
    from atrialjsq.losses.dpm import distance_probability

    truth = _truth(case)
    targets = compute_targets(truth.la, truth.scar, truth.spacing)
    maps = {
        f"p_{part}": distance_probability(torch.from_numpy(targets[f"phi_{part}"].astype(np.float32))).numpy()
        for part in ("normal", "scar")
    }
    la = _truth_la(case)
    return float(_row(case, la, _network_scar(case, la, maps))["Dice_s"])


def summarise(rows: list[dict], fractions: list[float]) -> dict:
    summary: dict = {"cases": len(rows), "goal": GOAL, "by_fraction": {}}
    for fraction in fractions:
        values = np.array([row[f"dice_f{fraction:g}"] for row in rows], dtype=float)
        values = values[np.isfinite(values)]
        summary["by_fraction"][f"{fraction:g}"] = {
            "mean_dice_s": round(float(values.mean()), 4),
            "median_dice_s": round(float(np.median(values)), 4),
            "cases_below_goal": int(np.count_nonzero(values < GOAL)),
        }
    summary["mean_dice_targets"] = round(float(np.nanmean([row["dice_targets"] for row in rows])), 4)
    for key in ("scar_pct", "enhanced_pct"):
        summary[f"median_{key}"] = round(float(np.median([row[key] for row in rows])), 2)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("injected", type=Path, help="compact file with injected scar (inject-scar --compact)")
    parser.add_argument("original", type=Path, help="the compact file the scar was injected into")
    parser.add_argument("out", type=Path, help="folder for per_case.csv and summary.json")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.5, 0.76, 1.0])
    parser.add_argument("--iir", type=float, default=1.32, help="the real enhancement's cut-off (default 1.32)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    injected, original = load_compact(args.injected), load_compact(args.original)
    rows = []
    for case_id in tqdm(injected.case_ids, desc="ceilings", unit="case", disable=None):
        case = injected.case(case_id)
        truth = _truth(case)
        assert truth.scar is not None  # _truth refuses a case without an injected scar label
        unknown = _unknown_for(case, original.case(case_id), args.iir)
        counts = surface_counts(truth.la, truth.scar, unknown, truth.spacing)
        row: dict = {"case": case_id, **counts}
        row["scar_pct"] = round(100 * counts["scar"] / counts["n_surface"], 3)
        row["enhanced_pct"] = round(100 * counts["enhanced"] / counts["n_surface"], 3)
        row["dice_targets"] = round(targets_dice_s(case), 5)
        for fraction in args.fractions:
            row[f"dice_f{fraction:g}"] = round(dice_bound(counts["scar"], counts["enhanced"], fraction), 5)
        rows.append(row)
    write_table_and_summary(args.out, rows, summarise(rows, args.fractions))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
