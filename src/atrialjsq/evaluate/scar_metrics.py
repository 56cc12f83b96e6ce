"""Scar metrics by the paper's protocol (§4.1): both scars projected onto the *manual* LA surface, then compared.

The surface S is the set of boundary voxels of the ground-truth LA; each gets an outward normal from the
smoothed ground-truth label, and a label per rater: "scar" when that rater's scar mask lies along the normal
within ±reach_mm (sampled every step_mm; `atrialjsq.surface.band.BandParams`, by default the ±10 mm in 0.5 mm
steps that the targets use), otherwise "normal wall". When the predicted LA is given, an automatic
"normal wall" also needs the predicted LA surface to cross the same ±reach_mm segment; otherwise the voxel is
left unlabelled by the automatic method (its LA missed that part of the atrium), which is what makes the
generalized Dice (eq. 9) differ from Accuracy. The projection is `atrialjsq.surface.projection`, the same
code prediction uses. Conventions and the differences from the reference tool: docs/explanation/evaluation.md.

An automatic scar *painted into the wall band* (what `predict` and the baselines write: every band voxel takes
the label of its nearest surface voxel, −2..+3 mm around the LA) is not a wall label: projected the same way
("any hit within ±reach_mm"), its thick band reaches the normals of neighbouring surface voxels and widens the
scar by about a voxel all round (a perfect prediction scored Dice_s 0.76–0.90 and 1.2–1.6× the true area on
LASC 2018 walls at 1.5 mm). Such a prediction is read where it was painted instead: each manual surface voxel
takes the automatic label at the sample along its normal nearest to it that lies in the painted band, which is
the label of the nearest automatic surface voxel (`scar_form`, detected per case by `painted_band_form`; the
LASC 2018 scar study, whose automatic scars are all painted, says "band").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
from scipy import ndimage

from atrialjsq.quantify.surface_scar import DEFAULT_BAND as PAINTED_BAND
from atrialjsq.surface.band import DEFAULT_BAND, BandParams, wall_band
from atrialjsq.surface.boundary import boundary_voxels, bounding_box, outward_normals
from atrialjsq.surface.projection import offsets_mm, sample_along_normals

SCAR_FORMS = ("auto", "wall", "band")
# A painted band reaches 2 mm into its LA, a wall label lies outside it: more than this share of the scar inside
# its LA marks a painted band (`painted_band_form`).
PAINTED_INSIDE_SHARE = 0.2

SCAR_METRIC_NAMES = (
    "Accuracy",
    "Sensitivity",
    "Specificity",
    "Dice_s",
    "Dice_g",
    "scar_pct_manual",
    "scar_pct_auto",
    "auto_coverage",
    "n_surface",
)


@dataclass(frozen=True)
class SurfaceLabels:
    """Per voxel of the manual LA surface S: manual scar, automatic scar, and automatic coverage.

    `auto_covered` is False where the automatic method gives the voxel no label at all (no predicted LA surface
    within ±reach_mm along the normal); automatic scar always counts as a label.
    """

    points: np.ndarray  # (N, 3) voxel indices (x, y, z) on the full grid
    manual_scar: np.ndarray  # (N,) bool
    auto_scar: np.ndarray  # (N,) bool
    auto_covered: np.ndarray  # (N,) bool

    @property
    def auto_normal(self) -> np.ndarray:
        return self.auto_covered & ~self.auto_scar


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


@overload
def _as_bool(mask: np.ndarray) -> np.ndarray: ...


@overload
def _as_bool(mask: np.ndarray | None) -> np.ndarray | None: ...


def _as_bool(mask: np.ndarray | None) -> np.ndarray | None:
    return None if mask is None else np.asarray(mask).astype(bool, copy=False)


def surface_labels(
    la_gt: np.ndarray,
    scar_gt: np.ndarray,
    scar_pred: np.ndarray,
    spacing: Sequence[float],
    la_pred: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    band_params: BandParams = DEFAULT_BAND,
    scar_form: str = "auto",
) -> SurfaceLabels:
    """Label every voxel of the manual LA surface with manual and automatic scar (the paper's projection).

    `scar_form`: "wall" projects the automatic scar as the manual one (any hit within ±reach_mm); "band" reads
    it as painted into `PAINTED_BAND` around `la_pred` (the manual LA when None) at the in-band sample nearest
    to each surface voxel; "auto" picks per case (`painted_band_form`).
    `exclude` (e.g. a mitral-valve or LV label) removes surface voxels inside it or 6-adjacent to it.
    `band_params` gives the reach, the sampling step and the normals' smoothing (the band's width plays no part).
    Work happens on the bounding box of the manual LA grown by reach_mm (+1 voxel): every sample along a normal
    lies inside it, so the crop changes no result, only the time.
    """
    la_gt, scar_gt, scar_pred = _as_bool(la_gt), _as_bool(scar_gt), _as_bool(scar_pred)
    la_pred, exclude = _as_bool(la_pred), _as_bool(exclude)
    for name, mask in (("scar_gt", scar_gt), ("scar_pred", scar_pred), ("la_pred", la_pred), ("exclude", exclude)):
        if mask is not None and mask.shape != la_gt.shape:
            raise ValueError(f"{name} shape {mask.shape} != LA shape {la_gt.shape}")
    empty = np.zeros(0, dtype=bool)
    pad = np.ceil(band_params.reach_mm / np.asarray(spacing, dtype=float)).astype(int) + 1
    box = bounding_box(la_gt, pad=(int(pad[0]), int(pad[1]), int(pad[2])))
    if box is None:
        return SurfaceLabels(np.zeros((0, 3), dtype=np.intp), empty, empty, empty)
    la = la_gt[box]
    surface = boundary_voxels(la)
    if exclude is not None and exclude[box].any():
        near_excluded = ndimage.binary_dilation(exclude[box], ndimage.generate_binary_structure(3, 1))
        surface &= ~near_excluded
    points = np.argwhere(surface)
    normals = outward_normals(la, spacing, points, sigma_mm=band_params.normal_sigma_mm)
    reach_mm, step_mm = band_params.reach_mm, band_params.step_mm

    def along(mask: np.ndarray, cropped: bool = False) -> np.ndarray:
        crop = mask if cropped else mask[box]
        return sample_along_normals(crop, points, normals, spacing, max_mm=reach_mm, step_mm=step_mm, order=0)

    manual = np.any(along(scar_gt), axis=1)
    if scar_form not in SCAR_FORMS:
        raise ValueError(f"scar_form must be one of {SCAR_FORMS}, got {scar_form!r}")
    owner = la_gt if la_pred is None else la_pred
    if scar_form == "auto":
        scar_form = "band" if painted_band_form(scar_pred, la_gt & owner) else "wall"
    if scar_form == "band":
        owner_crop = owner[box]
        # No automatic LA near the manual surface: no band to read, so no automatic scar (nor coverage) there.
        band = wall_band(owner_crop, spacing, PAINTED_BAND) > 0 if owner_crop.any() else owner_crop
        auto = _nearest_in_band(along(scar_pred), along(band, cropped=True), offsets_mm(reach_mm, step_mm))
    else:
        auto = np.any(along(scar_pred), axis=1)
    if la_pred is None:
        covered = np.ones(len(points), dtype=bool)
    else:
        inside = along(la_pred)
        # The predicted LA surface crosses the segment iff the segment holds both inside and outside samples.
        covered = np.any(inside, axis=1) & ~np.all(inside, axis=1)
    offset = np.array([s.start for s in box], dtype=np.intp)
    return SurfaceLabels(points + offset, manual, auto, covered | auto)


def painted_band_form(scar: np.ndarray, la: np.ndarray) -> bool:
    """Whether a scar mask is painted into the wall band around an LA (more than `PAINTED_INSIDE_SHARE` of it
    inside `la`) rather than a wall label (outside the LA, as manual scar is drawn). `surface_labels` passes the
    part of the predicted LA that is also manual LA: a predicted LA larger than the manual one holds a wall label
    drawn outside the manual LA, and must not make it look painted."""
    scar, la = _as_bool(scar), _as_bool(la)
    total = int(np.count_nonzero(scar))
    return total > 0 and bool(np.count_nonzero(scar & la) > PAINTED_INSIDE_SHARE * total)


def _nearest_in_band(scar_samples: np.ndarray, in_band: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per row, the scar sample at the in-band offset nearest to 0 (the inward one on a tie); False where no
    sample of the row is in the band."""
    order = np.lexsort((offsets, np.abs(offsets)))
    first = np.argmax(in_band[:, order], axis=1)
    rows = np.arange(len(scar_samples))
    return in_band.any(axis=1) & scar_samples[rows, order[first]]


def metrics_from_labels(labels: SurfaceLabels) -> dict[str, float]:
    """Accuracy, Sensitivity, Specificity, Dice_s (eq. 8), Dice_g (eq. 9) and scar % over the surface voxels.

    Every ratio with a zero denominator is NaN (e.g. Dice_s when neither rater found scar, Sensitivity when the
    manual surface has no scar), so that nan-aware means skip it rather than count it as 0 or 1.
    """
    manual, auto, auto_normal = labels.manual_scar, labels.auto_scar, labels.auto_normal
    n = len(manual)
    true_scar = int(np.count_nonzero(manual & auto))
    true_normal = int(np.count_nonzero(~manual & auto_normal))
    n_manual, n_auto = int(manual.sum()), int(auto.sum())
    n_auto_labelled = int(np.count_nonzero(labels.auto_covered))
    return {
        "Accuracy": _ratio(true_scar + true_normal, n),
        "Sensitivity": _ratio(true_scar, n_manual),
        "Specificity": _ratio(true_normal, n - n_manual),
        "Dice_s": _ratio(2 * true_scar, n_auto + n_manual),
        # Σ_k |manual_k| = n (every S voxel is scar or normal wall for the rater who drew S).
        "Dice_g": _ratio(2 * (true_scar + true_normal), n_auto_labelled + n),
        "scar_pct_manual": 100 * _ratio(n_manual, n),
        "scar_pct_auto": 100 * _ratio(n_auto, n),
        "auto_coverage": _ratio(n_auto_labelled, n),
        "n_surface": float(n),
    }


def scar_metrics(
    la_gt: np.ndarray,
    scar_gt: np.ndarray,
    scar_pred: np.ndarray,
    spacing: Sequence[float],
    la_pred: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    band_params: BandParams = DEFAULT_BAND,
    scar_form: str = "auto",
) -> dict[str, float]:
    """The scar metrics of one case (see `surface_labels` and `metrics_from_labels`)."""
    labels = surface_labels(la_gt, scar_gt, scar_pred, spacing, la_pred, exclude, band_params, scar_form)
    return metrics_from_labels(labels)
