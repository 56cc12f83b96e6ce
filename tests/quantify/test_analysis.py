"""`analyse_case`: the one place a case's numbers are computed, whatever writes them afterwards."""

from __future__ import annotations

import pytest

from atrialjsq.io import Geometry, Volume
from atrialjsq.quantify import analysis as analysis_module
from atrialjsq.quantify.analysis import NOT_COMPUTED, Provenance, analyse_case
from atrialjsq.quantify.surface_scar import scar_from_probabilities
from quantify.scar_phantoms import cap_fraction, cap_phantom


@pytest.fixture(scope="module")
def small():
    """An 8 mm sphere (2.1 mL): below every adult LA, so implausible and never staged."""
    phantom = cap_phantom(radius_mm=8.0, half_angle_deg=60.0)
    return phantom, scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)


def test_warnings_come_caller_first_then_implausible_results(small):
    phantom, result = small
    analysis = analyse_case(phantom.image, result, Provenance("c", warnings=["from the caller"]), regional=False)
    flags = analysis.burden.implausible  # 2.1 mL and 8 cm²: below both the volume and the area range
    assert [flag.split(" ")[1] for flag in flags] == ["volume", "surface"]
    assert analysis.warnings == ["from the caller", *(f"implausible result: {flag}" for flag in flags)]
    assert not analysis.burden.staged and analysis.burden.untrusted == []
    # a 60° cap covers (1 - cos 60°) / 2 = 25 % of a sphere; voxelised at 1 mm on an 8 mm sphere, within 4 points
    assert analysis.burden.burden_percent == pytest.approx(100 * cap_fraction(60.0), abs=4.0)


def test_untrusted_reasons_withhold_the_stage_of_a_plausible_la():
    phantom = cap_phantom(radius_mm=18.0, half_angle_deg=60.0)  # 24 mL: plausible, so staged unless untrusted
    result = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)
    assert analyse_case(phantom.image, result, regional=False).burden.staged
    reason = "a phantom model on a real scan"
    untrusted = analyse_case(phantom.image, result, Provenance(untrusted=[reason]), regional=False)
    assert not untrusted.burden.staged and untrusted.burden.untrusted == [reason]
    assert untrusted.method == result.method  # no method in the provenance: the result's own


def test_regional_not_asked_and_regional_failed_are_told_apart(small, monkeypatch):
    phantom, result = small
    skipped = analyse_case(phantom.image, result, regional=False)
    assert skipped.regional is None and skipped.regional_record() == {"unavailable": NOT_COMPUTED}
    assert "regional" not in skipped.timings

    def broken(*args, **kwargs):
        raise RuntimeError("no veins")

    monkeypatch.setattr(analysis_module, "analyse_regions", broken)
    failed = analyse_case(phantom.image, result, Provenance(timings={"read": 0.5}))
    assert failed.regional_record() == {"unavailable": "regional analysis failed (RuntimeError: no veins)"}
    assert failed.burden.burden_percent == skipped.burden.burden_percent  # the burden stands without it
    assert failed.timings["read"] == 0.5 and "regional" in failed.timings  # the failed step's time is kept


def test_a_result_off_the_image_grid_is_refused(small):
    phantom, result = small
    shifted = Geometry(phantom.image.geometry.shape, phantom.image.geometry.spacing, origin=(5.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="the LA mask is not on the input image's grid"):
        analyse_case(Volume(phantom.image.array, shifted), result)
