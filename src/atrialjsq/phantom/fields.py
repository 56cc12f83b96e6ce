"""Implicit shapes (signed distances in mm) and smooth random fields, evaluated on numpy coordinate arrays.

Phantom anatomy is described analytically so it can be rendered at any resolution without voxel loops:
each structure is a signed distance f(p) (negative inside) built from ellipsoids and tapered tubes joined
with a smooth minimum, which gives the flared, funnel-like PV antra and appendage neck of real atria.
Coordinates are passed as a tuple (x, y, z) of broadcastable float32 arrays in millimetres.
"""

from __future__ import annotations

import numpy as np

Coords = tuple[np.ndarray, np.ndarray, np.ndarray]


def select(p: Coords, index) -> Coords:
    """The points `index` picks (a box of slices, a mask) out of each of the three coordinate arrays."""
    return p[0][index], p[1][index], p[2][index]


def rotation_matrix(axis_angles_deg) -> np.ndarray:
    """Rotation about x, then y, then z by the given angles (degrees)."""
    ax, ay, az = np.deg2rad(np.asarray(axis_angles_deg, dtype=np.float64))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def ellipsoid(p: Coords, centre, radii, rotation: np.ndarray | None = None) -> np.ndarray:
    """Approximate signed distance to an ellipsoid (exact on the surface, close nearby; Quilez's bound)."""
    d = [p[i] - np.float32(centre[i]) for i in range(3)]
    if rotation is not None:
        r = np.asarray(rotation, dtype=np.float32)
        # Local coordinates q = Rᵀ d.
        d = [r[0, i] * d[0] + r[1, i] * d[1] + r[2, i] * d[2] for i in range(3)]
    radii = np.asarray(radii, dtype=np.float32)
    k0 = np.sqrt(sum((d[i] / radii[i]) ** 2 for i in range(3)))
    k1 = np.sqrt(sum((d[i] / radii[i] ** 2) ** 2 for i in range(3)))
    # At the exact centre the bound is 0/0; the distance there is (at most) the smallest radius.
    return np.where(k1 > 1e-9, k0 * (k0 - 1.0) / np.maximum(k1, np.float32(1e-9)), -np.float32(radii.min()))


def tube(p: Coords, a, b, radius_a: float, radius_b: float | None = None) -> np.ndarray:
    """Signed distance to a capsule from a to b whose radius tapers linearly from radius_a to radius_b."""
    radius_b = radius_a if radius_b is None else radius_b
    a = np.asarray(a, dtype=np.float32)
    ba = np.asarray(b, dtype=np.float32) - a
    length2 = float(ba @ ba)
    pa = [p[i] - a[i] for i in range(3)]
    h = np.clip((pa[0] * ba[0] + pa[1] * ba[1] + pa[2] * ba[2]) / np.float32(length2), 0.0, 1.0)
    dist = np.sqrt(sum((pa[i] - h * ba[i]) ** 2 for i in range(3)))
    return dist - (np.float32(radius_a) + h * np.float32(radius_b - radius_a))


def polyline_tube(p: Coords, points, radii) -> np.ndarray:
    """A tube along a polyline (e.g. a curved vein or the aortic arch), radius given per vertex."""
    result = None
    for i in range(len(points) - 1):
        segment = tube(p, points[i], points[i + 1], radii[i], radii[i + 1])
        result = segment if result is None else np.minimum(result, segment)
    if result is None:
        raise ValueError(f"polyline_tube needs at least two points, got {len(points)}")
    return result


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: a union that fills the crease between two shapes over about k mm."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / np.float32(k), 0.0, 1.0)
    return b + (a - b) * h - np.float32(k) * h * (1.0 - h)


def half_space(p: Coords, point, normal) -> np.ndarray:
    """Signed distance to the half-space {(q - point)·normal <= 0}."""
    n = unit(normal).astype(np.float32)
    return sum((p[i] - np.float32(point[i])) * n[i] for i in range(3))


def soft_fraction(f: np.ndarray, width: float) -> np.ndarray:
    """Fraction of a voxel of size `width` (mm) inside {f < 0}: the partial-volume ramp of a plane."""
    return np.clip(0.5 - f / np.float32(width), 0.0, 1.0)


def random_waves(rng: np.random.Generator, n: int, wavelength_mm: tuple[float, float]) -> dict:
    """Parameters of a smooth random field: a sum of `n` plane waves with random directions and phases."""
    directions = rng.normal(size=(n, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    wavelengths = rng.uniform(*wavelength_mm, size=n)
    return {
        "k": (directions * (2 * np.pi / wavelengths[:, None])).round(6).tolist(),
        "phase": rng.uniform(0, 2 * np.pi, size=n).round(6).tolist(),
    }


def wave_field(p: Coords, waves: dict) -> np.ndarray:
    """Evaluate a `random_waves` field; values have zero mean and unit variance (√(2/n) normalisation)."""
    k = np.asarray(waves["k"], dtype=np.float32)
    phase = np.asarray(waves["phase"], dtype=np.float32)
    total = None
    for kk, ph in zip(k, phase, strict=True):
        term = np.cos(kk[0] * p[0] + kk[1] * p[1] + kk[2] * p[2] + ph)
        total = term if total is None else total + term
    if total is None:
        raise ValueError("wave_field needs at least one wave")
    return total * np.float32(np.sqrt(2.0 / len(k)))


FAR_MM = 40.0  # value of a signed distance outside a primitive's bounding box: "far from it"


class BoxedSampler:
    """Evaluates shapes only inside their bounding boxes on a regular grid (the big speed-up of the phantom).

    `q` holds the (warped) reference coordinates of every grid point; `axes` the unwarped physical coordinate
    of each index along x, y, z. A box in physical mm is widened by `margin_mm` (at least the warp amplitude)
    and outside it the shape's distance reads FAR_MM, which every caller treats as "well outside".
    """

    def __init__(self, q: Coords, axes: tuple[np.ndarray, np.ndarray, np.ndarray], margin_mm: float) -> None:
        self.q = q
        self.axes = axes
        self.margin_mm = margin_mm
        self.shape = q[0].shape

    def box(self, lo, hi) -> tuple[slice, slice, slice] | None:
        slices = []
        for axis, a, b in zip(self.axes, lo, hi, strict=True):
            start = int(np.searchsorted(axis, a - self.margin_mm))
            stop = int(np.searchsorted(axis, b + self.margin_mm, side="right"))
            if stop <= start:
                return None
            slices.append(slice(start, stop))
        return slices[0], slices[1], slices[2]

    def eval(self, shape_fn, lo, hi) -> np.ndarray:
        out = np.full(self.shape, FAR_MM, dtype=np.float32)
        box = self.box(lo, hi)
        if box is not None:
            out[box] = shape_fn(select(self.q, box))
        return out

    def tube(self, points, radii, pad_mm: float = 15.0) -> np.ndarray:
        """A polyline tube (see `polyline_tube`) evaluated segment by segment inside each segment's box."""
        points = np.asarray(points, dtype=np.float64)
        radii = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(points),))
        out = np.full(self.shape, FAR_MM, dtype=np.float32)
        for i in range(len(points) - 1):
            reach = max(radii[i], radii[i + 1]) + pad_mm
            lo = np.minimum(points[i], points[i + 1]) - reach
            hi = np.maximum(points[i], points[i + 1]) + reach
            box = self.box(lo, hi)
            if box is None:
                continue
            segment = tube(select(self.q, box), points[i], points[i + 1], radii[i], radii[i + 1])
            np.minimum(out[box], segment, out=out[box])
        return out

    def ellipsoid(self, centre, radii, rotation=None, pad_mm: float = 15.0) -> np.ndarray:
        reach = float(np.max(radii)) + pad_mm
        centre = np.asarray(centre, dtype=np.float64)
        return self.eval(lambda q: ellipsoid(q, centre, radii, rotation), centre - reach, centre + reach)
