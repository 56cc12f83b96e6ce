import pytest

from atrialjsq.quantify.staging import decaaf_stage, stages, utah_stage


@pytest.mark.parametrize(
    ("burden", "expected"),
    [(0.0, "I"), (5.0, "I"), (5.01, "II"), (20.0, "II"), (20.5, "III"), (35.0, "III"), (35.01, "IV"), (100, "IV")],
)
def test_utah_upper_bounds_are_inclusive(burden, expected):
    assert utah_stage(burden) == expected


@pytest.mark.parametrize(
    ("burden", "expected"),
    [(0.0, "I"), (9.99, "I"), (10.0, "II"), (19.9, "II"), (20.0, "III"), (29.99, "III"), (30.0, "IV"), (64, "IV")],
)
def test_decaaf_lower_bounds_are_inclusive(burden, expected):
    assert decaaf_stage(burden) == expected


def test_conventions_disagree_where_they_should():
    # 7 % is Utah II (above 5) but DECAAF I (below 10); 32 % is Utah III but DECAAF IV.
    assert stages(7.0) == {"utah": "II", "decaaf": "I"}
    assert stages(32.0) == {"utah": "III", "decaaf": "IV"}


@pytest.mark.parametrize("bad", [-1.0, 100.5, float("nan"), float("inf")])
def test_rejects_values_that_are_not_percentages(bad):
    with pytest.raises(ValueError, match="percentage"):
        utah_stage(bad)
    with pytest.raises(ValueError, match="percentage"):
        decaaf_stage(bad)
