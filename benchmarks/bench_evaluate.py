"""Time LA metrics + scar projection metrics on one synthetic 576×576×88 case, next to a naive baseline.

The baseline is what a medpy-style script does: full-volume boundaries and full-volume EDTs (scipy, no bounding
box), and the scar projection as a per-voxel Python loop over the surface. Both compute the same numbers; the
script checks they agree and prints machine, both times and the ratio. Target: ours ≤ 2 s.

    /tmp/v0/bin/python benchmarks/bench_evaluate.py [--skip-baseline]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from scipy import ndimage

from atrialjsq.evaluate.la_metrics import la_metrics
from atrialjsq.evaluate.scar_metrics import SurfaceLabels, metrics_from_labels, scar_metrics
from atrialjsq.surface.boundary import outward_normals
from atrialjsq.surface.projection import offsets_mm

SHAPE = (576, 576, 88)
SPACING = (0.625, 0.625, 1.25)


def ellipsoid(shape, center_mm, radii_mm, spacing) -> np.ndarray:
    axes = [(np.arange(n) * s - c) / r for n, s, c, r in zip(shape, spacing, center_mm, radii_mm, strict=True)]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    return (x**2 + y**2 + z**2) <= 1.0


def synthetic_case(seed: int = 0) -> tuple[np.ndarray, ...]:
    """GT LA ellipsoid, a perturbed prediction, and manual / automatic scar patches in the wall."""
    rng = np.random.default_rng(seed)
    center = np.array([180.0, 180.0, 52.0])
    radii = np.array([34.0, 29.0, 24.0])  # about 100 mL, a typical LA
    la_gt = ellipsoid(SHAPE, center, radii, SPACING)
    la_pred = ellipsoid(SHAPE, center + np.array([1.5, -1.0, 0.8]), radii * np.array([1.04, 0.97, 1.02]), SPACING)
    la_pred |= ellipsoid(SHAPE, center + np.array([0.0, 0.0, radii[2]]), [6.0, 6.0, 8.0], SPACING)  # a spurious "vein"
    wall = ndimage.binary_dilation(la_gt, iterations=3) & ~la_gt
    scar_gt = np.zeros(SHAPE, dtype=bool)
    scar_pred = np.zeros(SHAPE, dtype=bool)
    for _ in range(6):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        spot = center + radii * direction
        scar_gt |= ellipsoid(SHAPE, spot, [9.0, 9.0, 9.0], SPACING)
        scar_pred |= ellipsoid(SHAPE, spot + rng.normal(scale=2.0, size=3), [8.0, 10.0, 9.0], SPACING)
    return la_gt, la_pred, scar_gt & wall, scar_pred & ndimage.binary_dilation(wall, iterations=2)


def ours(la_gt, la_pred, scar_gt, scar_pred) -> dict[str, float]:
    row = la_metrics(la_pred, la_gt, SPACING)
    # the naive reference projects by any hit: the wall form, whatever the detection would say of this case
    row.update(scar_metrics(la_gt, scar_gt, scar_pred, SPACING, la_pred=la_pred, scar_form="wall"))
    return row


def naive(la_gt, la_pred, scar_gt, scar_pred) -> dict[str, float]:
    """medpy-style: full-volume erosions and EDTs, per-voxel loop for the projection (same definitions)."""
    six = ndimage.generate_binary_structure(3, 1)
    row = {}
    for spacing, unit in ((SPACING, "mm"), ((1, 1, 1), "vox")):
        border_pred = la_pred ^ ndimage.binary_erosion(la_pred, six, border_value=0)
        border_gt = la_gt ^ ndimage.binary_erosion(la_gt, six, border_value=0)
        d_pg = ndimage.distance_transform_edt(~border_gt, sampling=spacing)[border_pred]
        d_gp = ndimage.distance_transform_edt(~border_pred, sampling=spacing)[border_gt]
        row[f"ASD_{unit}"] = d_pg.mean()
        row[f"HD_{unit}"] = max(d_pg.max(), d_gp.max())
        row[f"HD95_{unit}"] = np.percentile(np.concatenate([d_pg, d_gp]), 95)
    border = la_gt ^ ndimage.binary_erosion(la_gt, six, border_value=0)
    points = np.argwhere(border)
    normals = outward_normals(la_gt, SPACING, points)
    offsets = offsets_mm(10.0, 0.5)
    shape = np.array(SHAPE)
    manual = np.zeros(len(points), dtype=bool)
    auto = np.zeros(len(points), dtype=bool)
    inside_any = np.zeros(len(points), dtype=bool)
    inside_all = np.ones(len(points), dtype=bool)
    for i, (point, normal) in enumerate(zip(points, normals, strict=True)):
        for t in offsets:
            index = np.rint(point + t * normal / np.array(SPACING)).astype(int)
            if np.any(index < 0) or np.any(index >= shape):
                inside_all[i] = False
                continue
            manual[i] |= scar_gt[tuple(index)]
            auto[i] |= scar_pred[tuple(index)]
            inside_any[i] |= la_pred[tuple(index)]
            inside_all[i] &= la_pred[tuple(index)]
    row.update(metrics_from_labels(SurfaceLabels(points, manual, auto, auto | (inside_any & ~inside_all))))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-baseline", action="store_true", help="time only our implementation")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    case = synthetic_case()
    print(f"case: {SHAPE} at {SPACING} mm, LA {int(case[0].sum())} voxels, manual scar {int(case[2].sum())} voxels")
    start = time.perf_counter()
    row = ours(*case)
    ours_s = time.perf_counter() - start
    print(f"ours:     {ours_s:.2f} s  (target <= 2 s; LA metrics + scar projection metrics)")
    print("  " + ", ".join(f"{k}={v:.3f}" for k, v in row.items()))
    if args.skip_baseline:
        return
    start = time.perf_counter()
    reference = naive(*case)
    naive_s = time.perf_counter() - start
    print(f"baseline: {naive_s:.2f} s  (full-volume EDTs, per-voxel projection loop)")
    mismatched = [k for k, v in reference.items() if not np.isclose(row[k], v, rtol=1e-5, equal_nan=True)]
    print(f"ratio:    {naive_s / ours_s:.1f}x faster; values agree: {not mismatched} {mismatched or ''}")
    if mismatched:  # a faster path that computes something else is no speed-up
        raise SystemExit(f"the two paths disagree on {', '.join(mismatched)}")


if __name__ == "__main__":
    main()
