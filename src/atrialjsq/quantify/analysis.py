"""One case's analysis as typed records: what `report/` renders, computed here and nowhere else.

`analyse_case` turns an image and its scar on the LA surface (`SurfaceScar`, from the network or a classic
method) into a `CaseAnalysis`: the burden with its range and stages, the regional breakdown (landmarks, regions,
rings, flat map) or why it is missing, and every caveat a reader must see. `Provenance` is where the result came
from: the method or model, the inputs, the timings and the caller's warnings (e.g. a model outside its training
domain, which withholds the stage). `report.outputs` writes both to files and computes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atrialjsq.data.preprocess import content_box
from atrialjsq.io import Volume
from atrialjsq.quantify.breakdown import RegionalScar, analyse_regions
from atrialjsq.quantify.burden import Burden, compute_burden
from atrialjsq.quantify.confidence import unsure_vertices
from atrialjsq.quantify.regions import REGIONS
from atrialjsq.quantify.surface_scar import SurfaceScar

NOT_COMPUTED = "not computed (--no-regional)"


@dataclass
class Provenance:
    """Where a case's result came from: what report.json records about it besides the numbers."""

    case_id: str | None = None
    method: str | None = None  # None: the SurfaceScar's own method
    model: str | None = None
    model_version: str | None = None
    model_meta: dict[str, Any] = field(default_factory=dict)  # what the model was trained on (its card)
    inputs: dict[str, Any] = field(default_factory=dict)  # paths, and what was assumed about them
    warnings: list[str] = field(default_factory=list)  # the caller's sentences for the reader
    untrusted: list[str] = field(default_factory=list)  # reasons to withhold the stage (e.g. out of domain)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage before the analysis
    details: dict[str, Any] = field(default_factory=dict)  # method-specific records (report.json "extra")


@dataclass
class CaseAnalysis:
    """The numbers of one case and the surfaces they were measured on."""

    image: Volume
    result: SurfaceScar
    burden: Burden
    provenance: Provenance
    regional: RegionalScar | None = None
    regional_unavailable: str | None = None  # why `regional` is None
    timings: dict[str, float] = field(default_factory=dict)  # the provenance's, plus the analysis stages
    unsure: np.ndarray | None = None  # per vertex: probability too close to the cut to call (None: no probability)

    @property
    def warnings(self) -> list[str]:
        """Everything a reader must know before trusting the numbers: the caller's warnings, the caveats of the
        result (an LA cut by the border, an unsure surface that could change the stage), then the results
        outside the physiological ranges."""
        return case_warnings(self.burden, self.provenance.warnings)

    @property
    def method(self) -> str:
        return self.provenance.method or self.result.method

    def regional_record(self) -> dict[str, Any]:
        """report.json's `regional` section: the breakdown with its region codes, or why there is none."""
        if self.regional is None:
            return {"unavailable": self.regional_unavailable or NOT_COMPUTED}
        return {**self.regional.to_json(), "region_codes": list(REGIONS)}


def case_warnings(burden: Burden, caller: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The caller's warnings, the burden's reading caveats, then its implausible results, in that order."""
    implausible = (f"implausible result: {flag}" for flag in burden.implausible)
    return [*caller, *burden.reading_caveats(), *implausible]


def analyse_case(
    image: Volume,
    result: SurfaceScar,
    provenance: Provenance | None = None,
    *,
    regional: bool = True,
    content: tuple[slice, slice, slice] | None = None,
) -> CaseAnalysis:
    """Burden, range, stages and (unless `regional` is False) the regional breakdown of one case.

    The LA and scar must lie on the image's grid (ValueError otherwise). An LA the regional analysis cannot be
    read on (empty, a surface the Laplace solve cannot handle, anything unforeseen) gives the reason in
    `regional_unavailable` instead of failing: the case's LA, scar and burden stand without it.
    """
    for volume, what in ((result.la, "the LA mask"), (result.scar, "the scar label")):
        problem = image.geometry.mismatch(volume.geometry)
        if problem is not None:
            raise ValueError(f"{what} is not on the input image's grid ({problem})")
    provenance = provenance or Provenance()
    # (`content`: the image's box without constant padding, when the caller found it already)
    burden = compute_burden(result, content_box(image.array) if content is None else content)
    burden.untrusted = list(provenance.untrusted)
    unsure = unsure_vertices(result.vertex_probability) if result.graded else None
    analysis = CaseAnalysis(image, result, burden, provenance, timings=dict(provenance.timings), unsure=unsure)
    if not regional:
        return analysis
    started = time.perf_counter()
    try:
        analysis.regional = analyse_regions(image, result.la, result.mesh, result.vertex_label)
    except Exception as error:  # an auxiliary breakdown: never the reason a case fails
        analysis.regional_unavailable = f"regional analysis failed ({type(error).__name__}: {error})"
    analysis.timings["regional"] = time.perf_counter() - started
    return analysis
