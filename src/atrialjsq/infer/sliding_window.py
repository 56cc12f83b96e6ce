"""Sliding-window inference with Gaussian weighting, for when the LA does not fit in one network window.

Window borders see less context (zero padding inside the network), so overlapping windows are blended with a
Gaussian that trusts each window's centre most. Probabilities (not logits) are blended, as in nnU-Net.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from atrialjsq.io.geometry import triple

# A network step: image batch [B, 1, X, Y, Z] -> {head name: probabilities [B, C, X, Y, Z]}.
ProbabilityFn = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def window_starts(length: int, window: int, overlap: float) -> list[int]:
    """Start indices of windows of size `window` covering [0, length) with at least `overlap` (fraction) overlap.

    The windows are spread evenly so the first starts at 0 and the last ends exactly at `length`.
    """
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if length <= window:
        return [0]
    step = max(1, int(window * (1.0 - overlap)))
    count = math.ceil((length - window) / step) + 1
    return [round(i * (length - window) / (count - 1)) for i in range(count)]


def gaussian_weights(window: Sequence[int], sigma_scale: float = 0.125, floor: float = 1e-3) -> np.ndarray:
    """Separable Gaussian importance map of shape `window`: 1 at the centre, never below `floor` (all voxels count)."""
    profiles = []
    for size in window:
        centre = (size - 1) / 2.0
        sigma = max(size * sigma_scale, 1e-6)
        profiles.append(np.exp(-0.5 * ((np.arange(size) - centre) / sigma) ** 2))
    weights = profiles[0][:, None, None] * profiles[1][None, :, None] * profiles[2][None, None, :]
    weights /= weights.max()
    return np.maximum(weights, floor).astype(np.float32)


def sliding_window_probabilities(
    image: torch.Tensor,
    window: Sequence[int],
    predict: ProbabilityFn,
    overlap: float = 0.5,
    sigma_scale: float = 0.125,
    sw_batch_size: int = 1,
) -> dict[str, torch.Tensor]:
    """Blend `predict` over windows of size `window` tiling `image` [B, 1, X, Y, Z]; returns full-size outputs.

    `sw_batch_size` windows go through `predict` in one call (as MONAI's sliding_window_inference), which
    keeps a GPU busy; the blend is the same for any batch size. An image smaller than the window along an axis
    is zero-padded (zero = the z-scored mean) and cropped back.
    """
    if sw_batch_size < 1:
        raise ValueError(f"sw_batch_size must be at least 1, got {sw_batch_size}")
    if image.ndim != 5:
        raise ValueError(f"expected an image batch [B, C, X, Y, Z], got shape {tuple(image.shape)}")
    window = tuple(int(w) for w in window)
    shape = tuple(image.shape[2:])
    padded_shape = tuple(max(s, w) for s, w in zip(shape, window, strict=True))
    if padded_shape != shape:
        pad = []
        for s, p in reversed(list(zip(shape, padded_shape, strict=True))):
            before = (p - s) // 2
            pad += [before, p - s - before]
        image = F.pad(image, pad)
    offsets = [(p - s) // 2 for s, p in zip(shape, padded_shape, strict=True)]

    weight = torch.from_numpy(gaussian_weights(window, sigma_scale)).to(image.device)
    starts = [window_starts(p, w, overlap) for p, w in zip(padded_shape, window, strict=True)]
    sums: dict[str, torch.Tensor] = {}
    weight_sum = torch.zeros(padded_shape, device=image.device, dtype=torch.float32)
    regions = [
        (slice(sx, sx + window[0]), slice(sy, sy + window[1]), slice(sz, sz + window[2]))
        for sx, sy, sz in itertools.product(*starts)
    ]
    batch = image.shape[0]
    for first in range(0, len(regions), sw_batch_size):
        chunk = regions[first : first + sw_batch_size]
        outputs = predict(torch.cat([image[(..., *region)] for region in chunk]))
        for name, probabilities in outputs.items():
            if name not in sums:
                sums[name] = torch.zeros(
                    (batch, probabilities.shape[1], *padded_shape), device=image.device, dtype=torch.float32
                )
            for k, region in enumerate(chunk):
                sums[name][(..., *region)] += probabilities[k * batch : (k + 1) * batch].float() * weight
    for region in regions:
        weight_sum[region] += weight

    keep = triple(slice(o, o + s) for o, s in zip(offsets, shape, strict=True))
    return {name: (total / weight_sum)[(..., *keep)] for name, total in sums.items()}
