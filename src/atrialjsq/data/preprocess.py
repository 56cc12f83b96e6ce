"""Preprocessing onto the model grid and the exact way back (paper §4.1: 1 mm, z-score, 208×208×80 ROI).

Steps: turn the axes to the networks' orientation (lossless, `io.orientation`), cut off constant padding
around the image (`content_box`), resample to a target spacing
(linear for images; masks through their signed distance, so thin or anisotropic shapes are not staircased),
z-score normalisation, then crop/pad a fixed window around a centre.
Every step is a function of arrays and `Geometry`, so round trips can be tested without files, and a
prediction on the model grid goes back onto the original grid with `to_original_grid`.

Z-score region: by default the whole resampled volume (before cropping). This matches the LASC 2018 HDF5
release, whose images were normalised over the whole volume; ``region="body"`` instead uses the voxels above
an Otsu threshold, which ignores the air around the patient.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import edt
import numpy as np
from skimage.filters import threshold_otsu

from atrialjsq.data.case import Case, reoriented_case
from atrialjsq.data.targets import compute_targets
from atrialjsq.errors import InputError
from atrialjsq.io.geometry import Geometry, triple
from atrialjsq.io.orientation import direction_problem
from atrialjsq.io.volume import Volume
from atrialjsq.surface.band import mitral_exclusion

if TYPE_CHECKING:
    import SimpleITK as sitk

PAPER_SPACING = (1.0, 1.0, 1.0)
PAPER_ROI = (208, 208, 80)
DEFAULT_MARGIN = (16, 16, 8)

# ---------------------------------------------------------------------------------------------- resampling


def resampled_geometry(geometry: Geometry, spacing) -> Geometry:
    """The grid covering the same physical extent as `geometry` at a new spacing.

    The outer voxel faces stay where they were (origin moves by half the spacing change), so resampling
    back and forth does not drift.
    """
    old = np.asarray(geometry.spacing)
    new = np.asarray(spacing, dtype=np.float64)
    if new.shape != (3,) or not np.all(new > 0):
        raise ValueError(f"spacing must be three positive numbers, got {spacing}")
    shape = np.maximum(1, np.round(np.asarray(geometry.shape) * old / new)).astype(int)
    origin = np.asarray(geometry.origin) + geometry.direction_matrix @ ((new - old) / 2)
    return Geometry(tuple(shape), tuple(new), tuple(origin), geometry.direction)


def signed_distance_mm(mask: np.ndarray, spacing) -> np.ndarray:
    """Signed distance (mm) whose zero level lies halfway between inside and outside voxel centres.

    Negative inside. Interpolating this field and thresholding at 0 is how masks are resampled.
    """

    mask = np.asarray(mask) != 0
    if not mask.any():
        return np.full(mask.shape, np.float32(1e6))
    if mask.all():
        return np.full(mask.shape, np.float32(-1e6))
    anisotropy = tuple(float(s) for s in spacing)
    outside = edt.edt(np.ascontiguousarray(~mask), anisotropy=anisotropy, black_border=False)
    inside = edt.edt(np.ascontiguousarray(mask), anisotropy=anisotropy, black_border=False)
    return (outside - inside).astype(np.float32)


def _sitk_resample(image: sitk.Image, target: Geometry, default: float) -> sitk.Image:
    import SimpleITK as sitk  # here, not at import: the cross-validation's GPU image has no SimpleITK

    resampler = sitk.ResampleImageFilter()
    resampler.SetSize([int(s) for s in target.shape])
    resampler.SetOutputSpacing(target.spacing)
    resampler.SetOutputOrigin(target.origin)
    resampler.SetOutputDirection(target.direction)
    resampler.SetInterpolator(sitk.sitkLinear)
    resampler.SetDefaultPixelValue(float(default))
    resampler.SetOutputPixelType(sitk.sitkFloat32)
    return resampler.Execute(image)


def _mask_distance_near_mask(volume: Volume, pad: int = 3) -> Volume:
    """The mask's signed distance on its bounding box plus `pad` voxels (everything beyond is background, which
    the resampler's far default value says): an LA occupies a small part of a clinical field of view, so this
    is several times faster than a full-volume distance transform and interpolates identically."""
    mask = np.asarray(volume.array) != 0
    if not mask.any() or mask.all():
        return Volume(signed_distance_mm(mask, volume.geometry.spacing), volume.geometry)
    lo, hi = [], []
    for axis in range(3):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        lo.append(max(int(present[0]) - pad, 0))
        hi.append(min(int(present[-1]) + pad + 1, mask.shape[axis]))
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    return Volume(signed_distance_mm(mask[box], volume.geometry.spacing), volume.geometry.cropped(box))


def resample_to_geometry(volume: Volume, target: Geometry, is_label: bool = False, fill: float = 0.0) -> Volume:
    """Resample onto an arbitrary grid: linear for images (float32), signed-distance based for binary masks
    (uint8 {0, 1}). Points of `target` outside the input get `fill` (images) or background (masks)."""
    from atrialjsq.io.image_io import from_sitk, to_sitk  # loads SimpleITK: deferred (tests/test_import_graph.py)

    if is_label:
        far = 1e6
        resampled = from_sitk(_sitk_resample(to_sitk(_mask_distance_near_mask(volume)), target, far))
        return Volume((resampled.array <= 0).astype(np.uint8), target)
    source = volume.array.astype(np.float32, copy=False)
    resampled = from_sitk(_sitk_resample(to_sitk(Volume(source, volume.geometry)), target, fill))
    return Volume(resampled.array, target)


def resample(volume: Volume, spacing=PAPER_SPACING, is_label: bool = False) -> Volume:
    """Resample to a target spacing over the same physical extent (see `resample_to_geometry`).

    Wherever the new grid samples outside the old one, images are filled with their own minimum, not 0, so
    the result (and the z-score after it) cannot change when a constant is added to the intensities: 0 is
    mean-grey tissue in a z-scored export but black in 8-bit codes or DICOM values (tested in infer)."""
    target = resampled_geometry(volume.geometry, spacing)
    if target == volume.geometry:
        array = volume.array.astype(np.uint8 if is_label else np.float32)
        return Volume((array != 0).astype(np.uint8) if is_label else array, target)
    fill = 0.0 if is_label else float(np.min(volume.array))
    return resample_to_geometry(volume, target, is_label, fill=fill)


# ---------------------------------------------------------------------------------------------- content box


def content_box(array: np.ndarray) -> tuple[slice, slice, slice] | None:
    """Index box left when constant slabs are peeled off the array's faces, or None when nothing is peeled (or
    the whole array is constant).

    Scanners and converters often zero-fill around the acquired field of view, and users pad scans; those
    constant borders carry nothing, yet they pull the z-score's statistics (LASC scans padded to twice their
    width: the LA moved by 1.5-1.7 standard deviations of the whole-volume z-score the shipped model uses) and give
    the network acres of flat input it never saw. Cutting them off first, as nnU-Net crops to the non-zero
    region, makes the prediction independent of such padding, whatever its value. A face is peeled while it is
    one constant value; zero-filled corners of a round field of view stay inside the box (`infer.flat_regions`).
    """
    array = np.asarray(array)
    low, high = [0, 0, 0], list(array.shape)
    peeled = True
    while peeled:
        peeled = False
        for axis in range(3):
            box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
            others = tuple(a for a in range(3) if a != axis)
            inside = array[box]
            varying = np.flatnonzero(inside.min(axis=others) != inside.max(axis=others))
            if varying.size == 0:
                return None
            first, last = int(varying[0]), int(varying[-1]) + 1
            if first > 0 or last < inside.shape[axis]:
                low[axis], high[axis] = low[axis] + first, low[axis] + last
                peeled = True
    if low == [0, 0, 0] and high == list(array.shape):
        return None
    return triple(slice(a, b) for a, b in zip(low, high, strict=True))


def content_or_whole(array: np.ndarray) -> tuple[slice, slice, slice]:
    """`content_box`, or the whole array's box when nothing is peeled: always a box to index with."""
    box = content_box(array)
    return box if box is not None else (slice(0, array.shape[0]), slice(0, array.shape[1]), slice(0, array.shape[2]))


def cropped_volume(volume: Volume, box: tuple[slice, slice, slice] | None) -> Volume:
    """`volume` cut to an index box, every voxel kept at its physical place (the origin moves); None = as is."""
    if box is None:
        return volume
    return Volume(np.ascontiguousarray(volume.array[box]), volume.geometry.cropped(box))


def cropped_to_content(case: Case) -> Case:
    """The case with its image and labels cut to the image's `content_box` (constant padding dropped)."""
    box = content_box(case.image.array)
    if box is None:
        return case
    labels = {name: cropped_volume(volume, box) for name, volume in case.labels.items()}
    return Case(case.case_id, cropped_volume(case.image, box), labels, case.meta)


# ---------------------------------------------------------------------------------------------- intensity


def body_mask(image: np.ndarray) -> np.ndarray:
    """Voxels brighter than the Otsu threshold: the patient, without the dark air around it."""

    return image > threshold_otsu(image)


def zscore(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(image - mean) / std with the statistics taken over `mask` (the whole volume when None); float32."""
    image = np.asarray(image, dtype=np.float32)
    values = image if mask is None else image[np.asarray(mask, dtype=bool)]
    if values.size == 0:
        raise ValueError("z-score region is empty")
    mean = float(values.mean(dtype=np.float64))
    std = float(values.std(dtype=np.float64))
    return ((image - mean) / (std if std > 1e-8 else 1.0)).astype(np.float32)


# ---------------------------------------------------------------------------------------------- crop / pad


@dataclass(frozen=True)
class CropInfo:
    """A window of shape `roi` starting at index `start` (may be negative or run past the end) of an array of
    shape `source_shape`; parts outside the source were padded."""

    source_shape: tuple[int, int, int]
    start: tuple[int, int, int]
    roi: tuple[int, int, int]

    def overlap(self) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
        """(slices into the source, slices into the window) of the region they share."""
        source, window = [], []
        for size, start, length in zip(self.source_shape, self.start, self.roi, strict=True):
            lo, hi = max(start, 0), min(start + length, size)
            hi = max(hi, lo)
            source.append(slice(lo, hi))
            window.append(slice(lo - start, hi - start))
        return tuple(source), tuple(window)

    def to_dict(self) -> dict[str, list[int]]:
        return {"source_shape": list(self.source_shape), "start": list(self.start), "roi": list(self.roi)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CropInfo:
        source_shape, start, roi = (triple(int(v) for v in data[key]) for key in ("source_shape", "start", "roi"))
        return cls(source_shape, start, roi)

    def window_geometry(self, source: Geometry) -> Geometry:
        """The geometry of the window when the source array lives on `source`."""
        origin = source.index_to_physical(np.asarray(self.start, dtype=np.float64))
        return Geometry(self.roi, source.spacing, tuple(origin), source.direction)


def crop_window(shape, center_idx, roi) -> CropInfo:
    """The window of size `roi` whose centre is at (continuous) index `center_idx`."""
    roi = tuple(int(r) for r in roi)
    if len(roi) != 3 or min(roi) < 1:
        raise ValueError(f"roi must be three positive sizes, got {roi}")
    start = tuple(int(np.floor(c + 0.5)) - r // 2 for c, r in zip(center_idx, roi, strict=True))
    return CropInfo(triple(int(s) for s in shape), triple(start), triple(roi))


def apply_crop(array: np.ndarray, info: CropInfo, fill: float = 0) -> np.ndarray:
    """Cut the window described by `info` out of `array`, padding with `fill` where it leaves the array."""
    if tuple(array.shape) != info.source_shape:
        raise ValueError(f"array shape {array.shape} != crop source shape {info.source_shape}")
    out = np.full(info.roi, fill, dtype=array.dtype)
    source, window = info.overlap()
    out[window] = array[source]
    return out


def crop_or_pad(array: np.ndarray, center_idx, roi=PAPER_ROI, fill: float = 0) -> tuple[np.ndarray, CropInfo]:
    """Crop and/or pad `array` to `roi` around `center_idx`; the `CropInfo` lets `uncrop` undo it."""
    info = crop_window(array.shape, center_idx, roi)
    return apply_crop(array, info, fill), info


def uncrop(array: np.ndarray, info: CropInfo, fill: float = 0) -> np.ndarray:
    """Put a window back into an array of the source shape: exact inverse of `crop_or_pad` on the overlap,
    `fill` where the window did not reach."""
    if tuple(array.shape) != info.roi:
        raise ValueError(f"array shape {array.shape} != crop roi {info.roi}")
    out = np.full(info.source_shape, fill, dtype=array.dtype)
    source, window = info.overlap()
    out[source] = array[window]
    return out


# ---------------------------------------------------------------------------------------------- back to the input


def to_original_grid(volume_on_model_grid: Volume, original_geometry: Geometry, is_label: bool = False) -> Volume:
    """Resample a model-grid volume (with its window geometry) onto the original image grid.

    Masks go through the signed distance (uint8 out); probabilities and images are linearly interpolated
    (float32 out; threshold probabilities afterwards). Regions outside the model window become 0.
    """
    if volume_on_model_grid.geometry == original_geometry:
        return volume_on_model_grid
    return resample_to_geometry(volume_on_model_grid, original_geometry, is_label, fill=0.0)


# ---------------------------------------------------------------------------------------------- one case


@dataclass
class PreprocessedCase:
    """A case on the model grid: `arrays` hold `image` (float32), `la` and `scar` (uint8) and, with targets, the
    cache arrays of `data/targets.py`; all share `geometry`, the window cut from `resampled_geometry`."""

    case_id: str
    arrays: dict[str, np.ndarray]
    geometry: Geometry
    resampled_geometry: Geometry
    original_geometry: Geometry
    crop: CropInfo
    has_scar: bool
    meta: dict[str, Any] = field(default_factory=dict)
    # physical extent (mm, network axes) of the image without its constant padding: what the network saw
    field_of_view_mm: tuple[float, float, float] | None = None

    def to_original(self, array: np.ndarray, is_label: bool = False) -> Volume:
        """A prediction over this case's window, back on the original image grid."""
        return to_original_grid(Volume(array, self.geometry), self.original_geometry, is_label)


def _warn_if_cut(case: Case, whole: np.ndarray, kept: np.ndarray, window, spacing) -> None:
    """Warn when the training window leaves part of the LA out: the window's face then reads as LA wall in
    the targets, a boundary the scan does not have (a large LA with long veins can reach past it)."""
    total = int(np.count_nonzero(whole))
    lost = total - int(np.count_nonzero(kept))
    if total and lost / total > CUT_LA_WARNING:
        size = " x ".join(f"{n * float(s):.0f}" for n, s in zip(window, spacing, strict=True))
        warnings.warn(
            f"{case.meta.get('source', case.case_id)}: the {size} mm training window leaves {100 * lost / total:.0f} %"
            " of the LA out, and its cut face reads as LA wall in the targets; raise data.roi or data.margin",
            RuntimeWarning,
            stacklevel=3,
        )


def _center_index(case: Case, la: Volume | None, resampled: Geometry, center) -> np.ndarray:
    if isinstance(center, str) and center == "la":
        if la is None or not la.array.any():
            where = case.meta.get("la_source", case.meta.get("source", case.case_id))
            raise InputError(where, "LA label is empty: nothing to centre the training window on")
        nonzero = np.nonzero(la.array)
        return np.array([(axis.min() + axis.max()) / 2 for axis in nonzero])
    if isinstance(center, str) and center == "image":
        return (np.asarray(resampled.shape) - 1) / 2
    if isinstance(center, str):
        raise ValueError(f"center must be 'la', 'image' or a physical point (x, y, z) in mm, got {center!r}")
    return resampled.physical_to_index(np.asarray(center, dtype=np.float64))


# 2**28 float32 voxels = 1 GiB per volume, several volumes at once; a LASC scan at 0.3 mm holds about 520 million.
MAX_RESAMPLED_VOXELS = 2**28
CUT_LA_WARNING = 0.01  # share of the LA a training window may leave out without a warning (a vein tip)


def preprocess_case(
    case: Case,
    spacing=PAPER_SPACING,
    roi=PAPER_ROI,
    margin=DEFAULT_MARGIN,
    center: str | tuple[float, float, float] = "la",
    zscore_region: str = "volume",
    with_targets: bool = True,
) -> PreprocessedCase:
    """Turn to the networks' orientation → cut off constant padding (`content_box`) → resample → z-score →
    crop/pad a window of `roi + 2*margin` voxels → training targets. A sheared grid (non-orthonormal direction
    cosines) is an InputError.

    `center`: "la" (the LA bounding-box centre), "image" (the volume centre, as in the paper) or a physical
    point (x, y, z) in mm. The image is padded with its minimum (background), masks with 0.
    """
    if zscore_region not in ("volume", "body"):
        raise ValueError(f"zscore_region must be 'volume' or 'body', got {zscore_region!r}")
    sheared = direction_problem(case.image.geometry)
    if sheared is not None:
        raise InputError(case.meta.get("source", case.case_id), sheared)
    # every cached array has its axes where a network expects them; constant padding is cut off first
    turned = cropped_to_content(reoriented_case(case))
    voxels = int(np.prod(resampled_geometry(turned.image.geometry, spacing).shape, dtype=np.int64))
    if voxels > MAX_RESAMPLED_VOXELS:  # (SimpleITK would fail to allocate, or the machine would swap)
        raise InputError(
            case.meta.get("source", case.case_id),
            f"a {'x'.join(f'{s:g}' for s in spacing)} mm grid over this scan holds {voxels / 1e6:.0f} million voxels "
            f"(at most {MAX_RESAMPLED_VOXELS / 1e6:.0f} million); choose a coarser spacing",
        )
    image = resample(turned.image, spacing, is_label=False)
    labels = {name: resample(volume, spacing, is_label=True) for name, volume in turned.labels.items()}
    if "la" in case.labels and case.labels["la"].array.any() and not labels["la"].array.any():
        raise InputError(case.meta.get("source", case.case_id), "LA vanishes when resampled (too small)")
    normalised = zscore(image.array, body_mask(image.array) if zscore_region == "body" else None)

    window = tuple(int(r) + 2 * int(m) for r, m in zip(roi, margin, strict=True))
    info = crop_window(image.geometry.shape, _center_index(case, labels.get("la"), image.geometry, center), window)
    arrays = {"image": apply_crop(normalised, info, fill=float(normalised.min()))}
    for name, volume in labels.items():
        arrays[name] = apply_crop(volume.array, info, fill=0)
    if "la" in labels:
        _warn_if_cut(case, labels["la"].array, arrays["la"], window, spacing)
    has_scar = "scar" in labels
    if with_targets:
        if "la" not in arrays:
            raise InputError(case.meta.get("source", case.case_id), "no LA label: cannot compute training targets")

        spacing_mm = tuple(image.geometry.spacing)
        exclude = mitral_exclusion(spacing_mm, lv=arrays.get("lv"), valve=arrays.get("valve"))
        try:
            targets = compute_targets(arrays["la"], arrays.get("scar"), spacing_mm, exclude=exclude)
        except ValueError as error:
            raise InputError(case.meta.get("source", case.case_id), f"cannot compute targets: {error}") from None
        arrays.update(targets)
    if "la" in arrays and not has_scar:
        arrays["scar"] = np.zeros_like(arrays["la"])
    return PreprocessedCase(
        case_id=case.case_id,
        arrays=arrays,
        geometry=info.window_geometry(image.geometry),
        resampled_geometry=image.geometry,
        original_geometry=case.image.geometry,
        crop=info,
        has_scar=has_scar,
        meta=dict(case.meta),
        field_of_view_mm=turned.image.geometry.extent_mm,
    )
