"""Classic scar quantification on the LA surface from the LGE image and any LA mask (manual or predicted).

All four methods classify the wall-band voxels (−2..+3 mm around the LA surface by default) as scar or not,
as in the literature, and then project that classification onto the surface with the implicit projection of
`surface_scar`: a surface element is scar when, read along its outward normal over the band, the voxel
classification reaches 0.5 somewhere (trilinear reading: the rim of a scar then falls half-way between a scar
voxel and its neighbour, instead of growing by the half voxel that a nearest-voxel "any along the normal"
adds on every side). This is the maximum intensity projection of the classification. The methods differ only
in how voxels are classified:

- ``iir``: image intensity ratio, intensity / blood-pool mean; scar at IIR ≥ 1.32 (dense scar) by default,
  1.2 (fibrosis) on request (Benito et al., Europace 2017). The burdens at both cut-offs are reported. A ratio
  needs intensities with a true zero (magnitude images): on an image with negative values (z-scored, or with
  an offset removed) it is meaningless, so `iir_intensity_problem` says so (the `quantify` command refuses,
  this function warns and records it); a blood pool whose mean is not positive is refused.
- ``otsu``: Otsu's criterion on the wall-band intensities. The band mixes three tissue classes (dark healthy
  wall and surroundings, blood pool on the inner side, enhanced scar), so the two-class split would separate
  dark from bright and call the blood scar; the multi-level Otsu (three classes) is used and scar is above
  its upper threshold.
- ``mgmm``: a Gaussian mixture (3 components by default, for the same three classes) fitted to the
  wall-band intensities; scar where the brightest component is the most probable and the intensity is above
  the mean of the second brightest (this guards the dark tail of a wide bright component). The mixture is
  fitted on an evenly spaced set of the sorted intensities (a mirrored or reordered image gets the same fit),
  from five starts (one start lands in other optima on some real walls).
- ``msd``: blood-pool mean + k·SD (k = 3 by default; 2–6 are used in the literature); scar strictly above it.

Otsu and the mixture find a brightest class whether or not the wall holds scar: in a wall without any, it is
the blood pool the band reaches into, and every element would be called scar. When their scar class would take
in the blood pool's own mean (Otsu's upper threshold below it; the mixture assigning it to its brightest
component), there is no scar class, and the voxels above the blood-pool mean + 3 SD (``msd``'s rule) are
called scar instead; the parameters record it (`no_scar_class`).

The per-element score written to the mesh is the maximum intensity along the normal over the band (divided
by the blood-pool mean for IIR, so it is the element's IIR). The scar label is the classification read along
the same normal (interpolated between voxels), so thresholding the score again can differ from the label on
elements at a scar's rim. With the band reaching 2 mm into the blood pool, noise in the blood reaches IIR 1.2 on
noisy scans (blood-pool SNR under about 7): the 1.32 cut-off is the safer one there. The blood pool is the LA eroded by
`blood_pool_mm` (3 mm, measured to the nearest voxel outside): far enough from the wall that partial volume
and the enhanced wall do not raise its mean. When the LA is too thin for that, its deepest half is used.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import edt
import numpy as np
from skimage.filters import threshold_multiotsu, threshold_otsu

from atrialjsq.errors import InputError
from atrialjsq.io import Volume
from atrialjsq.quantify.surface_scar import (
    DEFAULT_BAND,
    Profiles,
    SurfaceScar,
    binary_la,
    build_surface_scar,
    surface_sampler,
)
from atrialjsq.surface.band import BandParams

METHODS = ("iir", "otsu", "mgmm", "msd")
IIR_THRESHOLDS = {"fibrosis": 1.2, "dense_scar": 1.32}
DEFAULT_IIR_THRESHOLD = IIR_THRESHOLDS["dense_scar"]
DEFAULT_K = 3.0
DEFAULT_BLOOD_POOL_MM = 3.0
DEFAULT_MGMM_COMPONENTS = 3
DEFAULT_OTSU_CLASSES = 3
# The mixture is fitted on at most this many band voxels (drawn with a fixed seed): plenty for 1-D
# intensities, and it keeps the fit well under a second on a full-size LA.
_MGMM_MAX_SAMPLES = 20000
_MGMM_STARTS = 5
# Magnitude MR images are >= 0; a few negative voxels can come from resampling, a z-scored image has ~half.
IIR_MAX_NEGATIVE_SHARE = 0.01


def blood_pool(la: np.ndarray, spacing, erosion_mm: float = DEFAULT_BLOOD_POOL_MM) -> np.ndarray:
    """LA voxels deeper than `erosion_mm` from the nearest voxel outside (or its deepest half if none are)."""
    la = np.asarray(la) > 0
    depth = edt.edt(np.ascontiguousarray(la, dtype=np.uint8), anisotropy=tuple(float(s) for s in spacing))
    pool = depth > erosion_mm
    if not pool.any():
        pool = la & (depth >= np.median(depth[la]))
    return pool


def blood_pool_stats(image: np.ndarray, la: np.ndarray, spacing, erosion_mm: float) -> tuple[float, float]:
    """Mean and standard deviation of the image over the blood pool."""
    values = np.asarray(image, dtype=np.float64)[blood_pool(la, spacing, erosion_mm)]
    return float(values.mean()), float(values.std())


def _reducer(scale: float = 1.0):
    """Scar where the classification reaches 0.5 along the normal; score = max intensity / scale."""

    def reduce(profiles: Profiles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        classified = profiles["classified"].astype(np.float64).max(axis=1)
        score = profiles["image"].astype(np.float64).max(axis=1) / scale
        return np.clip(classified, 0.0, 1.0), score, classified >= 0.5

    return reduce


def _otsu_threshold(values: np.ndarray, classes: int) -> float:

    if classes == 2:
        return float(threshold_otsu(values))
    return float(threshold_multiotsu(values, classes=classes)[-1])


def _mgmm_classify(
    values: np.ndarray, n_components: int, blood_mean: float, seed: int = 0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Scar flags for `values` (1-D) from a Gaussian mixture fitted to them, and the fitted components; no flags
    when the mixture puts the blood pool's mean in its brightest component (then it has no scar class)."""
    from sklearn.mixture import GaussianMixture  # scikit-learn: ~1 s to import, deferred to first use

    sample = np.sort(values)  # evenly spaced quantiles: the same sample however the voxels are ordered
    if len(sample) > _MGMM_MAX_SAMPLES:
        sample = sample[np.linspace(0, len(sample) - 1, _MGMM_MAX_SAMPLES).round().astype(int)]
    # Several starts, the best likelihood kept: from one start the fit falls into other optima on some real walls
    # (on 20 LASC 2018 walls, one start called 3 % or 56 % of a band depending on the sample; five: 3 % always).
    mixture = GaussianMixture(n_components=n_components, random_state=seed, n_init=_MGMM_STARTS)
    mixture.fit(sample.reshape(-1, 1))
    means = mixture.means_.ravel()
    order = np.argsort(means)
    brightest = int(order[-1])
    floor = float(means[order[-2]]) if n_components > 1 else -np.inf
    is_scar = (mixture.predict(values.reshape(-1, 1)) == brightest) & (values > floor)
    blood_is_brightest = int(mixture.predict(np.array([[blood_mean]]))[0]) == brightest
    details = {
        "no_scar_class": blood_is_brightest,
        "components": n_components,
        "component_means": [float(means[i]) for i in order],
        "component_sds": [float(np.sqrt(mixture.covariances_.ravel()[i])) for i in order],
        "component_weights": [float(mixture.weights_[i]) for i in order],
    }
    return is_scar, details


def iir_intensity_problem(intensity: np.ndarray) -> str | None:
    """Why IIR is meaningless on this image (negative intensities: no true zero to take a ratio to), or None."""
    negative = float(np.mean(np.asarray(intensity) < 0))
    if negative <= IIR_MAX_NEGATIVE_SHARE:
        return None
    return (
        f"{100 * negative:.0f} % of the voxels are negative (a z-scored image?): IIR is a ratio to the blood-pool "
        "mean and needs intensities with a true zero; use --method otsu, mgmm or msd"
    )


def _check_inputs(image: Volume, la: Volume) -> None:
    problem = la.geometry.mismatch(image.geometry)
    if problem is not None:
        raise InputError("<LA mask>", f"not on the image's grid ({problem})")
    if not np.isfinite(np.asarray(image.array, dtype=np.float64)).all():
        raise InputError("<image>", "image contains NaN or Inf values")


def scar_from_image(
    image: Volume,
    la: Volume,
    method: str,
    *,
    iir_threshold: float = DEFAULT_IIR_THRESHOLD,
    k: float = DEFAULT_K,
    otsu_classes: int = DEFAULT_OTSU_CLASSES,
    mgmm_components: int = DEFAULT_MGMM_COMPONENTS,
    blood_pool_mm: float = DEFAULT_BLOOD_POOL_MM,
    band_params: BandParams = DEFAULT_BAND,
) -> SurfaceScar:
    """Scar on the surface of `la` by a classic method (`iir`, `otsu`, `mgmm` or `msd`) on the LGE `image`."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    _check_inputs(image, la)
    la = binary_la(la)
    spacing = la.geometry.spacing
    intensity = np.asarray(image.array, dtype=np.float32)
    sampler = surface_sampler(la, band_params)
    band = sampler.band
    band_values = intensity[band].astype(np.float64)
    pool_mean, pool_sd = blood_pool_stats(intensity, la.array, spacing, blood_pool_mm)
    parameters: dict[str, Any] = {
        "blood_pool_mm": blood_pool_mm,
        "blood_pool_mean": pool_mean,
        "blood_pool_sd": pool_sd,
    }
    scale = 1.0
    alternatives: dict[str, np.ndarray] = {}

    def in_band(flags: np.ndarray) -> np.ndarray:
        classified = np.zeros(intensity.shape, dtype=np.float32)
        classified[band] = flags
        return classified

    if method == "iir":
        problem = iir_intensity_problem(intensity)
        if problem is not None:
            warnings.warn(problem, RuntimeWarning, stacklevel=2)
            parameters["warning"] = problem
        if pool_mean <= 0:
            raise InputError("<image>", f"blood-pool mean intensity is {pool_mean:.3g}; IIR needs positive intensities")
        scale = pool_mean
        ratio = band_values / pool_mean
        classified = in_band(ratio >= iir_threshold)
        alternatives = {f"iir_{t:g}": in_band(ratio >= t) for t in sorted({*IIR_THRESHOLDS.values(), iir_threshold})}
        parameters["iir_threshold"] = iir_threshold
    elif method == "msd":
        threshold = pool_mean + k * pool_sd
        classified = in_band(band_values > threshold)  # (strictly: a constant image has no scar)
        parameters.update(k=k, threshold=threshold)
    else:
        if np.ptp(band_values) == 0:
            raise InputError("<image>", "the image is constant over the LA wall band: nothing to classify")
        if method == "otsu":
            threshold = _otsu_threshold(band_values, otsu_classes)
            flags = band_values > threshold
            parameters.update(classes=otsu_classes, threshold=threshold, no_scar_class=bool(pool_mean > threshold))
        else:
            flags, details = _mgmm_classify(band_values, mgmm_components, pool_mean)
            parameters.update(details)
        if parameters["no_scar_class"]:  # its "scar" is the blood pool: no class is brighter than the blood
            parameters["threshold"] = pool_mean + DEFAULT_K * pool_sd
            flags = band_values > parameters["threshold"]
        classified = in_band(flags)
    result = build_surface_scar(
        sampler,
        {"classified": classified, "image": intensity},
        _reducer(scale),
        method,
        parameters=parameters,
        alternatives=alternatives,
    )
    return replace(result, graded=False)  # its probability is the interpolated yes/no class: no confidence
