"""Tiny cached cases built in code: a ball-shaped LA with a scar cap on its wall, targets from `compute_targets`."""

from __future__ import annotations

import numpy as np

from atrialjsq.data.targets import compute_targets


def sphere_case(
    full_shape=(24, 24, 24), radius_mm=6.0, offset=(0.0, 0.0, 0.0), spacing=(1.0, 1.0, 1.0), seed=0
) -> dict[str, np.ndarray]:
    """One cached case (arrays of roi + 2·margin): bright blood pool, darker wall, bright scar cap on +x."""
    rng = np.random.default_rng(seed)
    axes = [(np.arange(n) - (n - 1) / 2) * s for n, s in zip(full_shape, spacing, strict=True)]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    x, y, z = x - offset[0], y - offset[1], z - offset[2]
    r = np.sqrt(x**2 + y**2 + z**2)
    la = (r <= radius_mm).astype(np.uint8)
    shell = (r > radius_mm - 2) & (r <= radius_mm + 1.5)
    scar = (shell & (x > 0.5 * radius_mm)).astype(np.uint8)
    image = np.where(la > 0, 1.0, 0.0) + np.where(shell & (la == 0), -0.5, 0.0) + 1.5 * scar
    image = image + 0.1 * rng.normal(size=full_shape)
    image = ((image - image.mean()) / image.std()).astype(np.float32)
    targets = compute_targets(la, scar, spacing)
    return {"image": image, "la": la, **{k: targets[k] for k in ("phi_la", "band", "phi_normal", "phi_scar")}}


PHANTOM_GRID = {"shape": (80, 80, 40), "spacing": (1.75, 1.75, 2.75)}  # a tiny phantom acquisition


def phantom_case(seed: int, spacing=(3.5, 3.5, 3.5), roi=(16, 16, 16), margin=(4, 4, 4)) -> dict[str, np.ndarray]:
    """A synthetic LGE phantom (atrialjsq.phantom) preprocessed like the cache: coarse grid, tiny ROI."""
    from atrialjsq.data.preprocess import preprocess_case
    from atrialjsq.phantom.generate import generate_phantom

    case, _ = generate_phantom(seed, "easy", **PHANTOM_GRID)
    arrays = preprocess_case(case, spacing=spacing, roi=roi, margin=margin).arrays
    return {key: arrays[key] for key in ("image", "la", "phi_la", "band", "phi_normal", "phi_scar")}
