"""Classic quantification on a real LASC 2018 case with its manual LA (skipped when the data is absent)."""

import json

import numpy as np
import pytest

from atrialjsq.data.layouts import index_dataset, load_case
from atrialjsq.io import read_volume
from atrialjsq.quantify.analysis import Provenance, analyse_case
from atrialjsq.quantify.baselines import scar_from_image
from atrialjsq.report.outputs import write_case_outputs
from atrialjsq.surface.distance import signed_distance


@pytest.mark.realdata
def test_iir_on_a_real_case(lasc_dir, tmp_path):
    case = load_case(index_dataset(lasc_dir)[0])
    la = case.labels["la"]
    with pytest.warns(RuntimeWarning, match="negative"):  # the release is z-scored: IIR has no true zero
        result = scar_from_image(case.image, la, "iir")
    analysis = analyse_case(case.image, result, Provenance(model="classic:iir"))
    write_case_outputs(tmp_path / "case", analysis, figure=False)
    burden = analysis.burden
    report = json.loads((tmp_path / "case" / "report.json").read_text())

    # The mesh is closed, outward and in mm: the volume it encloses (divergence theorem) is the LA's.
    corners = result.mesh.vertices_mm[result.mesh.faces]
    enclosed_ml = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6 / 1000
    assert enclosed_ml == pytest.approx(burden.la_volume_ml, rel=0.03)
    # IIR ≥ 1.2 flags everything IIR ≥ 1.32 does, and more.
    at = report["scar"]["burden_percent_at_thresholds"]
    assert at["iir_1.2"] >= at["iir_1.32"] == pytest.approx(report["scar"]["burden_percent"])
    # Scar voxels lie in the wall band, −2..+3 mm around the LA surface (plus a voxel of discretisation).
    scar = read_volume(tmp_path / "case" / "scar_predict.nii.gz")
    phi = signed_distance(la.array, la.geometry.spacing, clip=20.0)
    assert scar.array.any() and report["scar"]["burden_percent"] > 0  # IIR ≥ 1.32 flags some of this wall
    assert phi[scar.array > 0].min() >= -2.0 - 1.25 and phi[scar.array > 0].max() <= 3.0 + 1.25
    assert scar.geometry.is_close(case.image.geometry, tol=1e-5)
    np.testing.assert_array_equal(read_volume(tmp_path / "case" / "LA_predict.nii.gz").array, la.array > 0)
