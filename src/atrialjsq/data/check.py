"""Validate every case of a dataset before anything trains on it, collecting all problems instead of stopping.

Errors (the case cannot be used): unreadable or missing file, not 3D, NaN/Inf, implausible spacing, sheared
direction cosines, an image that is no MRI (a mask, CT-like values, noise: what `predict` refuses), label geometry
different from its image, unexpected label values, empty LA. Warnings (worth a look, not fatal): an LA volume
outside a plausible range, an LA cut by the image border, an empty scar label, label values a layout reads
but does not use (LAScarQS files holding e.g. {0, 3, 7}), a grid tilted far from the patient axes. The table
names each image's orientation (mixed orientations are fine: preprocessing turns every case to one).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from atrialjsq.data.image_sanity import intensity_problem
from atrialjsq.data.layouts import CaseRef, LabelValueWarning, index_dataset, read_image, read_label_file
from atrialjsq.data.plausibility import MAX_SPACING_MM, PLAUSIBLE_LA_ML, border_problem
from atrialjsq.errors import InputError
from atrialjsq.io.geometry import Geometry
from atrialjsq.io.orientation import OBLIQUE_WARNING_DEG, direction_problem, orientation_code, tilt_problem

SPACING_RANGE_MM = (0.1, MAX_SPACING_MM)  # predict refuses coarser voxels: a model trained on them is of no use


@dataclass
class CaseReport:
    """What `check_case` found for one case; `errors` and `warnings` name the file each problem is in."""

    case_id: str
    layout: str
    shape: tuple[int, ...] | None = None
    spacing: tuple[float, ...] | None = None
    orientation: str | None = None  # ITK letters of the image's axes, e.g. "LPS" (`io.orientation`)
    la_ml: float | None = None
    has_scar: bool = False
    errors: list[InputError] = field(default_factory=list)
    warnings: list[InputError] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "FAIL" if self.errors else ("warn" if self.warnings else "ok")


def _check_geometry(path: Path, geometry: Geometry) -> InputError | None:
    if min(geometry.shape) < 2:
        return InputError(path, f"not a 3D volume: shape {geometry.shape} has a single-voxel axis")
    low, high = SPACING_RANGE_MM
    if not all(low <= s <= high for s in geometry.spacing):
        return InputError(path, f"implausible spacing {geometry.spacing} mm (expected {low}-{high} mm)")
    sheared = direction_problem(geometry)
    return InputError(path, sheared) if sheared is not None else None


def _tilt_warning(path: Path, geometry: Geometry) -> InputError | None:
    tilted = tilt_problem(geometry)
    return InputError(path, f"{tilted} (over {OBLIQUE_WARNING_DEG:g}°)") if tilted is not None else None


def check_case(ref: CaseRef) -> CaseReport:
    """Read one case the way training would and record every problem found."""
    report = CaseReport(ref.case_id, ref.layout)
    geometry = None
    try:
        image = read_image(ref)
        geometry = image.geometry
        report.shape, report.spacing = geometry.shape, geometry.spacing
        problem = _check_geometry(ref.image_path, geometry)
        if problem is not None:
            report.errors.append(problem)
        else:
            # a mask, a CT or noise given as the image, as predict refuses it (not predict's memory check: this
            # machine's free memory says nothing of the data)
            not_mri = intensity_problem(image.array)
            if not_mri is not None:
                report.errors.append(InputError(ref.image_path, not_mri))
            report.orientation = orientation_code(geometry)
            tilted = _tilt_warning(ref.image_path, geometry)
            report.warnings.extend([tilted] if tilted is not None else [])
    except InputError as error:
        report.errors.append(error)
    for path in ref.label_files():
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", LabelValueWarning)
                labels = read_label_file(ref, path, geometry)
        except InputError as error:
            report.errors.append(error)
            continue
        for warning in caught:
            if isinstance(warning.message, LabelValueWarning):
                report.warnings.append(InputError(warning.message.path, warning.message.reason))
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        if "la" in labels:
            la = labels["la"]
            count = int(np.count_nonzero(la.array))
            report.la_ml = count * la.geometry.voxel_volume_mm3 / 1000.0
            if count == 0:
                report.errors.append(InputError(path, "LA label is empty"))
            elif not PLAUSIBLE_LA_ML[0] <= report.la_ml <= PLAUSIBLE_LA_ML[1]:
                report.warnings.append(
                    InputError(path, f"LA volume {report.la_ml:.1f} mL is outside {PLAUSIBLE_LA_ML} mL (spacing?)")
                )
            cut = border_problem(la.array, la.geometry.spacing) if count else None
            if cut is not None:  # its surface would include the cut face: a wall that is not there
                report.warnings.append(InputError(path, cut))
        if "scar" in labels:
            report.has_scar = True
            if not labels["scar"].array.any():
                report.warnings.append(InputError(path, "scar label is empty"))
    # One file can hold the image and the labels (LASC 2018's .h5): its problem is reported once, not per read.
    report.errors = list({str(error): error for error in report.errors}.values())
    return report


def check_dataset(root: str | Path, layout: str = "auto", spacing=None) -> list[CaseReport]:
    """Check every case under `root`; raises `InputError` only when no case can be found at all."""
    refs = index_dataset(root, layout, spacing)
    return [check_case(ref) for ref in tqdm(refs, desc="check-data", unit="case", disable=None)]


def format_table(reports: list[CaseReport]) -> str:
    """A plain text table, one row per case."""
    header = ("case", "layout", "shape", "spacing (mm)", "axes", "LA (mL)", "scar", "status")
    rows = [header]
    for report in reports:
        rows.append(
            (
                report.case_id,
                report.layout,
                "x".join(str(s) for s in report.shape) if report.shape else "-",
                "x".join(f"{s:g}" for s in report.spacing) if report.spacing else "-",
                report.orientation or "-",
                f"{report.la_ml:.1f}" if report.la_ml is not None else "-",
                "yes" if report.has_scar else "no",
                report.status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)
