"""The LA wall band and the parameters of every band / projection along the LA normals (paper §3.2, §4.1).

- `BandParams(inward_mm, outward_mm, reach_mm, step_mm, normal_sigma_mm)`: one frozen record of the numbers
  the band, the normals and the sampling along them need; `BandParams()` is the training band of the targets.
- `band_offsets(inward_mm, outward_mm, step_mm)`: the sampling offsets along a normal, −inward..+outward mm.
- `wall_band(la, spacing, band_params, exclude)`: the LA wall as the voxels −inward_mm ≤ φ_LA ≤ outward_mm.
- `mitral_exclusion(spacing, lv, valve)`: the voxels to leave out of the band where the LA meets the LV.

Training targets (`atrialjsq.data.targets`), quantification on predicted masks (`atrialjsq.quantify`) and
evaluation all take their band from here; projecting scar onto it is `atrialjsq.surface.projection`.
"""

from __future__ import annotations

from dataclasses import dataclass

import edt
import numpy as np

from atrialjsq.surface.distance import signed_distance

# The projection along the LA normals (§3.2 targets, §4.1 evaluation): ±10 mm, sampled every 0.5 mm.
PROJECTION_REACH_MM = 10.0
PROJECTION_STEP_MM = 0.5


@dataclass(frozen=True)
class BandParams:
    """The LA wall band and the sampling along the LA normals, in mm.

    - `inward_mm`, `outward_mm`: the band spans −inward_mm ≤ φ_LA ≤ outward_mm around the LA surface;
    - `reach_mm`: scar within ±reach_mm along the normal projects onto the surface (the targets' scar
      projection, the evaluation's surface labels);
    - `step_mm`: the sampling step along the normals;
    - `normal_sigma_mm`: the Gaussian that smooths the mask before its gradient gives the normals.

    The defaults are the training band. The paper projects scar onto the LA surface, which removes the
    wall-thickness dependence, but gives no band width or reach (docs/explanation/deviations.md); ours are 2 mm in and
    1.5 mm out (3.5 mm, the scale of the 1–3 mm LA wall) and a ±10 mm reach in 0.5 mm steps, shared by
    targets, prediction and evaluation. Normals come from the mask smoothed over ~2 mm: a binary mask's own
    gradient only points along the six axes. Quantification widens the band outwards
    (`atrialjsq.quantify.surface_scar.DEFAULT_BAND`).
    """

    inward_mm: float = 2.0
    outward_mm: float = 1.5
    reach_mm: float = PROJECTION_REACH_MM
    step_mm: float = PROJECTION_STEP_MM
    normal_sigma_mm: float = 2.0

    def __post_init__(self) -> None:
        if self.inward_mm < 0 or self.outward_mm < 0 or self.reach_mm < 0:
            raise ValueError(
                f"inward_mm, outward_mm and reach_mm must be non-negative, got {self.inward_mm}, "
                f"{self.outward_mm}, {self.reach_mm}"
            )
        if self.step_mm <= 0 or self.normal_sigma_mm < 0:
            raise ValueError(
                f"need step_mm > 0 and normal_sigma_mm >= 0, got step_mm={self.step_mm}, "
                f"normal_sigma_mm={self.normal_sigma_mm}"
            )

    def offsets(self) -> np.ndarray:
        """Offsets (mm) over the band along a normal: −inward_mm..+outward_mm in steps of step_mm."""
        return band_offsets(self.inward_mm, self.outward_mm, self.step_mm)

    def reach_offsets(self) -> np.ndarray:
        """Symmetric offsets (mm) −reach_mm..+reach_mm in steps of step_mm."""
        return band_offsets(self.reach_mm, self.reach_mm, self.step_mm)


# The training band (every default of BandParams).
DEFAULT_BAND = BandParams()


def band_offsets(inward_mm: float, outward_mm: float, step_mm: float) -> np.ndarray:
    """Offsets (mm) from −inward_mm to +outward_mm in steps of step_mm, always including 0 (the surface)."""
    if step_mm <= 0 or inward_mm < 0 or outward_mm < 0:
        raise ValueError("need step_mm > 0 and non-negative inward_mm / outward_mm")
    return np.arange(-round(inward_mm / step_mm), round(outward_mm / step_mm) + 1, dtype=np.float64) * step_mm


def wall_band(
    la: np.ndarray,
    spacing,
    band_params: BandParams = DEFAULT_BAND,
    exclude: np.ndarray | None = None,
    *,
    phi_la: np.ndarray | None = None,
) -> np.ndarray:
    """The LA wall band: voxels with −inward_mm ≤ φ_LA ≤ outward_mm, minus `exclude` (e.g. dilated LV/valve).

    φ_LA is `signed_distance(la, spacing)` (β = 1, surface half a voxel out from the boundary voxels).
    `phi_la` may pass an already computed one (β = 1, clipped beyond the band) to avoid a second EDT.
    """
    inward_mm, outward_mm = band_params.inward_mm, band_params.outward_mm
    if phi_la is None:
        phi_la = signed_distance(la, spacing, beta=1.0, clip=max(inward_mm, outward_mm) + 1.0)
    band = (phi_la >= -inward_mm) & (phi_la <= outward_mm)
    if exclude is not None:
        if np.shape(exclude) != band.shape:
            raise ValueError(f"exclude has shape {np.shape(exclude)}, expected {band.shape}")
        band &= ~np.asarray(exclude).astype(bool, copy=False)
    return band


def mitral_exclusion(
    spacing, lv: np.ndarray | None = None, valve: np.ndarray | None = None, radius_mm: float = 2.0
) -> np.ndarray | None:
    """Voxels to leave out of the wall band at the mitral opening: within `radius_mm` of the valve label when
    there is one, else of the LV label (the LA wall ends where the LA meets the LV). None without either."""
    source = valve if valve is not None and np.any(valve) else lv
    if source is None or not np.any(source):
        return None
    distance = edt.edt(np.ascontiguousarray(~np.asarray(source, dtype=bool)), anisotropy=tuple(map(float, spacing)))
    return distance <= radius_mm
