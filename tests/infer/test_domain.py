"""The model-domain decision: a phantom-trained model on an image that is not a phantom must say so."""

import json

import pytest

from atrialjsq.infer.domain import (
    domain_warning,
    is_phantom_image,
    model_domain,
    model_record,
    out_of_domain_warnings,
)


@pytest.mark.parametrize(
    ("meta", "domain"),
    [
        ({"domain": "phantom"}, "phantom"),
        ({"domain": " Phantom "}, "phantom"),  # a user's capitalised --meta still warns on real scans
        ({"trained_on": "40 synthetic LGE Phantoms"}, "phantom"),
        ({"trained_on": "LASC 2018, 80 real LGE MRIs", "domain": "real LGE MRI"}, "real LGE MRI"),
        ({"trained_on": "80 real LGE MRIs (no phantoms)", "domain": "real LGE MRI"}, "real LGE MRI"),
        ({"trained_on": "nothing (untrained, random weights)"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_model_domain_is_read_from_the_meta(meta, domain):
    assert model_domain(meta) == domain


def _case(folder, params):
    folder.mkdir()
    (folder / "enhanced.nii.gz").write_bytes(b"")
    if params is not None:
        (folder / "params.json").write_text(json.dumps(params) if isinstance(params, dict) else params)
    return folder / "enhanced.nii.gz"


def test_only_images_written_by_the_phantom_command_are_phantoms(tmp_path):
    phantom = _case(tmp_path / "p", {"format": "atrialjsq-phantom-v1", "seed": 3})
    injected = _case(tmp_path / "i", {"format": "atrialjsq-injected-scar-v1"})  # real anatomy
    broken = _case(tmp_path / "b", "{not json")
    plain = _case(tmp_path / "r", None)
    assert is_phantom_image(phantom) and is_phantom_image(phantom.parent)
    assert not any(is_phantom_image(path) for path in (injected, broken, plain, None))

    meta = {"trained_on": "synthetic phantoms", "not_trained_on": "real scans"}
    assert domain_warning(meta, "m", phantom) is None
    for path in (injected, plain):
        warning = domain_warning(meta, "m", path)
        assert warning.startswith("model m was trained on synthetic phantoms only") and "research use only" in warning
    assert domain_warning({"trained_on": "LASC 2018", "domain": "real"}, "m", plain) is None
    assert model_record(meta, "m", "1.0") == {
        "name": "m",
        "version": "1.0",
        "weights": None,
        "trained_on": "synthetic phantoms",
        "domain": "phantom",
        "not_trained_on": "real scans",
    }
    assert model_record({**meta, "weights": "v5 (6 December 2026)"}, "m")["weights"] == "v5 (6 December 2026)"


def test_out_of_domain_warnings_phantom_model_unknown_model_and_coarse_voxels(tmp_path):
    plain = _case(tmp_path / "r", None)
    real = {"domain": "real LGE MRI", "trained_on": "LASC 2018", "max_input_spacing_mm": [1.5, 1.5, 2.0]}
    real |= {"trained_spacing_mm": [0.625, 0.625, 1.25], "acquired_spacing_mm": [1.25, 1.25, 2.5]}
    assert out_of_domain_warnings(real, "m", plain, (0.625, 0.625, 1.25)) == []
    # Compared finest to coarsest: a sagittal 1.25 x 0.625 x 0.625 mm acquisition is as fine as LASC's.
    assert out_of_domain_warnings(real, "m", plain, (1.25, 0.625, 0.625)) == []
    coarse = out_of_domain_warnings(real, "m", plain, (2.5, 1.25, 1.25))  # 2.5 mm slices, the sorted 3rd > 2.0
    assert len(coarse) == 1 and coarse[0].startswith("voxels of 2.5 x 1.25 x 1.25 mm are coarser than model m")
    assert "its training scans: 0.625 x 0.625 x 1.25 mm, acquired at 1.25 x 1.25 x 2.5 mm" in coarse[0]
    [unknown] = out_of_domain_warnings({}, "m", plain, (1.0, 1.0, 1.0))
    assert "does not record what it was trained on" in unknown
    [phantom] = out_of_domain_warnings({"domain": "phantom", "trained_on": "phantoms"}, "m", plain, (1.0, 1.0, 1.0))
    assert phantom.startswith("model m was trained on synthetic phantoms only")
    [untrained] = out_of_domain_warnings({"domain": "untrained", "trained_on": "nothing"}, "m", plain, (1, 1, 1))
    assert untrained == "model m has untrained (random) weights: its outputs mean nothing"
    # A bundle's meta is editable JSON: a malformed limit is said, not a crash of the whole batch.
    [malformed] = out_of_domain_warnings({**real, "max_input_spacing_mm": [1.5, 2.0]}, "m", plain, (1, 1, 1))
    assert "malformed max_input_spacing_mm" in malformed


def test_a_field_of_view_far_wider_than_the_training_scans_is_out_of_domain(tmp_path):
    plain = _case(tmp_path / "r", None)
    real = {"domain": "real LGE MRI", "trained_on": "LASC 2018", "max_field_of_view_mm": [100, 110, 152.5]}
    spacing = (0.625, 0.625, 1.25)
    assert out_of_domain_warnings(real, "m", plain, spacing, (152.5, 100, 110)) == []  # its own crops
    assert out_of_domain_warnings(real, "m", plain, spacing, (190, 125, 137)) == []  # within 1.25x on every axis
    [wide] = out_of_domain_warnings(real, "m", plain, spacing, (360, 360, 110))  # a whole-chest field of view
    assert wide.startswith("a field of view of 360 x 360 x 110 mm is far wider than model m's training scans")
    assert "(at most 100 x 110 x 152.5 mm)" in wide and wide.endswith("crop the scan around the heart first")
    # compared sorted: a scan with its long axis elsewhere is the same field of view
    assert out_of_domain_warnings(real, "m", plain, spacing, (110, 152.5, 100)) == []
    # only the sorted widest axis too wide: still out
    assert len(out_of_domain_warnings(real, "m", plain, spacing, (100, 110, 200))) == 1
    # nothing to judge against, or nothing given: no warning; a malformed limit is said
    assert out_of_domain_warnings({**real, "max_field_of_view_mm": None}, "m", plain, spacing, (999, 999, 999)) == []
    assert out_of_domain_warnings(real, "m", plain, spacing, None) == []
    [malformed] = out_of_domain_warnings({**real, "max_field_of_view_mm": [1, 2]}, "m", plain, spacing, (1, 1, 1))
    assert "malformed max_field_of_view_mm" in malformed
