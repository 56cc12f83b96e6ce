"""Data augmentation on device tensors: one spatial transform shared by the image and all its targets.

The random ROI shift, flips, rotation, scaling and the optional elastic field are folded into a single
sampling grid that reads straight from the margin-padded cached arrays, so no padding artefacts appear at
the window border and the crop costs nothing extra. Image and signed distances are sampled linearly, the
`la` and `band` labels with nearest neighbour. An isotropic zoom by `s` scales every distance d by `s`, so a
map φ = ±d**β is multiplied by s**β (β of `phi_la` is `AugmentParams.distance_beta`; the wall-band maps have
β = 1) and then clipped again at ±`distance_clip`. A cached value at the clip only says "at least this far":
zoomed in it is clipped back to the clip, zoomed out (s < 1) it reads s**β·clip, an underestimate. The
elastic field bends space slightly, so distances stay approximately (not exactly)
correct under it; it is off by default.

Every random number for one training sample comes from a generator seeded by (run seed, iteration, position
in the global batch): the batches are therefore the same whatever the number of DDP processes, and a resumed
run sees exactly the samples the uninterrupted one would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from atrialjsq.io.geometry import triple

LINEAR_KEYS = ("image", "phi_la", "phi_normal", "phi_scar")
DISTANCE_KEYS = ("phi_la", "phi_normal", "phi_scar")
NEAREST_KEYS = ("la", "band", "scar_weight")


@dataclass(frozen=True)
class AugmentParams:
    """Ranges of the random transforms; every default range contains the identity."""

    enabled: bool = True
    random_shift: bool = True  # shift the ROI window within the cached margin
    flip_axes: tuple[int, ...] = (0, 1, 2)  # array axes (x, y, z) that may be mirrored, each with p = 0.5
    rotate_deg: float = 10.0  # each of the three Euler angles uniform in ±rotate_deg
    scale: tuple[float, float] = (0.9, 1.1)  # isotropic zoom factor range
    intensity_scale: tuple[float, float] = (0.9, 1.1)
    intensity_shift: float = 0.1  # in z-score units, uniform in ±shift
    gamma: tuple[float, float] = (0.8, 1.25)  # log-uniform; applied on the sample's min-max range
    noise_std: float = 0.05  # Gaussian noise, std uniform in [0, noise_std]
    elastic_mm: float = 0.0  # std of the coarse displacement field in mm; 0 disables it
    elastic_grid: int = 4  # control points per axis of the coarse field
    # How the cached distance maps were made (data.targets), needed to transform them under zoom:
    distance_beta: float = 1.0  # β of phi_la (|φ| = d**β); phi_normal and phi_scar always have β = 1
    distance_clip: float | None = 50.0  # the clip of every cached φ (None: unclipped)

    @classmethod
    def from_mapping(cls, values: Mapping | None) -> AugmentParams:
        """Build from a config section, ignoring keys this module does not know."""
        if values is None:
            return cls()
        if not isinstance(values, Mapping):
            values = vars(values)
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}  # config values of the known fields, as given
        for key, value in values.items():
            if key in known:
                kwargs[key] = tuple(value) if isinstance(value, list) else value
        return cls(**kwargs)

    @property
    def spatial(self) -> bool:
        """True when the sample needs resampling (not just an integer shift and flips)."""
        return self.enabled and (self.rotate_deg > 0 or tuple(self.scale) != (1.0, 1.0) or self.elastic_mm > 0)


@dataclass(frozen=True)
class SampleTransform:
    """The random draws for one sample."""

    shift: tuple[int, int, int]  # window offset from the centred window, voxels
    flips: tuple[bool, bool, bool]
    angles: tuple[float, float, float]  # radians, about x, y, z
    zoom: float
    intensity_scale: float
    intensity_shift: float
    gamma: float
    noise_std: float
    seed: int  # seeds the on-device noise
    elastic: torch.Tensor | None  # (3, g, g, g) displacement in mm at the control points, or None


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a small host tensor without a stream synchronisation.

    A copy from pageable memory makes the host wait for the GPU queue to drain, so one per iteration would stop
    the CPU from running ahead; pinned memory (PyTorch's caching host allocator) keeps the copy asynchronous.
    """
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def sample_seed(run_seed: int, iteration: int, position: int) -> int:
    """A seed unique to (run, iteration, global batch position), independent of the number of processes."""
    state = np.random.SeedSequence([int(run_seed), int(iteration), int(position)]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1  # 62 bits: fits torch's signed 64-bit seeds


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return float(low + (high - low) * torch.rand((), generator=generator, dtype=torch.float64))


def draw_transform(seed: int, params: AugmentParams, margin: tuple[int, int, int]) -> SampleTransform:
    """Draw one sample's transform on the CPU (a handful of numbers; the heavy work happens on the device)."""
    gen = torch.Generator().manual_seed(seed)
    shift = triple(
        int(torch.randint(-m, m + 1, (), generator=gen)) if (params.enabled and params.random_shift and m > 0) else 0
        for m in margin
    )
    if not params.enabled:
        return SampleTransform(shift, (False, False, False), (0.0, 0.0, 0.0), 1.0, 1.0, 0.0, 1.0, 0.0, seed, None)
    flips = triple(bool(axis in params.flip_axes and torch.rand((), generator=gen) < 0.5) for axis in range(3))
    limit = math.radians(params.rotate_deg)
    angles = triple(_uniform(gen, -limit, limit) for _ in range(3))
    zoom = _uniform(gen, *params.scale)
    i_scale = _uniform(gen, *params.intensity_scale)
    i_shift = _uniform(gen, -params.intensity_shift, params.intensity_shift)
    gamma = math.exp(_uniform(gen, math.log(params.gamma[0]), math.log(params.gamma[1])))
    noise = _uniform(gen, 0.0, params.noise_std)
    elastic = None
    if params.elastic_mm > 0:
        g = params.elastic_grid
        elastic = torch.randn((3, g, g, g), generator=gen) * params.elastic_mm
    return SampleTransform(shift, flips, angles, zoom, i_scale, i_shift, gamma, noise, seed, elastic)


def rotation_matrix(angles: tuple[float, float, float]) -> torch.Tensor:
    """R = Rz · Ry · Rx acting on (x, y, z) physical coordinates."""
    ax, ay, az = angles
    cx, sx, cy, sy, cz, sz = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay), math.cos(az), math.sin(az)
    rx = torch.tensor([[1, 0, 0], [0, cx, -sx], [0, sx, cx]], dtype=torch.float64)
    ry = torch.tensor([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=torch.float64)
    rz = torch.tensor([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]], dtype=torch.float64)
    return rz @ ry @ rx


def sampling_theta(
    transform: SampleTransform,
    full_shape: tuple[int, int, int],
    roi: tuple[int, int, int],
    spacing: tuple[float, float, float],
) -> torch.Tensor:
    """The (3, 4) `affine_grid` matrix mapping output-window coordinates to input coordinates.

    In millimetres about each array's centre the input point is p = A·q + t with A = R·Flip / zoom and
    t = shift·spacing. `affine_grid` works in normalised coordinates (n = q / (size·spacing / 2), with
    align_corners=False) and orders axes (last array axis first), hence the rescaling and the reversal.
    """
    sp = torch.tensor(spacing, dtype=torch.float64)
    flip = torch.diag(torch.tensor([-1.0 if f else 1.0 for f in transform.flips], dtype=torch.float64))
    a = rotation_matrix(transform.angles) @ flip / transform.zoom
    d_out = torch.diag(torch.tensor(roi, dtype=torch.float64) * sp / 2)
    d_in_inv = torch.diag(2 / (torch.tensor(full_shape, dtype=torch.float64) * sp))
    matrix = d_in_inv @ a @ d_out
    offset = d_in_inv @ (torch.tensor(transform.shift, dtype=torch.float64) * sp)
    reverse = [2, 1, 0]
    theta = torch.cat([matrix[reverse][:, reverse], offset[reverse, None]], dim=1)
    return theta.float()


def _elastic_offsets(
    transforms: list[SampleTransform],
    full_shape: tuple[int, int, int],
    roi: tuple[int, int, int],
    spacing: tuple[float, float, float],
    device: torch.device,
) -> torch.Tensor:
    """Smooth displacement (B, X, Y, Z, 3) in normalised input coordinates, in affine_grid's axis order."""
    elastic = [t.elastic for t in transforms if t.elastic is not None]
    if len(elastic) != len(transforms):
        raise ValueError("elastic offsets need an elastic field in every transform of the batch")
    coarse = to_device(torch.stack(elastic), device)  # (B, 3, g, g, g), mm along x, y, z
    dense = F.interpolate(coarse, size=roi, mode="trilinear", align_corners=True)
    half_extent = to_device(torch.tensor([n * s / 2 for n, s in zip(full_shape, spacing, strict=True)]), device)
    dense = dense / half_extent.view(1, 3, 1, 1, 1)
    return dense.flip(1).permute(0, 2, 3, 4, 1)


def _stack(batch: Mapping[str, torch.Tensor], keys: tuple[str, ...]) -> tuple[list[str], torch.Tensor | None]:
    present = [k for k in keys if k in batch]
    if not present:
        return present, None
    return present, torch.cat([batch[k].float() for k in present], dim=1)


def spatial_resample(
    full: Mapping[str, torch.Tensor],
    transforms: list[SampleTransform],
    roi: tuple[int, int, int],
    spacing: tuple[float, float, float],
    *,
    beta: float = 1.0,
    clip: float | None = 50.0,
) -> dict[str, torch.Tensor]:
    """Cut the transformed ROI windows out of the margin-padded arrays `full[key]` (B, 1, X', Y', Z').

    `beta` is the exponent of `phi_la` (the other distance maps have β = 1), `clip` the clip of every map."""
    reference = next(iter(full.values()))
    device, batch_size = reference.device, reference.shape[0]
    full_shape = triple(reference.shape[2:])
    theta = to_device(torch.stack([sampling_theta(t, full_shape, roi, spacing) for t in transforms]), device)
    grid = F.affine_grid(theta, [batch_size, 1, *roi], align_corners=False)
    if any(t.elastic is not None for t in transforms):
        grid = grid + _elastic_offsets(transforms, full_shape, roi, spacing, device)
    out: dict[str, torch.Tensor] = {}
    for keys, mode in ((LINEAR_KEYS, "bilinear"), (NEAREST_KEYS, "nearest")):
        names, stacked = _stack(full, keys)
        if stacked is None:
            continue
        sampled = F.grid_sample(stacked, grid, mode=mode, padding_mode="border", align_corners=False)
        for channel, name in enumerate(names):
            out[name] = sampled[:, channel : channel + 1]
    zoom = to_device(torch.tensor([t.zoom for t in transforms]), device).view(-1, 1, 1, 1, 1)
    for name in DISTANCE_KEYS:
        if name in out:
            out[name] = out[name] * (zoom**beta if name == "phi_la" else zoom)
            if clip is not None:
                out[name] = out[name].clamp(-clip, clip)
    for name in NEAREST_KEYS:
        if name in out:
            out[name] = out[name].round()
    return out


def shift_and_flip(
    full: Mapping[str, torch.Tensor], transforms: list[SampleTransform], roi: tuple[int, int, int]
) -> dict[str, torch.Tensor]:
    """Exact integer-shift crop plus flips, used when no resampling is needed (and for validation)."""
    reference = next(iter(full.values()))
    margin = [(f - r) // 2 for f, r in zip(reference.shape[2:], roi, strict=True)]
    out: dict[str, list[torch.Tensor]] = {key: [] for key in full}
    for index, t in enumerate(transforms):
        start = [m + s for m, s in zip(margin, t.shift, strict=True)]
        window = tuple(slice(b, b + r) for b, r in zip(start, roi, strict=True))
        flip_dims = [axis + 1 for axis, f in enumerate(t.flips) if f]
        for key, tensor in full.items():
            piece = tensor[index, :, window[0], window[1], window[2]]
            out[key].append(piece.flip(flip_dims) if flip_dims else piece)
    return {key: torch.stack(pieces).float() for key, pieces in out.items()}


def augment_intensity(image: torch.Tensor, transforms: list[SampleTransform]) -> torch.Tensor:
    """Gamma on each sample's min-max range, then scale, shift and Gaussian noise (B, 1, X, Y, Z)."""
    device = image.device
    batch_size = image.shape[0]

    def per_sample(values: list[float]) -> torch.Tensor:
        return to_device(torch.tensor(values, dtype=image.dtype), device).view(batch_size, 1, 1, 1, 1)

    gamma = per_sample([t.gamma for t in transforms])
    low = image.amin(dim=(1, 2, 3, 4), keepdim=True)
    span = (image.amax(dim=(1, 2, 3, 4), keepdim=True) - low).clamp_min(1e-6)
    image = ((image - low) / span).clamp(0, 1).pow(gamma) * span + low
    scale = per_sample([t.intensity_scale for t in transforms])
    image = image * scale + per_sample([t.intensity_shift for t in transforms])
    noise_std = [t.noise_std for t in transforms]
    if any(s > 0 for s in noise_std):
        noise = torch.empty_like(image)
        for index, t in enumerate(transforms):
            gen = torch.Generator(device=device).manual_seed(t.seed)
            noise[index].normal_(generator=gen)
        image = image + noise * per_sample(noise_std)
    return image


def apply_transforms(
    full: Mapping[str, torch.Tensor],
    transforms: list[SampleTransform],
    params: AugmentParams,
    roi: tuple[int, int, int],
    spacing: tuple[float, float, float],
) -> dict[str, torch.Tensor]:
    """Training windows (float32, (B, 1, *roi)) from margin-padded arrays and per-sample transforms."""
    if params.spatial:
        out = spatial_resample(full, transforms, roi, spacing, beta=params.distance_beta, clip=params.distance_clip)
    else:
        out = shift_and_flip(full, transforms, roi)
    if params.enabled and "image" in out:
        out["image"] = augment_intensity(out["image"], transforms)
    return out
