"""The real LASC 2018 HDF5 release (skipped when ../shared/data/lasc2018 is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from atrialjsq.data.check import check_case
from atrialjsq.data.layouts import DEFAULT_H5_SPACING, index_dataset, load_case
from atrialjsq.data.preprocess import preprocess_case, resample


@pytest.mark.realdata
def test_index_and_one_real_case(lasc_dir: Path) -> None:
    refs = index_dataset(lasc_dir)
    listed = (lasc_dir / "cases.list").read_text().split()
    assert len(refs) == 80 and [r.case_id for r in refs] == sorted(listed)
    assert {r.layout for r in refs} == {"lasc2018-h5"}

    ref = refs[0]
    report = check_case(ref)
    assert report.status == "ok" and report.spacing == DEFAULT_H5_SPACING and report.shape[2] == 88
    assert 20 < report.la_ml < 300

    case = load_case(ref)
    assert case.image.array.dtype == np.float32 and set(np.unique(case.la.array)) == {0, 1}
    prepared = preprocess_case(case, with_targets=False)
    assert prepared.arrays["image"].shape == (240, 240, 96)
    # The whole LA fits in the window, and comes back onto the original grid almost unchanged.
    assert prepared.arrays["la"].sum() == resample(case.la, (1, 1, 1), is_label=True).array.sum()
    back = prepared.to_original(prepared.arrays["la"], is_label=True).array
    overlap = 2 * (back & case.la.array).sum() / (back.sum() + case.la.array.sum())
    assert overlap > 0.98
