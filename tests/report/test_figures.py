"""report.png's reading aids: patient directions from the direction cosines, a scale bar, case and model."""

import matplotlib
import pytest

from atrialjsq.quantify.burden import compute_burden
from atrialjsq.quantify.surface_scar import scar_from_probabilities
from atrialjsq.report.figures import (
    MAX_WARNING_LINES,
    build_report_figure,
    footer_text,
    orientation_letter,
    scale_bar_mm,
)
from quantify.scar_phantoms import cap_phantom

matplotlib.use("Agg")
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
# Index x runs to physical -y (anterior), index y to +x (left), index z to -z (inferior).
ROTATED = (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def test_orientation_letters_follow_the_direction_cosines():
    assert [orientation_letter(IDENTITY, axis) for axis in range(3)] == ["L", "P", "S"]
    assert [orientation_letter(IDENTITY, axis, -1) for axis in range(3)] == ["R", "A", "I"]
    assert [orientation_letter(ROTATED, axis) for axis in range(3)] == ["A", "L", "I"]
    oblique = (0.9, -0.44, 0.0, 0.44, 0.9, 0.0, 0.0, 0.0, 1.0)  # 26° about z: x still mostly left
    assert orientation_letter(oblique, 0) == "L" and orientation_letter(oblique, 1) == "P"


@pytest.mark.parametrize(("width", "expected"), [(30, 5), (60, 10), (110, 20), (260, 50)])
def test_scale_bar_is_a_round_fifth_of_the_panel(width, expected):
    assert scale_bar_mm(width) == expected


def _texts(figure):
    found = [t.get_text() for t in figure.texts]
    for ax in figure.axes:
        found += [t.get_text() for t in ax.texts]
    return found


def test_figure_has_directions_scale_bars_and_the_footer():
    phantom = cap_phantom(radius_mm=18.0, spacing=(1.5, 1.5, 1.5), direction=ROTATED)
    result = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)
    annotations = {
        "case_id": "case42",
        "model": "demo-net",
        "trained_on": "40 synthetic phantoms",
        "warnings": ["model demo-net was trained on synthetic phantoms only"],
    }
    figure = build_report_figure(phantom.image, result, compute_burden(result), annotations)
    try:
        axial, coronal = figure.axes[:2]
        axial_letters = sorted(t.get_text() for t in axial.texts)
        coronal_letters = sorted(t.get_text() for t in coronal.texts)
        # The file's index x runs anterior, y left, z inferior; the panels show it turned to LPS, so axial has
        # R..L across and A..P down, and coronal R..L across and I..S up, as for an axis-aligned scan.
        assert axial_letters == sorted(["A", "P", "L", "R"])
        assert coronal_letters == sorted(["L", "R", "I", "S"])
        edges = {tuple(t.get_position()): t.get_text() for t in axial.texts}
        assert (edges[(0.98, 0.5)], edges[(0.02, 0.5)]) == ("L", "R")  # radiological: patient left on the right
        for ax in (axial, coronal):
            bars = [a for a in ax.artists if type(a).__name__ == "AnchoredSizeBar"]
            assert len(bars) == 1 and bars[0].txt_label.get_text().endswith(" mm")
        texts = " ".join(_texts(figure))
        assert "case case42" in texts and "model demo-net (trained on 40 synthetic phantoms)" in texts
        assert "research use only" in texts
        warning = next(t for t in figure.texts if t.get_text().startswith("WARNING"))
        assert "synthetic phantoms only" in warning.get_text() and warning.get_color() == "#c00000"
    finally:
        matplotlib.pyplot.close(figure)


def test_footer_without_model_still_says_research_use():
    assert footer_text(None).startswith("research use only")
    assert footer_text({"case_id": "x"}).startswith("case x")


def test_more_warnings_than_the_figure_holds_point_to_report_json_and_the_title_says_why_unstaged():
    phantom = cap_phantom(radius_mm=18.0, spacing=(1.5, 1.5, 1.5))
    result = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)
    burden = compute_burden(result)
    burden.untrusted = ["model outside"]
    eight = [f"warning number {i}" for i in range(8)]
    figure = build_report_figure(phantom.image, result, burden, {"warnings": eight})
    try:
        [block] = [t.get_text() for t in figure.texts if t.get_text().startswith("WARNING")]
        lines = block.splitlines()
        assert len(lines) == MAX_WARNING_LINES
        assert lines[:-1] == [f"WARNING: warning number {i}" for i in range(MAX_WARNING_LINES - 1)]
        assert lines[-1] == f"... and {8 - (MAX_WARNING_LINES - 1)} more warning(s): see report.json"
        assert "not staged (model outside its training domain)" in figure._suptitle.get_text()
    finally:
        matplotlib.pyplot.close(figure)


def test_long_warnings_and_footer_are_wrapped_whole_not_cut():
    """Reported by a user: report.png cut its footer and warning lines ("each …", "check the …")."""
    phantom = cap_phantom(radius_mm=18.0, spacing=(1.5, 1.5, 1.5))
    result = scar_from_probabilities(phantom.la, phantom.p_normal, phantom.p_scar)
    long = "the LA touches the image border over 340 mm2: " + " ".join(f"word{i}" for i in range(40)) + " check the end"
    trained = "all 80 cases, " + " ".join(f"detail{i}" for i in range(30)) + " each twice"
    annotations = {"warnings": [long], "model": "m", "trained_on": trained, "case_id": "c"}
    figure = build_report_figure(phantom.image, result, compute_burden(result), annotations)
    try:
        texts = [t.get_text() for t in figure.texts]
        [block] = [t for t in texts if t.startswith("WARNING")]
        assert len(block.splitlines()) >= 2 and " ".join(block.split()) == f"WARNING: {long}"
        [footer] = [t for t in texts if t.startswith("case c")]
        assert len(footer.splitlines()) >= 2 and "detail29 each twice" in " ".join(footer.split())
        assert "…" not in footer and "..." not in block
    finally:
        matplotlib.pyplot.close(figure)


@pytest.mark.parametrize("z_up", [False, True])
def test_la_outline_lies_on_the_drawn_la_in_both_panel_orientations(z_up):
    """An L-shaped LA (asymmetric top to bottom) drawn as its own image: every vertex of the outline has LA and
    background pixels of what imshow drew within one pixel; an outline mirrored or shifted against it would not."""
    import matplotlib.pyplot as plt
    import numpy as np

    from atrialjsq.report.figures import _draw_slice

    la = np.zeros((40, 30), dtype=bool)  # indexed (x, y): drawn transposed, rows = y
    la[8:14, 4:26] = True  # a long bar ...
    la[8:32, 20:26] = True  # ... and its foot at one end only
    figure, ax = plt.subplots()
    _draw_slice(ax, la.astype(float), la, np.zeros(la.shape), (1.0, 1.0), "axial", z_up, (0.0, 1.0))
    drawn_la = np.pad(np.asarray(ax.images[0].get_array()) > 0.5, 1)  # rows and columns as imshow placed them
    vertices = np.concatenate([path.vertices for path in ax.collections[-1].get_paths()])
    assert len(vertices) > 20
    for x, y in vertices:
        r, c = round(float(y)) + 1, round(float(x)) + 1
        near = drawn_la[r - 1 : r + 2, c - 1 : c + 2]
        assert near.any() and not near.all(), (x, y)
    plt.close(figure)
