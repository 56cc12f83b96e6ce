"""Scar injection: put synthetic scar of known extent into the LA wall of a real LGE image.

Real images with an LA label but no scar label (LASC 2018) become scar-quantification test cases with exact
ground truth. The scar patterns are the phantom's (`scar.py`), placed on the directions from the LA centre;
the PV "antra" that post-ablation rings encircle are found from the label itself (the four largest
protrusions of the LA surface, paired by proximity into ipsilateral pairs). Scar occupies the outer wall
shell 0..wall_mm outside the LA label, like LAScarQS scar labels, and is rendered from the image's own
statistics so that it blends in: each scar voxel takes the value of the blood a few mm inside the wall
(so it carries the image's own noise, resolution and texture), times a smooth patchy texture, scaled so
the scar's mean is IIR × the blood-pool mean; the edge is feathered over about one voxel outside the label.

Intensity zero: IIR is a ratio of signal magnitudes, so intensities are measured from the minimum of the
window around the LA (the image minimum for a magnitude image)
(air), which makes z-scored images such as the LASC 2018 h5 release usable as they are.
"""

from __future__ import annotations

import warnings

import edt
import numpy as np
from scipy import ndimage

from atrialjsq.data.case import Case
from atrialjsq.data.plausibility import border_problem
from atrialjsq.errors import InputError
from atrialjsq.io.orientation import NETWORK_ORIENTATION, orientation_code, reoriented
from atrialjsq.io.volume import Volume
from atrialjsq.phantom import scar as scar_mod
from atrialjsq.phantom.appearance import DIFFICULTY
from atrialjsq.surface.boundary import bounding_box

MARGIN_MM = 12.0
BLOOD_CORE_MM = 3.0
FEATHER_VOXELS = 0.7
MAX_KMEANS_POINTS = 2000
INWARD_MM = 3.0


def _protrusions(la: np.ndarray, spacing, centre: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Unit directions of the four largest protrusions of the LA surface (PVs / appendage), by k-means on
    the directions of the surface points farthest from the centre."""
    from sklearn.cluster import KMeans  # scikit-learn: ~1 s to import, deferred to first use

    points = np.argwhere(la & ~ndimage.binary_erosion(la)) * np.asarray(spacing) - centre
    radius = np.linalg.norm(points, axis=1)
    far = points[radius > np.percentile(radius, 75)]
    if len(far) > MAX_KMEANS_POINTS:
        far = far[rng.choice(len(far), MAX_KMEANS_POINTS, replace=False)]
    directions = far / np.linalg.norm(far, axis=1, keepdims=True)
    if len(directions) < 4:
        raise ValueError("LA label too small to find its veins")
    seed = int(rng.integers(0, 2**31 - 1))
    kmeans = KMeans(n_clusters=4, n_init=2, random_state=seed).fit(directions)
    return [c / np.linalg.norm(c) for c in kmeans.cluster_centers_]


def _pseudo_anatomy(directions: list[np.ndarray], la_radius_mm: float) -> dict:
    """Vein records (as in `anatomy.sample_anatomy`) for the protrusions, paired into two ipsilateral pairs."""
    pairings = [((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))]

    def spread(pairing):
        return sum(np.arccos(np.clip(directions[a] @ directions[b], -1, 1)) for a, b in pairing)

    best = min(pairings, key=spread)
    veins = []
    for names, pair in zip((("LSPV", "LIPV"), ("RSPV", "RIPV")), best, strict=True):
        ordered = sorted(pair, key=lambda i: -directions[i][2])  # the more superior (higher z) first
        for name, index in zip(names, ordered, strict=True):
            d = directions[index]
            veins.append(
                {
                    "name": name,
                    "direction": np.round(d, 4).tolist(),
                    "ostium": np.round(d * la_radius_mm, 3).tolist(),
                    "radius": 6.0,
                }
            )
    return {"veins": veins, "left_trunk": None}


def wall_frame(la: np.ndarray, spacing, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """The frame scar patterns are drawn in: the LA body centre (mm, from index 0) and vein records for the
    four largest protrusions (`_pseudo_anatomy`). Raises ValueError when the label is too small for veins."""
    spacing = np.asarray(spacing, dtype=np.float64)
    depth = edt.edt(la.astype(np.uint8), anisotropy=tuple(spacing))
    body = depth > 0.5 * depth.max()
    centre = np.argwhere(body).mean(axis=0) * spacing
    radius = float(np.median(np.linalg.norm(np.argwhere(la & ~ndimage.binary_erosion(la)) * spacing - centre, axis=1)))
    return centre, _pseudo_anatomy(_protrusions(la, spacing, centre, rng), radius)


def _inward_samples(image: np.ndarray, la: np.ndarray, spacing: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Image values INWARD_MM inside the LA, straight in from each voxel `where` (index rows) via its
    nearest LA voxel: neighbouring wall voxels read neighbouring blood voxels, keeping spatial texture."""
    _, nearest = ndimage.distance_transform_edt(~la, sampling=spacing, return_indices=True)
    surface = nearest[:, where[:, 0], where[:, 1], where[:, 2]].T.astype(np.float64)
    step = (surface - where) * spacing
    length = np.linalg.norm(step, axis=1, keepdims=True)
    direction = np.where(length > 0, step / np.maximum(length, 1e-6), 0.0)
    target = np.rint(surface + direction * INWARD_MM / spacing).astype(int)
    target = np.clip(target, 0, np.asarray(la.shape) - 1)
    values = image[tuple(target.T)]
    # Where the step lands outside the LA (thin veins), fall back to the surface voxel itself.
    fallback = image[tuple(surface.astype(int).T)]
    return np.where(la[tuple(target.T)], values, fallback).astype(np.float32)


def _statistics(image: np.ndarray, la: np.ndarray, band: np.ndarray, spacing) -> dict:
    zero = float(image.min())
    core = edt.edt(la.astype(np.uint8), anisotropy=spacing) > BLOOD_CORE_MM
    if core.sum() < 20:
        core = la.astype(bool)
    blood = image[core] - zero
    return {
        "zero": zero,
        "blood_mean": float(blood.mean()),
        "blood_sd": float(blood.std()),
        "wall_mean": float((image[band] - zero).mean()) if band.any() else float("nan"),
    }


def inject_scar(
    case: Case,
    seed: int,
    difficulty: str = "medium",
    *,
    scar_kind: str | None = None,
    burden: float | None = None,
    iir_range: tuple[float, float] | None = None,
    wall_mm: float | None = None,
) -> tuple[Case, dict]:
    """Return a copy of `case` with scar drawn into its LA wall, its scar label, and the parameters used.

    The input case needs an "la" label; its image is not modified. The IIR is drawn from `iir_range`
    (default: the difficulty's range). The scar's anatomy (veins named by side and height, the posterior bias
    of fibrosis) is drawn on the case turned to LPS (`io.orientation`, lossless), so a scan stored in any axis
    order or mirroring gets the same scar in the patient; the results are turned back onto the input's grid.
    """
    code = orientation_code(case.image.geometry)
    if code == NETWORK_ORIENTATION:
        return _inject_lps(case, seed, difficulty, scar_kind, burden, iir_range, wall_mm)
    turned = Case(case.case_id, reoriented(case.image), {k: reoriented(v) for k, v in case.labels.items()}, case.meta)
    out, params = _inject_lps(turned, seed, difficulty, scar_kind, burden, iir_range, wall_mm)
    geometry = case.image.geometry

    def back(volume: Volume) -> Volume:
        return Volume(np.ascontiguousarray(reoriented(volume, code).array), geometry)

    physical = turned.image.geometry.index_to_physical(np.asarray(params["la_centre_index"], dtype=np.float64))
    params["la_centre_index"] = np.round(geometry.physical_to_index(physical), 2).tolist()
    params["geometry"] = {"shape": list(geometry.shape), "spacing": list(geometry.spacing)}
    labels = {name: back(volume) for name, volume in out.labels.items()}
    return Case(out.case_id, back(out.image), labels, out.meta), params


def _inject_lps(
    case: Case,
    seed: int,
    difficulty: str,
    scar_kind: str | None,
    burden: float | None,
    iir_range: tuple[float, float] | None,
    wall_mm: float | None,
) -> tuple[Case, dict]:
    """`inject_scar` on a case whose index axes run L, P, S (index z superior, +y posterior)."""
    source = case.meta.get("source", case.case_id)
    if case.la is None or not case.la.array.any():
        raise InputError(source, "case has no (or an empty) LA label to inject scar into")
    existing = case.labels.get("scar")  # a case's own scar stays bright in the image: it stays labelled too
    cut = border_problem(case.la.array, case.image.geometry.spacing)
    if cut is not None:  # the surface then includes the cut face, and scar can be drawn on a wall not there
        warnings.warn(f"{source}: {cut}; scar may be drawn on the cut face", RuntimeWarning, stacklevel=2)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    spacing = np.asarray(case.image.geometry.spacing, dtype=np.float64)
    low, high = iir_range or DIFFICULTY[difficulty]["iir"]
    iir = float(rng.uniform(low, high))
    wall_mm = float(wall_mm if wall_mm is not None else rng.uniform(2.0, 3.0))

    la_full = case.la.array.astype(bool)
    margin = np.ceil((MARGIN_MM) / spacing).astype(int)
    box = bounding_box(la_full, (int(margin[0]), int(margin[1]), int(margin[2])))
    if box is None:  # not reached: the LA label was checked non-empty above
        raise InputError(case.meta.get("source", case.case_id), "case has an empty LA label")
    la = la_full[box]
    image_crop = np.asarray(case.image.array[box], dtype=np.float32)

    outside = edt.edt((~la).astype(np.uint8), anisotropy=tuple(spacing))
    band = (outside > 0) & (outside <= wall_mm)
    try:
        centre, pseudo = wall_frame(la, spacing, rng)
    except ValueError as error:
        raise InputError(case.meta.get("source", case.case_id), str(error)) from None
    scar = scar_mod.sample_scar(rng, pseudo, scar_kind, burden)

    coords = np.argwhere(band) * spacing - centre
    score = np.full(la.shape, -1.0, dtype=np.float32)
    score[band] = scar_mod.scar_score(scar, tuple(coords[:, i] for i in range(3)))
    threshold = scar_mod.burden_threshold(la, score, spacing, scar["burden"])
    scar_mask = score >= threshold
    scar["threshold"] = round(threshold, 5)
    scar["burden_measured"] = round(scar_mod.surface_burden(la, scar_mask, spacing), 5)

    stats = _statistics(image_crop, la, band, spacing)
    if not stats["blood_mean"] > 0:
        raise InputError(source, "the blood pool is no brighter than the image's darkest voxel: no IIR to draw to")
    # The feather's width in mm is that of the finest axis: on a grid of thick slices it would otherwise reach
    # a slice (2.5 mm) into the blood pool along z.
    feather = FEATHER_VOXELS * float(spacing.min()) / spacing
    alpha = np.clip(2.0 * ndimage.gaussian_filter(scar_mask.astype(np.float32), feather), 0.0, 1.0)
    alpha[scar_mask] = 1.0
    alpha[alpha < 0.05] = 0.0  # the Gaussian's far tail would otherwise touch voxels a few mm away
    touched = alpha > 0
    where = np.argwhere(touched)
    texture = scar_mod.texture(scar, tuple((where[:, i] * spacing[i] - centre[i]).astype(np.float32) for i in range(3)))
    # Borrow the image's own noise and texture from the blood pool just inside the wall (same resolution and
    # noise correlation as the real image), then scale it so the scar's mean is IIR × the blood-pool mean.
    borrowed = _inward_samples(image_crop, la, spacing, where) - np.float32(stats["zero"])
    raw = borrowed * texture
    gain = iir * stats["blood_mean"] / max(float(raw[scar_mask[touched]].mean()), 1e-6)
    scar_value = np.float32(gain) * raw + np.float32(stats["zero"])
    blended = image_crop.copy()
    a = alpha[touched]
    blended[touched] = image_crop[touched] * (1.0 - a) + scar_value * a

    out_image = np.array(case.image.array, copy=True)
    promoted = None
    if np.issubdtype(out_image.dtype, np.integer):
        info = np.iinfo(out_image.dtype)
        if blended.max() > info.max or blended.min() < info.min:  # clipped, the scar would not have its IIR
            promoted = f"{out_image.dtype} -> float32 (the scar exceeds the {out_image.dtype} range)"
            out_image = out_image.astype(np.float32)
        else:
            blended = np.rint(blended)
    out_image[box] = blended.astype(out_image.dtype)
    scar_full = np.zeros(la_full.shape, dtype=np.uint8)
    scar_full[box] = scar_mask
    kept = 0 if existing is None else int(np.count_nonzero(existing.array))
    if existing is not None and kept:
        scar_full |= (np.asarray(existing.array) > 0).astype(np.uint8)
    stored = np.asarray(out_image[box], dtype=np.float64)  # what the file holds, rounding included
    measured_iir = float((stored[scar_mask] - stats["zero"]).mean() / stats["blood_mean"]) if scar_mask.any() else 0.0

    geometry = case.image.geometry
    params = {
        "format": "atrialjsq-injected-scar-v1",
        "source_case": case.case_id,
        "source": case.meta.get("source"),
        "seed": int(seed),
        "difficulty": difficulty,
        "iir": round(iir, 4),
        "iir_range": [float(low), float(high)],
        "iir_measured": round(measured_iir, 4),
        "image_type": promoted or str(out_image.dtype),
        "la_cut_by_border": cut,
        # the case's own scar label, kept in the written label (the burden figures above are the injected scar's)
        "existing_scar_voxels_kept": kept,
        "wall_mm": round(wall_mm, 3),
        "image_statistics": {k: round(v, 5) for k, v in stats.items()},
        "la_centre_index": np.round(centre / spacing + [b.start for b in box], 2).tolist(),
        "protrusions": pseudo["veins"],
        "scar": scar,
        "geometry": {"shape": list(geometry.shape), "spacing": list(geometry.spacing)},
    }
    labels = {"la": Volume(case.la.array.astype(np.uint8), geometry), "scar": Volume(scar_full, geometry)}
    meta = {**case.meta, "injected_scar": params}
    return Case(case.case_id, Volume(out_image, geometry), labels, meta), params
