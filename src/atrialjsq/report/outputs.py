"""One case folder of outputs, identical for `atrialjsq predict` and `atrialjsq quantify`: the files of a
`quantify.analysis.CaseAnalysis` (this module renders; it computes no number of its own).

Files (all volumes on the input image's exact grid: shape, spacing, origin, direction):

- ``LA_predict.nii.gz``: LA cavity, uint8 {0 background, 1 LA};
- ``scar_predict.nii.gz``: scar, uint8 {0, 1}: the wall-band voxels whose LA surface decision is scar.
  These are LAScarQS's submission names; its evaluation binarises the LA label (> 0.5) and projects any
  nonzero scar voxel onto the LA surface itself, so 0/1 labels are what it reads;
- ``prob_<name>.nii.gz`` (on request): float32 probability maps, e.g. prob_la, prob_normal, prob_scar;
- ``mesh.vtk`` and ``mesh.ply``: the LA surface in physical mm with per-vertex ``scar_probability``,
  ``scar_label``, ``scar_score`` and ``region`` (the index into report.json's ``regional.region_codes``)
  (ParaView / 3D Slicer);
- ``report.json`` (see `report_json`; its ``regional`` section from `atrialjsq.quantify.breakdown`),
  ``report.png`` (see `figures`) and ``scar_map.png``, the flattened LA (see `scar_map`; not written when no
  mitral ring was found or the map could not be drawn, and report.json says why; nor with figure=False or
  regional=False).

Everything is written into a temporary sibling folder whose files replace those of `out_dir` only when all
files are done, so a failure leaves no partial case behind. Only these files are replaced (and stale ones of
them removed, e.g. probability maps of an earlier run): anything else a user put in `out_dir` is kept. Replacing
an earlier run's files takes one rename each: report.json, the mark of a finished case, goes first and comes back
last, so a run killed between the renames leaves a folder that `--skip-existing` calls unfinished.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from atrialjsq.errors import InputError
from atrialjsq.io import Volume, atomic_output, write_volume
from atrialjsq.quantify.analysis import CaseAnalysis
from atrialjsq.quantify.burden import Burden
from atrialjsq.quantify.regions import REGIONS
from atrialjsq.quantify.staging import burden_text
from atrialjsq.report.dicom_seg import SEG_FILE, write_dicom_seg
from atrialjsq.report.figures import render_report_figure
from atrialjsq.report.html_view import HTML_FILE, write_report_html
from atrialjsq.report.report_json import build_report, write_report_json
from atrialjsq.report.scar_map import render_scar_map
from atrialjsq.surface.mesh import write_mesh

LA_FILE = "LA_predict.nii.gz"
SCAR_FILE = "scar_predict.nii.gz"
MESH_FILES = ("mesh.vtk", "mesh.ply")
REPORT_JSON = "report.json"
REPORT_PNG = "report.png"
SCAR_MAP_PNG = "scar_map.png"


def is_case_output(name: str) -> bool:
    """Whether a file name in a case folder is one this module writes (the only files it may replace)."""
    if name in (LA_FILE, SCAR_FILE, *MESH_FILES, REPORT_JSON, REPORT_PNG, SCAR_MAP_PNG, SEG_FILE, HTML_FILE):
        return True
    return name.startswith("prob_") and name.endswith(".nii.gz")


def write_case_outputs(
    out_dir: str | Path,
    analysis: CaseAnalysis,
    probability_maps: dict[str, Volume] | None = None,
    *,
    figure: bool = True,
    replace: bool = True,
    dicom_source: str | Path | None = None,
) -> dict[str, Any]:
    """Write the whole case folder of `analysis` atomically and return the report that went into report.json.

    `replace=False`: a case folder that appeared while this one was computed (another run) is left alone and
    `InputError` raised. `dicom_source` (the input's DICOM series folder) adds segmentation.dcm (`dicom_seg`);
    if it cannot be written the rest is, and report.json's warnings say why. The regional breakdown (and so
    scar_map.png) is written when the analysis has one.
    """
    started = time.perf_counter()
    image, result, burden = analysis.image, analysis.result, analysis.burden
    maps = dict(probability_maps or {})
    for name, volume in maps.items():
        problem = image.geometry.mismatch(volume.geometry)
        if problem is not None:
            raise ValueError(f"probability map {name!r} is not on the input image's grid ({problem})")
    timings = dict(analysis.timings)
    written_warnings: list[str] = []
    breakdown = analysis.regional
    with atomic_output(out_dir, owned=is_case_output, replace=replace, marker=REPORT_JSON) as tmp:
        # The input's own Geometry object, not the result's (equal within tolerance), so headers match exactly.
        write_volume(Volume(result.la.array > 0, image.geometry), tmp / LA_FILE, label=True)
        write_volume(Volume(result.scar.array > 0, image.geometry), tmp / SCAR_FILE, label=True)
        for name, volume in maps.items():
            write_volume(
                Volume(np.asarray(volume.array, dtype=np.float32), image.geometry), tmp / f"prob_{name}.nii.gz"
            )
        point_data = result.vertex_point_data()
        if breakdown is not None:
            codes = {name: code for code, name in enumerate(REGIONS)}
            point_data["region"] = np.array([codes[name] for name in breakdown.regions], dtype=np.int32)
        for name in MESH_FILES:
            write_mesh(result.mesh, tmp / name, point_data)
        if dicom_source is not None:  # before the figure, so that a SEG that fails is among its warnings
            seg_started = time.perf_counter()
            try:
                model = {"name": analysis.provenance.model, "version": analysis.provenance.model_version}
                write_dicom_seg(tmp / SEG_FILE, dicom_source, result.la, result.scar, model)
            except (InputError, ValueError, AttributeError, TypeError) as error:  # a source lacking what SEG needs
                written_warnings.append(f"{SEG_FILE} not written: {error}")
            timings["dicom_seg"] = time.perf_counter() - seg_started
        if figure:
            figure_started = time.perf_counter()
            render_report_figure(tmp / REPORT_PNG, image, result, burden, _annotations(analysis, written_warnings))
            if breakdown is not None and breakdown.flat_uv is not None:
                title = f"{analysis.provenance.case_id or 'LA'}: scar map (posterior view: patient left on the left)"
                if not burden.staged:  # the map's burdens per region are as untrustworthy as the headline
                    title += f"\nNOT STAGED: {burden.not_staged_reason}; see report.json warnings"
                render_scar_map(
                    tmp / SCAR_MAP_PNG,
                    result.mesh,
                    breakdown,
                    result.vertex_label,
                    title,
                    analysis.unsure,
                    _range_text(burden),
                )
            timings["figure"] = time.perf_counter() - figure_started
        # Each stage once: `files` is the volumes and meshes (and the report below), not the figures or the SEG.
        nested = timings.get("figure", 0.0) + timings.get("dicom_seg", 0.0)
        timings["files"] = time.perf_counter() - started - nested
        report = build_report(analysis, timings, written_warnings)
        if figure:  # the page shows report.json's numbers (its own time goes into report.json after it)
            html_started = time.perf_counter()
            landmarks = {} if breakdown is None else {n: m.ostium_mm for n, m in breakdown.landmarks.found.items()}
            regions = None if breakdown is None else breakdown.regions
            write_report_html(
                tmp / HTML_FILE, result.mesh, result.vertex_probability, result.vertex_label, report, regions, landmarks
            )
            report["timings_s"]["html"] = round(time.perf_counter() - html_started, 3)
        write_report_json(report, tmp / REPORT_JSON)
    return report


def _range_text(burden: Burden) -> str:
    """The burden range for the scar map's side panel (numbers only: its stages stay in report.json)."""
    span = burden.burden_range
    if span is None:
        return ""
    return (
        f"call unsure on {span.unsure_area_percent:.1f} % of the surface: burden {burden_text(span.low_percent)}–"
        f"{burden_text(span.high_percent)} % with it all wall / all scar"
    )


def _annotations(analysis: CaseAnalysis, written_warnings: list[str]) -> dict[str, Any]:
    """What report.png prints besides the numbers: case, model, its training domain, every warning of the case
    (those from writing its files, such as a DICOM SEG that could not be written, included)."""
    provenance = analysis.provenance
    return {
        "case_id": provenance.case_id,
        "model": provenance.model,
        "trained_on": (provenance.model_meta or {}).get("trained_on"),
        "warnings": [*analysis.warnings, *written_warnings],
    }
