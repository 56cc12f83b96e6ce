"""Time `compute_targets` on one synthetic 208×208×80 case (1 mm), next to a naive baseline.

The case is built in code: an ellipsoidal LA (semi-axes 45, 40, 30 mm) with scar patches in its wall. The
baseline computes the same targets the straightforward way: two full-volume scipy EDTs per map (inside and
outside), normals from a full-volume Gaussian and np.gradient, and map_coordinates along the normal of every
band voxel. The script checks that both agree, then prints the machine, both times and the ratio.
Target: compute_targets ≤ 0.5 s on the 2-core development machine.

    /tmp/v0/bin/python benchmarks/bench_targets.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from scipy import ndimage

from atrialjsq.data.targets import compute_targets
from atrialjsq.surface.boundary import boundary_voxels
from atrialjsq.surface.projection import offsets_mm

SHAPE = (208, 208, 80)
SPACING = (1.0, 1.0, 1.0)
CLIP = 50.0


def synthetic_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An ellipsoidal LA and a few scar patches in the 0–3 mm shell outside it."""
    rng = np.random.default_rng(seed)
    center = np.array([103.5, 103.5, 39.5])
    radii = np.array([45.0, 40.0, 30.0])
    x, y, z = np.meshgrid(
        *[(np.arange(n) - c) / r for n, c, r in zip(SHAPE, center, radii, strict=True)], indexing="ij"
    )
    level = np.sqrt(x**2 + y**2 + z**2)
    la = level <= 1.0
    wall = (level > 1.0) & (level <= 1.0 + 3.0 / radii.min())
    scar = np.zeros(SHAPE, dtype=bool)
    points = np.stack([x, y, z], axis=-1)
    for _ in range(5):
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        cos = (points @ axis) / np.maximum(level, 1e-9)
        scar |= wall & (cos >= np.cos(np.radians(rng.uniform(10, 25))))
    return la, scar


def naive_signed_distance(mask: np.ndarray, spacing) -> np.ndarray:
    """Two full-volume scipy EDTs, same sub-voxel definition as `signed_distance`."""
    outside = ndimage.distance_transform_edt(~mask, sampling=spacing)
    inside = ndimage.distance_transform_edt(np.pad(mask, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    magnitude = np.maximum(np.where(mask, inside, outside) - 0.5 * max(spacing), 0.0)
    return np.clip(np.where(mask, -magnitude, magnitude), -CLIP, CLIP)


def naive_targets(la: np.ndarray, scar: np.ndarray, spacing) -> dict[str, np.ndarray]:
    phi_la = naive_signed_distance(la, spacing)
    band = (phi_la >= -2.0) & (phi_la <= 1.5)
    smooth = ndimage.gaussian_filter(la.astype(np.float64), 2.0 / np.asarray(spacing), truncate=3.0)
    gradient = np.stack(np.gradient(smooth, *spacing), axis=-1)
    points = np.argwhere(band)
    normals = -gradient[tuple(points.T)]
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    offsets = offsets_mm(10.0, 0.5)
    coords = points[:, None, :] + offsets[None, :, None] * (normals / np.asarray(spacing))[:, None, :]
    samples = ndimage.map_coordinates(scar.astype(np.uint8), coords.reshape(-1, 3).T, order=0, mode="constant")
    hit = samples.reshape(len(points), len(offsets)).any(axis=1)
    scar_band = np.zeros(la.shape, dtype=bool)
    scar_band[tuple(points[hit].T)] = True
    normal_band = band & ~scar_band
    labels = np.zeros(la.shape, dtype=np.uint8)
    labels[normal_band] = 1
    labels[scar_band] = 2
    return {
        "phi_la": phi_la.astype(np.float16),
        "band": labels,
        "phi_normal": naive_signed_distance(normal_band, spacing).astype(np.float16),
        "phi_scar": naive_signed_distance(scar_band, spacing).astype(np.float16),
        "surface": boundary_voxels(la).astype(np.uint8),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path (the best of each is reported)")
    args = parser.parse_args()
    la, scar = synthetic_case()

    times = []
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        ours = compute_targets(la, scar, SPACING)
        times.append(time.perf_counter() - start)
    naive_times = []
    for _ in range(max(1, args.repeat)):  # timed as ours is: the best of --repeat runs
        start = time.perf_counter()
        naive = naive_targets(la, scar, SPACING)
        naive_times.append(time.perf_counter() - start)
    naive_time = min(naive_times)

    band_agreement = float(np.mean(ours["band"][naive["band"] > 0] == naive["band"][naive["band"] > 0]))
    phi_error = float(np.abs(ours["phi_la"].astype(np.float32) - naive["phi_la"].astype(np.float32)).max())
    if phi_error > 0.05 or band_agreement < 0.99:
        print(f"MISMATCH: phi_la max error {phi_error:.3f} mm, band label agreement {band_agreement:.4f}")
        return 1

    machine = f"{platform.system()} {platform.machine()} {platform.processor() or 'unknown cpu'}"
    print(f"machine: {machine}, {os.cpu_count()} cores, python {platform.python_version()}")
    labels = np.bincount(ours["band"].ravel(), minlength=3)
    print(f"case: {SHAPE} at {SPACING} mm, band {labels[1]} normal + {labels[2]} scar voxels")
    print(f"compute_targets: {min(times):.3f} s (best of {len(times)})")
    print(f"naive baseline (full-volume scipy EDTs, full-volume normals, all band voxels): {naive_time:.3f} s")
    print(f"speed-up: {naive_time / min(times):.1f}x (band labels agree on {band_agreement:.2%} of band voxels)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
