"""Measure our LA surface distances against medpy 0.5, MONAI and DeepMind's surface-distance on analytic shapes.

Not part of the package or the tests (those libraries are not dependencies); the table it prints is quoted in
docs/explanation/evaluation.md. Run with the three libraries importable, e.g.
    pip install --target /tmp/evlibs --no-deps medpy monai surface-distance
    PYTHONPATH=/tmp/evlibs python scripts/compare_surface_metrics.py
"""

from __future__ import annotations

import numpy as np

from atrialjsq.evaluate.la_metrics import la_metrics


def ellipsoid(shape, spacing, centre_mm, radii_mm):
    grids = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing, strict=True)], indexing="ij")
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre_mm, radii_mm, strict=True)) <= 1


def shapes():
    iso, lasc = (1.0, 1.0, 1.0), (0.625, 0.625, 1.25)
    c = (24.0, 24.0, 24.0)
    big, small = ellipsoid((48,) * 3, iso, c, (12,) * 3), ellipsoid((48,) * 3, iso, c, (9,) * 3)
    yield "spheres R 9 / 12 mm, 1 mm", big, small, iso
    shape = (77, 77, 38)
    gt = ellipsoid(shape, lasc, c, (15, 15, 15))
    yield "sphere shifted 2 mm, LASC grid", ellipsoid(shape, lasc, (26.0, 24.0, 24.0), (15,) * 3), gt, lasc
    yield "ellipsoid 18x15x12 vs sphere 15, LASC grid", ellipsoid(shape, lasc, c, (18, 15, 12)), gt, lasc
    extra = ellipsoid(shape, lasc, c, (15,) * 3) | ellipsoid(shape, lasc, (42.0, 42.0, 40.0), (3,) * 3)
    yield "sphere + far 3 mm blob vs sphere, LASC grid", extra, gt, lasc


def main() -> None:
    import torch
    from medpy.metric import binary
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance
    from surface_distance import metrics as dm

    header = "| shape | metric | ours | medpy 0.5 | MONAI | DeepMind |"
    print(header + "\n|---|---|---:|---:|---:|---:|")
    for name, pred, gt, spacing in shapes():
        ours = la_metrics(pred, gt, spacing)
        t_pred, t_gt = torch.from_numpy(pred)[None, None].float(), torch.from_numpy(gt)[None, None].float()
        surf = dm.compute_surface_distances(gt, pred, spacing)
        gt_to_pred, pred_to_gt = dm.compute_average_surface_distance(surf)
        n_gt, n_pred = surf["surfel_areas_gt"].sum(), surf["surfel_areas_pred"].sum()
        rows = {
            "ASD (pred→gt)": (
                ours["ASD_mm"],
                binary.asd(pred, gt, spacing),
                float(compute_average_surface_distance(t_pred, t_gt, symmetric=False, spacing=spacing)),
                pred_to_gt,
            ),
            "ASSD": (
                ours["ASSD_mm"],
                binary.assd(pred, gt, spacing),
                float(compute_average_surface_distance(t_pred, t_gt, symmetric=True, spacing=spacing)),
                (gt_to_pred * n_gt + pred_to_gt * n_pred) / (n_gt + n_pred),
            ),
            "HD": (
                ours["HD_mm"],
                binary.hd(pred, gt, spacing),
                float(compute_hausdorff_distance(t_pred, t_gt, spacing=spacing)),
                dm.compute_robust_hausdorff(surf, 100),
            ),
            "HD95 (pooled)": (ours["HD95_mm"], binary.hd95(pred, gt, spacing), float("nan"), float("nan")),
            "HD95max (larger directed)": (
                ours["HD95max_mm"],
                float("nan"),
                float(compute_hausdorff_distance(t_pred, t_gt, percentile=95, spacing=spacing)),
                dm.compute_robust_hausdorff(surf, 95),
            ),
        }
        for metric, values in rows.items():
            cells = " | ".join("–" if np.isnan(v) else f"{v:.3f}" for v in values)
            print(f"| {name} | {metric} | {cells} |")


if __name__ == "__main__":
    main()
