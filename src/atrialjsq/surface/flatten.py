"""A flat map of a surface patch with one rim: the rim pinned to the unit circle, the inside harmonic.

With the mitral opening cut out, the LA surface is a disk: its rim is the mitral ring. Two Laplace solves on
the surface (the cotangent Laplacian of `robust_laplacian`, which stays well behaved on marching-cubes
triangles) with the rim's vertices fixed on the unit circle by arc length give each vertex a position in the
disk (a harmonic map, as in standardised unfold maps of the LA; cotangent weights can be negative on
obtuse triangles, so unlike Tutte's uniform-weight embedding a fold-free map is likely, not guaranteed). The rim's
starting point and the map's orientation are free; `orient_map` turns and, where needed, mirrors the disk so
that two given 3D directions point right and up on the page. A harmonic map crowds the far side of the
surface into the disk's centre, wherever the harmonic map puts it: `recentre` moves a chosen point to the
centre by a Möbius map of the disk onto itself (conformal; the rim stays on the circle), and
`equalise_radius` moves each vertex along its ray so that the share of the surface inside radius r is r²
(the share of the disk), keeping every angle and the order along every ray.
"""

from __future__ import annotations

import numpy as np
import robust_laplacian
from scipy import sparse
from scipy.sparse.linalg import splu


def harmonic_disk(vertices: np.ndarray, faces: np.ndarray, rim: np.ndarray) -> np.ndarray:
    """(V, 2) positions in the unit disk for the vertices of `faces` (NaN for vertices not in any face).

    `rim` is the ordered loop of vertex indices mapped to the circle (by arc length); every other vertex of
    the patch gets the cotangent-weighted mean of its neighbours' positions. The patch must be connected.
    """

    vertices = np.asarray(vertices, dtype=np.float64)
    rim = np.asarray(rim, dtype=np.int64)
    if len(rim) < 3:
        raise ValueError("the rim needs at least 3 vertices")
    used = np.unique(faces)
    local = np.full(len(vertices), -1, dtype=np.int64)
    local[used] = np.arange(len(used))
    if (local[rim] < 0).any():
        raise ValueError("rim vertices must belong to the patch's faces")
    laplacian, _ = robust_laplacian.mesh_laplacian(vertices[used], local[faces])
    laplacian = sparse.csr_matrix(laplacian)
    steps = np.linalg.norm(np.diff(vertices[np.append(rim, rim[0])], axis=0), axis=1)
    angle = 2.0 * np.pi * np.concatenate([[0.0], np.cumsum(steps)[:-1]]) / max(float(steps.sum()), 1e-12)
    fixed = local[rim]
    positions = np.zeros((len(used), 2))
    positions[fixed] = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    free = np.setdiff1d(np.arange(len(used)), fixed)
    if len(free):
        # One factorisation for both coordinates. The Laplacian is symmetric: a symmetric fill-reducing order
        # with diagonal pivots factors it in about half the time of the default (the same positions to 1e-10).
        inner = splu(
            laplacian[free][:, free].tocsc(),
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
        coupling = laplacian[free][:, fixed]
        positions[free] = inner.solve(np.asarray(-(coupling @ positions[fixed])))
    out = np.full((len(vertices), 2), np.nan)
    out[used] = positions
    return out


def orient_map(uv: np.ndarray, vertices: np.ndarray, right, up) -> np.ndarray:
    """Turn (and mirror, if needed) the disk so that 3D direction `right` runs to +u and `up` to +v.

    The turn makes the map's least-squares image of `up` point straight up; the mirror, if the image of
    `right` then points left. Vertices with NaN positions stay NaN.
    """
    valid = np.isfinite(uv).all(axis=1)
    centred = vertices[valid] - vertices[valid].mean(axis=0)
    along_up = centred @ np.asarray(up, dtype=np.float64)
    along_right = centred @ np.asarray(right, dtype=np.float64)
    flat = uv[valid]
    up_image = flat.T @ along_up  # the map direction in which `up` grows fastest (up to scale)
    theta = np.pi / 2 - np.arctan2(up_image[1], up_image[0])
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    turned = uv @ rotation.T
    if float(turned[valid, 0] @ along_right) < 0:
        turned[:, 0] = -turned[:, 0]
    return turned


def equalise_radius(uv: np.ndarray, vertex_area: np.ndarray) -> np.ndarray:
    """Rescale radii so that the surface area inside radius r is the fraction r² of the total (see above)."""
    valid = np.isfinite(uv).all(axis=1)
    radius = np.linalg.norm(uv[valid], axis=1)
    order = np.argsort(radius, kind="stable")
    area = np.asarray(vertex_area, dtype=np.float64)[valid][order]
    inside = (np.cumsum(area) - 0.5 * area) / max(float(area.sum()), 1e-12)
    new_radius = np.empty_like(radius)
    new_radius[order] = np.sqrt(np.clip(inside, 0.0, 1.0))
    out = uv.copy()
    scale = np.where(radius > 1e-12, new_radius / np.maximum(radius, 1e-12), 0.0)
    out[valid] = uv[valid] * scale[:, None]
    rim = radius >= 1.0 - 1e-9  # the pinned rim stays on the circle
    out[np.flatnonzero(valid)[rim]] = uv[valid][rim]
    return out


def recentre(uv: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Map the disk onto itself so that the point `centre` (|centre| < 1) lands at 0: z → (z − a)/(1 − ā z)."""
    a = complex(float(centre[0]), float(centre[1]))
    if abs(a) >= 1.0:
        raise ValueError("the new centre must lie inside the unit disk")
    z = uv[:, 0] + 1j * uv[:, 1]
    moved = (z - a) / (1.0 - np.conj(a) * z)
    return np.stack([moved.real, moved.imag], axis=1)
