"""How firmly the surface was called scar or normal, and how far the burden moves if the unsure part flips.

Each surface element of a graded method (`SurfaceScar.graded`: the network, LearnGC; not the classic
threshold methods, whose "probability" is their yes/no class read through interpolation) carries a
probability of scar (for AtrialJSQnet Σp_scar / (Σp_scar + Σp_normal) along the normal, 0.5 being the
paper's decision boundary). An element within `margin` of 0.5 is *unsure*: its label rests on a small
difference of evidence. The burden range counts, at the low end, only the scar elements that are sure, and at
the high end every scar element plus every unsure normal one, so it always brackets the burden, whatever the
method's decision rule (LearnGC's graph cut may label against an element's own probability).

This is a sensitivity range of the decision, not a confidence interval: the probabilities are not calibrated
and the margin (0.15) is a convention of this package, not a published one. Its use is the question a reader
asks of a burden near a stage boundary: would the stage change if the unsure part went the other way?
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from atrialjsq.quantify.staging import burden_text, stages
from atrialjsq.surface.mesh import Mesh, mesh_area_mm2

UNSURE_MARGIN = 0.15


@dataclass(frozen=True)
class BurdenRange:
    """The unsure share of the surface (area %) and the burden (%) with the unsure part all normal / all scar."""

    margin: float
    unsure_area_percent: float
    low_percent: float
    high_percent: float

    def stage_ranges(self) -> dict[str, str]:
        """Each convention's stage at both ends ("II", or "II–III" when the ends differ)."""
        low, high = stages(self.low_percent), stages(self.high_percent)
        return {name: low[name] if low[name] == high[name] else f"{low[name]}–{high[name]}" for name in low}

    @property
    def stage_open(self) -> bool:
        """Whether the two ends get different stages under either convention."""
        return stages(self.low_percent) != stages(self.high_percent)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stages": self.stage_ranges()}


def unsure_vertices(vertex_probability: np.ndarray, margin: float = UNSURE_MARGIN) -> np.ndarray:
    """Per element: is its scar probability within `margin` of 0.5 (bool)?"""
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"margin must lie in [0, 0.5), got {margin}")
    return np.abs(np.asarray(vertex_probability, dtype=np.float64).reshape(-1) - 0.5) < margin


def burden_range(
    mesh: Mesh, vertex_probability: np.ndarray, vertex_label: np.ndarray, margin: float = UNSURE_MARGIN
) -> BurdenRange:
    """The burden range of one surface (area-weighted on the mesh, as the burden itself)."""
    unsure = unsure_vertices(vertex_probability, margin)
    label = np.asarray(vertex_label, dtype=bool).reshape(-1)
    if len(unsure) != mesh.n_vertices or len(label) != mesh.n_vertices:
        raise ValueError(
            f"need one probability and one label per vertex ({mesh.n_vertices}), got {len(unsure)} and {len(label)}"
        )
    total = mesh_area_mm2(mesh)

    def percent(weights: np.ndarray) -> float:
        # (a part summed apart from the whole can exceed it in the last bit: 100 * t / t = 100.00000000000001)
        return min(100.0 * mesh_area_mm2(mesh, weights.astype(np.float64)) / total, 100.0) if total > 0 else 0.0

    return BurdenRange(margin, percent(unsure), percent(label & ~unsure), percent(label | unsure))


def range_caveat(span: BurdenRange) -> str | None:
    """The caveat when the unsure part could change a stage (None when both ends get the same stages)."""
    if not span.stage_open:
        return None
    ranges = span.stage_ranges()
    return (
        f"the scar call is unsure on {span.unsure_area_percent:.1f} % of the surface (probability within "
        f"{span.margin:g} of 0.5): the burden could be {burden_text(span.low_percent)}–"
        f"{burden_text(span.high_percent)} %, Utah "
        f"{ranges['utah']}, DECAAF {ranges['decaaf']}"
    )
