"""Shared fixtures: analytic shapes built in code, and the path to the real data when it is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lasc2018"


def sphere_mask(shape=(48, 48, 40), center=None, radius_mm=12.0, spacing=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Binary ball of `radius_mm` on a grid indexed (x, y, z) with the given spacing."""
    center = np.asarray(center if center is not None else [(s - 1) / 2 for s in shape], dtype=float)
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    r2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, center, spacing, strict=True))
    return (r2 <= radius_mm**2).astype(np.uint8)


@pytest.fixture
def lasc_dir() -> Path:
    if not (SHARED_DATA / "cases").is_dir():
        pytest.skip("real LASC 2018 data not present (../shared/data/lasc2018)")
    return SHARED_DATA
