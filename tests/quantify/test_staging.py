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


@pytest.mark.parametrize(
    ("burden", "printed"),
    [
        (12.34, "12.3"),  # far from a boundary: one decimal
        (5.04, "5.04"),  # Utah II (over 5); "5.0" would read as Utah I
        (19.96, "19.96"),  # DECAAF II (under 20); "20.0" would read as DECAAF III
        (20.0, "20.0"),  # on the boundary itself: one decimal says it exactly
        (5.0004, "5.0004"),
        (0.0, "0.0"),
        (100.0, "100.0"),
    ],
)
def test_a_printed_burden_falls_in_the_stage_of_the_exact_one(burden, printed):
    from atrialjsq.quantify.staging import burden_text

    assert burden_text(burden) == printed
    assert stages(float(printed)) == stages(burden)
