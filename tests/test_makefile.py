"""The Makefile's install step: PyPI by default, the index a user names with TORCH_INDEX otherwise."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _install_commands(*variables: str) -> list[str]:
    """The commands `make` would run to build .venv (dry run: -n; -W pretends pyproject.toml changed)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", ".venv/.installed", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if "pip install" in line and "torch" in line]


def test_torch_comes_from_the_index_the_user_chooses():
    (default,) = _install_commands()
    assert '"torch==2.13.0"' in default and "--index-url" not in default  # unchanged: pip's own configuration
    cpu = "https://download.pytorch.org/whl/cpu"
    (chosen,) = _install_commands(f"TORCH_INDEX={cpu}")
    assert chosen.endswith(f'"torch==2.13.0" --index-url "{cpu}"')
    (gpu,) = _install_commands("TORCH=torch")
    assert '"torch"' in gpu


def test_the_makefile_says_what_the_default_installs():
    text = (ROOT / "Makefile").read_text()
    assert "CUDA build" in text and "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in text
