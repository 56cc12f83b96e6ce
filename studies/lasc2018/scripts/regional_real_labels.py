"""The regional analysis on the expert LA labels of the LASC 2018 release: what it finds on real anatomy.

No truth for the landmarks comes with the release, so this records what can be checked without it: whether
the mitral ring is found and how flat it is (the labels stop at the valve with a planar cut, so a found ring
should be that cut: plane-fit RMS of its vertices in mm), its radius, which veins and whether the appendage
were named, and the problems the analysis reported. One row per case (numbers and names only) into a CSV;
prints a summary.

    python studies/lasc2018/scripts/regional_real_labels.py ../shared/data/lasc2018 \
        docs/results/regional_lasc2018_labels.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from tqdm import tqdm

from atrialjsq.data.layouts import DEFAULT_H5_SPACING, _read_h5
from atrialjsq.io import Volume
from atrialjsq.io.geometry import Geometry
from atrialjsq.quantify.breakdown import analyse_regions
from atrialjsq.surface.mesh import extract_mesh

VEINS = ("LSPV", "LIPV", "RSPV", "RIPV")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="the release folder (cases/<id>/mri_norm2.h5)")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    rows = []
    for folder in tqdm(sorted((args.src / "cases").iterdir()), desc="cases", unit="case"):
        data = _read_h5(folder / "mri_norm2.h5")
        geometry = Geometry(data["image"].shape, DEFAULT_H5_SPACING)
        la = Volume((data["label"] > 0).astype(np.uint8), geometry)
        mesh = extract_mesh(la, smooth_sigma_mm=1.0)
        result = analyse_regions(
            Volume(data["image"].astype(np.float32), geometry), la, mesh, np.zeros(mesh.n_vertices, dtype=bool)
        )
        mitral = result.mitral
        rms = np.nan
        if mitral is not None:
            points = mesh.vertices_mm[mitral.vertices]
            rms = float(np.linalg.svd(points - points.mean(0), full_matrices=False)[1][-1] / np.sqrt(len(points)))
        found = result.landmarks.found
        rows.append(
            {
                "case": folder.name,
                "mitral_found": mitral is not None,
                "mitral_radius_mm": round(mitral.radius_mm, 1) if mitral else "",
                "mitral_plane_rms_mm": round(rms, 2) if mitral else "",
                "mitral_confidence": round(mitral.confidence, 3) if mitral else "",
                "veins": " ".join(name for name in (*VEINS, "LCPV") if name in found),
                "four_veins": all(v in found for v in VEINS)
                or ("LCPV" in found and "RSPV" in found and "RIPV" in found),
                "laa_found": "LAA" in found,
                "flat_map": result.flat_uv is not None,
                "problems": "; ".join(result.problems),
            }
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    found = [r for r in rows if r["mitral_found"]]
    rms = np.array([r["mitral_plane_rms_mm"] for r in found], dtype=float)
    radius = np.array([r["mitral_radius_mm"] for r in found], dtype=float)
    print(
        f"{len(rows)} cases: mitral ring found in {len(found)} (plane RMS median {np.median(rms):.2f} mm, "
        f"90th percentile {np.percentile(rms, 90):.2f} mm; radius median {np.median(radius):.1f} mm, range "
        f"{radius.min():.1f}-{radius.max():.1f}); all four veins (or trunk + two right) named in "
        f"{sum(r['four_veins'] for r in rows)}; appendage in {sum(r['laa_found'] for r in rows)}; flat map in "
        f"{sum(r['flat_map'] for r in rows)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
