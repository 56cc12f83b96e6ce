"""LearnGC: the graph cut finds the known optimum of toy graphs, the surface graphs join the right elements,
the features do not move when image and LA move rigidly together, and a classifier trained on balls with a
scar cap finds the cap of an unseen ball (and survives its JSON round trip)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from atrialjsq.errors import InputError
from atrialjsq.io import Geometry, Volume
from atrialjsq.quantify.learngc import (
    LearnGCClassifier,
    graph_cut,
    mesh_edges,
    profile_features,
    scar_by_learngc,
    train_learngc,
    voxel_edges,
)
from atrialjsq.quantify.surface_scar import surface_sampler


def energy(labels, p, edges, smoothness) -> float:
    unary = sum(-math.log(q if label else 1 - q) for label, q in zip(labels, p, strict=True))
    return unary + smoothness * sum(labels[i] != labels[j] for i, j in edges)


@pytest.mark.parametrize("smoothness", [0.0, 0.3, 1.0, 5.0])
def test_the_graph_cut_is_the_brute_force_optimum_of_a_small_graph(smoothness):
    p = np.array([0.9, 0.4, 0.8, 0.1, 0.55, 0.2])
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [0, 2], [1, 4]])
    best = min(itertools.product([False, True], repeat=len(p)), key=lambda ls: energy(ls, p, edges, smoothness))
    found = graph_cut(p, edges, smoothness)
    assert energy(found, p, edges, smoothness) == pytest.approx(energy(best, p, edges, smoothness))
    if smoothness == 0.0:
        np.testing.assert_array_equal(found, p > 0.5)  # no smoothness: each node alone
    if smoothness == 5.0:
        assert found.all() or not found.any()  # strong smoothness: one label for the connected graph


def test_a_lone_doubtful_node_takes_its_neighbours_label():
    # a chain of scar with one node at p = 0.45 in the middle: the cut keeps the ring closed
    p = np.array([0.9, 0.9, 0.45, 0.9, 0.9])
    chain = np.array([[i, i + 1] for i in range(4)])
    np.testing.assert_array_equal(graph_cut(p, chain, 0.0), [True, True, False, True, True])
    np.testing.assert_array_equal(graph_cut(p, chain, 0.5), [True] * 5)


def test_surface_graphs_join_neighbours_once():
    points = np.array([[0, 0, 0], [1, 0, 0], [2, 1, 1], [3, 3, 3]])
    edges = {tuple(sorted(e)) for e in voxel_edges(points).tolist()}
    # (1, 2) are diagonal neighbours; 0 and 2 are two voxels apart in x; 3 is alone
    assert edges == {(0, 1), (1, 2)} and len(voxel_edges(points)) == 2
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    assert {tuple(e) for e in mesh_edges(faces).tolist()} == {(0, 1), (1, 2), (0, 2), (2, 3), (0, 3)}


def ball_case(seed: int, shape=(40, 40, 36), cap_axis: int = 0):
    """A ball of blood (LA) in a darker 2 mm wall with a bright scar cap on the + side of `cap_axis`."""
    from shapes import sphere_mask

    rng = np.random.default_rng(seed)
    centre = np.array([(s - 1) / 2 for s in shape]) + rng.uniform(-1, 1, 3)
    la = sphere_mask(shape, centre, 10.0, (1.0, 1.0, 1.0)).astype(bool)
    wall = sphere_mask(shape, centre, 12.0, (1.0, 1.0, 1.0)).astype(bool) & ~la
    coordinate = np.indices(shape)[cap_axis]
    scar = wall & (coordinate > centre[cap_axis] + 3 + rng.uniform(-2, 2))
    image = 60 + 100 * la + 20 * wall + 150 * scar + rng.normal(0, 6, shape)
    geometry = Geometry(shape, (1.0, 1.0, 1.0))
    return (
        Volume(image.astype(np.float32), geometry),
        Volume(la.astype(np.uint8), geometry),
        Volume(scar.astype(np.uint8), geometry),
    )


def test_features_follow_a_rigid_motion_of_image_and_la():
    image, la, _ = ball_case(1)
    sampler = surface_sampler(la)
    features = profile_features(image, la, sampler.points, sampler.normals)
    # a 90-degree turn about z: where each surface voxel lands is read from a turned volume of their indices
    ids = np.full(la.geometry.shape, -1, dtype=np.int64)
    ids[tuple(sampler.points.T)] = np.arange(len(sampler.points))
    turned = [np.rot90(v, k=1, axes=(0, 1)).copy() for v in (image.array, la.array, ids)]
    geometry = Geometry(turned[0].shape, (1.0, 1.0, 1.0))
    t_image, t_la = Volume(turned[0], geometry), Volume(turned[1], geometry)
    t_sampler = surface_sampler(t_la)
    t_features = profile_features(t_image, t_la, t_sampler.points, t_sampler.normals)
    origin = turned[2][tuple(t_sampler.points.T)]
    assert len(t_sampler.points) == len(sampler.points) and (origin >= 0).all()
    np.testing.assert_allclose(t_features, features[origin], rtol=1e-4, atol=1e-4)
    # a shift by whole voxels: the scene moves in a larger grid (image extended by its edge values)
    pad = ((3, 0), (0, 2), (1, 1))
    shifted = [np.pad(image.array, pad, mode="edge"), np.pad(la.array, pad)]
    s_geometry = Geometry(shifted[0].shape, (1.0, 1.0, 1.0))
    s_la = Volume(shifted[1], s_geometry)
    s_sampler = surface_sampler(s_la)
    s_features = profile_features(Volume(shifted[0], s_geometry), s_la, s_sampler.points, s_sampler.normals)
    order = {tuple(p): k for k, p in enumerate(s_sampler.points.tolist())}
    index = np.array([order[tuple(p)] for p in (sampler.points + np.array([3, 0, 1])).tolist()])
    np.testing.assert_allclose(s_features[index], features, rtol=1e-4, atol=1e-4)


def capped_ball(cap_direction: np.ndarray, shape=(40, 40, 36)) -> tuple[Volume, Volume, np.ndarray]:
    """A noise-free ball scene whose scar cap faces `cap_direction`: the LA (and so its surface) does not depend
    on the direction, only the image does. Returns image, LA and the centre (voxel units, 1 mm)."""
    from shapes import sphere_mask

    centre = np.array([19.3, 19.6, 17.4])
    la = sphere_mask(shape, centre, 10.0, (1.0, 1.0, 1.0)).astype(bool)
    wall = sphere_mask(shape, centre, 12.0, (1.0, 1.0, 1.0)).astype(bool) & ~la
    along = np.tensordot(cap_direction, np.indices(shape) - centre[:, None, None, None], axes=1)
    image = 60.0 + 100 * la + 20 * wall + 150 * (wall & (along > 4.0))
    geometry = Geometry(shape, (1.0, 1.0, 1.0))
    return Volume(image.astype(np.float32), geometry), Volume(la.astype(np.uint8), geometry), centre


def test_features_follow_a_rotation_off_the_grid():
    """The scene turned by 30° about z (no grid symmetry): each surface voxel's features match those of the
    voxel nearest its pre-image, up to the sub-voxel discretisation, while on the wall the cap swept the unturned
    scene's features at the same voxel do not."""
    angle = math.radians(30.0)
    turn = np.array([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0], [0, 0, 1]])
    image, la, centre = capped_ball(np.array([1.0, 0.0, 0.0]))
    t_image, t_la, _ = capped_ball(turn @ np.array([1.0, 0.0, 0.0]))
    sampler, t_sampler = surface_sampler(la), surface_sampler(t_la)
    features = profile_features(image, la, sampler.points, sampler.normals)
    t_features = profile_features(t_image, t_la, t_sampler.points, t_sampler.normals)
    pre_image = (t_sampler.points - centre) @ turn + centre  # rows: turnᵀ(p − c) + c
    distance = np.linalg.norm(pre_image[:, None, :] - sampler.points[None, :, :], axis=2)
    nearest = distance.argmin(axis=1)
    assert distance.min(axis=1).max() < 1.0  # the ball's surface voxels: every pre-image has a voxel nearby
    moved = np.abs(t_features - features[nearest]).mean(axis=1)
    unmoved = np.abs(t_features - features).mean(axis=1)  # the same surface voxel of the unturned scene
    assert np.median(moved) < 0.03 and np.mean(moved) < 0.04  # blood-pool units (scar reads ≈ 1.8)
    along = (t_sampler.points - centre) @ np.array([1.0, 0.0, 0.0]), (t_sampler.points - centre) @ turn[:, 0]
    swept = (along[0] > 4.0) != (along[1] > 4.0)  # the wall the cap left or reached
    assert swept.sum() > 50 and unmoved[swept].mean() > 4 * moved[swept].mean()


def test_a_trained_classifier_finds_the_scar_cap_of_an_unseen_ball(tmp_path):
    from atrialjsq.evaluate.scar_metrics import scar_metrics

    classifier = train_learngc([ball_case(seed) for seed in (2, 3, 4)])
    assert classifier.trained_on == 3 and len(classifier.coef) == 3 * 15
    image, la, scar = ball_case(7)
    result = scar_by_learngc(image, la, classifier)
    assert result.method == "learngc" and result.point_label.any() and not result.point_label.all()
    metrics = scar_metrics(la.array > 0, scar.array > 0, result.scar.array > 0, la.geometry.spacing)
    assert metrics["Dice_s"] > 0.8 and metrics["Accuracy"] > 0.9
    path = classifier.save(tmp_path / "learngc.json")
    again = LearnGCClassifier.load(path)
    np.testing.assert_array_equal(scar_by_learngc(image, la, again).point_label, result.point_label)


def test_bad_classifier_files_and_training_sets_are_refused(tmp_path):
    with pytest.raises(InputError, match="no such LearnGC classifier file"):
        LearnGCClassifier.load(tmp_path / "none.json")
    with pytest.raises(InputError, match="is a folder, not a LearnGC classifier file"):
        LearnGCClassifier.load(tmp_path)
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    with pytest.raises(InputError, match="not a LearnGC classifier"):
        LearnGCClassifier.load(tmp_path / "other.json")
    good = train_learngc([ball_case(2)])
    good.coef = good.coef[:-1]  # one weight short
    with pytest.raises(InputError, match="inconsistent LearnGC classifier"):
        LearnGCClassifier.load(good.save(tmp_path / "short.json"))
    image, la, scar = ball_case(2)
    with pytest.raises(ValueError, match="both scar and normal wall"):
        train_learngc([(image, la, scar.like(np.zeros(scar.geometry.shape, np.uint8)))])


def test_train_then_quantify_from_the_command_line(tmp_path, capsys):
    import json

    from atrialjsq.cli import main
    from atrialjsq.io import write_volume

    data = tmp_path / "data"
    for seed in (2, 3, 5):  # the LAScarQS task-1 layout
        image, la, scar = ball_case(seed)
        write_volume(image, data / f"case{seed}" / "enhanced.nii.gz")
        write_volume(la, data / f"case{seed}" / "atriumSegImgMO.nii.gz", label=True)
        write_volume(scar, data / f"case{seed}" / "scarSegImgM.nii.gz", label=True)
    classifier = tmp_path / "learngc.json"
    image_file = data / "case2" / "enhanced.nii.gz"
    before = image_file.read_bytes()
    assert main(["learngc-train", "--data", str(data), "--out", str(image_file), "--overwrite"]) == 1
    assert f"error: {image_file}: is also an input" in capsys.readouterr().err
    assert image_file.read_bytes() == before
    assert main(["learngc-train", "--data", str(data), "--out", str(classifier)]) == 0
    assert LearnGCClassifier.load(classifier).cases == ["case2", "case3", "case5"]
    image, la, scar = ball_case(7, shape=(40, 40, 40))  # quantify refuses grids under 40 mm a side
    write_volume(image, tmp_path / "new.nii.gz")
    write_volume(la, tmp_path / "new_la.nii.gz", label=True)
    base = ["quantify", "--image", str(tmp_path / "new.nii.gz"), "--la", str(tmp_path / "new_la.nii.gz")]
    assert main([*base, "--method", "learngc", "--out", str(tmp_path / "none")]) == 1
    assert "--method learngc needs --classifier" in capsys.readouterr().err and not (tmp_path / "none").exists()
    assert main([*base, "--method", "otsu", "--classifier", str(classifier), "--out", str(tmp_path / "none")]) == 1
    assert "--classifier goes with --method learngc" in capsys.readouterr().err
    out = tmp_path / "q"
    assert main([*base, "--method", "learngc", "--classifier", str(classifier), "--out", str(out), "--no-figure"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["method"] == "learngc" and "learngc:" in json.dumps(report["model"])
    assert 5.0 < report["scar"]["burden_percent"] < 60.0  # the cap covers a minority of the surface
