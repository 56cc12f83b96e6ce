"""What goes wrong after the network is one case's error naming its scan, not a traceback that ends a batch."""

from __future__ import annotations

import numpy as np
import pytest

from atrialjsq.errors import InputError
from atrialjsq.io import Volume
from atrialjsq.io.geometry import Geometry
from atrialjsq.quantify.analysis import Provenance
from atrialjsq.workflows.case import CaseOptions, PendingCase, finish_case


def test_a_few_stray_la_voxels_are_an_input_error_naming_the_scan(tmp_path):
    """Two 0.5 mm voxels called LA vanish under the mesh's smoothing; the mesher's ValueError used to reach the
    batch, which stopped with a traceback."""
    geometry = Geometry((40, 40, 40), (0.5, 0.5, 0.5))
    la = np.zeros(geometry.shape, dtype=np.uint8)
    la[20, 20, 20] = la[21, 20, 20] = 1
    half = Volume(np.full(geometry.shape, 0.5, dtype=np.float32), geometry)
    pending = PendingCase(
        "p07", "scans/p07.nii.gz", tmp_path / "p07", half, Volume(la, geometry), half, half,
        Provenance(case_id="p07"), None, CaseOptions(), None,
    )  # fmt: skip
    with pytest.raises(InputError, match="too small to have a surface") as caught:
        finish_case(pending)
    assert str(caught.value).startswith("scans/p07.nii.gz: the predicted LA (0.00025 mL)")
    assert not (tmp_path / "p07").exists()
