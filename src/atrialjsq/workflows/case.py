"""The last step every workflow shares: analyse one case's scar on the surface and write its folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from atrialjsq.io import Volume
from atrialjsq.quantify.analysis import CaseAnalysis, Provenance, analyse_case
from atrialjsq.quantify.burden import Burden
from atrialjsq.quantify.surface_scar import SurfaceScar
from atrialjsq.report.outputs import write_case_outputs


@dataclass
class CaseOutcome:
    """What happened to one input: its folder and headline numbers, or the one-line error."""

    case_id: str
    source: str
    out_dir: Path | None = None
    burden: Burden | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what report.json records under "warnings"

    @property
    def ok(self) -> bool:
        return self.error is None


def analyse_and_write(
    out_dir: str | Path,
    image: Volume,
    result: SurfaceScar,
    provenance: Provenance,
    probability_maps: dict[str, Volume] | None = None,
    *,
    figure: bool = True,
    regional: bool = True,
    replace: bool = True,
    dicom_source: str | Path | None = None,
) -> tuple[CaseAnalysis, list[str]]:
    """`quantify.analysis.analyse_case`, then `report.outputs.write_case_outputs`; returns the analysis and the
    warnings report.json records."""
    analysis = analyse_case(image, result, provenance, regional=regional)
    report = write_case_outputs(
        out_dir, analysis, probability_maps, figure=figure, replace=replace, dicom_source=dicom_source
    )
    return analysis, list(report["warnings"])
