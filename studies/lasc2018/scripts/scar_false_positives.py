"""Where does the network call scar that the injected truth calls normal wall? Its false positives by stratum.

    python studies/lasc2018/scripts/scar_false_positives.py INJECTED.npz ORIGINAL.npz OUT_DIR PREDICTIONS.npz...

Every surface voxel of the manual LA that the injected truth calls normal wall falls in one stratum, by the wall
next to it before the injection (`studies.lasc2018.scar.unknown_wall` at rising cut-offs) and by its distance to
the injected scar on the surface:
- `enhanced`: next to wall above IIR 1.32 (real enhancement; left out of the known surface),
- `iir_1.2_1.32`, `iir_1.1_1.2`: next to wall that bright but not brighter (the weak labels' cut-off is 1.32),
- `rim`: none of those, within `--rim-mm` of the injected scar (the network's grid blurs a lesion's edge),
- `plain`: the rest.
For each stratum: its share of the normal surface and the share of it the network calls scar (its false-positive
rate), on the network's own LA as the study scores it; with `--baseline iir|otsu|mgmm`, that method's scar on the
manual LA instead (is the rim bright in the image, or only in the network's maps?). Writes `per_case.csv` and
`summary.json`; numbers only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage
from tqdm import tqdm

from atrialjsq.evaluate.scar_metrics import surface_labels

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: studies/ is not installed
from studies.lasc2018.compact import load_compact
from studies.lasc2018.held_out import add_injected_run_arguments, run_script, write_table_and_summary
from studies.lasc2018.scar import (
    CLASSIC,
    _classic_scar,
    _load_runs,
    _network_scar,
    _predicted_la,
    _truth,
    _truth_la,
    _unknown_for,
)

STRATA = ("enhanced", "iir_1.2_1.32", "iir_1.1_1.2", "rim", "plain")
CUTS = {"enhanced": 1.32, "iir_1.2_1.32": 1.2, "iir_1.1_1.2": 1.1}


def stratify(
    points: np.ndarray, near: dict[str, np.ndarray], scar_distance_mm: np.ndarray, rim_mm: float
) -> np.ndarray:
    """The stratum index (into STRATA) of each surface voxel: the first of the IIR strata whose `near` mask (a
    surface-voxel mask of wall at least that bright, brightest first) holds it, else rim or plain by distance."""
    index = tuple(points.T)
    strata = np.full(len(points), STRATA.index("plain"), dtype=np.int8)
    strata[scar_distance_mm[index] <= rim_mm] = STRATA.index("rim")
    for name in reversed(tuple(CUTS)):  # dimmest first, so the brightest stratum that holds a voxel wins
        strata[near[name][index]] = STRATA.index(name)
    return strata


def false_positive_rates(strata: np.ndarray, manual: np.ndarray, auto: np.ndarray) -> dict[str, float]:
    """Per stratum, over the surface voxels the truth calls normal: the share in the stratum and its FP rate."""
    normal = ~manual
    row: dict[str, float] = {}
    for number, name in enumerate(STRATA):
        members = normal & (strata == number)
        row[f"{name}_share"] = float(members.sum()) / max(int(normal.sum()), 1)
        row[f"{name}_fp"] = float((members & auto).sum()) / members.sum() if members.any() else float("nan")
    return row


def surface_mask(exclude: np.ndarray) -> np.ndarray:
    """The voxels a surface voxel must be to be left out by `exclude` (the evaluation's rule: in or 6-adjacent)."""
    return ndimage.binary_dilation(exclude, ndimage.generate_binary_structure(3, 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_injected_run_arguments(parser)
    parser.add_argument("--rim-mm", type=float, default=3.0)
    parser.add_argument("--baseline", choices=CLASSIC, help="score this method on the manual LA instead of the network")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    import edt

    injected, original, runs = load_compact(args.injected), load_compact(args.original), _load_runs(args.predictions)
    rows = []
    for case_id in tqdm(sorted(runs), desc="false positives", unit="case", disable=None):
        case, maps = injected.case(case_id), runs[case_id]
        truth = _truth(case)
        assert truth.scar is not None  # _truth refuses a case without an injected scar label
        if args.baseline:
            la = _truth_la(case)
            scar = _classic_scar(case, la, args.baseline)
        else:
            la = _predicted_la(case, maps["la"])
            if not la.array.any():
                continue
            scar = _network_scar(case, la, maps)
        labels = surface_labels(truth.la, truth.scar, scar, truth.spacing, la.array > 0, scar_form="band")
        near = {name: surface_mask(_unknown_for(case, original.case(case_id), cut)) for name, cut in CUTS.items()}
        spacing = tuple(float(s) for s in truth.spacing)
        distance = edt.edt(np.ascontiguousarray(~truth.scar, dtype=np.uint8), anisotropy=spacing)
        strata = stratify(labels.points, near, distance, args.rim_mm)
        rows.append({"case": case_id, **false_positive_rates(strata, labels.manual_scar, labels.auto_scar)})
    summary: dict = {"cases": len(rows), "rim_mm": args.rim_mm}
    for name in STRATA:
        shares = np.array([row[f"{name}_share"] for row in rows])
        rates = np.array([row[f"{name}_fp"] for row in rows])
        summary[name] = {
            "median_share": round(float(np.median(shares)), 4),
            "mean_fp": round(float(np.nanmean(rates)), 4),
        }
    write_table_and_summary(args.out, rows, summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
