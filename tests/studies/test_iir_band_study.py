"""The IIR band study: a bright rim inside the blood pool counts only while the band reaches into the blood, and
the network's ratio and rank correlation are read against each band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from atrialjsq.io import Geometry, Volume, write_volume
from script_loader import load_script
from shapes import radius_mm, sphere_mask

SCRIPT = Path(__file__).parents[2] / "studies" / "lasc2018" / "scripts" / "iir_band_study.py"


def _module():
    return load_script(SCRIPT)


def test_a_rim_inside_the_blood_pool_counts_only_in_the_band_that_reaches_it():
    shape, spacing, radius = (44, 44, 44), (1.0, 1.0, 1.0), 15.0
    center = [(s - 1) / 2 for s in shape]
    r = radius_mm(shape, center, spacing)
    la = sphere_mask(shape, center, radius, spacing)
    image = np.where(la > 0, 100.0, 80.0).astype(np.float32)  # blood 100, wall and outside IIR 0.8
    upper = (np.arange(shape[2]) > center[2])[None, None, :]
    image[(r >= 12.8) & (r <= 14.0) & upper] = 150.0  # IIR 1.5, 1-2.2 mm inside the LA, upper half only
    geometry = Geometry(shape, spacing, (0.0, 0.0, 0.0))
    row = _module().case_row("ball", Volume(image, geometry), Volume(la, geometry))
    assert row["case"] == "ball"
    assert row["iir_1.32_in2_percent"] == pytest.approx(50.0, abs=8.0)  # the upper hemisphere
    assert row["iir_1.32_in0_percent"] < 2.0  # the wall itself is dark
    # IIR 1.2 sees the same rim and nothing else (the wall is 0.8)
    assert row["iir_1.2_in2_percent"] == pytest.approx(row["iir_1.32_in2_percent"], abs=1.0)


def test_summary_ratios_and_ranks_by_hand():
    module = _module()
    keys = [f"iir_{t:g}_in{i:g}_percent" for i in module.INWARD_MM for t in module.THRESHOLDS]
    # IIR burdens 1, 4, 10, 20 % in every band; the network 2, 2, 5, 5 %
    rows = [{"case": c, **dict.fromkeys(keys, v)} for c, v in zip("abcd", (1.0, 4.0, 10.0, 20.0), strict=True)]
    network = {"a": 2.0, "b": 2.0, "c": 5.0, "d": 5.0}
    summary = module.summarise(rows, network)
    entry = summary["iir_1.32_in0_percent"]
    assert entry["median_percent"] == 7.0
    assert entry["cases_at_least_2_percent"] == 3  # 4, 10, 20
    assert entry["median_ratio_network_over_iir"] == 0.5  # ratios 0.5, 0.5, 0.25
    # ranks (1, 2, 3, 4) against (1.5, 1.5, 3.5, 3.5): Spearman 2/sqrt(5)
    assert entry["spearman"] == pytest.approx(2 / np.sqrt(5), abs=1e-3)


def _one_case_dataset(root: Path) -> None:
    shape, spacing = (24, 24, 24), (1.0, 1.0, 1.0)
    la = sphere_mask(shape, None, 6.0, spacing)
    geometry = Geometry(shape, spacing, (0.0, 0.0, 0.0))
    write_volume(Volume(np.where(la > 0, 100.0, 80.0).astype(np.float32), geometry), root / "case01" / "image.nii.gz")
    write_volume(Volume(la, geometry), root / "case01" / "label.nii.gz")


def test_bad_inputs_get_one_line_and_nothing_written(tmp_path, capsys):
    main, out = _module().main, tmp_path / "out"
    data = tmp_path / "data"
    _one_case_dataset(data)
    unrelated = tmp_path / "burdens.csv"
    unrelated.write_text("case,network_percent\nother,3.0\n")
    for argv, problem in (
        ([str(tmp_path / "missing"), str(out)], "no such folder"),
        ([str(data), str(out), "--network", str(tmp_path / "none.csv")], "no such file"),
        ([str(data), str(out), "--network", str(unrelated)], f"none of its cases is in {data}"),
        ([str(data), str(out), "--cases", "0"], "--cases"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        message = capsys.readouterr().err.strip().splitlines()[-1]
        assert "error:" in message and problem in message
        assert not out.exists()
