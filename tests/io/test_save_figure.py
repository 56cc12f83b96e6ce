"""`io.atomic.save_figure`: a PNG appears whole or not at all, and the figure is released either way."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from atrialjsq.io.atomic import save_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_png_is_written_at_the_dpi_asked_and_the_figure_closed(tmp_path: Path) -> None:
    figure = plt.figure(figsize=(2, 1))
    path = save_figure(figure, tmp_path / "sub" / "f.png", dpi=50)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")  # the IHDR chunk
    assert (width, height) == (100, 50)  # 2 × 1 inches at 50 dpi
    assert figure.number not in plt.get_fignums()
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.png"]


def test_a_failed_save_leaves_no_file_and_still_closes_the_figure(tmp_path: Path) -> None:
    figure = plt.figure()
    with pytest.raises(TypeError):
        save_figure(figure, tmp_path / "f.png", no_such_option=1)
    assert list(tmp_path.iterdir()) == []
    assert figure.number not in plt.get_fignums()
