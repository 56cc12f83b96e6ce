"""Acquisition augmentation: what another scanner or protocol does to an LGE image, applied to training windows.

Three degradations, each on a random share of the samples (TorchIO's RandomBlur, RandomBiasField and a Rician
RandomNoise; nnU-Net's Gaussian blur): a Gaussian blur per axis (a coarser acquisition, thicker slices along z),
a smooth multiplicative bias field (exp of a random polynomial of degree 2 over the window: coil sensitivity)
and Rician noise (complex Gaussian noise on the magnitude, measured from the window minimum, i.e. air). Both heads
see the degraded image; the targets are untouched. Every draw comes from the sample's seed.

A fourth, `air`, widens the field of view instead: slabs at the window's faces, never nearer the LA than the wall
and its targets reach, become air (pure Rician noise on the window minimum). Crops around the LA, such as LASC
2018's, hold none, and a network trained on them calls the air of a whole-chest scan LA
(docs/results/synthetic-scar.md); the slabs teach it that noise is background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

BLUR_SIGMA_MM = (1.0, 1.0, 2.0)  # the largest sigma per axis (x, y, z): z is where acquisitions differ most
BIAS_COEFFICIENT = 0.3  # polynomial coefficients uniform in ±this; exp(±0.3·…) is a ±30–60 % field
RICIAN_STD = (0.02, 0.15)  # in z-score units
# Air: the Rician sigma of the noise (z-score units; LASC's lungs sit ~0.4 above the image minimum with SD ~0.2,
# i.e. sigma ~0.3), and how near the LA's bounding box a slab may come (the 1-4 mm wall and its targets stay).
AIR_SIGMA = (0.05, 0.4)
AIR_MARGIN_MM = 6.0


@dataclass(frozen=True)
class AcquisitionParams:
    """Probability per sample of each degradation (0 turns it off)."""

    blur: float = 0.0
    bias: float = 0.0
    rician: float = 0.0
    air: float = 0.0

    def __post_init__(self) -> None:
        for name in ("blur", "bias", "rician", "air"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"acquisition {name} probability must be within [0, 1], got {value}")

    @property
    def active(self) -> bool:
        return self.blur > 0 or self.bias > 0 or self.rician > 0 or self.air > 0


def _kernel(sigma_voxels: float) -> torch.Tensor:
    radius = max(math.ceil(3.0 * sigma_voxels), 1)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    weights = torch.exp(-0.5 * (x / max(sigma_voxels, 1e-6)) ** 2)
    return weights / weights.sum()


def gaussian_blur(volume: torch.Tensor, sigma_voxels: tuple[float, float, float]) -> torch.Tensor:
    """Separable Gaussian blur of a (1, 1, X, Y, Z) volume; a sigma under 0.1 voxel leaves that axis alone.
    Edges replicate the border voxel, so the window's rim does not darken."""
    out = volume
    for axis, sigma in enumerate(sigma_voxels):
        if sigma < 0.1:
            continue
        kernel = _kernel(sigma).to(volume.device, volume.dtype)
        shape = [1, 1, 1, 1, 1]
        shape[2 + axis] = kernel.numel()
        pad = [0, 0, 0, 0, 0, 0]
        pad[2 * (2 - axis)] = pad[2 * (2 - axis) + 1] = kernel.numel() // 2
        out = F.conv3d(F.pad(out, pad, mode="replicate"), kernel.view(shape))
    return out


def bias_field(shape: tuple[int, ...], coefficients: torch.Tensor, device: torch.device) -> torch.Tensor:
    """exp of a degree-2 polynomial over the window (coordinates in [−1, 1]); `coefficients` has 9 entries:
    x, y, z, x², y², z², xy, xz, yz."""
    axes = [torch.linspace(-1.0, 1.0, n, device=device) for n in shape]
    x, y, z = torch.meshgrid(*axes, indexing="ij")
    terms = torch.stack([x, y, z, x * x, y * y, z * z, x * y, x * z, y * z])
    return torch.exp(torch.tensordot(coefficients.to(device), terms, dims=1))


def air_slabs(la: torch.Tensor, gen: torch.Generator, spacing) -> torch.Tensor:
    """A boolean (X, Y, Z) mask of slabs at some of the window's six faces (each face with probability 1/2, at
    least one), each of a random depth that stops `AIR_MARGIN_MM` short of the LA's bounding box (all of the
    half-window when the window holds no LA)."""
    shape = tuple(la.shape)
    inside = la > 0.5
    slabs = torch.zeros(shape, dtype=torch.bool, device=la.device)
    faces = torch.rand(6, generator=gen) < 0.5
    faces[int(torch.randint(6, (1,), generator=gen))] = True
    depths = torch.rand(6, generator=gen).tolist()
    for axis in range(3):
        present = torch.nonzero(inside.any(dim=tuple(a for a in range(3) if a != axis))).flatten()
        margin = math.ceil(AIR_MARGIN_MM / float(spacing[axis]))
        low, high = (int(present[0]), int(present[-1])) if present.numel() else (shape[axis] // 2, shape[axis] // 2)
        free = (low - margin, shape[axis] - 1 - high - margin)
        for side in (0, 1):
            face = 2 * axis + side
            if not faces[face] or free[side] < 1:
                continue
            depth = 1 + int(depths[face] * free[side])
            index = [slice(None)] * 3
            index[axis] = slice(0, depth) if side == 0 else slice(shape[axis] - depth, shape[axis])
            slabs[tuple(index)] = True
    return slabs


def degrade(
    image: torch.Tensor, seeds: list[int], params: AcquisitionParams, spacing, la: torch.Tensor | None = None
) -> torch.Tensor:
    """The batch (B, 1, X, Y, Z) with each sample's random degradations; air slabs need the LA labels `la`
    (B, 1, X, Y, Z) and come first, so that blur, bias and noise act on them as on the rest."""
    if not params.active:
        return image
    rows = []
    for row, seed in enumerate(seeds):
        gen = torch.Generator().manual_seed(int(seed) ^ 0x5CA1AB1E)
        sample = image[row : row + 1]
        if params.air > 0 and la is not None:
            # its own stream, so that adding air changes no other draw of a seed
            air_gen = torch.Generator().manual_seed(int(seed) ^ 0xA1A1A1)
            if float(torch.rand((), generator=air_gen)) < params.air:
                slabs = air_slabs(la[row, 0], air_gen, spacing)
                sigma = AIR_SIGMA[0] + (AIR_SIGMA[1] - AIR_SIGMA[0]) * float(torch.rand((), generator=air_gen))
                noise = torch.randn((2, *sample.shape), generator=air_gen).to(sample.device, sample.dtype) * sigma
                air = torch.sqrt(noise[0] ** 2 + noise[1] ** 2) + sample.amin()
                sample = torch.where(slabs[None, None], air, sample)
        draws = torch.rand(3, generator=gen, dtype=torch.float64).tolist()
        if draws[0] < params.blur:
            sigmas = torch.rand(3, generator=gen, dtype=torch.float64).tolist()
            sample = gaussian_blur(
                sample, tuple(u * m / s for u, m, s in zip(sigmas, BLUR_SIGMA_MM, spacing, strict=True))
            )
        low = sample.amin()
        if draws[1] < params.bias:
            coefficients = (torch.rand(9, generator=gen) * 2.0 - 1.0) * BIAS_COEFFICIENT
            sample = (sample - low) * bias_field(tuple(sample.shape[2:]), coefficients, sample.device) + low
        if draws[2] < params.rician:
            std = RICIAN_STD[0] + (RICIAN_STD[1] - RICIAN_STD[0]) * float(torch.rand((), generator=gen))
            noise = torch.randn((2, *sample.shape), generator=gen).to(sample.device, sample.dtype) * std
            sample = torch.sqrt((sample - low + noise[0]) ** 2 + noise[1] ** 2) + low
        rows.append(sample)
    return torch.cat(rows)
