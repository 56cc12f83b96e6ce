"""Shared fixtures: analytic shapes built in code, and the path to the real data when it is present.

Under pytest-xdist (`make test` runs two workers on a 2-core machine) each worker keeps to one thread, torch's
and OpenMP's (subprocesses included): two workers with two threads each would oversubscribe the cores, which
slows the tiny-volume convolutions of the tests several times over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# the LASC 2018 release: $LASC2018, else next to the repository
SHARED_DATA = Path(
    os.environ.get("LASC2018", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lasc2018")
)
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
        pytest.skip(f"real LASC 2018 data not present ({SHARED_DATA}; set $LASC2018)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def reports_follow_the_schema(request):
    """Every report.json a test writes under its tmp_path is validated against report.schema.json (the
    documented contract: every key present, null for unknown values) after the test."""
    # Asked for before the test runs, so that tmp_path is torn down after this check, not before it.
    tmp_path = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp_path is None:
        return
    import json

    import jsonschema

    from atrialjsq.report.report_json import REPORT_FORMAT, SCHEMA_FILE

    schema = json.loads(SCHEMA_FILE.read_text())
    for path in tmp_path.rglob("report.json"):
        report = json.loads(path.read_text())
        if isinstance(report, dict) and report.get("format") == REPORT_FORMAT:  # not a test's stand-in file
            jsonschema.validate(report, schema)
