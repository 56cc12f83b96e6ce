"""LA inference variants: the grid-phase average pastes every pass back at its physical place, and the graph cut
moves a boundary to an image edge exactly when the smoothness outweighs the unaries it pays (derived by hand)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from atrialjsq.io.geometry import Geometry
from atrialjsq.io.volume import Volume
from script_loader import load_script

SCRIPT = Path(__file__).parents[2] / "studies" / "lasc2018" / "scripts" / "la_inference_variants.py"


@pytest.fixture(scope="module")
def script():
    return load_script(SCRIPT)


def test_phase_boxes_cut_one_voxel_off_each_low_face_of_the_content(script):
    assert script.phase_boxes((5, 6, 7), None) == [
        (slice(0, 5), slice(0, 6), slice(0, 7)),
        (slice(1, 5), slice(0, 6), slice(0, 7)),
        (slice(0, 5), slice(1, 6), slice(0, 7)),
        (slice(0, 5), slice(0, 6), slice(1, 7)),
    ]
    content = (slice(2, 5), slice(0, 6), slice(3, 7))
    assert script.phase_boxes((5, 6, 7), content)[3] == (slice(2, 5), slice(0, 6), slice(4, 7))


class PhysicalRamp:
    """A stand-in predictor whose p_LA is a function of each voxel's physical position only: if every pass is
    pasted back where it belongs, the average is that same function on the full grid."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    @staticmethod
    def field(geometry: Geometry) -> np.ndarray:
        index = np.indices(geometry.shape).reshape(3, -1).T.astype(np.float64)
        physical = geometry.index_to_physical(index)
        return (0.01 * physical[:, 0] + 0.002 * physical[:, 2] + 0.3).reshape(geometry.shape)

    def predict_volume(self, image: Volume):
        self.shapes.append(image.array.shape)
        return SimpleNamespace(la_prob=Volume(self.field(image.geometry).astype(np.float32), image.geometry))


def test_phase_average_pastes_each_pass_at_its_physical_place(script):
    geometry = Geometry((12, 10, 8), (0.625, 0.625, 1.25), (-3.0, 4.0, 7.5))
    image = Volume(np.random.default_rng(0).uniform(1, 2, geometry.shape).astype(np.float32), geometry)
    image.array[:, :, :2] = 0.0  # constant padding: peeled before the passes, as predict does
    predictor = PhysicalRamp()
    average = script.phase_average(predictor, image)
    assert predictor.shapes == [(12, 10, 6), (11, 10, 6), (12, 9, 6), (12, 10, 5)]
    expected = PhysicalRamp.field(geometry)
    np.testing.assert_allclose(average[:, :, 2:], expected[:, :, 2:], atol=1e-6)
    assert not average[:, :, :2].any()  # no pass covers the padding


def edge_case(size: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """p_LA falls along x: 0.9 up to x = 9, 0.45 and 0.4 at x = 10, 11, 0.1 from x = 12; the image has its one edge
    between x = 11 and 12 (1 inside, 0 outside)."""
    p = np.full((size, 6, 6), 0.1)
    p[:10] = 0.9
    p[10], p[11] = 0.45, 0.4
    image = np.zeros((size, 6, 6))
    image[:12] = 1.0
    return p.astype(np.float32), image.astype(np.float32)


@pytest.mark.parametrize(("smoothness", "boundary"), [(0.0, 10), (0.5, 10), (0.8, 12), (2.0, 12)])
def test_graph_cut_moves_to_the_edge_only_when_smoothness_pays_for_it(script, smoothness, boundary):
    # Per column, a boundary at x = 10 cuts a flat pair (λ·1); at x = 12 it cuts the edge pair, whose weight
    # exp(−ΔI²/2σ²) vanishes (σ² = 36/1884 of the neighbour differences, so exp(−26)), but labels x = 10, 11 LA at
    # log(0.55/0.45) + log(0.6/0.4) = 0.606 of unaries. So the edge wins exactly when λ > 0.606.
    p, image = edge_case()
    mask = script.graph_cut(p, image, (1.0, 1.0, 1.0), smoothness)
    expected = np.zeros(p.shape, dtype=bool)
    expected[:boundary] = True
    np.testing.assert_array_equal(mask, expected)


def test_graph_cut_without_any_likely_la_is_empty(script):
    p = np.zeros((8, 8, 8), dtype=np.float32)
    assert not script.graph_cut(p, np.ones_like(p), (1.0, 1.0, 1.0), 1.0).any()
