"""Random LA anatomy and its neighbours as implicit shapes, in a patient frame centred on the LA.

Frame: millimetres, axes (x, y, z) = (patient left, posterior, superior), i.e. LPS like ITK, with the LA body
centre at the origin. `sample_anatomy(rng)` draws every shape parameter as plain JSON-able numbers (saved in
the phantom's sidecar); `evaluate_anatomy(params, coords)` returns signed distances (mm, negative inside) of
each structure at the given points. A smooth random displacement field warps the whole heart so no two
phantoms share the textbook ellipsoid look.

Modelled: LA body, four PVs (optionally a common left trunk) with flared antra, the appendage (LAA), the
mitral opening into the LV, LV blood pool and myocardium, RV, RA with the caval veins, aortic root, arch and
descending aorta, pulmonary trunk and arteries, oesophagus, and epicardial fat (a variable layer around the
heart plus atrioventricular-groove and aortic-root fat pads). The torso (body wall, lungs, spine, liver) is
in `torso.py`.
"""

from __future__ import annotations

import numpy as np

from atrialjsq.phantom.fields import (
    FAR_MM,
    BoxedSampler,
    Coords,
    ellipsoid,
    half_space,
    random_waves,
    rotation_matrix,
    select,
    smooth_min,
    unit,
    wave_field,
)

VEIN_NAMES = ("LSPV", "LIPV", "RSPV", "RIPV")
# Mean directions of the veins from the LA centre (left/right, posterior, superior/inferior).
_VEIN_DIRECTIONS = {
    "LSPV": (0.72, 0.45, 0.55),
    "LIPV": (0.78, 0.50, -0.30),
    "RSPV": (-0.72, 0.35, 0.55),
    "RIPV": (-0.78, 0.45, -0.30),
}
ANTRUM_BLEND_MM = 4.0
MAX_FAT_MM = 8.0


def _round(value) -> list | float:
    return np.round(np.asarray(value, dtype=np.float64), 3).tolist()


def _jitter(rng: np.random.Generator, direction, scale: float) -> np.ndarray:
    return unit(np.asarray(direction, dtype=np.float64) + rng.normal(0.0, scale, 3))


def frame_from_axis(axis) -> np.ndarray:
    """A rotation whose first column is `axis` (an ellipsoid's long axis)."""
    u = unit(axis)
    helper = np.array([0.0, 0.0, 1.0]) if abs(u[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    v = unit(np.cross(helper, u))
    return np.stack([u, v, np.cross(u, v)], axis=1)


def ellipsoid_surface_point(direction, radii, rotation: np.ndarray) -> np.ndarray:
    """Where the ray from the ellipsoid's centre along `direction` leaves it."""
    local = rotation.T @ unit(direction)
    return unit(direction) / np.sqrt(np.sum((local / np.asarray(radii)) ** 2))


def _sample_veins(rng: np.random.Generator, radii, rotation) -> tuple[list[dict], dict | None]:
    trunk = None
    starts: dict[str, np.ndarray] = {}
    if rng.random() < 0.25:  # common left trunk (~ a quarter of patients)
        direction = unit(np.add(_VEIN_DIRECTIONS["LSPV"], _VEIN_DIRECTIONS["LIPV"]) + rng.normal(0, 0.05, 3))
        ostium = ellipsoid_surface_point(direction, radii, rotation)
        length = rng.uniform(8.0, 14.0)
        end = ostium + length * direction
        trunk = {
            "ostium": _round(ostium),
            "direction": _round(direction),
            "radius": round(rng.uniform(9.5, 12), 3),
            "points": _round([ostium - 4.0 * direction, end]),
        }
        starts = {"LSPV": end, "LIPV": end}
    veins = []
    for name in VEIN_NAMES:
        direction = _jitter(rng, _VEIN_DIRECTIONS[name], 0.08)
        superior = name[1] == "S"
        radius = rng.uniform(6.0, 8.5) if superior else rng.uniform(5.0, 7.5)
        if name in starts:
            ostium = starts[name]
            radius *= 0.85
        else:
            ostium = ellipsoid_surface_point(direction, radii, rotation)
        side = 1.0 if name[0] == "L" else -1.0
        bend = _jitter(rng, direction + np.array([0.3 * side, 0.25, 0.25 if superior else -0.25]), 0.1)
        first = ostium + rng.uniform(10.0, 16.0) * direction
        last = first + rng.uniform(18.0, 30.0) * bend
        veins.append(
            {
                "name": name,
                "ostium": _round(ostium),
                "direction": _round(direction),
                "radius": round(radius, 3),
                "points": _round([ostium - 4.0 * direction, first, last]),
                "radii": _round([radius * 1.15, radius, radius * 0.7]),
                "label_length_mm": round(rng.uniform(8.0, 14.0), 3),
            }
        )
    return veins, trunk


def sample_anatomy(rng: np.random.Generator) -> dict:
    """Draw one random anatomy; every value is a plain number or list (JSON sidecar friendly)."""
    radii = np.array([rng.uniform(28, 36), rng.uniform(19, 24), rng.uniform(22, 28)])
    angles = np.array([rng.uniform(-8, 8), rng.uniform(-8, 8), rng.uniform(-12, 12)])
    rotation = rotation_matrix(angles)
    veins, trunk = _sample_veins(rng, radii, rotation)

    laa_dir = _jitter(rng, (0.55, -0.7, 0.45), 0.1)
    laa_ostium = ellipsoid_surface_point(laa_dir, radii, rotation)
    hook1 = _jitter(rng, laa_dir + np.array([0.3, -0.4, -0.5]), 0.15)
    hook2 = _jitter(rng, hook1 + np.array([0.0, -0.5, -0.6]), 0.2)
    laa_points = [laa_ostium - 3 * laa_dir, laa_ostium + 8 * laa_dir]
    laa_points += [laa_points[-1] + rng.uniform(8, 12) * hook1]
    laa_points += [laa_points[-1] + rng.uniform(7, 11) * hook2]
    laa_scale = rng.uniform(0.85, 1.15)

    mitral_dir = _jitter(rng, (0.3, -0.75, -0.6), 0.06)
    mitral_point = ellipsoid_surface_point(mitral_dir, radii, rotation)
    mitral_radius = rng.uniform(11.0, 14.0)
    lv_base = mitral_point + 9.0 * mitral_dir
    lv_axis = _jitter(rng, (0.55, -0.55, -0.62), 0.06)
    lv_length = rng.uniform(38, 46)
    lv_radii = [lv_length, rng.uniform(20, 24), rng.uniform(20, 24)]
    lv_centre = lv_base + 0.72 * lv_length * lv_axis

    ra_centre = np.array([-(radii[0] + 17.0), -8.0, -4.0]) + rng.normal(0, 2.0, 3)
    aortic_valve = mitral_point + np.array([-20.0, -17.0, 3.0]) + rng.normal(0, 2.0, 3)
    aorta_points = [
        aortic_valve,
        aortic_valve + np.array([-4, -4, 25]) + rng.normal(0, 2, 3),
        np.array([-12, -28, 45]) + rng.normal(0, 2, 3),
        np.array([2, -2, 58]) + rng.normal(0, 2, 3),
        np.array([16, 22, 52]) + rng.normal(0, 2, 3),
        np.array([20, 36, 32]) + rng.normal(0, 1.5, 3),
        np.array([19, 38, -95]) + rng.normal(0, 2, 3),
    ]
    asc_radius = rng.uniform(13, 16)
    desc_radius = rng.uniform(10, 12)
    pa_split = np.array([8, -32, 32]) + rng.normal(0, 2, 3)
    pa_points = [np.array([14, -55, -8]) + rng.normal(0, 2, 3), pa_split]
    rpa_points = [pa_split, np.array([-20, -12, 34]) + rng.normal(0, 2, 3), np.array([-50, 2, 30])]
    lpa_points = [pa_split, np.array([40, 8, 36]) + rng.normal(0, 2, 3)]

    return {
        "la": {"radii": _round(radii), "angles_deg": _round(angles), "wall_mm": round(rng.uniform(2.0, 3.0), 3)},
        "veins": veins,
        "left_trunk": trunk,
        "laa": {"points": _round(laa_points), "radii": _round(np.array([8.5, 8.0, 6.5, 4.0]) * laa_scale)},
        "mitral": {"point": _round(mitral_point), "direction": _round(mitral_dir), "radius": round(mitral_radius, 3)},
        "lv": {
            "centre": _round(lv_centre),
            "axis": _round(lv_axis),
            "radii": _round(lv_radii),
            "base": _round(lv_base),
            "myocardium_mm": round(rng.uniform(8, 11), 3),
        },
        "rv": {
            "centre": _round(lv_centre + np.array([-24, -16, 6]) + rng.normal(0, 2, 3)),
            "radii": _round([rng.uniform(28, 34), rng.uniform(12, 16), rng.uniform(26, 32)]),
            "angles_deg": _round([0, 0, rng.uniform(-45, -25)]),
        },
        "ra": {"centre": _round(ra_centre), "radii": _round(np.array([20, 22, 25]) * rng.uniform(0.9, 1.1))},
        "cava": {
            "svc": _round([np.add(ra_centre, [3, 5, 15]), [-radii[0] - 14, 5, 80]]),
            "ivc": _round([np.add(ra_centre, [0, 5, -15]), [-radii[0] - 22, 10, -95]]),
        },
        "aorta": {
            "points": _round(aorta_points),
            "radii": _round([asc_radius, asc_radius, asc_radius * 0.95, 13, 12, desc_radius, desc_radius]),
            "wall_mm": round(rng.uniform(1.8, 2.5), 3),
        },
        "pa": {
            "trunk": _round(pa_points),
            "rpa": _round(rpa_points),
            "lpa": _round(lpa_points),
            "radius": round(rng.uniform(11, 14), 3),
        },
        "esophagus": {
            "x": round(rng.uniform(-2, 8), 3),
            "gap_mm": round(rng.uniform(5, 9), 3),
            "radius": round(rng.uniform(6, 8), 3),
        },
        "fat": {
            "base_mm": round(rng.uniform(0.5, 2.0), 3),
            "amplitude_mm": round(rng.uniform(3, 7), 3),
            "waves": random_waves(rng, 6, (25, 60)),
        },
        "warp": {
            "amplitude_mm": round(rng.uniform(2.0, 3.5), 3),
            "waves": [random_waves(rng, 3, (70, 130)) for _ in range(3)],
            # A finer, weaker second scale makes the chamber walls irregular rather than ellipsoidal.
            "fine_amplitude_mm": round(rng.uniform(1.0, 2.0), 3),
            "fine_waves": [random_waves(rng, 4, (30, 55)) for _ in range(3)],
        },
        "wall_waves": random_waves(rng, 4, (20, 45)),
    }


def warp(params: dict, p: Coords) -> Coords:
    """Reference coordinates q = p + D(p): shapes are defined on q, so the rendered heart is smoothly deformed."""
    w = params["warp"]
    coarse, fine = np.float32(w["amplitude_mm"]), np.float32(w["fine_amplitude_mm"])
    x, y, z = (
        p[i] + coarse * wave_field(p, w["waves"][i]) + fine * wave_field(p, w["fine_waves"][i]) for i in range(3)
    )
    return x, y, z


def warp_reach_mm(params: dict) -> float:
    """A bound on each component of q - p: a sum of n unit cosines scaled by √(2/n) stays within ±√(2n)."""
    return (
        float(np.sqrt(2 * 3)) * params["warp"]["amplitude_mm"]
        + float(np.sqrt(2 * 4)) * params["warp"]["fine_amplitude_mm"]
    )


def to_physical(params: dict, q) -> np.ndarray:
    """Invert the warp for a few points (fixed-point iteration): where a reference-frame point is rendered."""
    q = np.asarray(q, dtype=np.float64)
    p = q.copy()
    for _ in range(20):
        coords = tuple(p[..., i] for i in range(3))
        p = q - (np.stack(warp(params, coords), axis=-1) - p)
    return p


def _ring_distance(p: Coords, centre, normal, radius: float) -> np.ndarray:
    """Distance to a circle (used for the fat pad in the atrioventricular groove)."""
    n = unit(normal).astype(np.float32)
    d = [p[i] - np.float32(centre[i]) for i in range(3)]
    axial = d[0] * n[0] + d[1] * n[1] + d[2] * n[2]
    radial = np.sqrt(np.maximum(sum(d[i] ** 2 for i in range(3)) - axial**2, 0.0))
    return np.sqrt(axial**2 + (radial - np.float32(radius)) ** 2)


def la_shapes(params: dict, s: BoxedSampler) -> dict[str, np.ndarray]:
    """Signed distances of the LA parts on the sampler's grid.

    `la_label`: the labelled blood pool (body, appendage, antra and the proximal `label_length_mm` of each
    vein, as in LAScarQS); `distal_veins`: the whole veins (their union with `la_label` is the LA blood pool
    seen in the image); `laa`: the appendage.
    """
    la = params["la"]
    body = s.ellipsoid((0, 0, 0), la["radii"], rotation_matrix(la["angles_deg"]))
    laa = s.tube(params["laa"]["points"], params["laa"]["radii"])
    label = smooth_min(body, laa, 3.0)
    distal = np.full(s.shape, FAR_MM, dtype=np.float32)
    trunk = params.get("left_trunk")
    if trunk is not None:
        label = smooth_min(label, s.tube(trunk["points"], trunk["radius"]), ANTRUM_BLEND_MM)
    for vein in params["veins"]:
        full = s.tube(vein["points"], vein["radii"])
        cut_at = np.asarray(vein["ostium"]) + vein["label_length_mm"] * np.asarray(vein["direction"])
        clipped = np.maximum(full, half_space(s.q, cut_at, vein["direction"]))
        label = smooth_min(label, clipped, ANTRUM_BLEND_MM)
        np.minimum(distal, full, out=distal)
    return {"la_label": label, "distal_veins": distal, "laa": laa}


def neighbour_shapes(params: dict, s: BoxedSampler) -> dict[str, np.ndarray]:
    """Signed distances of the structures around the LA (blood pools and the outer surfaces of their walls)."""
    out: dict[str, np.ndarray] = {}
    mitral = params["mitral"]
    direction = np.asarray(mitral["direction"])
    out["mitral"] = s.tube(
        [np.asarray(mitral["point"]) - 3.0 * direction, np.asarray(mitral["point"]) + 10.0 * direction],
        mitral["radius"],
    )

    lv = params["lv"]
    lv_rot = frame_from_axis(lv["axis"])
    outer_radii = np.asarray(lv["radii"]) + lv["myocardium_mm"]
    lv_outer = s.ellipsoid(lv["centre"], outer_radii, lv_rot)
    lv_box = s.box(np.asarray(lv["centre"]) - outer_radii.max() - 15, np.asarray(lv["centre"]) + outer_radii.max() + 15)
    lv_blood = np.full(s.shape, FAR_MM, dtype=np.float32)
    if lv_box is not None:
        q = select(s.q, lv_box)
        base_cut = half_space(q, lv["base"], -np.asarray(lv["axis"]))
        lv_blood[lv_box] = np.maximum(ellipsoid(q, lv["centre"], lv["radii"], lv_rot), base_cut)
        lv_outer[lv_box] = np.maximum(lv_outer[lv_box], base_cut - 4.0)
    out["lv_blood"], out["lv_outer"] = lv_blood, lv_outer

    rv = params["rv"]
    rv_rot = rotation_matrix(rv["angles_deg"])
    out["rv_blood"] = s.ellipsoid(rv["centre"], rv["radii"], rv_rot)
    out["rv_outer"] = s.ellipsoid(rv["centre"], np.asarray(rv["radii"]) + 4.0, rv_rot)

    ra = params["ra"]
    cava = np.minimum(s.tube(params["cava"]["svc"], 9.0), s.tube(params["cava"]["ivc"], 11.0))
    out["ra_blood"] = smooth_min(s.ellipsoid(ra["centre"], ra["radii"]), cava, 5.0)
    out["ra_outer"] = out["ra_blood"] - 2.0

    aorta = params["aorta"]
    out["aorta_blood"] = s.tube(aorta["points"], aorta["radii"])
    out["aorta_outer"] = out["aorta_blood"] - aorta["wall_mm"]

    pa = params["pa"]
    r = pa["radius"]
    pa_blood = smooth_min(s.tube(pa["trunk"], [r * 1.1, r]), s.tube(pa["rpa"], [r * 0.8, r * 0.75, r * 0.7]), 4.0)
    out["pa_blood"] = smooth_min(pa_blood, s.tube(pa["lpa"], [r * 0.8, r * 0.75]), 4.0)
    out["pa_outer"] = out["pa_blood"] - 1.5

    eso = params["esophagus"]
    y = params["la"]["radii"][1] + eso["gap_mm"]
    out["esophagus"] = s.tube([(eso["x"], y, -150.0), (eso["x"], y + 3.0, 150.0)], eso["radius"])
    return out


def fat_shape(params: dict, s: BoxedSampler, envelope: np.ndarray) -> np.ndarray:
    """Signed distance-like field of epicardial fat: a layer of random thickness around the heart envelope
    plus pads in the atrioventricular groove and around the aortic root (where fat hugs the LA wall)."""
    fat = params["fat"]
    near = envelope < MAX_FAT_MM + 1.0
    q = select(s.q, near)
    thickness = np.float32(fat["base_mm"]) + np.float32(fat["amplitude_mm"]) * np.maximum(
        wave_field(q, fat["waves"]), 0
    )
    layer = np.full(s.shape, FAR_MM, dtype=np.float32)
    layer[near] = envelope[near] - np.minimum(thickness, MAX_FAT_MM)
    mitral = params["mitral"]
    reach = mitral["radius"] + 15.0
    groove = s.eval(
        lambda q: _ring_distance(q, mitral["point"], mitral["direction"], mitral["radius"] + 6.0) - 6.0,
        np.asarray(mitral["point"]) - reach,
        np.asarray(mitral["point"]) + reach,
    )
    root = s.tube(params["aorta"]["points"][:2], params["aorta"]["radii"][0] + 6.0)
    return np.minimum(np.minimum(layer, groove), root)


def wall_thickness(params: dict, q: Coords) -> np.ndarray:
    """LA wall thickness (mm) varying smoothly around the chamber, 1.5–3.5 mm."""
    t = np.float32(params["la"]["wall_mm"]) + np.float32(0.35) * wave_field(q, params["wall_waves"])
    return np.clip(t, 1.5, 3.5)
