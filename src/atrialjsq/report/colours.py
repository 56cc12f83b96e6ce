"""The LA's and the scar's colours, one pair for report.png and the DICOM SEG's recommended display colours, so a
viewer that honours the SEG shows the case as the report figure does."""

from __future__ import annotations

LA_RGB = (1.0, 0.824, 0.247)  # #ffd23f: the LA outline
SCAR_RGB = (0.84, 0.10, 0.12)  # the scar overlay and the scar share of the 3D view
WALL_RGB = (0.86, 0.84, 0.78)  # the normal wall of the 3D view
