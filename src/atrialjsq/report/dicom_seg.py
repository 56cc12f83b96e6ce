"""segmentation.dcm: the LA and scar labels as a DICOM Segmentation object, for PACS, OHIF and 3D Slicer.

Written (with highdicom) when the input is a DICOM series: two binary segments, the left atrium cavity (SNOMED CT
82471001 "Left atrium", an anatomical structure) and atrial scar (12402003 "Scar", a morphologically abnormal
structure), each identified as made by this package's model (name, version; family "Artificial Intelligence").
The object references the source series' instances and lies on their frames: one segmentation frame per source
slice, in the source's own row/column order, so a viewer overlays it on the series it came from.

Volumes here are indexed (x, y, z) as `io.Volume`; DICOM frames are (rows, columns) with columns along the image
orientation's first direction (x) and rows along its second (y), so frame k is `mask[:, :, k].T`. Each source
slice finds its k from its Image Position (Patient) on the volume's grid, not from the file order.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from atrialjsq import __version__
from atrialjsq.errors import InputError
from atrialjsq.io.atomic import atomic_path
from atrialjsq.io.image_io import dicom_series_files
from atrialjsq.io.volume import Volume
from atrialjsq.report.colours import LA_RGB, SCAR_RGB

SEG_FILE = "segmentation.dcm"
SEGMENTS = (  # label, SNOMED CT category and type, recommended display colour (report.png's)
    ("Left atrium cavity", "AnatomicalStructure", "LeftAtrium", LA_RGB),
    ("Atrial scar", "MorphologicallyAbnormalStructure", "Scar", SCAR_RGB),
)


def _slice_indices(datasets: list, volume: Volume, folder: Path) -> list[int]:
    """Each source slice's z index on the volume's grid (from its position), checked to be on the grid."""
    indices = []
    for dataset in datasets:
        if "ImagePositionPatient" not in dataset:  # a multi-frame (enhanced) file keeps it per frame
            raise InputError(
                folder, "a multi-frame (enhanced) DICOM: segmentation.dcm is written for series of one-frame slices"
            )
        position = np.asarray([float(v) for v in dataset.ImagePositionPatient])
        index = volume.geometry.physical_to_index(position)
        k = int(np.rint(index[2]))
        if not np.allclose(index, [0.0, 0.0, k], atol=1e-2) or not 0 <= k < volume.geometry.shape[2]:
            raise InputError(folder, f"slice {dataset.SOPInstanceUID} does not lie on the volume's grid")
        indices.append(k)
    return indices


def write_dicom_seg(
    path: str | Path, source: str | Path, la: Volume, scar: Volume, model: Mapping[str, Any] | None = None
) -> Path:
    """Write the Segmentation of `la` and `scar` (on the grid read from the DICOM series folder `source`)."""
    import highdicom as hd  # DICOM SEG only: ~0.4 s to import, deferred
    import pydicom  # DICOM SEG only: deferred
    from pydicom.sr.codedict import codes  # DICOM SEG only: deferred

    folder = Path(source)
    datasets = [pydicom.dcmread(name, stop_before_pixels=True) for name in dicom_series_files(folder)]
    indices = _slice_indices(datasets, la, folder)
    masks = [np.asarray(la.array) > 0, np.asarray(scar.array) > 0]
    frames = np.stack([np.stack([mask[:, :, k].T for mask in masks], axis=-1) for k in indices]).astype(np.uint8)
    model = dict(model or {})
    algorithm = hd.AlgorithmIdentificationSequence(
        name=f"atrialjsq {model.get('name') or 'model'}",
        version=str(model.get("version") or __version__),
        family=codes.cid7162.ArtificialIntelligence,
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=getattr(codes.SCT, category),
            segmented_property_type=getattr(codes.SCT, kind),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            display_color=hd.color.CIELabColor.from_rgb(*(round(255 * c) for c in rgb)),
        )
        for number, (label, category, kind, rgb) in enumerate(SEGMENTS, start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=int(getattr(datasets[0], "SeriesNumber", 0) or 0) + 9000,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="atrialjsq",
        manufacturer_model_name=str(model.get("name") or "atrialjsq"),
        software_versions=__version__,
        device_serial_number="none",
        series_description="atrialjsq LA and scar (research use only)",
        omit_empty_frames=False,
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        seg.save_as(tmp)
    return path
