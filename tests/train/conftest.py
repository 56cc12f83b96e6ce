"""Fixtures of the trainer tests: tiny cached cases, and one intra-op thread (2 shared cores, see docs)."""

from __future__ import annotations

import numpy as np
import pytest
from train_fixtures import phantom_case, sphere_case


@pytest.fixture(autouse=True)
def _every_trainer_test_on_one_thread(one_thread):
    """Every trainer test runs on one torch thread (tests/conftest.py `one_thread`)."""
    yield


@pytest.fixture(scope="session")
def tiny_cases() -> list[dict[str, np.ndarray]]:
    """Four 24³ cases (16³ ROI + 4-voxel margins) with slightly different sizes and positions."""
    params = [(6.0, (0, 0, 0)), (5.5, (1, -1, 0)), (6.5, (-1, 0, 1)), (6.0, (0, 1, -1))]
    return [sphere_case(radius_mm=r, offset=o, seed=i) for i, (r, o) in enumerate(params)]


@pytest.fixture(scope="session")
def phantom_cases() -> list[dict[str, np.ndarray]]:
    """Three phantoms at 3.5 mm on a 16^3 ROI (+4-voxel margins): two to train on, one to validate."""
    return [phantom_case(seed) for seed in (1, 2, 3)]
