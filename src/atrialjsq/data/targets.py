"""Training targets of AtrialJSQnet (paper §3.1–3.2), all in millimetres on the (x, y, z) grid.

- `signed_distance`: the signed distance map φ of eq. (1): negative inside, positive outside, |φ| = d**β,
  clipped to ±clip (the paper clips at 50). It drives the LA spatial-encoding loss (eq. 4).
- `wall_band`: the LA wall taken as a band around the endocardial surface, −inward_mm ≤ φ_LA ≤ outward_mm.
- `project_scar_to_band`: the implicit surface projection: a band voxel is scar when the manual scar label lies
  along the LA surface normal through it (within ±max_mm), so the target ignores the wall thickness.
- `distance_probability_maps`: the DPMs p = exp(−|φ|) of the normal-wall and scar parts of the band (eq. 5),
  or the Table 4 variants expit(−φ) and the normalised (†) maps. `dpm_torch` is the same formula in torch.
- `compute_targets`: every array the preprocessing cache stores for one case.
"""

from __future__ import annotations

import math

import edt
import numpy as np
from scipy import ndimage
from scipy.special import expit

from atrialjsq.surface.boundary import boundary_voxels, bounding_box, outward_normals
from atrialjsq.surface.projection import PROJECTION_REACH_MM, PROJECTION_STEP_MM, offsets_mm, sample_at_offsets

# edt's multi-threading: the EDTs are the bulk of the target computation.
_EDT_THREADS = 2


def _distance_to_zeros(foreground: np.ndarray, spacing) -> np.ndarray:
    """Physical distance from every nonzero voxel to the nearest zero voxel (0 on zeros), float32."""
    foreground = np.ascontiguousarray(foreground)
    if foreground.dtype == np.bool_:
        foreground = foreground.view(np.uint8)
    return edt.edt(
        foreground,
        anisotropy=tuple(float(s) for s in spacing),
        black_border=False,
        parallel=_EDT_THREADS,
    )


def _unclipped_reach(clip: float, beta: float) -> float:
    """The distance d beyond which d**beta exceeds the clip: no need to compute distances farther than that."""
    return math.inf if clip is None or math.isinf(clip) else float(clip) ** (1.0 / beta)


SURFACES = ("between", "voxels")


def signed_distance(
    mask: np.ndarray,
    spacing,
    beta: float = 1.0,
    clip: float | None = 50.0,
    *,
    surface: str = "between",
) -> np.ndarray:
    """Signed distance map of eq. (1) in mm: −d**β inside, +d**β outside, clipped to ±clip; float32.

    `surface="voxels"` is eq. (1) as written, with S = the region's boundary voxels (mask voxels with a
    6-neighbour outside it): φ = 0 on them, −d inside (d to the nearest voxel that is not interior), +d outside
    (d to the nearest mask voxel). The DPMs of the normal wall and the scar use it, so p = exp(−|φ|) is 1 on
    each region's boundary layer and touching scar and normal-wall voxels never tie.

    `surface="between"` (the default, used for the LA's own φ; see docs/deviations.md): S is placed between
    the boundary voxels and their outside neighbours rather than on the boundary-voxel centres. d is the
    distance to the nearest voxel on the other side of the mask
    minus h = half the largest spacing (clamped at 0), which puts the zero level half a voxel out from the
    boundary voxels. With S on the voxel centres (plain eq. 1) φ of a ball of radius R deviates from r − R by
    up to a full voxel; with this correction it stays within half a voxel diagonal (tested). Boundary voxels
    therefore read −h (−0.5 mm at 1 mm spacing) instead of 0. On anisotropic grids h = half the largest
    spacing is what keeps that bound; neighbours along a finer axis may then read exactly 0 (on the surface).

    Only the bounding box of the mask plus the clip distance is transformed; beyond it φ is +clip.
    Raises ValueError for an empty mask (callers turn it into an InputError naming the file).
    """
    if surface not in SURFACES:
        raise ValueError(f"surface must be one of {SURFACES}, got {surface!r}")
    mask = np.asarray(mask).astype(bool, copy=False)
    if mask.ndim != 3:
        raise ValueError(f"signed_distance needs a 3D mask, got shape {mask.shape}")
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    spacing = np.asarray(spacing, dtype=float)
    if spacing.shape != (3,) or not (spacing > 0).all():
        raise ValueError(f"spacing must be three positive numbers, got {spacing.tolist()}")
    reach = _unclipped_reach(clip, beta)
    fill = np.float32(clip if clip is not None else np.inf)
    half_voxel = 0.5 * float(spacing.max()) if surface == "between" else 0.0
    pad = np.ceil(np.minimum(reach + half_voxel, 1e6) / spacing).astype(int) + 1
    box = bounding_box(mask, pad=pad)
    if box is None:
        raise ValueError("mask is empty: no surface to measure distances from")

    crop = mask[box]
    # Outside: distance to the nearest mask voxel (the crop holds every mask voxel within reach); 0 inside.
    phi_crop = _distance_to_zeros(np.logical_not(crop), spacing)
    # Inside: distance to the nearest non-mask voxel, on the mask's own box padded so that beyond the array
    # counts as outside; subtracted, it makes φ = outside − inside.
    inner = bounding_box(crop)
    region = np.pad(crop[inner], 1)
    if surface == "voxels":
        # Distances inside are taken to the boundary voxels (0 on them): measure to the non-interior voxels.
        region = ndimage.binary_erosion(region)
    inside = _distance_to_zeros(region, spacing)[1:-1, 1:-1, 1:-1]
    phi_crop[inner] -= inside

    magnitude = np.abs(phi_crop)
    if half_voxel:
        # Move the zero level half a voxel out, never across zero.
        magnitude -= half_voxel
        np.maximum(magnitude, 0.0, out=magnitude)
    if beta != 1.0:
        np.power(magnitude, beta, out=magnitude)
    if clip is not None:
        np.minimum(magnitude, clip, out=magnitude)
    np.copysign(magnitude, phi_crop, out=phi_crop)
    # Inside voxels with magnitude 0 must stay non-positive and outside ones non-negative: copysign keeps −0.
    if phi_crop.shape == mask.shape:
        return phi_crop
    phi = np.full(mask.shape, fill, dtype=np.float32)
    phi[box] = phi_crop
    return phi


def wall_band(
    la: np.ndarray,
    spacing,
    inward_mm: float = 2.0,
    outward_mm: float = 1.5,
    exclude: np.ndarray | None = None,
    *,
    phi_la: np.ndarray | None = None,
) -> np.ndarray:
    """The LA wall band: voxels with −inward_mm ≤ φ_LA ≤ outward_mm, minus `exclude` (e.g. dilated LV/valve).

    `phi_la` may pass an already computed signed distance (β = 1, clipped beyond the band) to avoid a second EDT.
    """
    if inward_mm < 0 or outward_mm < 0:
        raise ValueError("inward_mm and outward_mm must be non-negative")
    if phi_la is None:
        phi_la = signed_distance(la, spacing, beta=1.0, clip=max(inward_mm, outward_mm) + 1.0)
    band = (phi_la >= -inward_mm) & (phi_la <= outward_mm)
    if exclude is not None:
        if np.shape(exclude) != band.shape:
            raise ValueError(f"exclude has shape {np.shape(exclude)}, expected {band.shape}")
        band &= ~np.asarray(exclude).astype(bool, copy=False)
    return band


def mitral_exclusion(
    spacing, lv: np.ndarray | None = None, valve: np.ndarray | None = None, radius_mm: float = 2.0
) -> np.ndarray | None:
    """Voxels to leave out of the wall band at the mitral opening: within `radius_mm` of the valve label when
    there is one, else of the LV label (the LA wall ends where the LA meets the LV). None without either."""
    source = valve if valve is not None and np.any(valve) else lv
    if source is None or not np.any(source):
        return None
    import edt

    distance = edt.edt(np.ascontiguousarray(~np.asarray(source, dtype=bool)), anisotropy=tuple(map(float, spacing)))
    return distance <= radius_mm


def project_scar_to_band(
    la: np.ndarray,
    scar: np.ndarray,
    band: np.ndarray,
    spacing,
    max_mm: float = PROJECTION_REACH_MM,
    step_mm: float = PROJECTION_STEP_MM,
    sigma_mm: float = 2.0,
) -> np.ndarray:
    """Band voxels whose LA surface normal meets the volumetric scar label within ±max_mm (bool volume).

    Normals at the band voxels come from the smoothed LA (as `outward_normals`); the line is sampled every
    step_mm with nearest-voxel lookup. Only band voxels that can reach scar (near it on a coarse 4-voxel grid)
    are sampled, which skips most of the wall when the scar is patchy.
    """
    scar = np.asarray(scar).astype(bool, copy=False)
    band = np.asarray(band).astype(bool, copy=False)
    result = np.zeros(band.shape, dtype=bool)
    spacing = np.asarray(spacing, dtype=float)
    # Per-axis reach in voxels, +1 for the rounding of nearest-voxel sampling.
    reach = np.ceil(max_mm / spacing).astype(int) + 1
    scar_box = bounding_box(scar, pad=reach)
    if scar_box is None or not band.any():
        return result
    local = np.argwhere(band[scar_box])
    if len(local) == 0:
        return result
    scar_local = scar[scar_box]
    local = local[_near_region(scar_local, local, reach)]
    points = local + np.array([s.start for s in scar_box])
    normals = outward_normals(la, spacing, points, sigma_mm=sigma_mm)
    # Sample a copy of the scar box padded by the reach: every sample lands on it (no bounds checks), and
    # beyond the box there is no scar anyway.
    padded = np.pad(scar_local, [(int(r), int(r)) for r in reach])
    samples = sample_at_offsets(padded, local + reach, normals, spacing, offsets_mm(max_mm, step_mm), order=0)
    hit = samples.any(axis=1)
    result[tuple(points[hit].T)] = True
    return result


def _near_region(region: np.ndarray, points: np.ndarray, reach: np.ndarray, block: int = 4) -> np.ndarray:
    """Which points may lie within `reach` voxels (per axis) of `region`: a cheap superset on a coarse grid."""
    blocks = -(-np.asarray(region.shape) // block)
    padded = np.zeros(tuple(blocks * block), dtype=bool)
    padded[tuple(slice(0, n) for n in region.shape)] = region
    coarse = padded.reshape(blocks[0], block, blocks[1], block, blocks[2], block).any(axis=(1, 3, 5))
    # A point within r voxels of a region voxel is within r // block + 1 blocks of the region's block.
    size = tuple(2 * (np.asarray(reach) // block + 1) + 1)
    near = ndimage.maximum_filter(coarse, size=size, mode="constant", cval=False)
    return near[tuple((points // block).T)]


_KINDS = ("exp", "expit")


def _dpm(phi: np.ndarray, kind: str) -> np.ndarray:
    phi = np.asarray(phi, dtype=np.float32)
    if kind == "exp":
        return np.exp(-np.abs(phi))
    if kind == "expit":
        return expit(-phi)
    raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")


def _background_term(phi_normal: np.ndarray, phi_scar: np.ndarray, kind: str) -> np.ndarray:
    # Background = neither normal wall nor scar: its signed distance is −φ of the band (union: min of the two).
    phi_background = -np.minimum(np.asarray(phi_normal, np.float32), np.asarray(phi_scar, np.float32))
    if kind == "exp":
        # exp(−|φ_bg|) inside the band, 1 in the background (see distance_probability_maps).
        return np.exp(-np.maximum(phi_background, 0.0))
    return _dpm(phi_background, kind)


def distance_probability_maps(
    phi_normal: np.ndarray,
    phi_scar: np.ndarray,
    kind: str = "exp",
    normalize: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """DPMs (p_normal, p_scar) from the signed distances of the normal-wall and scar parts of the band.

    kind="exp": p = exp(−|φ|) (the paper's choice, eq. 5); kind="expit": p = expit(−φ) = 1 / (1 + e^φ)
    (Table 4). normalize=True gives the † maps: p_k / (p_bg + p_normal + p_scar), i.e. softmax(−|φ|) over
    {background, normal, scar} for "exp". The background's φ_bg = −min(φ_normal, φ_scar) (outside the band is
    background). Its term is exp(−max(φ_bg, 0)) for "exp": identical to exp(−|φ_bg|) inside the band, but 1
    (not ~0) deep in the background, so that far from the wall the normalised maps go to 0 rather than to an
    arbitrary split between normal and scar. For "expit" it is expit(−φ_bg). float32, never NaN.
    """
    p_normal, p_scar = _dpm(phi_normal, kind), _dpm(phi_scar, kind)
    if normalize:
        total = _background_term(phi_normal, phi_scar, kind) + p_normal + p_scar
        p_normal, p_scar = p_normal / total, p_scar / total
    return p_normal, p_scar


def dpm_torch(phi, kind: str = "exp"):
    """The unnormalised DPM of one torch tensor φ, same formula as `distance_probability_maps`.

    exp: exp(−|φ|); expit: sigmoid(−φ). For the † maps combine with `distance_probability_maps`'s background
    term: bg = exp(−clamp(−min(φ_normal, φ_scar), min=0)) (exp) or sigmoid(min(φ_normal, φ_scar)) (expit),
    then p_k / (bg + p_normal + p_scar).
    """
    import torch

    phi = phi.float()
    if kind == "exp":
        return torch.exp(-phi.abs())
    if kind == "expit":
        return torch.sigmoid(-phi)
    raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")


def compute_targets(
    la: np.ndarray,
    scar: np.ndarray | None,
    spacing,
    *,
    beta: float = 1.0,
    clip: float = 50.0,
    inward_mm: float = 2.0,
    outward_mm: float = 1.5,
    exclude: np.ndarray | None = None,
    max_mm: float = PROJECTION_REACH_MM,
    step_mm: float = PROJECTION_STEP_MM,
    sigma_mm: float = 2.0,
) -> dict[str, np.ndarray]:
    """All cached targets of one case, on the grid of `la`.

    Returns `phi_la` (float16, eq. 1 with β, clipped), `band` (uint8: 0 outside the wall band, 1 normal wall,
    2 scar projected onto the band), `phi_normal`, `phi_scar` (float16 signed distances, β = 1, clipped, of the
    two parts of the band, φ = 0 on each part's boundary voxels as eq. 1; an empty part gives +clip everywhere so
    its DPM is ~0) and `surface` (uint8 LA
    boundary voxels). `scar=None` means no scar label: the whole band is normal wall.
    Raises ValueError when the LA mask is empty or the arrays do not share a shape.
    """
    la = np.asarray(la).astype(bool, copy=False)
    if scar is not None and np.shape(scar) != la.shape:
        raise ValueError(f"scar has shape {np.shape(scar)}, LA has {la.shape}")
    phi_unit = signed_distance(la, spacing, beta=1.0, clip=clip)
    band = wall_band(la, spacing, inward_mm, outward_mm, exclude, phi_la=phi_unit)
    # With β ≠ 1 the clip applies to d**β, which the β = 1 map (clipped at d = clip) cannot give for β < 1.
    phi_la = phi_unit if beta == 1.0 else signed_distance(la, spacing, beta=beta, clip=clip)

    if scar is None:
        scar_band = np.zeros(la.shape, dtype=bool)
    else:
        scar_band = project_scar_to_band(la, scar, band, spacing, max_mm, step_mm, sigma_mm)
    normal_band = band & ~scar_band

    labels = np.zeros(la.shape, dtype=np.uint8)
    labels[normal_band] = 1
    labels[scar_band] = 2
    return {
        "phi_la": phi_la.astype(np.float16),
        "band": labels,
        "phi_normal": _part_distance(normal_band, spacing, clip),
        "phi_scar": _part_distance(scar_band, spacing, clip),
        "surface": boundary_voxels(la).astype(np.uint8),
    }


def _part_distance(part: np.ndarray, spacing, clip: float) -> np.ndarray:
    if not part.any():
        return np.full(part.shape, clip, dtype=np.float16)
    return signed_distance(part, spacing, beta=1.0, clip=clip, surface="voxels").astype(np.float16)
