"""An image and a given LA mask in, a case folder out: classic scar quantification on the LA surface.

The same analysis and outputs as `workflows.predict` (`workflows.case`), with the scar from a classic method
(IIR, Otsu, MGMM, mean + k·SD) or a LearnGC classifier instead of the network. The LA mask must lie on the image's
grid and be binary: {0, 1} or {0, 255} (any numeric type; a mask holding only one of those values besides 0 is
fine, an empty one is not).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atrialjsq.data.image_sanity import check_image_values
from atrialjsq.data.layouts import BINARY_MASK_VALUES
from atrialjsq.data.plausibility import check_field_of_view
from atrialjsq.errors import InputError
from atrialjsq.io import Volume, read_volume
from atrialjsq.io.image_io import is_dicom_dir
from atrialjsq.quantify.analysis import Provenance
from atrialjsq.quantify.baselines import iir_intensity_problem, scar_from_image
from atrialjsq.quantify.learngc import LearnGCClassifier, scar_by_learngc
from atrialjsq.surface.mesh import NothingToMeshError
from atrialjsq.workflows.case import CaseOutcome, analyse_and_write

METHODS = ("iir", "otsu", "mgmm", "msd", "learngc")


@dataclass
class QuantifyOptions:
    """How to call scar: the method and its parameters (`quantify.baselines`, `quantify.learngc`)."""

    method: str
    classifier: Path | None = None  # learngc only: a file from `atrialjsq learngc-train`
    iir_threshold: float = 1.32
    k: float = 3.0

    def check(self) -> None:
        if self.method not in METHODS:
            raise InputError(None, f"method {self.method!r}: one of {', '.join(METHODS)}")
        if self.method == "learngc" and self.classifier is None:
            raise InputError(None, "--method learngc needs --classifier (train one with `atrialjsq learngc-train`)")
        if self.method != "learngc" and self.classifier is not None:
            raise InputError(None, f"--classifier goes with --method learngc, not {self.method}")


def check_la_mask(la: Volume, image: Volume, la_path: Path) -> None:
    """Refuse a mask that is off the image's grid, empty, or not a binary label; InputError names the file."""
    problem = image.geometry.mismatch(la.geometry)
    if problem is not None:
        raise InputError(la_path, f"LA mask is not on the image's grid: {problem}")
    values = set(np.unique(la.array).tolist())
    if not values - {0}:
        raise InputError(la_path, "LA mask is empty")
    if not any(values <= accepted for accepted in BINARY_MASK_VALUES):
        shown = ", ".join(f"{v:g}" for v in sorted(values)[:6]) + (", ..." if len(values) > 6 else "")
        raise InputError(la_path, f"LA mask must be binary, {{0, 1}} or {{0, 255}}; found values {shown}")


def quantify_file(
    image_path: Path,
    la_path: Path,
    out: Path,
    options: QuantifyOptions,
    *,
    figure: bool = True,
    regional: bool = True,
    dicom_seg: bool = True,
) -> CaseOutcome:
    """Quantify scar on the surface of `la_path` in `image_path` and write the case folder `out` (its outputs
    replaced, other files kept: the caller decides whether an existing folder may be written into)."""
    options.check()
    classifier = None
    if options.classifier is not None:
        classifier = LearnGCClassifier.load(options.classifier)
    started = time.perf_counter()
    image = read_volume(image_path)
    check_field_of_view(image.geometry, image_path)  # as predict: a grid that cannot hold an LA is refused
    check_image_values(image.array, image.geometry, image_path)  # ... and a mask, CT or noise given as the image
    la = read_volume(la_path)
    check_la_mask(la, image, la_path)
    problem = iir_intensity_problem(image.array) if options.method == "iir" else None
    if problem is not None:
        raise InputError(image_path, problem)
    loaded = time.perf_counter()
    try:
        if classifier is not None:
            result = scar_by_learngc(image, la, classifier)
        else:
            result = scar_from_image(image, la, options.method, iir_threshold=options.iir_threshold, k=options.k)
    except InputError as error:  # the library names its inputs "<image>" and "<LA mask>": give the user's paths
        paths = {"<image>": image_path, "<LA mask>": la_path}
        raise (InputError(paths[error.path], error.reason) if error.path in paths else error) from None
    except NothingToMeshError:
        volume_ml = np.count_nonzero(la.array) * la.geometry.voxel_volume_mm3 / 1e3
        raise InputError(la_path, f"LA mask too small to have a surface ({volume_ml:.3g} mL)") from None
    timings = {"read": loaded - started, "quantify": time.perf_counter() - loaded}
    provenance = Provenance(
        case_id=out.name,
        method=options.method,
        model=f"learngc:{options.classifier}" if classifier is not None else f"classic:{options.method}",
        inputs={"image": str(image_path), "la": str(la_path)},
        timings=timings,
    )
    analysis, warnings = analyse_and_write(
        out,
        image,
        result,
        provenance,
        figure=figure,
        regional=regional,
        dicom_source=image_path if dicom_seg and is_dicom_dir(image_path) else None,
    )
    timings = {**analysis.timings, "total": time.perf_counter() - started}
    return CaseOutcome(out.name, str(image_path), out, analysis.burden, None, timings, warnings)
