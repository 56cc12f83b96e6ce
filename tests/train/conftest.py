"""Fixtures of the trainer tests: tiny cached cases, and one intra-op thread (2 shared cores, see docs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_fixtures import phantom_case, sphere_case


@pytest.fixture(autouse=True)
def one_thread():
    """Several OpenMP threads on a loaded 2-core machine are 10-50x slower than one for these tiny volumes."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_cases() -> list[dict[str, np.ndarray]]:
    """Four 24³ cases (16³ ROI + 4-voxel margins) with slightly different sizes and positions."""
    params = [(6.0, (0, 0, 0)), (5.5, (1, -1, 0)), (6.5, (-1, 0, 1)), (6.0, (0, 1, -1))]
    return [sphere_case(radius_mm=r, offset=o, seed=i) for i, (r, o) in enumerate(params)]


@pytest.fixture(scope="session")
def phantom_cases() -> list[dict[str, np.ndarray]]:
    """Three phantoms at 3.5 mm on a 16^3 ROI (+4-voxel margins): two to train on, one to validate."""
    return [phantom_case(seed) for seed in (1, 2, 3)]
