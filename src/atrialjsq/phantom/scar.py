"""Scar patterns on the LA wall: post-ablation lesion sets and pre-ablation diffuse fibrosis.

Patterns live on the sphere of directions from the LA centre (the LA body is star-shaped around it), so a
lesion drawn there lands on the wall of any anatomy, synthetic or real:

- post-ablation: wide-area circumferential lesions (an elliptic ring around each ipsilateral PV pair's
  antrum, with random gaps where isolation is incomplete), roof and inferior posterior-wall lines joining the
  rings, and a few patchy lesions;
- pre-ablation: diffuse, patchy fibrosis, denser on the posterior wall.

`scar_score` gives every point a score: lesion geometry scores in (1, 2] (higher near a lesion's centre
line) and a smooth random "fibrosis" field in (0, 1) elsewhere. Thresholding the score at the quantile of
the LA surface that matches the requested burden hits the burden exactly: a low burden thins the lesion lines,
a high one keeps them whole and adds fibrosis patches around them.
"""

from __future__ import annotations

import numpy as np

from atrialjsq.phantom.fields import Coords, random_waves, unit, wave_field
from atrialjsq.surface.band import BandParams, band_offsets
from atrialjsq.surface.projection import project_mask_to_surface, sample_at_offsets, surface_points_and_normals

KINDS = ("post-ablation", "pre-ablation")
BURDEN_RANGE = (0.02, 0.40)
SURFACE_REACH_MM = 4.0  # scar within this distance along a surface normal counts for that surface voxel


def _angle(a, b) -> float:
    return float(np.arccos(np.clip(np.dot(unit(a), unit(b)), -1.0, 1.0)))


def _ring(rng: np.random.Generator, veins: list[dict], trunk: dict | None) -> dict:
    """An elliptic ring around one ipsilateral vein pair, in angles on the direction sphere."""
    superior, inferior = veins
    w = unit(np.add(superior["direction"], inferior["direction"]))
    e1 = unit(np.subtract(superior["direction"], inferior["direction"]) - 0 * w)
    e1 = unit(e1 - np.dot(e1, w) * w)
    e2 = np.cross(w, e1)
    vein_angle = max(np.arctan2(v["radius"], np.linalg.norm(v["ostium"])) for v in veins)
    if trunk is not None:
        vein_angle = max(vein_angle, np.arctan2(trunk["radius"], np.linalg.norm(trunk["ostium"])))
    margin = rng.uniform(0.10, 0.22)
    gaps = [[float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(0.15, 0.45))] for _ in range(rng.integers(0, 4))]
    return {
        "centre": np.round(w, 4).tolist(),
        "e1": np.round(e1, 4).tolist(),
        "e2": np.round(e2, 4).tolist(),
        "half_axes": [
            round(_angle(superior["direction"], inferior["direction"]) / 2 + vein_angle + margin, 4),
            round(vein_angle + margin, 4),
        ],
        "half_width": round(float(rng.uniform(0.12, 0.2)), 4),
        "gaps": gaps,
    }


def _ring_point(ring: dict, psi: float) -> np.ndarray:
    a, b = ring["half_axes"]
    return unit(
        np.asarray(ring["centre"])
        + np.tan(a * np.cos(psi)) * np.asarray(ring["e1"])
        + np.tan(b * np.sin(psi)) * np.asarray(ring["e2"])
    )


def _line_between(rings: list[dict], pick) -> list[list[float]]:
    psis = np.linspace(-np.pi, np.pi, 72, endpoint=False)
    ends = []
    for ring in rings:
        points = np.stack([_ring_point(ring, psi) for psi in psis])
        ends.append(points[pick(points[:, 2])])
    return np.round(ends, 4).tolist()


def sample_scar(rng: np.random.Generator, anatomy: dict, kind: str | None = None, burden: float | None = None) -> dict:
    """Draw a scar pattern for `anatomy`; `kind` and the target surface `burden` (fraction) are random if None."""
    kind = kind or ("post-ablation" if rng.random() < 0.7 else "pre-ablation")
    if kind not in KINDS:
        raise ValueError(f"scar kind must be one of {KINDS}, got {kind!r}")
    if burden is None:
        burden = rng.uniform(0.08, 0.40) if kind == "post-ablation" else rng.uniform(0.02, 0.25)
    if not BURDEN_RANGE[0] <= burden <= BURDEN_RANGE[1]:
        raise ValueError(f"burden must be within {BURDEN_RANGE}, got {burden}")
    params: dict = {
        "kind": kind,
        "burden": round(float(burden), 4),
        "fibrosis_waves": random_waves(rng, 8, (0.6, 1.6)),
        "texture_waves": random_waves(rng, 8, (4.0, 9.0)),
        "patchiness_waves": random_waves(rng, 8, (5.0, 12.0)),
        "rings": [],
        "lines": [],
        "patches": [],
    }
    if kind == "post-ablation":
        veins = {v["name"]: v for v in anatomy["veins"]}
        trunk = anatomy.get("left_trunk")
        rings = [_ring(rng, [veins["LSPV"], veins["LIPV"]], trunk), _ring(rng, [veins["RSPV"], veins["RIPV"]], None)]
        params["rings"] = rings
        if rng.random() < 0.6:
            params["lines"].append({"ends": _line_between(rings, np.argmax), "half_width": 0.09})
        if rng.random() < 0.3:
            params["lines"].append({"ends": _line_between(rings, np.argmin), "half_width": 0.09})
        for _ in range(rng.integers(0, 4)):
            centre = unit(rng.normal(size=3) + np.array([0.0, 0.8, 0.0]))
            params["patches"].append(
                {"centre": np.round(centre, 4).tolist(), "radius": round(rng.uniform(0.1, 0.25), 4)}
            )
    return params


def _directions(q: Coords) -> np.ndarray:
    """Unit directions (N, 3) of points from the LA centre."""
    d = np.stack([np.asarray(c, dtype=np.float32).ravel() for c in q], axis=1)
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)


def _ring_score(u: np.ndarray, ring: dict) -> np.ndarray:
    w, e1, e2 = (np.asarray(ring[k], dtype=np.float32) for k in ("centre", "e1", "e2"))
    cw = u @ w
    s = np.arctan2(u @ e1, cw)
    t = np.arctan2(u @ e2, cw)
    a, b = ring["half_axes"]
    rho = np.sqrt((s / a) ** 2 + (t / b) ** 2)
    distance = np.abs(rho - 1.0) * np.sqrt(a * b)
    score = np.where((cw > 0) & (distance < ring["half_width"]), 2.0 - distance / ring["half_width"], 0.0)
    psi = np.arctan2(t / b, s / a)
    for centre, width in ring["gaps"]:
        gap = np.abs(np.angle(np.exp(1j * (psi - centre)))) < width / 2
        score[gap] = 0.0
    return score


def ring_label(params: dict, q: Coords) -> np.ndarray:
    """(N,) whether each reference-frame point lies on one of the pattern's ablation rings (gaps left open):
    the rings alone, without lines, patches or fibrosis, as ground truth for ring-closure checks."""
    u = _directions(q)
    label = np.zeros(len(u), dtype=bool)
    for ring in params["rings"]:
        label |= _ring_score(u, ring) > 1.0
    return label


def ring_gap_centres(ring: dict, q: Coords, points_mm: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
    """Where each gap of `ring` lies: the weighted mean of `points_mm` (rendered positions of the reference
    points `q`) that fall in the ring's zone within the gap's angular extent; gaps no point falls in are
    left out."""
    u = _directions(q)
    zone = _ring_score(u, dict(ring, gaps=[])) > 1.0
    w, e1, e2 = (np.asarray(ring[k], dtype=np.float32) for k in ("centre", "e1", "e2"))
    a, b = ring["half_axes"]
    cw = u @ w
    psi = np.arctan2(np.arctan2(u @ e2, cw) / b, np.arctan2(u @ e1, cw) / a)  # as in _ring_score
    centres = []
    for centre, width in ring["gaps"]:
        inside = zone & (np.abs(np.angle(np.exp(1j * (psi - centre)))) < width / 2)
        if inside.any():
            centres.append((weights[inside] @ points_mm[inside]) / weights[inside].sum())
    return centres


def _line_score(u: np.ndarray, line: dict) -> np.ndarray:
    a, b = (np.asarray(e, dtype=np.float64) for e in line["ends"])
    normal = unit(np.cross(a, b)).astype(np.float32)
    off_plane = np.arcsin(np.clip(np.abs(u @ normal), 0.0, 1.0))
    # Between the two ends: the in-plane projection lies within the arc from a to b.
    arc = _angle(a, b)
    projected = u - (u @ normal)[:, None] * normal
    projected /= np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-6)
    along_a = np.arccos(np.clip(projected @ a.astype(np.float32), -1, 1))
    along_b = np.arccos(np.clip(projected @ b.astype(np.float32), -1, 1))
    between = np.abs(along_a + along_b - arc) < 1e-3 + 1e-6 * arc
    hw = line["half_width"]
    return np.where(between & (off_plane < hw), 2.0 - off_plane / hw, 0.0)


def scar_score(params: dict, q: Coords) -> np.ndarray:
    """Score (flattened like q) of each point in reference coordinates: lesions in (1, 2], fibrosis in (0, 1)."""
    u = _directions(q)
    fibrosis = wave_field((u[:, 0], u[:, 1], u[:, 2]), params["fibrosis_waves"])
    if params["kind"] == "pre-ablation":
        x, y, z = (np.asarray(c, dtype=np.float32).ravel() for c in q)
        flat_q = (x, y, z)
        fibrosis = 0.75 * fibrosis + 0.45 * wave_field(flat_q, params["patchiness_waves"]) + 0.8 * u[:, 1]
    score = 0.5 + 0.5 * np.tanh(0.6 * fibrosis)
    lesions = np.zeros(len(u), dtype=np.float32)
    for ring in params["rings"]:
        lesions = np.maximum(lesions, _ring_score(u, ring))
    for line in params["lines"]:
        lesions = np.maximum(lesions, _line_score(u, line))
    for patch in params["patches"]:
        distance = np.arccos(np.clip(u @ np.asarray(patch["centre"], dtype=np.float32), -1, 1))
        lesions = np.maximum(lesions, np.where(distance < patch["radius"], 2.0 - distance / patch["radius"], 0.0))
    return np.where(lesions > 1.0, lesions, score).astype(np.float32)


def threshold_for_burden(surface_scores: np.ndarray, burden: float) -> float:
    """The score threshold that marks `burden` of the surface points as scar."""
    if surface_scores.size == 0:
        raise ValueError("no surface points to set the scar threshold on")
    return float(np.quantile(surface_scores, 1.0 - burden))


def burden_threshold(la: np.ndarray, score: np.ndarray, spacing, burden: float) -> float:
    """The threshold on a scar-score volume (-1 off the wall) that makes `burden` of the LA surface scar,
    measured as evaluation does: a surface voxel is scar when scar lies along its outward normal within
    SURFACE_REACH_MM. The best score along each ray decides, so the quantile of those maxima hits the burden
    exactly (up to ties)."""
    points, normals = surface_points_and_normals(la, spacing)
    offsets = band_offsets(0.0, SURFACE_REACH_MM, 0.5)  # outwards only: 0, 0.5, …, SURFACE_REACH_MM
    best = sample_at_offsets(score, points, normals, spacing, offsets, order=0).max(axis=1)
    return max(threshold_for_burden(best, burden), 1e-3)


def surface_burden(la: np.ndarray, scar: np.ndarray, spacing, max_mm: float = SURFACE_REACH_MM) -> float:
    """Fraction of LA boundary voxels whose outward normal meets scar within `max_mm` (the paper's surface
    representation of scar, as used by evaluation)."""
    projection = project_mask_to_surface(la, scar, spacing, BandParams(reach_mm=max_mm, step_mm=0.5))
    return float(projection.hit.mean()) if len(projection) else 0.0


def texture(params: dict, q: Coords) -> np.ndarray:
    """Multiplicative scar texture (mean 1): dense and patchy enhancement are not uniform in LGE."""
    return np.clip(1.0 + 0.18 * wave_field(q, params["texture_waves"]), 0.6, 1.5).astype(np.float32)


# Training-time variety (`atrialjsq.train.scar_synthesis`): each pattern alone, or the full post-ablation mix, and
# diffuse pre-ablation fibrosis. "mixed" is `sample_scar`'s post-ablation set (rings, lines and patches together).
PATTERNS = ("rings", "lines", "patches", "fibrosis", "mixed")


def sample_pattern(rng: np.random.Generator, anatomy: dict, pattern: str, burden: float) -> dict:
    """A scar pattern of one `pattern` kind for `anatomy`, aiming at surface `burden` (fraction, 0–1).

    Unlike `sample_scar` (the injection and phantom generator, kept as it was) any burden is allowed and each
    lesion type can come alone, so that a network trained on these can be tested on a pattern it never saw.
    Texture scale and contrast are drawn too (`texture_waves`, `texture_amplitude`)."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")
    if not 0.0 <= burden <= 1.0:
        raise ValueError(f"burden must be a fraction within [0, 1], got {burden}")
    kind = "pre-ablation" if pattern == "fibrosis" else "post-ablation"
    params = sample_scar(rng, anatomy, kind, min(max(burden, BURDEN_RANGE[0]), BURDEN_RANGE[1]))
    params["burden"] = round(float(burden), 4)
    params["pattern"] = pattern
    shortest = float(rng.uniform(1.5, 6.0))
    params["texture_waves"] = random_waves(rng, 8, (shortest, shortest * rng.uniform(1.5, 3.0)))
    params["texture_amplitude"] = round(float(rng.uniform(0.05, 0.35)), 4)
    if pattern == "rings":
        params["lines"], params["patches"] = [], []
    elif pattern == "lines":
        params["patches"] = []
        params["lines"] = [
            {"ends": _line_between(params["rings"], pick), "half_width": 0.09} for pick in (np.argmax, np.argmin)
        ]
        params["rings"] = []
    elif pattern == "patches":
        params["rings"], params["lines"] = [], []
        params["patches"] = [
            {"centre": np.round(unit(rng.normal(size=3)), 4).tolist(), "radius": round(rng.uniform(0.1, 0.35), 4)}
            for _ in range(rng.integers(2, 7))
        ]
    return params


def textured(params: dict, q: Coords) -> np.ndarray:
    """Multiplicative scar texture (mean 1) with the pattern's own contrast (`texture_amplitude`, else 0.18)."""
    amplitude = float(params.get("texture_amplitude", 0.18))
    return np.clip(1.0 + amplitude * wave_field(q, params["texture_waves"]), 0.4, 1.8).astype(np.float32)
