"""Shared fixtures: analytic shapes built in code, and the path to the real data when it is present."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lasc2018"


@pytest.fixture
def lasc_dir() -> Path:
    if not (SHARED_DATA / "cases").is_dir():
        pytest.skip("real LASC 2018 data not present (../shared/data/lasc2018)")
    return SHARED_DATA
