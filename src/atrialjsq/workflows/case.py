"""The last step every workflow shares: analyse one case's scar on the surface and write its folder.

Nothing here imports torch: an output worker process (`workflows.output_pool`) imports this module to finish a
case that the network half predicted in the main process.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

from atrialjsq.errors import InputError
from atrialjsq.io import Volume
from atrialjsq.quantify.analysis import CaseAnalysis, Provenance, analyse_case
from atrialjsq.quantify.burden import Burden
from atrialjsq.quantify.surface_scar import SurfaceScar, scar_from_probabilities
from atrialjsq.report.outputs import write_case_outputs
from atrialjsq.surface.mesh import NothingToMeshError


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
    content: tuple[slice, slice, slice] | None = None,
) -> tuple[CaseAnalysis, list[str]]:
    """`quantify.analysis.analyse_case`, then `report.outputs.write_case_outputs`; returns the analysis and the
    warnings report.json records."""
    analysis = analyse_case(image, result, provenance, regional=regional, content=content)
    report = write_case_outputs(
        out_dir, analysis, probability_maps, figure=figure, replace=replace, dicom_source=dicom_source
    )
    return analysis, list(report["warnings"])


@dataclass(frozen=True)
class CaseOptions:
    """Which outputs a case gets, and whether its folder may be written into when it exists."""

    probability_maps: bool = False
    figure: bool = True
    regional: bool = True
    replace: bool = False
    dicom_seg: bool = True


@dataclass
class PendingCase:
    """A case whose network half is done: everything the rest needs, picklable, so that an output worker process
    can finish it while the network predicts the next case."""

    case_id: str
    source: str
    out_dir: Path
    image: Volume
    la: Volume  # the network's LA mask and distance probability maps, on the image's grid
    p_normal: Volume
    p_scar: Volume
    provenance: Provenance
    probability_maps: dict[str, Volume] | None
    options: CaseOptions
    dicom_source: Path | None
    content: tuple[slice, slice, slice] | None = None  # the image without constant padding (None: found again)


def finish_case(pending: PendingCase) -> CaseOutcome:
    """The scar on the LA surface (`quantify`), the analysis and every output file of a case, in this process or
    an output worker; the outcome's timings run to `quantify`, its "total" is left to the caller, who saw the
    case start."""
    started = time.perf_counter()
    try:
        result = scar_from_probabilities(pending.la, pending.p_normal, pending.p_scar)
    except NothingToMeshError:  # a few stray voxels called LA: this case fails, the batch goes on
        volume_ml = pending.la.array.astype(bool).sum() * pending.la.geometry.voxel_volume_mm3 / 1e3
        raise InputError(
            pending.source, f"the predicted LA ({volume_ml:.2g} mL) is too small to have a surface: no LA found"
        ) from None
    provenance = dataclasses.replace(pending.provenance, timings={**pending.provenance.timings})
    provenance.timings["quantify"] = time.perf_counter() - started
    analysis, warnings = analyse_and_write(
        pending.out_dir,
        pending.image,
        result,
        provenance,
        pending.probability_maps,
        figure=pending.options.figure,
        regional=pending.options.regional,
        replace=pending.options.replace,
        dicom_source=pending.dicom_source,
        content=pending.content,
    )
    timings = dict(provenance.timings)
    return CaseOutcome(pending.case_id, pending.source, pending.out_dir, analysis.burden, None, timings, warnings)
