"""One synthetic LGE MRI case: anatomy → scar → partial-volume rendering → acquisition → `Case` + parameters.

Speed comes from rendering only where detail matters: the heart region is rendered on the acquisition grid
in-plane (1.25 mm by default) with 2× supersampling across the thick slices (partial volume of the 2.5 mm
acquisition), shapes are evaluated inside their bounding boxes only, the torso is drawn as extruded 2D maps,
and the stored 0.625 mm grid is reached once, by k-space zero-filling, as on the scanner. Labels are the
interpolated signed distances thresholded on the stored grid, so they are smooth at the stored resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import edt
import numpy as np
from scipy import ndimage

from atrialjsq.data.case import Case
from atrialjsq.data.phantom_tag import PHANTOM_FORMAT
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.volume import Volume
from atrialjsq.phantom import anatomy as anat
from atrialjsq.phantom import appearance as app
from atrialjsq.phantom import scar as scar_mod
from atrialjsq.phantom.fields import BoxedSampler, select, soft_fraction, wave_field
from atrialjsq.phantom.torso import render_torso, sample_torso

FORMAT = PHANTOM_FORMAT  # (defined in data.phantom_tag, which tells phantom cases apart)
DEFAULT_SHAPE = (576, 576, 44)
DEFAULT_SPACING = (0.625, 0.625, 2.5)
ACQUISITION_SPACING = (1.25, 1.25, 2.5)
# The heart region (LA-centred mm) rendered in detail; everything else is torso.
HEART_BOX = ((-82.0, -95.0), (78.0, 60.0))
BLOOD_CORE_MM = 3.0
MIN_FOV_MM = 90.0  # the LA body and proximal veins span about 80 mm
STORED_BLOOD_LEVEL = 300.0


@dataclass
class _Grids:
    """Stored grid, acquisition grid (same origin and field of view) and the heart render grid."""

    storage: Geometry
    acq_shape: tuple[int, int, int]
    acq_spacing: tuple[float, float, float]
    acq_axes: tuple[np.ndarray, np.ndarray, np.ndarray]
    roi: tuple[slice, slice]  # acquisition x/y indices of the heart region
    z_factor: int  # render sub-slices per acquired slice

    @property
    def render_axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y, z = self.acq_axes
        dz = self.acq_spacing[2]
        offsets = ((np.arange(self.z_factor) + 0.5) / self.z_factor - 0.5) * dz
        return x[self.roi[0]], y[self.roi[1]], (z[:, None] + offsets[None, :]).ravel()

    @property
    def render_spacing(self) -> tuple[float, float, float]:
        return self.acq_spacing[0], self.acq_spacing[1], self.acq_spacing[2] / self.z_factor


def _make_grids(shape, spacing, acquisition_spacing, fov_centre) -> _Grids:
    shape = tuple(int(n) for n in shape)
    spacing = tuple(float(s) for s in spacing)
    if acquisition_spacing is None:
        acquisition_spacing = tuple(max(s, a) for s, a in zip(spacing, ACQUISITION_SPACING, strict=True))
    acq_shape = tuple(max(2, round(n * s / a)) for n, s, a in zip(shape, spacing, acquisition_spacing, strict=True))
    acq_spacing = tuple(n * s / m for n, s, m in zip(shape, spacing, acq_shape, strict=True))
    origin = tuple(c - (n - 1) / 2 * s for c, n, s in zip(fov_centre, shape, spacing, strict=True))
    storage = Geometry(shape, spacing, origin)
    axes = tuple(o + np.arange(m) * a for o, m, a in zip(origin, acq_shape, acq_spacing, strict=True))
    (x0, y0), (x1, y1) = HEART_BOX
    x_roi, y_roi = (
        slice(int(np.searchsorted(axis, lo)), int(np.searchsorted(axis, hi, side="right")))
        for axis, lo, hi in ((axes[0], x0, x1), (axes[1], y0, y1))
    )
    z_factor = max(1, round(acq_spacing[2] / max(min(acq_spacing[:2]), ACQUISITION_SPACING[0])))
    return _Grids(storage, acq_shape, acq_spacing, axes, (x_roi, y_roi), z_factor)


def _check_grid(shape, spacing) -> None:
    if len(shape) != 3 or len(spacing) != 3 or min(shape) < 8 or min(spacing) <= 0:
        raise ValueError(f"need a 3D shape of at least 8 voxels per axis and positive spacing, got {shape}, {spacing}")
    fov = [n * s for n, s in zip(shape, spacing, strict=True)]
    if min(fov) < MIN_FOV_MM:
        raise ValueError(f"field of view {[round(f) for f in fov]} mm is too small for the LA (>= {MIN_FOV_MM:g} mm)")


def _normalise_distance(f: np.ndarray, spacing) -> np.ndarray:
    """Divide an implicit function by its gradient norm: a first-order true distance near the surface, which
    keeps the wall thickness right despite the warp and smooth unions."""
    near = f < 12.0
    if not near.any():
        return f
    box = ndimage.find_objects(near.astype(np.uint8))[0]
    box = tuple(slice(max(0, b.start - 2), min(n, b.stop + 2)) for b, n in zip(box, f.shape, strict=True))
    sub = f[box]
    grad = np.gradient(sub, *spacing)
    norm = np.sqrt(grad[0] ** 2 + grad[1] ** 2 + grad[2] ** 2)
    out = f.copy()
    out[box] = sub / np.clip(norm, 0.5, 2.0)
    return out


def _composite(layers: list[tuple[np.ndarray, float | str]], track: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Painter's compositing of (alpha, value) layers, later on top. Returns the premultiplied image, the
    total coverage and the coefficient of the layer whose value is the string `track` (left out of the image,
    so its intensity can be solved for afterwards: the image is linear in it)."""
    shape = layers[0][0].shape
    image = np.zeros(shape, dtype=np.float32)
    cover = np.zeros(shape, dtype=np.float32)
    tracked = np.zeros(shape, dtype=np.float32)
    for alpha, value in layers:
        keep = 1.0 - alpha
        image *= keep
        cover *= keep
        tracked *= keep
        cover += alpha
        if isinstance(value, str) and value == track:
            tracked += alpha
        else:
            image += alpha * np.float32(value)
    return image, cover, tracked


def _resample(values: np.ndarray, src_origin, src_spacing, dst_geometry: Geometry, dst_box, order=1) -> np.ndarray:
    """Interpolate a regular-grid array onto the voxels `dst_box` (slices) of `dst_geometry` (axis aligned)."""
    scale = np.asarray(dst_geometry.spacing) / np.asarray(src_spacing)
    start = np.asarray([b.start for b in dst_box], dtype=np.float64)
    dst_origin = np.asarray(dst_geometry.origin) + start * np.asarray(dst_geometry.spacing)
    offset = (dst_origin - np.asarray(src_origin)) / np.asarray(src_spacing)
    out_shape = tuple(b.stop - b.start for b in dst_box)
    return ndimage.affine_transform(values, scale, offset=offset, output_shape=out_shape, order=order, mode="nearest")


def _storage_box(grids: _Grids, render_axes, render_box) -> tuple[slice, slice, slice]:
    """Stored-grid voxels inside the physical extent of `render_box` (slices of the render grid)."""
    geometry = grids.storage
    box = []
    for i, (axis, part) in enumerate(zip(render_axes, render_box, strict=True)):
        coords = geometry.origin[i] + np.arange(geometry.shape[i]) * geometry.spacing[i]
        start = int(np.searchsorted(coords, axis[part.start]))
        stop = int(np.searchsorted(coords, axis[part.stop - 1], side="right"))
        box.append(slice(start, stop))
    return box[0], box[1], box[2]


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n = ndimage.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def generate_phantom(
    seed: int,
    difficulty: str = "medium",
    shape=DEFAULT_SHAPE,
    spacing=DEFAULT_SPACING,
    *,
    acquisition_spacing=None,
    scar_kind: str | None = None,
    burden: float | None = None,
    case_id: str | None = None,
    naive: bool = False,
    **appearance_overrides,
) -> tuple[Case, dict]:
    """Generate one phantom: a `Case` (image, labels "la" and "scar") and its JSON-able generating parameters.

    Deterministic per `seed`; anatomy, scar, appearance and noise draw from separate streams, so the same
    seed at another difficulty gives the same anatomy and scar with a different image quality.
    `appearance_overrides`: snr, iir, iir_range, myocardium, bias, ghost, blur_mm (see `appearance`).
    `naive=True` is the benchmark's baseline: the same phantom rendered directly at the stored resolution
    (no k-space zero-fill) with every shape evaluated over the whole heart region (no bounding boxes).
    """
    _check_grid(shape, spacing)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(4)]
    rng_anatomy, rng_scar, rng_appearance, rng_noise = streams
    anatomy = anat.sample_anatomy(rng_anatomy)
    torso = sample_torso(rng_anatomy)
    fov_centre = np.array([5.0, -15.0, -5.0]) + rng_anatomy.normal(0, 3.0, 3)
    scar = scar_mod.sample_scar(rng_scar, anatomy, scar_kind, burden)
    look = app.sample_appearance(rng_appearance, difficulty, **appearance_overrides)
    tissue = look["tissue"]

    if naive:
        acquisition_spacing = spacing
    grids = _make_grids(shape, spacing, acquisition_spacing, fov_centre)
    raxes = grids.render_axes
    rspacing = grids.render_spacing
    h = float(min(rspacing))
    px, py, pz = np.meshgrid(*[a.astype(np.float32) for a in raxes], indexing="ij")
    q = anat.warp(anatomy, (px, py, pz))
    del px, py, pz
    sampler = BoxedSampler(q, raxes, margin_mm=1e6 if naive else anat.warp_reach_mm(anatomy))

    # --- shapes
    la_parts = anat.la_shapes(anatomy, sampler)
    la_label = _normalise_distance(la_parts["la_label"], rspacing)
    la_full = np.minimum(la_label, la_parts["distal_veins"])
    nb = anat.neighbour_shapes(anatomy, sampler)
    near_la = la_full < 6.0
    thickness = np.full(la_full.shape, 2.5, dtype=np.float32)
    thickness[near_la] = anat.wall_thickness(anatomy, select(q, near_la))
    la_outer = la_full - thickness
    envelope = np.minimum.reduce(
        [la_outer, nb["lv_outer"], nb["rv_outer"], nb["ra_outer"], nb["aorta_outer"], nb["pa_outer"], nb["esophagus"]]
    )
    fat = anat.fat_shape(anatomy, sampler, envelope)

    # --- scar: score the wall shell; the labels and the burden threshold are set on the stored grid
    shell = (la_label > -2.0) & (la_label - thickness < 2.0)
    score = np.full(la_full.shape, -1.0, dtype=np.float32)
    score[shell] = scar_mod.scar_score(scar, select(q, shell))
    excluded = (la_parts["laa"] < la_label + 1.0) | (nb["mitral"] < 3.0) | (la_full <= 0)
    score[excluded] = -1.0

    # --- labels on the stored grid (interpolated distances; the LA is one connected blood pool)
    geometry = grids.storage
    near = ndimage.find_objects((la_label < 8.0).astype(np.uint8))[0]
    box = _storage_box(grids, raxes, near)
    r_origin = tuple(a[0] for a in raxes)
    f_store = _resample(la_label, r_origin, rspacing, geometry, box)
    t_store = _resample(la_label - thickness, r_origin, rspacing, geometry, box)
    la_roi = _largest_component(f_store < 0)
    wall_roi = (f_store >= 0) & (t_store <= 0) & ~la_roi
    score_roi = np.where(wall_roi, _resample(score, r_origin, rspacing, geometry, box), -1.0).astype(np.float32)
    threshold = scar_mod.burden_threshold(la_roi, score_roi, geometry.spacing, scar["burden"])
    scar_roi = score_roi >= threshold
    scar["threshold"] = round(threshold, 5)
    eligible = (score >= threshold).astype(np.float32)
    scar_alpha = soft_fraction(la_outer, h) * eligible * scar_mod.texture(scar, q)
    # Gentle tissue heterogeneity (incomplete contrast mixing, fat composition): a few % over 2-5 cm.
    heterogeneity = 1.0 + np.float32(look["heterogeneity"]) * wave_field(q, look["heterogeneity_waves"])
    del q, sampler

    # --- render the heart region (premultiplied), then the torso, on the acquisition grid
    layers = [
        (soft_fraction(fat, h), tissue["fat"]),
        (soft_fraction(nb["aorta_outer"], h), tissue["vessel_wall"]),
        (soft_fraction(nb["aorta_blood"], h), tissue["blood"]),
        (soft_fraction(nb["esophagus"], h), tissue["esophagus"]),
        (soft_fraction(nb["pa_outer"], h), tissue["myocardium"]),
        (soft_fraction(nb["pa_blood"], h), tissue["blood"]),
        (soft_fraction(nb["ra_outer"], h), tissue["myocardium"]),
        (soft_fraction(nb["ra_blood"], h), tissue["blood"]),
        (soft_fraction(nb["rv_outer"], h), tissue["myocardium"]),
        (soft_fraction(nb["rv_blood"], h), tissue["blood"]),
        (soft_fraction(nb["lv_outer"], h), tissue["myocardium"]),
        (soft_fraction(nb["lv_blood"], h), tissue["blood"]),
        (soft_fraction(la_outer, h), tissue["la_wall"]),
        (scar_alpha, "scar"),
        (soft_fraction(nb["mitral"], h), tissue["blood"]),
        (soft_fraction(la_full, h), tissue["blood"]),
    ]
    heart, cover, scar_coeff = _composite(layers, track="scar")
    heart *= heterogeneity
    del layers, heterogeneity
    zf = grids.z_factor

    def to_acq(a: np.ndarray) -> np.ndarray:
        return a.reshape(a.shape[0], a.shape[1], -1, zf).mean(axis=3)

    body = render_torso(torso, tissue, grids.acq_axes, min(grids.acq_spacing))
    bias = app.bias_field(look, grids.acq_axes)
    rest = body
    roi = (grids.roi[0], grids.roi[1], slice(None))
    rest[roi] = rest[roi] * (1.0 - to_acq(cover)) + to_acq(heart)
    rest *= bias
    scar_acq = np.zeros_like(rest)
    scar_acq[roi] = to_acq(scar_coeff)
    scar_acq *= bias
    # Blur and ghosting are linear: apply them to both parts so the scar intensity is solved on what is seen.
    rest = app.apply_artefacts(rest, look, grids.acq_spacing)
    scar_acq = app.apply_artefacts(scar_acq, look, grids.acq_spacing)

    # --- solve the scar intensity for the requested IIR measured on the stored grid (image is linear in it)
    a_origin = tuple(a[0] for a in grids.acq_axes)
    rest_roi = _resample(rest, a_origin, grids.acq_spacing, geometry, box)
    coeff_roi = _resample(scar_acq, a_origin, grids.acq_spacing, geometry, box)
    core = edt.edt(la_roi.astype(np.uint8), anisotropy=geometry.spacing) > BLOOD_CORE_MM
    if not core.any():
        core = la_roi
    blood_mean = float(rest_roi[core].mean())
    if scar_roi.any() and float(coeff_roi[scar_roi].mean()) > 1e-6:
        scar_value = (look["iir"] * blood_mean - float(rest_roi[scar_roi].mean())) / float(coeff_roi[scar_roi].mean())
    else:
        scar_value = look["iir"]
    scar_value = float(np.clip(scar_value, 0.5, 8.0))
    look["scar_intensity"] = round(scar_value, 4)

    # --- acquisition: artefacts, noise at the requested SNR, zero-filled to the stored grid
    scale = STORED_BLOOD_LEVEL / blood_mean
    signal = (rest + np.float32(scar_value) * scar_acq) * np.float32(scale)
    del rest, scar_acq
    sigma = STORED_BLOOD_LEVEL / look["snr"]
    image = app.acquire(signal, sigma, geometry.shape, rng_noise)
    look["noise_sigma"] = round(sigma, 4)

    scar["burden_measured"] = round(scar_mod.surface_burden(la_roi, scar_roi, geometry.spacing), 5)

    la = np.zeros(geometry.shape, dtype=np.uint8)
    scar_mask = np.zeros(geometry.shape, dtype=np.uint8)
    la[box] = la_roi
    scar_mask[box] = scar_roi
    case_id = case_id or f"phantom_seed{seed}"
    params = {
        "format": FORMAT,
        "case_id": case_id,
        "seed": int(seed),
        "difficulty": difficulty,
        "geometry": {
            "shape": list(geometry.shape),
            "spacing": list(geometry.spacing),
            "origin": [round(o, 4) for o in geometry.origin],
            "acquisition_spacing": [round(a, 4) for a in grids.acq_spacing],
            "la_centre_mm": [0.0, 0.0, 0.0],
        },
        "pv_ostia_mm": {
            v["name"]: np.round(anat.to_physical(anatomy, v["ostium"]), 3).tolist() for v in anatomy["veins"]
        },
        "anatomy": anatomy,
        "torso": torso,
        "scar": scar,
        "appearance": look,
    }
    case = Case(
        case_id,
        Volume(image, geometry),
        {"la": Volume(la, geometry), "scar": Volume(scar_mask, geometry)},
        meta=params,
    )
    return case, params
