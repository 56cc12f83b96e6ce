"""Predict LA and scar probabilities for one image on its own grid, from a model bundle and nothing else.

image → constant padding around it cut off (`data.preprocess.content_box`, as in training) → axes turned to
the networks' orientation (lossless, `io.orientation`) → coarse localiser (whole volume, coarse spacing) → LA
box → fine spacing + z-score (the training preprocessing functions) → window around the LA → fine network
(sliding window when the box exceeds the ROI; optional mirroring TTA) → probabilities resampled linearly back
onto the input grid → LA = largest component of p_LA > 0.5.

Crop modes: "roi" (default) feeds windows of the training ROI size, as the fine model was trained;
"tight" feeds the LA box plus a margin only (faster, but instance-norm statistics then come from a smaller
field of view than in training); "whole" tiles the whole resampled volume (the naive path of the benchmark).
A model without a localiser (e.g. the real-data bundle, trained on LA-centred crops only) never guesses where
the LA is: by default ("whole") it tiles the whole volume; with "roi" its own whole-volume pass is the coarse
pass (largest LA component → LA box) and a second pass predicts training-like ROI windows around that box.
On the 16 held-out LASC 2018 crops "whole" measured better (Dice 89.6 vs 87.8 %); on a crop padded into a
field of view twice as wide, "roi", until constant padding was cut off first (docs/results/synthetic-scar.md).
Constant regions left inside the box (zero-filled corners) are never LA (`flat_regions`).
"""

from __future__ import annotations

import itertools
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from atrialjsq import hardware  # looked up at call time: tests stand in for the CPU
from atrialjsq.data.preprocess import (
    CropInfo,
    apply_crop,
    body_mask,
    content_box,
    crop_window,
    cropped_volume,
    resample,
    to_original_grid,
    zscore,
)
from atrialjsq.errors import InputError
from atrialjsq.infer.bundles import load_bundle
from atrialjsq.infer.localize import Localization, image_centre_mm, largest_component, localization_from_mask
from atrialjsq.infer.sliding_window import ProbabilityFn, sliding_window_probabilities
from atrialjsq.infer.tta import UntrainedMirroringError, tta_axes, with_mirroring
from atrialjsq.io.geometry import Geometry, triple
from atrialjsq.io.orientation import NETWORK_ORIENTATION, reoriented
from atrialjsq.io.volume import Volume
from atrialjsq.model.configs import ExperimentConfig
from atrialjsq.model.unet import build_model

CROP_MODES = ("roi", "tight", "whole")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class Prediction:
    """Everything on the input image's grid: probabilities (float32), the LA mask (uint8) and how it was found.

    A network without an LA head (a scar-only baseline) has `la_prob` and `la` None; one without a scar head
    has `p_normal` and `p_scar` None."""

    la_prob: Volume | None
    p_normal: Volume | None
    p_scar: Volume | None
    la: Volume | None
    localization: Localization
    timings: dict[str, float] = field(default_factory=dict)
    dropped_la_ml: float = 0.0  # LA-probability voxels outside the largest component (removed from `la`)
    # physical extent (mm, along the image axes) of what the network saw: the image without its constant padding
    field_of_view_mm: tuple[float, float, float] | None = None

    @property
    def joint(self) -> bool:
        return self.la is not None and self.p_scar is not None


PROBABILITY_HEADS = ("la", "scar")


class Network:
    """One network of a bundle on a device, with the preprocessing it was trained with."""

    def __init__(self, section: dict[str, Any], device: str | torch.device = "cpu", precision: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.device = torch.device(device)
        self.config = ExperimentConfig.from_dict(section["config"])
        model = build_model(self.config)
        model.load_state_dict(
            {key: value.float() if value.is_floating_point() else value for key, value in section["model"].items()}
        )
        self.model: torch.nn.Module = model.eval().to(self.device)
        preprocessing = section.get("preprocessing", {})
        self.spacing = tuple(float(s) for s in preprocessing.get("spacing", self.config.data.spacing))
        self.roi = tuple(int(r) for r in preprocessing.get("roi", self.config.data.roi))
        self.zscore_region = str(preprocessing.get("zscore_region", "volume"))
        # Bundles from before the key was recorded were all trained on identity-direction arrays.
        self.orientation = str(preprocessing.get("orientation", NETWORK_ORIENTATION))
        self.multiple = int(model.input_multiple)
        # bf16 autocast on GPUs and on CPUs with native bf16 (the real model's network: 0.58 s vs 1.72 s fp32 on
        # a LASC case, identical LA mask; benchmarks/bench_predict.py); fp32 on other CPUs (emulated bf16 is slow).
        native = self.device.type == "cuda" or (self.device.type == "cpu" and hardware.cpu_has_native_bf16())
        use_bf16 = precision == "bf16" or (precision == "auto" and native)
        self.dtype = torch.bfloat16 if use_bf16 else None

    @classmethod
    def live(cls, model: torch.nn.Module, config: Any, dtype: torch.dtype | None = None) -> Network:
        """A network being trained, as the Predictor sees it (no copy: validation during training)."""
        network = cls.__new__(cls)
        network.model, network.config, network.dtype = model, config, dtype
        network.device = next(model.parameters()).device
        network.spacing = tuple(float(s) for s in config.data.spacing)
        network.roi = tuple(int(r) for r in config.data.roi)
        network.zscore_region = "volume"
        network.orientation = NETWORK_ORIENTATION
        network.multiple = int(getattr(model, "input_multiple", 2 ** (config.model.levels - 1)))
        return network

    def normalise(self, array: np.ndarray) -> np.ndarray:
        """The training z-score (same function and region as `data.preprocess`)."""
        return zscore(array, body_mask(array) if self.zscore_region == "body" else None)

    def probabilities(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sigmoid of every head's logits for an image batch [B, 1, X, Y, Z] (float32 out): `la` and `scar`, not
        the distance map a Table 5 LA head also predicts (`model.dtm_heads`; its LA logits already use it)."""
        autocast = torch.autocast(self.device.type, dtype=self.dtype) if self.dtype is not None else nullcontext()
        with torch.inference_mode(), autocast:
            logits = self.model(image.to(self.device))
        return {name: torch.sigmoid(value.float()) for name, value in logits.items() if name in PROBABILITY_HEADS}


def round_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple - 1e-9) * multiple)


def plan_crop(
    shape: tuple[int, int, int],
    roi: tuple[int, int, int],
    multiple: int,
    box: tuple[np.ndarray, np.ndarray] | None,
    centre_index: np.ndarray,
    margin_voxels: np.ndarray,
    mode: str = "roi",
) -> tuple[CropInfo, tuple[int, int, int]]:
    """The region of the fine grid to predict and the network window to tile it with.

    "roi": one ROI-sized window at the LA centre, or a larger region (LA box + margin) tiled with ROI windows
    when the LA does not fit; "tight": the LA box + margin, rounded up to the network's size multiple;
    "whole": the whole grid. Without a box (no localiser / nothing found) the ROI sits at `centre_index`.
    """
    if mode not in CROP_MODES:
        raise ValueError(f"crop mode must be one of {CROP_MODES}, got {mode!r}")
    roi = triple(int(r) for r in roi)
    if mode == "whole":
        region = triple(round_up(s, multiple) for s in shape)
        centre = (np.asarray(shape, dtype=np.float64) - 1) / 2
    elif box is None:
        region, centre = roi, np.asarray(centre_index, dtype=np.float64)
    else:
        low, high = box
        extent = np.asarray(high) - np.asarray(low) + 2 * np.asarray(margin_voxels)
        centre = (np.asarray(low) + np.asarray(high)) / 2
        minimum = roi if mode == "roi" else (multiple,) * 3
        region = triple(max(m, round_up(e, multiple)) for m, e in zip(minimum, extent, strict=True))
    window = triple(min(r, g) for r, g in zip(roi, region, strict=True))
    return crop_window(shape, centre, region), window


class Predictor:
    """Localiser + fine network; `predict_volume(image)` gives a `Prediction` on the image's own grid."""

    def __init__(
        self,
        fine: Network,
        localizer: Network | None = None,
        *,
        tta: bool = False,
        crop: str | None = None,
        margin_mm: float = 16.0,
        overlap: float = 0.5,
        sw_batch_size: int = 1,
        channels_last: bool | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        if crop is None:
            crop = "roi" if localizer is not None else "whole"
        if crop not in CROP_MODES:
            raise ValueError(f"crop mode must be one of {CROP_MODES}, got {crop!r}")
        if crop != "whole" and localizer is None and "la" not in fine.config.heads:
            raise ValueError(
                f"crop {crop!r} needs an LA to localise: a localiser or an LA head (task {fine.config.task!r})"
            )
        self.fine, self.localizer = fine, localizer
        self.tta, self.crop, self.margin_mm, self.overlap = tta, crop, margin_mm, overlap
        self.sw_batch_size = sw_batch_size
        self.info = dict(info or {})
        self.tta_axes = tta_axes(fine.config) if tta else ()
        # channels_last_3d suits cuDNN's bf16 kernels; on CPUs it measured 1.9x slower than contiguous fp32 here.
        if channels_last is None:
            channels_last = fine.device.type == "cuda"
        if channels_last:
            # torch's stubs of Module.to leave out memory_format, which it accepts (documented).
            fine.model.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
        self.channels_last = channels_last

    @classmethod
    def from_checkpoint(
        cls,
        model: str | None = None,
        device: str | torch.device = "cpu",
        *,
        precision: str = "auto",
        **options: Any,
    ) -> Predictor:
        """From a bundle path or shipped name (None = the default shipped model); see `infer.bundles`."""
        bundle = load_bundle(model)
        try:
            fine = Network(bundle["fine"], device, precision)
            localizer = Network(bundle["localizer"], device, precision) if bundle["localizer"] else None
        except (KeyError, TypeError, AttributeError, RuntimeError) as error:  # a model file with the right tag only
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            reason = " ".join(lines[:2])[:200] if lines else error.__class__.__name__
            raise InputError(bundle["path"] or model or "model", f"cannot be loaded as a model ({reason})") from None
        info = {key: bundle[key] for key in ("name", "version", "meta", "path")}
        try:
            return cls(fine, localizer, info=info, **options)
        except UntrainedMirroringError as error:
            raise InputError(bundle["path"] or model or "model", str(error)) from None

    # ------------------------------------------------------------------------------------------ stages

    def localize(self, image: Volume, source: str = "") -> Localization:
        """Coarse pass over the whole image; falls back to the image centre (with a warning) if needed.

        Without a localiser the fine network's own pass over the whole volume is the coarse pass."""
        if self.localizer is None:
            fine = resample(reoriented(image, self.fine.orientation), self.fine.spacing)  # (no-op when turned)
            maps, region = self._fine_pass(self.fine.normalise(fine.array), fine.geometry, None, np.zeros(3), "whole")
            mask = largest_component(maps["la"].cpu().numpy() > 0.5)
            return localization_from_mask(mask, region, image.geometry, source)
        net = self.localizer
        coarse = resample(reoriented(image, net.orientation), net.spacing)  # (a no-op when both nets agree)
        normalised = net.normalise(coarse.array)
        shape = coarse.geometry.shape
        size = tuple(max(r, round_up(s, net.multiple)) for r, s in zip(net.roi, shape, strict=True))
        info = crop_window(shape, (np.asarray(shape) - 1) / 2, size)
        window = apply_crop(normalised, info, fill=float(normalised.min()))
        probability = net.probabilities(torch.from_numpy(window)[None, None])["la"][0, 0].cpu().numpy()
        inside_image = np.zeros(window.shape, dtype=bool)
        inside_image[info.overlap()[1]] = True  # the LA cannot lie in the padding
        mask = (probability > 0.5) & inside_image
        return localization_from_mask(mask, info.window_geometry(coarse.geometry), image.geometry, source)

    def _window_fn(self) -> ProbabilityFn:
        def predict(window: torch.Tensor) -> dict[str, torch.Tensor]:
            if self.channels_last:
                window = window.contiguous(memory_format=torch.channels_last_3d)
            return self.fine.probabilities(window)

        return with_mirroring(predict, self.tta_axes) if self.tta else predict

    def predict_volume(
        self, image: Volume, source: str = "", content: tuple[slice, slice, slice] | None = None
    ) -> Prediction:
        """LA probability, normal-wall and scar probabilities and the LA mask, all on `image`'s grid; `content` is
        the image's box without constant padding when the caller has it already (`data.preprocess.content_box`).

        The networks see the image turned to the orientation they were trained in (`io.orientation`); the
        probabilities are resampled back onto `image`'s own grid in physical space, so the turn needs no undo."""
        timings: dict[str, float] = {}
        target = image.geometry
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[name] = round(now - clock, 4)
            clock = now

        # constant padding around the scan is cut off (as in training) and comes back as background
        content = content_box(image.array) if content is None else content
        image = cropped_volume(image, content)
        field_of_view_mm = image.geometry.extent_mm
        image = reoriented(image, self.fine.orientation)
        use_localizer = self.crop != "whole"
        localization = (
            self.localize(image, source)
            if use_localizer
            else Localization(image_centre_mm(image.geometry), None, False)
        )
        lap("localize")

        net = self.fine
        fine = resample(image, net.spacing)
        normalised = net.normalise(fine.array)
        lap("resample_normalise")

        grid = fine.geometry
        centre_index = grid.physical_to_index(np.asarray(localization.centre_mm))
        maps, region = self._fine_pass(normalised, grid, localization.box_in(grid), centre_index, self.crop)
        lap("network")

        on_input = {name: to_input_grid(value, region, target) for name, value in maps.items()}
        if content is not None:  # (interpolation reaches half a voxel past the content's edge)
            padding = np.ones(target.shape, dtype=bool)
            padding[content] = False
            for value in on_input.values():
                value[padding] = 0.0
        lap("to_input_grid")

        la, dropped_ml = None, 0.0
        if "la" in on_input:
            above = on_input["la"] > 0.5
            la = largest_component(above).astype(np.uint8)
            dropped_ml = float(np.count_nonzero(above) - np.count_nonzero(la)) * target.voxel_volume_mm3 / 1e3
        lap("largest_component")

        def volume(name: str, array: np.ndarray | None = None) -> Volume | None:
            array = on_input.get(name) if array is None else array
            return None if array is None else Volume(array, target)

        return Prediction(
            la_prob=volume("la"),
            p_normal=volume("normal"),
            p_scar=volume("scar"),
            la=volume("la", la),
            localization=localization,
            timings=timings,
            dropped_la_ml=dropped_ml,
            field_of_view_mm=field_of_view_mm,
        )

    def predict_grid(self, normalised: np.ndarray, grid: Geometry) -> dict[str, np.ndarray]:
        """Probabilities over an image already on the fine network's grid and normalised as in its training
        (e.g. a compact window z-scored with its whole scan's statistics): the whole array is tiled, as
        `predict_volume` does without a localiser; maps {la, normal, scar} (those the network has) on `grid`."""
        if not np.allclose(grid.spacing, self.fine.spacing):
            raise ValueError(f"grid spacing {grid.spacing} is not the network's {self.fine.spacing}")
        maps, region = self._fine_pass(np.asarray(normalised, dtype=np.float32), grid, None, np.zeros(3), "whole")
        # The tiled region is the grid padded by whole voxels: cut the grid back out (no interpolation needed).
        start = np.rint(region.physical_to_index(np.asarray(grid.origin, dtype=np.float64))).astype(int)
        box = tuple(slice(int(a), int(a) + n) for a, n in zip(start, grid.shape, strict=True))
        return {name: np.ascontiguousarray(value[box].float().cpu().numpy()) for name, value in maps.items()}

    def _fine_pass(
        self, normalised: np.ndarray, grid: Geometry, box, centre_index: np.ndarray, crop: str
    ) -> tuple[dict[str, torch.Tensor], Geometry]:
        """The fine network over the planned region of its grid: {la, normal, scar} maps and their geometry."""
        net = self.fine
        margin_voxels = np.full(3, self.margin_mm) / np.asarray(net.spacing)
        info, window = plan_crop(grid.shape, triple(net.roi), net.multiple, box, centre_index, margin_voxels, crop)
        patch = torch.from_numpy(apply_crop(normalised, info, fill=float(normalised.min())))[None, None]
        outputs = sliding_window_probabilities(
            patch.to(net.device), window, self._window_fn(), overlap=self.overlap, sw_batch_size=self.sw_batch_size
        )
        if net.device.type == "cuda":
            torch.cuda.synchronize(net.device)
        maps = {}
        if "la" in outputs:
            maps["la"] = outputs["la"][0, 0]
        if "scar" in outputs:
            maps.update(normal=outputs["scar"][0, 0], scar=outputs["scar"][0, 1])
        flat = torch.from_numpy(flat_regions(patch[0, 0].numpy()))
        for value in maps.values():
            value[flat.to(value.device)] = 0.0
        return maps, info.window_geometry(grid)


def to_input_grid(probability: torch.Tensor | np.ndarray, region: Geometry, target: Geometry) -> np.ndarray:
    """Probabilities on `region` resampled linearly onto `target`, computed only over the part of it the region
    covers (0 elsewhere): the region is often a small part of a clinical field of view, so this saves most of
    the interpolation. The one way back to an input grid (prediction, cross-validation scoring)."""
    if isinstance(probability, torch.Tensor):
        probability = probability.float().cpu().numpy()
    array = np.ascontiguousarray(probability, dtype=np.float32)
    out = np.zeros(target.shape, dtype=np.float32)
    box = covered_box(region, target)
    if box is None:
        return out
    out[box] = to_original_grid(Volume(array, region), target.cropped(box)).array
    return out


def flat_regions(array: np.ndarray, size: int = 3) -> np.ndarray:
    """Voxels at the image minimum whose size³ neighbourhood is constant: padding or zero-filled space, where no
    LA or wall can be (a bright saturated region is constant too, but never at the minimum).

    A window that is flat throughout gives the instance norms nothing to normalise, and a network that never saw
    one may call it anything (the real-data model called a constant border LA); its probabilities are set to 0.
    """
    floor = float(array.min())
    tolerance = 1e-6 * max(float(np.abs(array).max()), 1.0)
    return ndimage.maximum_filter(array, size=size) <= floor + tolerance


def covered_box(region: Geometry, target: Geometry) -> tuple[slice, slice, slice] | None:
    """Index box of `target` holding every voxel centre that lies inside `region`'s field of view (None if none)."""
    corners = np.array(list(itertools.product(*[(-0.5, n - 0.5) for n in region.shape])), dtype=np.float64)
    indices = target.physical_to_index(region.index_to_physical(corners))
    low = np.maximum(np.floor(indices.min(axis=0)).astype(int) - 1, 0)
    high = np.minimum(np.ceil(indices.max(axis=0)).astype(int) + 2, np.asarray(target.shape))
    if np.any(high <= low):
        return None
    return triple(slice(int(lo), int(hi)) for lo, hi in zip(low, high, strict=True))
