"""The chest around the heart, rendered on the acquisition grid: body wall, lungs, spine, liver and abdomen.

These structures are large and smooth, so they are drawn as 2D maps extruded along z (cheap), combined with
z only where it matters: the diaphragm dome separating lung from liver/abdomen and the intervertebral discs.
Edges get a one-voxel soft ramp for partial volume. Same LA-centred LPS frame as `anatomy.py`.
"""

from __future__ import annotations

import numpy as np

from atrialjsq.phantom.fields import soft_fraction


def sample_torso(rng: np.random.Generator) -> dict:
    """Random body habitus and the position of spine and diaphragm (JSON-able numbers)."""
    half_width, half_depth = rng.uniform(140, 165), rng.uniform(100, 120)
    return {
        "centre": [round(rng.uniform(-10, 0), 3), round(rng.uniform(0, 10), 3)],
        "half_axes": [round(half_width, 3), round(half_depth, 3)],
        "subcutaneous_fat_mm": round(rng.uniform(6, 16), 3),
        "muscle_mm": round(rng.uniform(8, 13), 3),
        "spine": [round(rng.uniform(-4, 2), 3), round(rng.uniform(54, 60), 3), round(rng.uniform(14, 17), 3)],
        "disc_period_mm": round(rng.uniform(25, 30), 3),
        "disc_phase": round(rng.uniform(0, 1), 3),
        "dome_mm": [round(rng.uniform(-50, -38), 3), round(rng.uniform(-60, -48), 3)],
    }


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
    """Approximate signed distance (mm) to an axis-aligned ellipse."""
    k = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
    return (k - 1.0) * np.float32(min(ax, ay))


def render_torso(
    torso: dict, tissue: dict, axes: tuple[np.ndarray, np.ndarray, np.ndarray], voxel_mm: float
) -> np.ndarray:
    """Noise-free torso intensities on the grid spanned by `axes` (1D physical coordinates per axis)."""
    x = np.asarray(axes[0], dtype=np.float32)[:, None]
    y = np.asarray(axes[1], dtype=np.float32)[None, :]
    z = np.asarray(axes[2], dtype=np.float32)
    cx, cy = torso["centre"]
    ax, ay = torso["half_axes"]
    fat_mm, muscle_mm = torso["subcutaneous_fat_mm"], torso["muscle_mm"]
    sx, sy, sr = torso["spine"]

    def paint(image, region_sdf, value):
        alpha = soft_fraction(region_sdf, voxel_mm)
        return image * (1 - alpha) + np.float32(value) * alpha, alpha

    # 2D: skin fat, chest-wall muscle, and the spine with its canal and paraspinal muscles.
    wall = np.zeros(np.broadcast_shapes(x.shape, y.shape), dtype=np.float32)
    wall, _ = paint(wall, _ellipse(x, y, cx, cy, ax, ay), tissue["fat"])
    wall, _ = paint(wall, _ellipse(x, y, cx, cy, ax - fat_mm, ay - fat_mm), tissue["muscle"])
    inner = (ax - fat_mm - muscle_mm, ay - fat_mm - muscle_mm)
    cavity = soft_fraction(_ellipse(x, y, cx, cy + 0.05 * inner[1], inner[0], inner[1] * 0.92), voxel_mm)
    for region, value in (
        (np.minimum(_ellipse(x, y, sx - 30, sy + 32, 24, 20), _ellipse(x, y, sx + 30, sy + 32, 24, 20)), "muscle"),
        (_ellipse(x, y, sx, sy + sr + 9, 7, 7), "csf"),
        (_ellipse(x, y, sx, sy, sr, sr * 0.95), "marrow"),
    ):
        wall, alpha = paint(wall, region, tissue[value])
        cavity = cavity * (1 - alpha)
    vertebra = alpha

    # 3D: the cavity holds lung above the diaphragm dome, liver (right) or stomach/spleen (left) below it.
    right_dome, left_dome = torso["dome_mm"]
    dome = (
        np.where(x < cx, right_dome, left_dome) - 40.0 * ((x - cx) / inner[0]) ** 2 - 25.0 * ((y - cy) / inner[1]) ** 2
    )
    below = soft_fraction(z[None, None, :] - dome[..., None].astype(np.float32), voxel_mm)
    abdomen = np.where(x < cx + 10, tissue["liver"], tissue["abdomen"]).astype(np.float32) + 0 * y
    lung = np.float32(tissue["lung"])
    image = (wall * (1 - cavity) + cavity * lung)[..., None] + (cavity * (abdomen - lung))[..., None] * below

    # Intervertebral discs: darker than the fatty marrow of the vertebral bodies, every ~27 mm.
    phase = ((z - torso["disc_period_mm"] * torso["disc_phase"]) / torso["disc_period_mm"]) % 1.0
    disc = (np.abs(phase - 0.5) < 0.12).astype(np.float32) * np.float32(tissue["disc"] - tissue["marrow"])
    rows, cols = np.nonzero(vertebra > 0)
    if rows.size:
        box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        image[box] += vertebra[box][..., None] * disc[None, None, :]
    return image.astype(np.float32, copy=False)
