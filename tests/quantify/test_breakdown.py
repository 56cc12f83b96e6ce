"""Regions, PV-antrum ring gaps and the mitral ring: an analytic ball with one vein, and phantoms with the
generator's own truth."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.io import Volume
from atrialjsq.quantify.landmarks import detect_landmarks
from atrialjsq.quantify.regions import (
    assign_regions,
    clipped_burden,
    la_frame,
    region_burdens,
)
from atrialjsq.quantify.ring_gaps import ring_analysis
from atrialjsq.surface.mesh import extract_mesh, mesh_area_mm2

CENTRE = np.array([30.0, 32.0, 32.0])  # index = mm (1 mm grid, identity direction, origin 0)
BALL_MM, VEIN_MM, VEIN_END_MM = 18.0, 5.0, 32.0
RING_MM = (8.0, 12.0)  # the ring's distance from the vein's axis


@pytest.fixture(scope="module")
def ball_with_vein():
    """A ball with one vein along +x (patient left): a single left vein, i.e. a common left trunk."""
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in (72, 64, 64)], indexing="ij"), axis=-1)
    offset = grid - CENTRE
    ball = np.linalg.norm(offset, axis=-1) <= BALL_MM
    radial = np.linalg.norm(offset[..., 1:], axis=-1)
    vein = (radial <= VEIN_MM) & (offset[..., 0] >= 0) & (offset[..., 0] <= VEIN_END_MM)
    la = Volume.from_array((ball | vein).astype(np.uint8))
    mesh = extract_mesh(la, smooth_sigma_mm=1.0)
    landmarks = detect_landmarks(la)
    frame = la_frame(landmarks)
    regions = assign_regions(mesh, landmarks, frame)
    return la, mesh, landmarks, frame, regions


def _ring(mesh, gap_deg: float | None, gap_centre_deg: float = 90.0) -> np.ndarray:
    """Scar on the ball at RING_MM from the vein's axis, on the vein's side, with one gap (angle 0 = +z
    superior, 90 = +y posterior) of `gap_deg` degrees."""
    offset = mesh.vertices_mm - CENTRE
    radial = np.linalg.norm(offset[:, 1:], axis=1)
    ring = (radial >= RING_MM[0]) & (radial <= RING_MM[1]) & (offset[:, 0] > 0)
    if gap_deg is not None:
        angle = np.degrees(np.arctan2(offset[:, 1], offset[:, 2])) % 360.0
        ring &= np.abs((angle - gap_centre_deg + 180.0) % 360.0 - 180.0) > gap_deg / 2
    return ring


def test_the_vein_is_a_clipped_sleeve_and_the_rest_is_wall(ball_with_vein):
    _, mesh, landmarks, frame, regions = ball_with_vein
    assert set(landmarks.found) == {"LCPV"}
    assert not frame.from_landmarks  # one side only: the patient axes stand in
    offset = mesh.vertices_mm - CENTRE
    tip = offset[:, 0] > BALL_MM + 4  # well along the vein
    assert (regions[tip] == "LCPV").all()
    # By hand: on the ball, |x| > sqrt(y² + z²) ≥ max(|y|, |z|) wherever x < −18·cos 45° = −12.7 mm.
    assert (regions[offset[:, 0] < -13.5] == "septum").all()
    assert (regions[offset[:, 2] > 13.5] == "roof").all() and (regions[offset[:, 1] < -13.5] == "anterior_wall").all()
    near_vein = (
        (np.abs(np.linalg.norm(offset, axis=1) - BALL_MM) < 1.5)
        & (np.linalg.norm(offset[:, 1:], axis=1) < 9)
        & (offset[:, 0] > 0)
    )
    assert (regions[near_vein & (regions != "LCPV")] == "left_antrum").all()
    # Scar on the sleeve alone: a burden of the sleeve, none of the clipped LA wall.
    scar = regions == "LCPV"
    burdens = {b.region: b for b in region_burdens(mesh, regions, scar)}
    assert burdens["LCPV"].burden_percent == pytest.approx(100.0)
    assert clipped_burden(list(burdens.values())).scar_area_cm2 == 0.0
    total = sum(b.area_cm2 for b in burdens.values())
    assert total == pytest.approx(mesh_area_mm2(mesh) / 100.0, rel=1e-9)
    # Scar on the roof cap z > 13.5 mm (all roof, clear of the 5 mm vein): a cap of height h = 18 − 13.5 mm has
    # the area 2πRh = 2π · 18 · 4.5 mm² = 5.09 cm², all of it counted in the clipped LA wall.
    cap = offset[:, 2] > 13.5
    burdens = {b.region: b for b in region_burdens(mesh, regions, cap)}
    assert burdens["roof"].scar_area_cm2 == pytest.approx(2 * np.pi * 18 * 4.5 / 100, rel=0.05)
    assert clipped_burden(list(burdens.values())).scar_area_cm2 == pytest.approx(burdens["roof"].scar_area_cm2)


def test_a_closed_ring_is_closed(ball_with_vein):
    _, mesh, landmarks, frame, regions = ball_with_vein
    ring = ring_analysis(mesh, regions, _ring(mesh, None), frame, "left_antrum", [landmarks.found["LCPV"].ostium_mm])
    assert ring is not None and ring.closed and ring.gaps == []


def test_a_gap_is_found_at_its_place_with_its_size(ball_with_vein):
    _, mesh, landmarks, frame, regions = ball_with_vein
    ring = ring_analysis(mesh, regions, _ring(mesh, 60.0), frame, "left_antrum", [landmarks.found["LCPV"].ostium_mm])
    assert ring is not None and not ring.closed
    assert len(ring.gaps) == 1
    gap = ring.gaps[0]
    # By hand: the lesion ends are rays at 60° and 120° round the vein from 8 mm out; the widest path passes
    # 8·cos 30° = 6.9 mm from the axis, 8·sin 30° = 4 mm from either end, so the gap is 8 mm wide there.
    assert gap.size_mm == pytest.approx(8.0, abs=1.5)
    radial = 8.0 * np.cos(np.radians(30.0))
    expected = CENTRE + np.array([np.sqrt(BALL_MM**2 - radial**2), radial, 0.0])
    assert np.linalg.norm(gap.centre_mm - expected) < 3.0
    assert gap.centre_deg == pytest.approx(90.0, abs=12.0)


def test_two_gaps_are_both_found_largest_first(ball_with_vein):
    _, mesh, landmarks, frame, regions = ball_with_vein
    scar = _ring(mesh, 60.0, 90.0) & _ring(mesh, 30.0, 270.0)
    ring = ring_analysis(mesh, regions, scar, frame, "left_antrum", [landmarks.found["LCPV"].ostium_mm])
    assert ring is not None and len(ring.gaps) == 2
    assert ring.gaps[0].size_mm > ring.gaps[1].size_mm
    assert ring.gaps[0].centre_deg == pytest.approx(90.0, abs=12.0)
    assert ring.gaps[1].centre_deg == pytest.approx(270.0, abs=12.0)
    assert ring.gaps[1].size_mm == pytest.approx(2 * 8.0 * np.sin(np.radians(15.0)), abs=1.5)


def test_no_scar_round_the_antrum_is_no_ring(ball_with_vein):
    _, mesh, landmarks, frame, regions = ball_with_vein
    ring = ring_analysis(
        mesh, regions, np.zeros(mesh.n_vertices, dtype=bool), frame, "left_antrum", [landmarks.found["LCPV"].ostium_mm]
    )
    assert ring is not None and ring.closed is False and ring.gaps == [] and ring.note.startswith("no ring")


@pytest.fixture(scope="module")
def phantom_rings():
    from atrialjsq.phantom import anatomy as anat
    from atrialjsq.phantom.generate import generate_phantom
    from atrialjsq.phantom.scar import ring_label
    from atrialjsq.quantify.breakdown import analyse_regions

    case, params = generate_phantom(101, scar_kind="post-ablation", shape=(288, 288, 44), spacing=(1.25, 1.25, 2.5))
    la = case.labels["la"]
    mesh = extract_mesh(la, smooth_sigma_mm=1.0)
    q = anat.warp(params["anatomy"], tuple(mesh.vertices_mm[:, i].astype(np.float32) for i in range(3)))
    scar = ring_label(params["scar"], q)
    return case, params, mesh, q, analyse_regions(case.image, la, mesh, scar)


def test_the_mitral_ring_of_a_phantom_is_where_the_generator_put_it(phantom_rings):
    from atrialjsq.phantom import anatomy as anat

    _, params, _, _, result = phantom_rings
    truth = anat.to_physical(params["anatomy"], params["anatomy"]["mitral"]["point"])
    assert result.mitral is not None
    assert np.linalg.norm(result.mitral.centre_mm - truth) < 6.0
    assert result.mitral.radius_mm == pytest.approx(params["anatomy"]["mitral"]["radius"], rel=0.35)
    assert (result.regions[result.mitral.vertices] == "mitral").all()


def test_phantom_ring_gaps_are_found_where_the_generator_left_them(phantom_rings):
    from atrialjsq.phantom.scar import ring_gap_centres
    from atrialjsq.surface.mesh_graph import vertex_areas

    _, params, mesh, q, result = phantom_rings
    found = {ring.side: ring for ring in result.rings}
    for ring, side in zip(params["scar"]["rings"], ("left_antrum", "right_antrum"), strict=True):
        truth = ring_gap_centres(ring, q, mesh.vertices_mm, vertex_areas(mesh))
        assert found[side].closed == (not truth)
        for centre in truth:
            assert min(np.linalg.norm(gap.centre_mm - centre) for gap in found[side].gaps) < 10.0
        assert len(found[side].gaps) <= len(truth) + 1  # at most one spurious gap per ring


def test_the_flat_map_puts_left_veins_left_and_superior_veins_up(phantom_rings):
    *_, result = phantom_rings
    uv = result.flat_uv
    assert uv is not None
    valid = np.isfinite(uv).all(axis=1)
    assert valid.mean() > 0.9 and np.nanmax(np.linalg.norm(uv, axis=1)) <= 1.0 + 1e-9
    where = {name: np.nanmean(uv[result.regions == name], axis=0) for name in ("LCPV", "RSPV", "RIPV")}
    assert where["LCPV"][0] < 0 < where["RSPV"][0]  # posterior view: patient left on the page's left
    assert where["RSPV"][1] > where["RIPV"][1]  # superior up
    json = result.to_json()
    assert set(json["antrum_rings"]) == {"left_antrum", "right_antrum"}


def test_a_side_without_a_ring_measures_no_gap(phantom_rings):
    """An open side with no ring listed no gap: its largest gap read 0 mm, as a closed ring's does."""
    import dataclasses

    from atrialjsq.quantify.ring_gaps import AntrumRing

    *_, result = phantom_rings
    rings = [AntrumRing("left_antrum", False, note="no ring: no scar"), AntrumRing("right_antrum", True)]
    json = dataclasses.replace(result, rings=rings).to_json()["antrum_rings"]
    assert json["left_antrum"]["closed"] is False and json["left_antrum"]["largest_gap_mm"] is None
    assert json["right_antrum"]["closed"] is True and json["right_antrum"]["largest_gap_mm"] == 0.0


def test_the_widest_gap_of_a_wall_with_one_opening_is_its_middle():
    """A flat 20 × 10 mm sheet (1 mm grid) with a scar line at x = 10 except at y = 4, 5, 6: the widest
    scar-free path from x = 0 to x = 19 passes (10, 5), 2 mm from the lesion ends at y = 3 and y = 7."""
    from atrialjsq.quantify.ring_gaps import widest_gap
    from atrialjsq.surface.mesh import Mesh
    from atrialjsq.surface.mesh_graph import adjacency

    xs, ys = np.meshgrid(np.arange(20.0), np.arange(11.0), indexing="ij")
    vertices = np.column_stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)])
    index = np.arange(xs.size).reshape(xs.shape)
    quads = [(index[i, j], index[i + 1, j], index[i + 1, j + 1], index[i, j + 1]) for i in range(19) for j in range(10)]
    faces = np.array([f for a, b, c, d in quads for f in ((a, b, c), (a, c, d))], dtype=np.int64)
    mesh = Mesh(vertices, faces, np.tile([0.0, 0.0, 1.0], (len(vertices), 1)), vertices.copy())
    x, y = vertices[:, 0], vertices[:, 1]
    scar = (x == 10) & ((y <= 3) | (y >= 7))
    wall = np.ones(len(vertices), dtype=bool)
    found = widest_gap(mesh, adjacency(mesh), wall, scar, x == 0, x == 19)
    assert found is not None
    vertex, half = found
    assert tuple(vertices[vertex, :2]) == (10.0, 5.0) and half == pytest.approx(2.0)
    closed = scar | ((x == 10) & (y > 3) & (y < 7))
    assert widest_gap(mesh, adjacency(mesh), wall, closed, x == 0, x == 19) is None


def test_a_ring_with_no_wall_beyond_its_reach_is_undetermined(ball_with_vein, monkeypatch):
    from atrialjsq.quantify import ring_gaps

    _, mesh, landmarks, frame, regions = ball_with_vein
    monkeypatch.setattr(ring_gaps, "RING_REACH_MM", 100.0)  # the whole ball lies within reach of the sleeve
    ring = ring_gaps.ring_analysis(
        mesh, regions, _ring(mesh, None), frame, "left_antrum", [landmarks.found["LCPV"].ostium_mm]
    )
    assert ring is not None and ring.closed is None and "undetermined" in ring.note


def test_the_mitral_profiles_read_the_same_on_the_crop_as_on_the_whole_grid(phantom_rings):
    from atrialjsq.data.preprocess import cropped_volume
    from atrialjsq.quantify.breakdown import la_box
    from atrialjsq.quantify.mitral import blood_deviation
    from atrialjsq.surface.mesh import Mesh

    case, _, mesh, _, _ = phantom_rings
    la = case.labels["la"]
    box = la_box(la)
    start = np.array([s.start for s in box])
    crop_mesh = Mesh(mesh.vertices_mm, mesh.faces, mesh.normals, mesh.vertices_index - start)
    whole = blood_deviation(mesh, case.image, np.asarray(la.array) > 0)
    crop = blood_deviation(crop_mesh, cropped_volume(case.image, box), np.asarray(cropped_volume(la, box).array) > 0)
    assert np.abs(whole - crop).max() < 1e-3


@pytest.mark.parametrize(("gap_deg", "ring_expected"), [(180.0, True), (250.0, True), (290.0, False), (330.0, False)])
def test_a_lesion_less_than_a_quarter_of_the_way_round_is_no_ring(ball_with_vein, gap_deg, ring_expected):
    """Reported by a user: a scar-free antrum (a stray patch) reported an open ring with a 76 mm gap. A ring
    whose gap leaves 110° of lesion (over the 90° quarter by more than a 10° sector) is a ring with a gap; one
    that leaves 70° or less is no ring."""
    _, mesh, landmarks, frame, regions = ball_with_vein
    scar = _ring(mesh, gap_deg, 90.0)
    ring = ring_analysis(mesh, regions, scar, frame, "left_antrum", [landmarks.found["LCPV"].ostium_mm])
    assert ring is not None and ring.closed is False
    if ring_expected:
        assert len(ring.gaps) >= 1 and ring.note == ""
    else:
        assert ring.gaps == [] and ring.note.startswith("no ring: scar round")


@pytest.mark.parametrize(("x_mm", "closed"), [(6.0, True), (-6.0, False)])
def test_a_full_ring_closes_within_the_reach_and_not_beyond(ball_with_vein, x_mm, closed):
    """Scar on the ball where 3 mm-wide planes cut it across the vein's axis: a whole circle round the vein.
    At x = 6..9 mm from the centre the circle lies about 15 mm (straight line) from the ostium rim (x 17.3 mm,
    5 mm off the axis): inside RING_REACH_MM = 20 mm, so it isolates the vein and closes the ring. At x = -6..-3
    mm it lies about 25 mm away: no scar within the reach, so no ring at all (open, no gaps listed)."""
    from atrialjsq.quantify.ring_gaps import RING_REACH_MM

    assert RING_REACH_MM == 20.0
    _, mesh, landmarks, frame, regions = ball_with_vein
    x = mesh.vertices_mm[:, 0] - CENTRE[0]
    scar = (x >= x_mm) & (x <= x_mm + 3.0) & (np.linalg.norm(mesh.vertices_mm - CENTRE, axis=1) > BALL_MM - 2.0)
    ring = ring_analysis(mesh, regions, scar, frame, "left_antrum", [landmarks.found["LCPV"].ostium_mm])
    assert ring is not None and ring.closed is closed
    if closed:
        assert ring.gaps == [] and ring.gaps_complete  # closed implies the search found nothing left open
    else:
        assert (
            ring.gaps == []
            and ring.note == "no ring: no scar within 20 mm of the ostia (a ring goes at least 25 % round)"
        )


def test_more_gaps_than_listed_say_so(ball_with_vein):
    """Ten gaps of 15° round the ring (one every 36°): MAX_GAPS = 8 are listed, the search is incomplete, and
    the note says so; the ring is open."""
    from atrialjsq.quantify.ring_gaps import MAX_GAPS

    assert MAX_GAPS == 8
    _, mesh, landmarks, frame, regions = ball_with_vein
    offset = mesh.vertices_mm - CENTRE
    angle = np.degrees(np.arctan2(offset[:, 1], offset[:, 2])) % 360.0
    scar = _ring(mesh, None) & ((angle % 36.0) > 15.0)
    ring = ring_analysis(mesh, regions, scar, frame, "left_antrum", [landmarks.found["LCPV"].ostium_mm])
    assert ring is not None and ring.closed is False
    assert len(ring.gaps) == MAX_GAPS and not ring.gaps_complete and "more gaps than the 8 listed" in ring.note


@pytest.fixture(scope="module")
def ball_mesh():
    """A 25 mm ball on a 1 mm grid (its surface about 7,850 mm²)."""
    grid = np.stack(np.meshgrid(*[np.arange(64, dtype=float)] * 3, indexing="ij"), axis=-1)
    return extract_mesh(Volume.from_array((np.linalg.norm(grid - 31.5, axis=-1) <= 25.0).astype(np.uint8)))


def _blood_like_cap(mesh, axis: np.ndarray, half_angle_deg: float) -> np.ndarray:
    """Deviation 0 (blood-like outside the wall) on a cap round `axis`, 1 elsewhere."""
    offsets = mesh.vertices_mm - 31.5
    cosine = offsets @ axis / np.linalg.norm(offsets, axis=1)
    return np.where(cosine >= np.cos(np.radians(half_angle_deg)), 0.0, 1.0)


@pytest.mark.parametrize(("tilt_deg", "found"), [(0.0, True), (40.0, True), (85.0, False)])
def test_the_valve_is_sought_only_within_60_degrees_of_its_direction(ball_mesh, tilt_deg, found):
    """A blood-like cap of 20° (2πR²(1 − cos 20°) = 237 mm² on R = 25 mm, over the 100 mm² minimum) tilted from
    the valve's typical direction: found at 0° and 40° (inside the 60° cone), not at 85° (the cap spans 65-105°,
    all beyond 60°: blood-like surface facing the wrong way is not the valve)."""
    from atrialjsq.quantify.mitral import DEFAULT_CONE_DEG, MITRAL_DIRECTION, detect_mitral

    assert DEFAULT_CONE_DEG == 60.0
    template = np.asarray(MITRAL_DIRECTION) / np.linalg.norm(MITRAL_DIRECTION)
    other = np.cross(template, [0.0, 0.0, 1.0])
    other /= np.linalg.norm(other)
    axis = np.cos(np.radians(tilt_deg)) * template + np.sin(np.radians(tilt_deg)) * other
    deviation = _blood_like_cap(ball_mesh, axis, 20.0)
    searchable = np.ones(len(ball_mesh.vertices_mm), dtype=bool)
    opening = detect_mitral(ball_mesh, deviation, searchable, np.full(3, 31.5))
    assert (opening is not None) is found
    if found and tilt_deg == 0.0:
        assert opening.area_mm2 == pytest.approx(2 * np.pi * 25.0**2 * (1 - np.cos(np.radians(20.0))), rel=0.15)


def test_a_blood_like_patch_under_100_square_millimetres_is_not_the_valve(ball_mesh):
    """A 10° cap: 2π·25²·(1 − cos 10°) = 60 mm², under MIN_AREA_MM2 = 100; a 16° cap (152 mm²) is over it."""
    from atrialjsq.quantify.mitral import MIN_AREA_MM2, MITRAL_DIRECTION, detect_mitral

    assert MIN_AREA_MM2 == 100.0
    template = np.asarray(MITRAL_DIRECTION) / np.linalg.norm(MITRAL_DIRECTION)
    searchable = np.ones(len(ball_mesh.vertices_mm), dtype=bool)
    small = detect_mitral(ball_mesh, _blood_like_cap(ball_mesh, template, 10.0), searchable, np.full(3, 31.5))
    large = detect_mitral(ball_mesh, _blood_like_cap(ball_mesh, template, 16.0), searchable, np.full(3, 31.5))
    assert small is None and large is not None


def _template() -> np.ndarray:
    from atrialjsq.quantify.mitral import MITRAL_DIRECTION

    return np.asarray(MITRAL_DIRECTION) / np.linalg.norm(MITRAL_DIRECTION)


def _angle_from(mesh, axis: np.ndarray) -> np.ndarray:
    offsets = mesh.vertices_mm - 31.5
    return np.degrees(np.arccos(np.clip(offsets @ axis / np.linalg.norm(offsets, axis=1), -1.0, 1.0)))


def test_with_every_vertex_blood_like_the_opening_is_exactly_the_60_degree_cone(ball_mesh):
    """Blood-like surface all round: the opening is the one patch the cone leaves, every vertex within 60° of
    the valve's direction and none beyond (a cone of 59° or 61° would drop or add the vertices between). By
    symmetry the patch's area-weighted centre lies on the cone's axis: confidence cos 0 = 1."""
    from atrialjsq.quantify.mitral import detect_mitral

    angle = _angle_from(ball_mesh, _template())
    assert ((angle > 59.0) & (angle <= 60.0)).sum() > 20 and ((angle > 60.0) & (angle < 61.0)).sum() > 20
    searchable = np.ones(len(angle), dtype=bool)
    opening = detect_mitral(ball_mesh, np.zeros(len(angle)), searchable, np.full(3, 31.5))
    assert opening is not None
    np.testing.assert_array_equal(opening.vertices, angle <= 60.0)
    assert opening.confidence == pytest.approx(1.0, abs=2e-3)


def test_the_confidence_is_the_cosine_of_the_patch_from_the_valve_direction(ball_mesh):
    """A 20° blood-like cap centred 30° from the valve's direction: its centre lies on its own axis, so the
    confidence is cos 30° = 0.866."""
    from atrialjsq.quantify.mitral import detect_mitral

    template = _template()
    other = np.cross(template, [0.0, 0.0, 1.0])
    other /= np.linalg.norm(other)
    axis = np.cos(np.radians(30.0)) * template + np.sin(np.radians(30.0)) * other
    searchable = np.ones(len(ball_mesh.vertices_mm), dtype=bool)
    opening = detect_mitral(ball_mesh, _blood_like_cap(ball_mesh, axis, 20.0), searchable, np.full(3, 31.5))
    assert opening is not None and opening.confidence == pytest.approx(np.cos(np.radians(30.0)), abs=0.01)


@pytest.mark.parametrize(("deviation", "found"), [(0.29, True), (0.3, True), (0.31, False)])
def test_a_profile_within_30_percent_of_the_blood_level_is_blood_like_and_no_further(ball_mesh, deviation, found):
    """DEFAULT_MAX_DEVIATION = 0.3 is inclusive: a 20° cap whose profiles deviate by exactly 0.3 opens, by 0.31
    does not."""
    from atrialjsq.quantify.mitral import DEFAULT_MAX_DEVIATION, detect_mitral

    assert DEFAULT_MAX_DEVIATION == 0.3
    cap = _blood_like_cap(ball_mesh, _template(), 20.0) == 0.0
    searchable = np.ones(len(cap), dtype=bool)
    opening = detect_mitral(ball_mesh, np.where(cap, deviation, 1.0), searchable, np.full(3, 31.5))
    assert (opening is not None) is found


@pytest.mark.parametrize(("area_mm2", "found"), [(99.0, False), (101.0, True)])
def test_the_opening_needs_100_square_millimetres_by_value(ball_mesh, area_mm2, found):
    """The same 20° cap on the ball scaled by s has s² times its area: scaled to 99 mm² it is not the valve,
    to 101 mm² it is, with that area."""
    from atrialjsq.quantify.mitral import detect_mitral
    from atrialjsq.surface.mesh import Mesh

    deviation = _blood_like_cap(ball_mesh, _template(), 20.0)
    searchable = np.ones(len(deviation), dtype=bool)
    full = detect_mitral(ball_mesh, deviation, searchable, np.full(3, 31.5))
    assert full is not None
    s = np.sqrt(area_mm2 / full.area_mm2)
    scaled = Mesh(ball_mesh.vertices_mm * s, ball_mesh.faces, ball_mesh.normals, ball_mesh.vertices_index)
    opening = detect_mitral(scaled, deviation, searchable, np.full(3, 31.5 * s))
    assert (opening is not None) is found
    if found:
        assert opening.area_mm2 == pytest.approx(area_mm2)


def test_of_two_blood_like_patches_in_the_cone_the_larger_is_the_valve(ball_mesh):
    """A 14° cap (about 116 mm²) on the valve's direction and a 20° cap (about 237 mm²) 38° from it (4° apart):
    both over 100 mm² and inside the cone; the larger wins even though the smaller is better aimed."""
    from atrialjsq.quantify.mitral import detect_mitral

    template = _template()
    other = np.cross(template, [0.0, 0.0, 1.0])
    other /= np.linalg.norm(other)
    aside = np.cos(np.radians(38.0)) * template - np.sin(np.radians(38.0)) * other
    small = _blood_like_cap(ball_mesh, template, 14.0) == 0.0
    large = _blood_like_cap(ball_mesh, aside, 20.0) == 0.0
    assert not (small & large).any()
    searchable = np.ones(len(small), dtype=bool)
    opening = detect_mitral(ball_mesh, np.where(small | large, 0.0, 1.0), searchable, np.full(3, 31.5))
    assert opening is not None
    np.testing.assert_array_equal(opening.vertices, large)


@pytest.mark.parametrize(("x_mm", "closed"), [(0.0, True), (-2.0, False)])
def test_the_ring_reach_is_20_millimetres_by_value(ball_with_vein, x_mm, closed):
    """The same circle of scar on either side of the 20 mm edge. The rim lies where the vein (5 mm) leaves the
    ball (18 mm): x = √(18² − 5²) = 17.29 mm, 5 mm off the axis. The lesion's edge nearest the vein, at x + 3,
    is √(18² − (x + 3)²) off the axis, so its straight distance to the rim is
    √((17.29 − x − 3)² + (√(18² − (x + 3)²) − 5)²): 19.2 mm for x = 0 (within the reach: a ring, and a closed
    one), 20.8 mm for x = −2 (the whole lesion beyond the reach: no ring, open)."""
    _, mesh, landmarks, frame, regions = ball_with_vein
    x = mesh.vertices_mm[:, 0] - CENTRE[0]
    scar = (x >= x_mm) & (x <= x_mm + 3.0) & (np.linalg.norm(mesh.vertices_mm - CENTRE, axis=1) > BALL_MM - 2.0)
    ring = ring_analysis(mesh, regions, scar, frame, "left_antrum", [landmarks.found["LCPV"].ostium_mm])
    assert ring is not None and ring.closed is closed
    assert ring.note == (
        "" if closed else "no ring: no scar within 20 mm of the ostia (a ring goes at least 25 % round)"
    )


@pytest.mark.parametrize(("n_gaps", "complete"), [(8, True), (9, False)])
def test_exactly_max_gaps_are_all_listed_and_one_more_is_not(ball_with_vein, n_gaps, complete):
    """n gaps of 16° (over 2 mm at the ring's 8-12 mm from the vein's axis) spaced evenly round the ring: 8
    (= MAX_GAPS) are all found and the search is complete; of 9 only 8 are listed, and the ring says so."""
    _, mesh, landmarks, frame, regions = ball_with_vein
    offset = mesh.vertices_mm - CENTRE
    angle = np.degrees(np.arctan2(offset[:, 1], offset[:, 2])) % 360.0
    period = 360.0 / n_gaps
    scar = _ring(mesh, None) & ((angle % period) > 16.0)
    ring = ring_analysis(mesh, regions, scar, frame, "left_antrum", [landmarks.found["LCPV"].ostium_mm])
    assert ring is not None and ring.closed is False and len(ring.gaps) == 8
    assert ring.gaps_complete is complete
    assert ring.note == ("" if complete else "more gaps than the 8 listed")
    if complete:  # one gap in each period, at its centre (8° past each multiple of the period)
        found = sorted(g.centre_deg for g in ring.gaps)
        expected = [(k * period + 8.0) % 360.0 for k in range(8)]
        np.testing.assert_allclose(found, sorted(expected), atol=8.0)


@pytest.mark.parametrize(("span_deg", "ring_expected"), [((5.0, 85.0), True), ((5.0, 75.0), False)])
def test_a_ring_needs_scar_in_nine_of_the_36_sectors(ball_with_vein, span_deg, ring_expected):
    """MIN_RING_COVERAGE = 0.25 of COVERAGE_BINS = 36 ten-degree sectors, inclusive: a lesion from 5° to 85° round
    the side's axis (in the side's own frame) touches sectors 0-8, nine of 36 = 0.25: a ring (with a gap); one
    from 5° to 75° touches eight (0.22): no ring."""
    from atrialjsq.quantify.ring_gaps import COVERAGE_BINS, MIN_RING_COVERAGE, antrum_axes

    assert (MIN_RING_COVERAGE, COVERAGE_BINS) == (0.25, 36)
    _, mesh, landmarks, frame, regions = ball_with_vein
    ostia = [landmarks.found["LCPV"].ostium_mm]
    _, e1, e2 = antrum_axes(frame, ostia)
    offset = mesh.vertices_mm - frame.origin
    angle = np.degrees(np.arctan2(offset @ e2, offset @ e1)) % 360.0
    scar = _ring(mesh, None) & (angle >= span_deg[0]) & (angle <= span_deg[1])
    ring = ring_analysis(mesh, regions, scar, frame, "left_antrum", ostia)
    assert ring is not None and ring.closed is False
    if ring_expected:
        assert ring.note == "" and len(ring.gaps) >= 1
    else:
        assert ring.gaps == [] and ring.note.startswith("no ring: scar round 22 % of the way")
