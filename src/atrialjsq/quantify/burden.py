"""Scar burden: the share of the LA surface that is scar, with the LA volume and area it is reported with.

The primary burden is area-weighted on the mesh: each triangle counts by the share of its three vertices that
are scar (equivalently, each vertex stands for a third of every triangle around it), so burden = scar area /
LA surface area × 100, independent of how unevenly marching cubes spreads its vertices. The surface-voxel
fraction (scar surface voxels / surface voxels, the paper's and LAScarQS's representation) is reported next
to it; a voxel grid over-counts surfaces facing its finest axes (e.g. the z-facing roof on 0.625 × 0.625 ×
1.25 mm voxels), so it is a cross-check, not the headline number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from atrialjsq.data.plausibility import border_problem, implausible_results, spacing_caveat
from atrialjsq.io import Volume
from atrialjsq.quantify.confidence import BurdenRange, burden_range, range_caveat
from atrialjsq.quantify.staging import stages
from atrialjsq.quantify.surface_scar import SurfaceScar
from atrialjsq.surface.mesh import Mesh, mesh_area_mm2

MM3_PER_ML = 1000.0
MM2_PER_CM2 = 100.0


def area_fraction(mesh: Mesh, vertex_label: np.ndarray) -> float:
    """Area-weighted fraction (0..1) of the mesh whose vertices are labelled True."""
    total = mesh_area_mm2(mesh)
    # (a part summed apart from the whole can exceed it in the last bit: the share is capped at 1)
    return min(mesh_area_mm2(mesh, np.asarray(vertex_label, dtype=np.float64)) / total, 1.0) if total > 0 else 0.0


def la_volume_ml(la: Volume) -> float:
    """LA volume in mL from the voxel count and the voxel volume."""
    return float(np.count_nonzero(la.array)) * la.geometry.voxel_volume_mm3 / MM3_PER_ML


@dataclass
class Burden:
    """The numbers report.json carries about the LA and its scar."""

    la_volume_ml: float
    surface_area_cm2: float
    scar_area_cm2: float
    burden_percent: float
    voxel_burden_percent: float
    surface_voxels: int
    scar_surface_voxels: int
    utah_stage: str
    decaaf_stage: str
    burden_at_thresholds: dict[str, float]
    implausible: list[str] = field(default_factory=list)  # results outside the physiological ranges
    untrusted: list[str] = field(default_factory=list)  # e.g. a model used outside its training domain
    caveats: list[str] = field(default_factory=list)  # to read the numbers with (e.g. an LA cut by the border)
    burden_range: BurdenRange | None = None  # the burden with the unsure surface all normal / all scar

    def reading_caveats(self) -> list[str]:
        """The caveats, plus the unsure surface's when it could change a stage (only said of a staged case: an
        unstaged one must not be given a stage range either)."""
        unsure = range_caveat(self.burden_range) if self.burden_range is not None and self.staged else None
        return [*self.caveats, *([unsure] if unsure else [])]

    def range_record(self) -> dict | None:
        """`burden_range` as report.json carries it (its stages only when the case is staged)."""
        if self.burden_range is None:
            return None
        record = self.burden_range.to_dict()
        if not self.staged:
            record.pop("stages")
        return record

    @property
    def staged(self) -> bool:
        """An implausible LA (wrong segmentation or input), or a model used outside its training domain, gets no
        stage: a stage would look like an answer."""
        return not self.implausible and not self.untrusted

    @property
    def not_staged_reason(self) -> str:
        """Why there is no stage, in a few words ("" when staged)."""
        reasons = (["model outside its training domain"] if self.untrusted else []) + (
            ["implausible result"] if self.implausible else []
        )
        return " and ".join(reasons)

    def stage_text(self) -> str:
        """The stages as text ("Utah II, DECAAF II"), or why there is none."""
        if not self.staged:
            return f"Utah/DECAAF not staged: {self.not_staged_reason}"
        return f"Utah {self.utah_stage}, DECAAF {self.decaaf_stage}"

    def to_dict(self) -> dict:
        """The numbers as a dict; the stages are None when the case is not staged (no stage leaks out)."""
        record = asdict(self)
        record["burden_range"] = self.range_record()
        if not self.staged:
            record["utah_stage"] = record["decaaf_stage"] = None
        return record


def compute_burden(result: SurfaceScar, content: tuple[slice, slice, slice] | None = None) -> Burden:
    """Volume, area, scar area, burden (mesh and voxel), both stagings, and burdens at other cut-offs.

    `content` is the image's box without its constant padding (`data.preprocess.content_box`): an LA cut off
    where the acquired slab ends touches that box, not the padded array's faces."""
    total_mm2 = mesh_area_mm2(result.mesh)
    scar_mm2 = mesh_area_mm2(result.mesh, result.vertex_label.astype(np.float64))
    burden = min(100.0 * scar_mm2 / total_mm2, 100.0) if total_mm2 > 0 else 0.0  # (float: see area_fraction)
    n_points = len(result.points)
    n_scar = int(np.count_nonzero(result.point_label))
    at_thresholds = {
        name: 100.0 * area_fraction(result.mesh, labels) for name, labels in result.alternative_labels.items()
    }
    staged = stages(min(max(burden, 0.0), 100.0))
    volume_ml = la_volume_ml(result.la)
    return Burden(
        la_volume_ml=volume_ml,
        surface_area_cm2=total_mm2 / MM2_PER_CM2,
        scar_area_cm2=scar_mm2 / MM2_PER_CM2,
        burden_percent=burden,
        voxel_burden_percent=100.0 * n_scar / n_points if n_points else 0.0,
        surface_voxels=n_points,
        scar_surface_voxels=n_scar,
        utah_stage=staged["utah"],
        decaaf_stage=staged["decaaf"],
        burden_at_thresholds=at_thresholds,
        implausible=implausible_results(volume_ml, total_mm2 / MM2_PER_CM2),
        caveats=[
            c
            for c in (
                spacing_caveat(result.la.geometry),
                border_problem(
                    result.la.array if content is None else result.la.array[content], result.la.geometry.spacing
                ),
            )
            if c
        ],
        burden_range=burden_range(result.mesh, result.vertex_probability, result.vertex_label)
        if result.graded
        else None,
    )
