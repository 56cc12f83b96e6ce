"""LearnGC (Li et al., MedIA 2020; the paper's Table 2 row LA_M+LearnGC): scar on a given LA surface by a
learned classifier of each surface node followed by a graph cut on the surface graph.

What the paper says of it: scar classification of the LA surface from multi-scale patches along the surface
normal, in a graph-cuts framework. The authors' code is a Windows executable, so this is our own version of
that design, with these choices where the description is silent:

- **Features** (`profile_features`): at every surface element (voxel or mesh vertex) the image is sampled
  along the outward normal from −3 to +4 mm in 0.5 mm steps (the endocardium to beyond the 1–3 mm wall), at
  three scales (Gaussian σ = 0, 1, 2 mm: the multi-scale "patches" reduced to profiles), in units of the
  blood-pool mean (IIR units: independent of the scanner's intensity scale, and of any rigid motion of the
  image and LA together, up to the grid's interpolation).
- **Classifier**: logistic regression on the standardised features, scar against normal wall, classes
  balanced (scar is the minority). Its few numbers are stored as JSON (`LearnGCClassifier.save/load`), so a
  classifier file holds no pickled code.
- **Graph cut** (`graph_cut`): labels minimising Σ_nodes −log p(label) + λ·Σ_edges [labels differ] (a Potts
  smoothness, λ = `smoothness`, 0.5 by default), solved exactly by max-flow (PyMaxflow); the graph is the
  26-neighbourhood of the surface voxels (`voxel_edges`) or the mesh's edges (`mesh_edges`).

`train_learngc` learns a classifier from cases with a manual scar label (the surface truth is the scar label
read along the normal over the wall band, as the evaluation projects it); `scar_by_learngc` applies it to an
image and an LA (manual or predicted) and returns a `SurfaceScar` like every other method.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import maxflow
import numpy as np
from scipy import ndimage

from atrialjsq.errors import InputError
from atrialjsq.io import Volume
from atrialjsq.io.atomic import write_json
from atrialjsq.quantify.baselines import DEFAULT_BLOOD_POOL_MM, blood_pool_stats
from atrialjsq.quantify.surface_scar import (
    DEFAULT_BAND,
    SurfaceSampler,
    SurfaceScar,
    assemble_surface_scar,
    binary_la,
    surface_sampler,
)
from atrialjsq.surface.band import BandParams
from atrialjsq.surface.projection import sample_at_offsets

CLASSIFIER_FORMAT = "atrialjsq-learngc-v1"
OFFSETS_MM = tuple(np.round(np.arange(-3.0, 4.0 + 1e-9, 0.5), 3).tolist())
SIGMAS_MM = (0.0, 1.0, 2.0)
DEFAULT_SMOOTHNESS = 0.5
EPS = 1e-6


# ---------------------------------------------------------------------------------------------- features


def _smoothed(intensity: np.ndarray, sigma_mm: float, spacing) -> np.ndarray:
    if sigma_mm <= 0:
        return intensity
    sigma = [sigma_mm / float(s) for s in spacing]
    return ndimage.gaussian_filter(intensity, sigma, mode="nearest")


def profile_features(
    image: Volume,
    la: Volume,
    points: np.ndarray,
    normals: np.ndarray,
    offsets_mm: Sequence[float] = OFFSETS_MM,
    sigmas_mm: Sequence[float] = SIGMAS_MM,
    blood_pool_mm: float = DEFAULT_BLOOD_POOL_MM,
) -> np.ndarray:
    """(N, len(sigmas)·len(offsets)) features of the surface elements `points` (grid indices) with outward
    `normals`: the image in blood-pool units sampled along each normal, at each scale."""
    spacing = la.geometry.spacing
    intensity = np.asarray(image.array, dtype=np.float32)
    pool_mean, _ = blood_pool_stats(intensity, np.asarray(la.array) > 0, spacing, blood_pool_mm)
    if not pool_mean > 0:
        raise InputError("<image>", f"blood-pool mean intensity is {pool_mean:.3g}; LearnGC needs positive intensities")
    offsets = np.asarray(offsets_mm, dtype=np.float64)
    columns = []
    for sigma in sigmas_mm:
        smoothed = _smoothed(intensity, float(sigma), spacing) / pool_mean
        columns.append(sample_at_offsets(smoothed, points, normals, spacing, offsets, order=1))
    return np.concatenate(columns, axis=1).astype(np.float32)


def surface_truth(sampler: SurfaceSampler, scar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The manual scar on the surface: an element is scar where the label, read along its normal over the
    wall band, reaches 0.5 (on voxels, on vertices)."""
    on_points, on_vertices = sampler.profiles((np.asarray(scar) > 0).astype(np.float32))
    return on_points.max(axis=1) >= 0.5, on_vertices.max(axis=1) >= 0.5


# ---------------------------------------------------------------------------------------------- classifier


@dataclass
class LearnGCClassifier:
    """A trained node classifier: standardisation, logistic-regression weights and the feature layout."""

    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    offsets_mm: list[float]
    sigmas_mm: list[float]
    blood_pool_mm: float = DEFAULT_BLOOD_POOL_MM
    smoothness: float = DEFAULT_SMOOTHNESS
    trained_on: int = 0  # cases
    cases: list[str] = field(default_factory=list)  # their ids, when given (so a reused file can be checked)

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(scar) per row of `features`."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != len(self.coef):
            raise ValueError(f"features {features.shape} do not match the classifier's {len(self.coef)} columns")
        z = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coef) + self.intercept)))

    def save(self, path: str | Path) -> Path:
        return write_json(Path(path), {"format": CLASSIFIER_FORMAT, **asdict(self)})

    @classmethod
    def load(cls, path: str | Path) -> LearnGCClassifier:
        path = Path(path)
        if not path.is_file():
            raise InputError(
                path,
                "is a folder, not a LearnGC classifier file" if path.is_dir() else "no such LearnGC classifier file",
            )
        try:
            payload = json.loads(path.read_text())
        except OSError as error:
            raise InputError(path, f"unreadable ({error.strerror or error})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(path, f"not valid JSON ({error})") from None
        if not isinstance(payload, dict) or payload.pop("format", None) != CLASSIFIER_FORMAT:
            raise InputError(path, f"not a LearnGC classifier ({CLASSIFIER_FORMAT})")
        try:
            classifier = cls(**payload)
        except TypeError as error:
            raise InputError(path, f"unreadable LearnGC classifier ({error})") from None
        columns = len(classifier.offsets_mm) * len(classifier.sigmas_mm)
        if not len(classifier.coef) == len(classifier.mean) == len(classifier.scale) == columns:
            weights = len(classifier.coef)
            raise InputError(path, f"inconsistent LearnGC classifier ({weights} weights for {columns} features)")
        return classifier


def train_learngc(
    cases: Sequence[tuple[Volume, Volume, Volume]],
    *,
    case_ids: Sequence[str] | None = None,
    smoothness: float = DEFAULT_SMOOTHNESS,
    band_params: BandParams = DEFAULT_BAND,
    seed: int = 0,
) -> LearnGCClassifier:
    """Learn the node classifier from (image, manual LA, manual scar) cases, on their surface voxels; a case's
    problem (empty LA, non-positive intensities) is an InputError naming its id from `case_ids`."""
    from sklearn.linear_model import LogisticRegression  # scikit-learn: ~1 s to import, deferred to first use

    if not cases:
        raise ValueError("LearnGC needs at least one training case")
    names = list(case_ids) if case_ids is not None else [f"training case {i}" for i in range(len(cases))]
    features, labels = [], []
    for name, (image, la, scar) in zip(names, cases, strict=True):
        try:
            sampler = surface_sampler(binary_la(la), band_params)
            features.append(profile_features(image, sampler.la, sampler.points, sampler.normals))
        except InputError as error:
            raise InputError(name, error.reason) from None
        labels.append(surface_truth(sampler, np.asarray(scar.array))[0])
    x, y = np.concatenate(features).astype(np.float64), np.concatenate(labels)
    if y.all() or not y.any():
        raise ValueError("LearnGC needs training surfaces with both scar and normal wall")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < EPS] = 1.0
    model = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)
    model.fit((x - mean) / scale, y)
    return LearnGCClassifier(
        mean=mean.tolist(),
        scale=scale.tolist(),
        coef=model.coef_[0].tolist(),
        intercept=float(model.intercept_[0]),
        offsets_mm=list(OFFSETS_MM),
        sigmas_mm=list(SIGMAS_MM),
        smoothness=float(smoothness),
        trained_on=len(cases),
        cases=[str(name) for name in case_ids] if case_ids is not None else [],
    )


# ---------------------------------------------------------------------------------------------- graph cut


def voxel_edges(points: np.ndarray) -> np.ndarray:
    """(E, 2) index pairs of surface voxels that are 26-neighbours (each pair once)."""
    points = np.asarray(points, dtype=np.int64)
    if len(points) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    low = points.min(axis=0) - 1
    shape = tuple(int(n) for n in points.max(axis=0) - low + 2)
    lookup = np.full(shape, -1, dtype=np.int64)
    local = points - low
    lookup[tuple(local.T)] = np.arange(len(points))
    pairs = []
    for step in np.argwhere(np.ones((3, 3, 3))) - 1:  # the 13 forward steps of the 26-neighbourhood
        if tuple(step) <= (0, 0, 0):
            continue
        neighbour = lookup[tuple((local + step).T)]
        found = neighbour >= 0
        pairs.append(np.stack([np.flatnonzero(found), neighbour[found]], axis=1))
    return np.concatenate(pairs)


def mesh_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) vertex pairs joined by a triangle edge (each pair once)."""
    faces = np.asarray(faces, dtype=np.int64)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.unique(np.sort(edges, axis=1), axis=0)


def graph_cut(probability: np.ndarray, edges: np.ndarray, smoothness: float = DEFAULT_SMOOTHNESS) -> np.ndarray:
    """The labelling (True = scar) minimising Σ −log p(label) + smoothness·Σ_edges [labels differ], exactly."""

    p = np.clip(np.asarray(probability, dtype=np.float64), EPS, 1 - EPS)
    n = len(p)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if smoothness < 0:
        raise ValueError(f"smoothness must be >= 0, got {smoothness}")
    graph = maxflow.Graph[float](n, max(len(edges), 1))
    graph.add_nodes(n)
    ids = np.arange(n)
    # A node on the sink side (segment 1 = scar) cuts its source edge: that capacity is the cost of "scar".
    graph.add_grid_tedges(ids, -np.log(p), -np.log(1 - p))
    if len(edges) and smoothness > 0:
        weights = np.full(len(edges), float(smoothness))
        graph.add_edges(edges[:, 0].astype(np.int32), edges[:, 1].astype(np.int32), weights, weights)
    graph.maxflow()
    return np.asarray(graph.get_grid_segments(ids), dtype=bool)


# ---------------------------------------------------------------------------------------------- the method


def scar_by_learngc(
    image: Volume, la: Volume, classifier: LearnGCClassifier, band_params: BandParams = DEFAULT_BAND
) -> SurfaceScar:
    """Scar on the surface of `la` (manual or predicted) by LearnGC with a trained `classifier`."""
    if image.geometry.shape != la.geometry.shape:
        raise InputError("<image>", f"image grid {image.geometry.shape} differs from the LA's {la.geometry.shape}")
    sampler = surface_sampler(binary_la(la), band_params)
    layout: dict[str, Any] = {
        "offsets_mm": classifier.offsets_mm,
        "sigmas_mm": classifier.sigmas_mm,
        "blood_pool_mm": classifier.blood_pool_mm,
    }
    point_p = classifier.probability(profile_features(image, sampler.la, sampler.points, sampler.normals, **layout))
    vertex_p = classifier.probability(
        profile_features(image, sampler.la, sampler.vertex_points, sampler.vertex_normals, **layout)
    )
    point_label = graph_cut(point_p, voxel_edges(sampler.points), classifier.smoothness)
    vertex_label = graph_cut(vertex_p, mesh_edges(sampler.mesh.faces), classifier.smoothness)
    parameters = {"smoothness": classifier.smoothness, "trained_on": classifier.trained_on}
    return assemble_surface_scar(
        sampler, (point_p, point_p, point_label), (vertex_p, vertex_p, vertex_label), "learngc", parameters
    )
