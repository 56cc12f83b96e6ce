"""Where the scar is: landmarks, regions with their burden, the PV antrum rings and the flat map of one case.

One call (`analyse_regions`) from the LA surface scar and the image: PV ostia and the appendage
(`landmarks`), the mitral opening (`mitral`), the partition with the veins clipped (`regions`), each side's
ring (`ring_gaps`) and the harmonic disk map with the mitral ring as its rim (`atrialjsq.surface.flatten`),
radially equalised in area and oriented as a posterior view: patient left on the page's left, superior up.
The landmarks run on the LA mask cropped to its bounding box (the same result, in a fraction of the time on a
full MRI grid).

Anything that cannot be found is said in `problems` rather than raised: the burden of the case stands without
its regional breakdown, and report.json says why the breakdown is missing or partial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atrialjsq.data.preprocess import cropped_volume
from atrialjsq.io import Volume
from atrialjsq.io.geometry import triple
from atrialjsq.quantify.landmarks import BODY_LABEL, Landmarks, detect_landmarks
from atrialjsq.quantify.mitral import OUTSIDE_MM, SMOOTH_MM, MitralOpening, blood_deviation, detect_mitral
from atrialjsq.quantify.regions import (
    LEFT_VEINS,
    RIGHT_VEINS,
    LAFrame,
    RegionBurden,
    assign_regions,
    clipped_burden,
    la_frame,
    region_burdens,
    vertex_structures,
)
from atrialjsq.quantify.ring_gaps import AntrumRing, ring_analysis
from atrialjsq.surface.boundary import bounding_box
from atrialjsq.surface.flatten import equalise_radius, harmonic_disk, orient_map, recentre
from atrialjsq.surface.mesh import Mesh
from atrialjsq.surface.mesh_graph import (
    boundary_loops,
    faces_within,
    largest_face_component,
    patches,
    vertex_areas,
)

# The crop keeps what the mitral profiles read: 6 mm outside the surface, blurred by 1 mm (3 sigma), + 1 voxel.
CROP_MARGIN_MM = max(OUTSIDE_MM) + 3.0 * SMOOTH_MM


@dataclass
class RegionalScar:
    landmarks: Landmarks  # structures on the LA's bounding box (`CROP_MARGIN_MM` around the mask)
    frame: LAFrame
    mitral: MitralOpening | None
    regions: np.ndarray  # (V,) region name per mesh vertex
    burdens: list[RegionBurden]
    clipped: RegionBurden
    rings: list[AntrumRing]
    flat_uv: np.ndarray | None  # (V, 2) disk positions, NaN off the map; None without a mitral ring
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report.json section: landmarks, burden per region, rings with their gaps."""
        return {
            "landmarks": {
                name: {"ostium_mm": np.round(mark.ostium_mm, 1).tolist(), "confidence": round(mark.confidence, 3)}
                for name, mark in sorted(self.landmarks.found.items())
            },
            "mitral_ring": None
            if self.mitral is None
            else {
                "centre_mm": np.round(self.mitral.centre_mm, 1).tolist(),
                "radius_mm": round(self.mitral.radius_mm, 1),
                "confidence": round(self.mitral.confidence, 3),
            },
            "la_frame_from_landmarks": self.frame.from_landmarks,
            "burden_percent_clipped": round(self.clipped.burden_percent, 2),
            "clipped_area_cm2": round(self.clipped.area_cm2, 2),
            "regions": {
                b.region: {
                    "area_cm2": round(b.area_cm2, 2),
                    "scar_area_cm2": round(b.scar_area_cm2, 2),
                    "burden_percent": round(b.burden_percent, 2),
                }
                for b in self.burdens
            },
            "antrum_rings": {
                ring.side: {
                    "closed": ring.closed,
                    "note": ring.note,
                    # null where no gap was measured (no ring at all, or undetermined), 0 for a closed ring
                    "largest_gap_mm": round(ring.largest_gap_mm, 1) if ring.gaps or ring.closed else None,
                    "all_gaps_listed": ring.gaps_complete,
                    "gaps": [
                        {
                            "centre_deg": round(gap.centre_deg, 1),
                            "size_mm": round(gap.size_mm, 1),
                            "centre_mm": np.round(gap.centre_mm, 1).tolist(),
                        }
                        for gap in ring.gaps
                    ],
                }
                for ring in self.rings
            },
            "problems": self.problems,
            "conventions": {
                "regions": "atrialjsq.quantify.regions: veins clipped at their ostia (sleeves and the mitral opening "
                "left out of burden_percent_clipped), antra = body wall within 10 mm of a side's vein sleeves, the "
                "rest by direction in the LA frame",
                "ring_angles": "around the side's axis: 0 superior, 90 posterior, 180 inferior, 270 anterior",
            },
        }


def la_box(la: Volume) -> tuple[slice, slice, slice]:
    """The LA mask's bounding box with `CROP_MARGIN_MM` around it (every voxel the analysis reads)."""
    spacing = np.asarray(la.geometry.spacing, dtype=np.float64)
    pad = triple(int(p) for p in np.ceil(CROP_MARGIN_MM / spacing).astype(int) + 1)
    box = bounding_box(np.asarray(la.array) > 0, pad=pad)
    if box is None:
        raise ValueError("the LA mask is empty: no regional analysis")
    return box


def _landmarks_on(la_crop: Volume) -> Landmarks:
    """`detect_landmarks` on the LA's own box (2 voxels round the mask: the same distances, on half the voxels
    of the crop the mitral profiles need), its `structures` put back on `la_crop`'s grid."""
    tight = bounding_box(np.asarray(la_crop.array) > 0, pad=2)
    assert tight is not None  # la_box refused an empty mask
    landmarks = detect_landmarks(cropped_volume(la_crop, tight))
    assert landmarks.structures is not None  # detect_landmarks always sets them
    structures = np.zeros(la_crop.geometry.shape, dtype=landmarks.structures.dtype)
    structures[tight] = landmarks.structures
    landmarks.structures = structures
    return landmarks


def analyse_regions(image: Volume, la: Volume, mesh: Mesh, scar: np.ndarray) -> RegionalScar:
    """The regional breakdown of one case (see the module docstring); `scar` is the per-vertex label."""
    spacing = np.asarray(la.geometry.spacing, dtype=np.float64)
    box = la_box(la)
    start = np.array([s.start for s in box])
    la_crop, image_crop = cropped_volume(la, box), cropped_volume(image, box)
    landmarks = _landmarks_on(la_crop)  # its `structures` are on the cropped grid
    assert landmarks.structures is not None  # _landmarks_on always sets them
    problems = []
    missing = [name for name in ("RSPV", "RIPV", "LAA") if name not in landmarks.found]
    if "LCPV" not in landmarks.found:
        missing += [name for name in ("LSPV", "LIPV") if name not in landmarks.found]
    if missing:
        problems.append(f"not found: {', '.join(sorted(missing))}")
    frame = la_frame(landmarks)
    if not frame.from_landmarks:
        problems.append("LA frame from the patient axes (veins missing): region borders are approximate")

    crop_mesh = Mesh(mesh.vertices_mm, mesh.faces, mesh.normals, mesh.vertices_index - start)
    labels = vertex_structures(crop_mesh, landmarks.structures, spacing)
    body = labels == BODY_LABEL
    deviation = blood_deviation(crop_mesh, image_crop, np.asarray(la_crop.array) > 0)
    mitral = detect_mitral(mesh, deviation, body, landmarks.body_centroid_mm)
    if mitral is None:
        problems.append("mitral ring not found: no flat map, the valve area counts as wall")
    mitral_vertices = None if mitral is None else mitral.vertices
    regions = assign_regions(crop_mesh, landmarks, frame, mitral_vertices, spacing, labels)
    burdens = region_burdens(mesh, regions, scar)
    rings = []
    for side, veins in (("left_antrum", LEFT_VEINS), ("right_antrum", RIGHT_VEINS)):
        ostia = [landmarks.found[name].ostium_mm for name in veins if name in landmarks.found]
        ring = ring_analysis(mesh, regions, scar, frame, side, ostia)
        if ring is not None:
            rings.append(ring)
    centre = np.isin(regions, ("posterior_wall", "left_antrum", "right_antrum"))
    flat = None if mitral is None else flat_map(mesh, mitral.vertices, frame, problems, centre)
    return RegionalScar(landmarks, frame, mitral, regions, burdens, clipped_burden(burdens), rings, flat, problems)


def flat_map(
    mesh: Mesh, cut: np.ndarray, frame: LAFrame, problems: list[str], centre: np.ndarray | None = None
) -> np.ndarray | None:
    """Disk positions of the surface with `cut` (the mitral opening) removed, as a posterior view, with the
    mean position of the `centre` vertices (the posterior wall and the antra: the veins then sit round the
    middle of the map, as in standard LA maps) moved to the disk's centre."""
    keep = ~np.asarray(cut, dtype=bool)
    parts = patches(mesh, keep)
    if parts.max() < 0:
        return None
    largest = np.argmax(np.bincount(parts[parts >= 0]))
    faces = largest_face_component(faces_within(mesh, parts == largest), mesh.n_vertices)
    loops = boundary_loops(faces)
    if not loops:
        problems.append("the surface without the mitral opening has no rim: no flat map")
        return None
    if len(loops) > 1:
        problems.append(f"the surface has {len(loops) - 1} hole(s) besides the mitral ring: flat map approximate")
    try:
        uv = harmonic_disk(mesh.vertices_mm, faces, loops[0])
    except RuntimeError as error:  # SuperLU: a singular system (a piece of surface the rim does not reach)
        problems.append(f"the Laplace solve of the flat map failed ({error}): no flat map")
        return None
    inside = np.isfinite(uv).all(axis=1)
    if not inside[np.unique(faces)].all():
        problems.append("the Laplace solve of the flat map failed (a degenerate surface): no flat map")
        return None
    if centre is not None and (centre & inside).any():
        middle = uv[centre & inside].mean(axis=0)
        if np.linalg.norm(middle) < 0.95:
            uv[inside] = recentre(uv[inside], middle)
    patch = Mesh(mesh.vertices_mm, faces, mesh.normals, mesh.vertices_index)
    uv = equalise_radius(uv, vertex_areas(patch))  # the map's own triangles: none cut by the mitral opening
    left, _, superior = frame.axes
    return orient_map(uv, mesh.vertices_mm, right=-left, up=superior)
