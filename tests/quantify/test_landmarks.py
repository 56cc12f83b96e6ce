"""PV ostia and the appendage on LA segmentations: phantoms whose generator knows where its ostia are (with
and without a common left trunk), and a mask with nothing tubular on it."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.io import Geometry, Volume
from atrialjsq.quantify.landmarks import Landmark, detect_landmarks

GRID = {"shape": (288, 288, 44), "spacing": (1.25, 1.25, 2.5)}


@pytest.mark.parametrize("seed", [4, 5])  # seed 5 has a common left trunk, seed 4 four separate veins
def test_the_ostia_of_a_phantom_are_found_and_named(seed):
    from atrialjsq.phantom.generate import generate_phantom

    case, params = generate_phantom(seed, **GRID)
    found = detect_landmarks(case.labels["la"]).found
    trunk = params["anatomy"]["left_trunk"] is not None
    expected = {"LCPV", "RSPV", "RIPV", "LAA"} if trunk else {"LSPV", "LIPV", "RSPV", "RIPV", "LAA"}
    assert set(found) == expected
    for name, truth in params["pv_ostia_mm"].items():
        key = "LCPV" if trunk and name.startswith("L") else name
        assert np.linalg.norm(found[key].ostium_mm - np.asarray(truth)) < 8.0, name  # within a vein radius
        assert found[key].confidence > 0.85


def test_a_ball_has_no_veins():
    from shapes import sphere_mask

    ball = sphere_mask((48, 48, 48), (23.5, 23.5, 23.5), 18.0, (1.0, 1.0, 1.0))
    result = detect_landmarks(Volume(ball.astype(np.uint8), Geometry(ball.shape, (1.0, 1.0, 1.0))))
    assert result.found == {} and result.unassigned == []
    np.testing.assert_allclose(result.body_centroid_mm, [23.5, 23.5, 23.5], atol=0.1)


def _candidate(direction) -> Landmark:
    """A protrusion 20 mm from the body centroid along `direction`, not yet named."""
    unit = np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
    return Landmark("", 20.0 * unit, unit, 1.0, 0.0)


def test_a_common_left_trunk_scores_its_cosine_for_two_veins_a_little_under_two_veins_apart():
    """Templates LSPV (1, 0.8, 0.8), |·|² = 2.28; LIPV (1, 0.9, −0.5), |·|² = 2.06; their sum (2, 1.7, 0.3),
    |·|² = 6.98. A single left protrusion straight to the left, (1, 0, 0), is a common trunk with the cosine
    c = 2/√6.98 = 0.7570 to the sum, scoring c + 0.9·c = 1.4383 (it counts for its two veins, the second at
    TRUNK_SECOND_VEIN = 0.9). Two left veins 45° up and down, (1, 0, ±1)/√2, are LSPV with
    (1 + 0.8)/(√2·√2.28) = 0.8429 and LIPV with (1 + 0.5)/(√2·√2.06) = 0.7390 (the assignment with the largest
    sum: LAA would take the upper one at only 0.6433), scoring 1.5819. At a perfect fit a trunk along the sum
    scores 1.9 and two veins on their templates 2: at equal fit the veins found apart win (a wider opening that
    merges two close veins into one bump must explain the anatomy better to be read as a trunk)."""
    from atrialjsq.quantify.landmarks import TEMPLATES, TRUNK_SECOND_VEIN, Landmarks, _assign

    assert TRUNK_SECOND_VEIN == 0.9
    found, unassigned = _assign([_candidate((1.0, 0.0, 0.0))])
    assert set(found) == {"LCPV"} and unassigned == []
    trunk = Landmarks(found, np.zeros(3))
    assert found["LCPV"].confidence == pytest.approx(2.0 / np.sqrt(6.98), abs=1e-12)
    assert trunk.score == pytest.approx(1.9 * 2.0 / np.sqrt(6.98), abs=1e-12)  # 1.4383

    found, unassigned = _assign([_candidate((1.0, 0.0, 1.0)), _candidate((1.0, 0.0, -1.0))])
    assert set(found) == {"LSPV", "LIPV"} and unassigned == []
    np.testing.assert_allclose(found["LSPV"].direction, np.array([1.0, 0.0, 1.0]) / np.sqrt(2), atol=1e-15)
    assert found["LSPV"].confidence == pytest.approx(1.8 / np.sqrt(2 * 2.28), abs=1e-12)
    assert found["LIPV"].confidence == pytest.approx(1.5 / np.sqrt(2 * 2.06), abs=1e-12)
    separate = Landmarks(found, np.zeros(3)).score
    assert separate == pytest.approx(1.8 / np.sqrt(4.56) + 1.5 / np.sqrt(4.12), abs=1e-12)  # 1.5819

    bisector = np.add(TEMPLATES["LSPV"], TEMPLATES["LIPV"])
    assert Landmarks(_assign([_candidate(bisector)])[0], np.zeros(3)).score == pytest.approx(1.9, abs=1e-12)
    on_templates = _assign([_candidate(TEMPLATES["LSPV"]), _candidate(TEMPLATES["LIPV"])])[0]
    assert set(on_templates) == {"LSPV", "LIPV"}
    assert Landmarks(on_templates, np.zeros(3)).score == pytest.approx(2.0, abs=1e-12)


def test_a_vein_straight_to_the_left_of_a_ball_is_a_trunk_with_the_score_of_its_direction():
    """A 18 mm ball with one 5 mm vein along +x, all centred on the grid's y and z middle (index 32 of 0..63):
    the body and the vein's ostium are mirror-symmetric about the vein's axis, so the ostium lies straight to
    the left of the body centroid, direction (1, 0, 0): a common trunk scoring 1.9 · 2/√6.98 (see above)."""
    from atrialjsq.quantify.landmarks import landmarks_at_radius

    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in (72, 64, 64)], indexing="ij"), axis=-1)
    offset = grid - np.array([30.0, 32.0, 32.0])
    radial = np.linalg.norm(offset[..., 1:], axis=-1)
    vein = (radial <= 5.0) & (offset[..., 0] >= 0) & (offset[..., 0] <= 32.0)
    la = Volume.from_array(((np.linalg.norm(offset, axis=-1) <= 18.0) | vein).astype(np.uint8))
    result = landmarks_at_radius(la, 8.0)
    assert set(result.found) == {"LCPV"} and result.unassigned == []
    np.testing.assert_allclose(result.found["LCPV"].direction, [1.0, 0.0, 0.0], atol=1e-9)
    assert result.score == pytest.approx(1.9 * 2.0 / np.sqrt(6.98), abs=1e-9)


def test_label_centres_are_the_mean_voxel_index_of_each_label():
    from atrialjsq.quantify.landmarks import _label_centres

    labels = np.zeros((6, 5, 4), dtype=np.int32)
    labels[0, 0, 0] = labels[2, 4, 2] = 1  # centre (1, 2, 1)
    labels[5, 1, 3] = 2  # one voxel: itself
    labels[3:5, 2, 0] = 3  # (3.5, 2, 0), left out below
    sizes = np.bincount(labels.ravel())
    centres = _label_centres(labels, sizes, [1, 2])
    np.testing.assert_allclose(centres, [(1.0, 2.0, 1.0), (5.0, 1.0, 3.0)])
    assert _label_centres(labels, sizes, []) == []


@pytest.mark.parametrize("tilt", [-0.02, 0.02])
def test_a_protrusion_pointing_away_from_its_best_free_template_is_not_named(tilt):
    """Three protrusions: on the LIPV template, on the RIPV template, and along b + tilt·t_LAA, where b = (0, −1,
    −2)/√5 is at 90° to the LAA template (0.7·0 + 1 − 0.5·2 = 0) and at about −0.71 to both superior veins: its
    cosine to the LAA is tilt/√(1 + tilt²) = ±0.019996. The one-to-one assignment gives the first two their own
    templates (cosine 1 each: a swap such as LIPV's protrusion to LSPV scores only 0.609 + 0.03) and the third
    the LAA. Pointing 1° away from it (−0.02) it is not named (the rule is cosine > 0); 1° towards it (+0.02) it
    is the LAA with that cosine. The single left vein becomes a common trunk either way."""
    from atrialjsq.quantify.landmarks import TEMPLATES, _assign

    laa = np.asarray(TEMPLATES["LAA"]) / np.linalg.norm(TEMPLATES["LAA"])
    third = _candidate(np.array([0.0, -1.0, -2.0]) / np.sqrt(5) + tilt * laa)
    found, unassigned = _assign([_candidate(TEMPLATES["LIPV"]), _candidate(TEMPLATES["RIPV"]), third])
    if tilt < 0:
        assert set(found) == {"LCPV", "RIPV"} and unassigned == [third] and third.name == ""
    else:
        assert set(found) == {"LCPV", "RIPV", "LAA"} and unassigned == []
        assert found["LAA"] is third and third.confidence == pytest.approx(0.02 / np.sqrt(1.0004), abs=1e-12)


@pytest.mark.parametrize(("length_mm", "found"), [(26.0, False), (28.0, True)])
def test_a_protrusion_needs_0_3_ml_to_be_a_structure(length_mm, found):
    """A 3 mm vein (29 voxels in cross-section on the 1 mm grid) along +x from an 18 mm ball, body opened at
    9 mm. Its protrusion is the vein outside the ball, less the few voxels round its root that the opening
    sweeps into the body: lengthening it from 26 to 28 mm adds 2 × 29 voxels = 0.058 mL, across
    DEFAULT_MIN_VOLUME_ML = 0.3 (about 0.25 mL: too small to be a vein; about 0.31 mL: a common trunk)."""
    from atrialjsq.quantify.landmarks import DEFAULT_MIN_VOLUME_ML, landmarks_at_radius

    assert DEFAULT_MIN_VOLUME_ML == 0.3
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in (72, 64, 64)], indexing="ij"), axis=-1)
    offset = grid - np.array([30.0, 32.0, 32.0])
    vein = (np.linalg.norm(offset[..., 1:], axis=-1) <= 3.0) & (offset[..., 0] >= 0)
    assert int(vein[40].sum()) == 29
    masks = {
        length: (np.linalg.norm(offset, axis=-1) <= 18.0) | (vein & (offset[..., 0] <= length)) for length in (26, 28)
    }
    volumes = {
        length: landmarks_at_radius(Volume.from_array(mask.astype(np.uint8)), 9.0, 0.2).found["LCPV"].volume_ml
        for length, mask in masks.items()
    }
    assert volumes[28] - volumes[26] == pytest.approx(0.058, abs=1e-9)
    ball = np.linalg.norm(offset, axis=-1) <= 18.0
    for length, mask in masks.items():  # the vein outside the ball, less at most 10 voxels at its root
        outside_ml = (mask & ~ball).sum() / 1000.0
        assert outside_ml - 0.010 <= volumes[length] <= outside_ml
    assert volumes[26] < DEFAULT_MIN_VOLUME_ML <= volumes[28]
    landmarks = landmarks_at_radius(Volume.from_array(masks[int(length_mm)].astype(np.uint8)), 9.0)
    assert ("LCPV" in landmarks.found) is found and (landmarks.found == {}) is not found


def test_a_direction_is_normalised_whatever_its_length():
    """(0.3, 0.4, 0) has length 0.5: its unit vector is (0.6, 0.8, 0), as for (3, 4, 0); a zero vector stays zero
    (the 1e-12 floor only guards the division)."""
    from atrialjsq.quantify.landmarks import _unit

    np.testing.assert_allclose(_unit((0.3, 0.4, 0.0)), [0.6, 0.8, 0.0], atol=1e-15)
    np.testing.assert_allclose(_unit((3, 4, 0)), [0.6, 0.8, 0.0], atol=1e-15)
    np.testing.assert_array_equal(_unit((0.0, 0.0, 0.0)), [0.0, 0.0, 0.0])
