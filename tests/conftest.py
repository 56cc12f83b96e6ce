"""Shared fixtures: analytic shapes built in code, and the path to the real data when it is present.

Under pytest-xdist (`make test` runs two workers on a 2-core machine) each worker keeps to one thread, torch's
and OpenMP's (subprocesses included): two workers with two threads each would oversubscribe the cores, which
slows the tiny-volume convolutions of the tests several times over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lasc2018"
WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def pytest_configure(config) -> None:
    if WORKER:
        import torch

        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.fixture
def one_thread():
    """One torch thread for the test (several OpenMP threads on a loaded 2-core machine are 10-50x slower
    for tiny volumes); the previous count is restored after it."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def lasc_dir() -> Path:
    if not (SHARED_DATA / "cases").is_dir():
        pytest.skip("real LASC 2018 data not present (../shared/data/lasc2018)")
    return SHARED_DATA
