"""Synthetic scar as a training-time augmentation: a fresh scar draw in the LA wall of every sample.

A case with an LA label and no scar label (most clinical data sets; LASC 2018) would otherwise train the scar
head never, or on one fixed injected draw. Here each sample that `ScarSynthesizer` picks gets a new scar pattern
drawn into its wall, with the training targets of that draw (band with the scar projected onto it, φ of normal
wall and scar), so the scar head sees a new atrium-and-scar pair at every step.

What does not change per case is computed once (`WallCache`): the LA frame and pseudo-veins the patterns are
drawn around (`phantom.inject.wall_frame`), the wall-shell voxels with their depth and the blood value straight
inside each (the texture the scar borrows), the rays along the LA normals from each surface voxel (to hit the
requested burden) and from each band voxel (to project the scar onto the band, as `data.targets` does). A draw
is then a few vectorised look-ups plus two distance transforms.

Variety (`SynthesisRanges`): pattern (`phantom.scar.PATTERNS`: rings with gaps, lines, patches, diffuse
fibrosis, the mixed post-ablation set), burden 0–45 % with scar-free samples, IIR, wall thickness, scar that
stops short of the outer wall, texture scale and contrast, edge sharpness and partial volume. A pattern can
be held out of training entirely (`exclude_patterns`) to measure generalisation to a pattern never seen.

Rendering follows `phantom.inject`: the scar tissue takes the blood value a few mm inside the wall (the image's
own noise and resolution), times the texture, scaled so the scar tissue's mean over the labelled voxels is IIR ×
the blood mean, measured from the window minimum (air). It is blended in with an alpha that is the voxel's share of
the scar layer across the wall (`partial_volume`: a thin lesion in a coarse voxel is fainter, as in a coarse
acquisition) times a feathered edge along it, so the image's mean over the labelled voxels is below the drawn IIR
where the layer is thin (e.g. 1.55 for a drawn 1.75); the IIR is drawn around the real walls' enhancement
(`SynthesisRanges.iir_mode`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import edt
import numpy as np
from scipy import ndimage
from tqdm import tqdm

from atrialjsq.data.targets import part_distance
from atrialjsq.losses.registry import SCAR_WEIGHT
from atrialjsq.phantom import scar as scar_mod
from atrialjsq.phantom.inject import BLOOD_CORE_MM, INWARD_MM, wall_frame
from atrialjsq.surface.band import DEFAULT_BAND, BandParams, band_offsets
from atrialjsq.surface.boundary import outward_normals
from atrialjsq.surface.projection import sample_at_offsets, surface_points_and_normals

SHELL_MM = 6.0  # wall shell that scar and its feathered edge may touch: the thickest wall plus the feather
SYNTHESISED_KEYS = ("image", "band", "phi_normal", "phi_scar")
UNSURE_REACH_MM = 3.0
# The draws' wall-part distance maps are clipped at 8 mm, not the cache's 50: only their DPMs p = exp(-|φ|) enter
# the loss (SE-scar, SA), so a target moves by at most exp(-8) = 3.4e-4 (7.5e-4 after a 0.9 zoom) where the true
# distance is farther, while the distance transforms (half of a draw's time) cover the part's box plus 8 mm rather
# than the whole window. The Hellinger SE distance compares √p: it gets twice the clip (√exp(-16) = exp(-8)).
DRAW_CLIP_MM = 8.0


def draw_clip_mm(se_distance: str) -> float:
    """Where a draw's φ maps may be clipped for this SE-scar distance: DRAW_CLIP_MM, twice that for Hellinger (√p)."""
    return DRAW_CLIP_MM * (2.0 if se_distance == "hellinger" else 1.0)


@dataclass(frozen=True)
class SynthesisRanges:
    """The random ranges of one scar draw (uniform unless said otherwise)."""

    patterns: tuple[str, ...] = scar_mod.PATTERNS
    exclude_patterns: tuple[str, ...] = ()  # held out of training (generalisation test)
    scar_free: float = 0.1  # share of draws with no scar at all
    burden: tuple[float, float] = (0.0, 0.45)  # surface fraction
    iir: tuple[float, float] = (1.1, 2.6)
    # The IIR is drawn from a triangle over `iir` peaking here: the mean IIR of real LASC 2018 wall voxels above
    # the dense-scar cut-off 1.32 (docs/results/scar_calibration: median case 1.45), so that most synthetic scar is
    # as bright as real enhancement and a tail reaches the dense scar of ablation lesions.
    iir_mode: float = 1.45
    # Real walls already hold enhancement (LASC 2018: 5.7 % of the wall above IIR 1.32 in the median case) that no
    # label marks. With `unsure_iir` set, band voxels outside the drawn scar whose outward ray (0-3 mm) meets the
    # original image above this IIR get weight 0 in the scar loss (`scar_weight`): unknown, not "normal wall".
    unsure_iir: float | None = None
    # With `real_scar_iir` set, those band voxels are labelled scar instead (weak labels from a clinical
    # threshold, e.g. Benito's dense-scar IIR 1.32), so the head learns the real walls' own enhancement as well as
    # the drawn scar; between `unsure_iir` and `real_scar_iir` the band stays unknown.
    real_scar_iir: float | None = None
    wall_mm: tuple[float, float] = (1.0, 4.0)
    depth_fraction: tuple[float, float] = (0.5, 1.0)  # scar from the endocardium to this share of the wall
    feather_voxels: tuple[float, float] = (0.3, 1.2)  # Gaussian sigma of the partial-volume edge
    edge_gain: tuple[float, float] = (1.0, 2.5)  # alpha = clip(gain · blurred mask): sharper edges at high gain
    distance_clip_mm: float = DRAW_CLIP_MM  # the draws' φ maps are clipped here (see DRAW_CLIP_MM)

    def __post_init__(self) -> None:
        unknown = set(self.patterns) - set(scar_mod.PATTERNS)
        if unknown:
            raise ValueError(f"unknown scar patterns {sorted(unknown)}; choose from {scar_mod.PATTERNS}")
        if not set(self.patterns) - set(self.exclude_patterns):
            raise ValueError("every scar pattern is excluded: nothing left to draw")
        if not 0.0 <= self.scar_free <= 1.0:
            raise ValueError(f"scar_free must be a probability, got {self.scar_free}")
        for name in ("burden", "iir", "wall_mm", "depth_fraction", "feather_voxels", "edge_gain"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high:
                raise ValueError(f"{name} must be a range 0 <= low <= high, got {(low, high)}")
        if self.real_scar_iir is not None and self.unsure_iir is not None and self.real_scar_iir < self.unsure_iir:
            raise ValueError(f"real_scar_iir {self.real_scar_iir} is below unsure_iir {self.unsure_iir}")
        if self.burden[1] > 1.0 or self.iir[0] < 1.0 or self.wall_mm[1] > SHELL_MM - 1.0:
            raise ValueError("need burden <= 1, iir >= 1 and wall_mm below the shell")

    @property
    def drawable(self) -> tuple[str, ...]:
        return tuple(p for p in self.patterns if p not in self.exclude_patterns)


@dataclass
class WallCache:
    """What a scar draw needs of one case, computed once from its arrays (flat indices into the window)."""

    shape: tuple[int, int, int]
    spacing: np.ndarray
    anatomy: dict
    shell: np.ndarray  # flat indices of the wall shell: outside the LA, up to SHELL_MM
    depth: np.ndarray  # their distance outside the LA (mm; 0 inside)
    coords: tuple[np.ndarray, np.ndarray, np.ndarray]  # their positions from the LA centre (mm)
    borrowed: np.ndarray  # the blood value INWARD_MM straight inside each, above the window minimum
    zero: float  # window minimum (air)
    blood_mean: float  # mean blood value above `zero`
    surface_rays: np.ndarray  # (n_surface, k) flat indices outwards 0..SURFACE_REACH_MM (-1 off the grid)
    band: np.ndarray  # flat indices of wall-band voxels
    band_rays: np.ndarray  # (n_band, m) flat indices along their normals, ±reach (-1 off the grid)
    band_wall_iir: np.ndarray  # (n_band,) the highest original IIR 0-UNSURE_REACH_MM out along each band ray
    extra: dict = field(default_factory=dict)


def _ray_indices(shape, points: np.ndarray, normals: np.ndarray, spacing, offsets: np.ndarray) -> np.ndarray:
    """Flat voxel indices (nearest voxel, as `sample_at_offsets`) at points + offset·normal; -1 off the grid."""
    index_volume = np.arange(1, int(np.prod(shape)) + 1, dtype=np.int64).reshape(shape)
    return sample_at_offsets(index_volume, points, normals, spacing, offsets, order=0) - 1


def build_wall_cache(
    image: np.ndarray, la: np.ndarray, band: np.ndarray, spacing, seed: int = 0, band_params: BandParams = DEFAULT_BAND
) -> WallCache:
    """Precompute a case's `WallCache` from its window arrays (z-scored image, LA label, cached wall band).

    Raises ValueError when the LA is too small to place scar around it."""
    la = np.asarray(la).astype(bool)
    spacing = np.asarray(spacing, dtype=np.float64)
    shape = la.shape
    centre, anatomy = wall_frame(la, spacing, np.random.default_rng(np.random.SeedSequence([int(seed), 11])))
    outside, nearest = ndimage.distance_transform_edt(~la, sampling=spacing, return_indices=True)
    inside = edt.edt(la.astype(np.uint8), anisotropy=tuple(spacing))
    shell_mask = (outside > 0) & (outside <= SHELL_MM)
    where = np.argwhere(shell_mask)
    flat_image = np.asarray(image, dtype=np.float32)
    zero = float(flat_image.min())
    core = inside > BLOOD_CORE_MM
    blood = flat_image[core if core.sum() >= 20 else la] - zero
    # The blood INWARD_MM straight in from each shell voxel, through its nearest LA voxel (inject's rule).
    surface = nearest[:, where[:, 0], where[:, 1], where[:, 2]].T.astype(np.float64)
    step = (surface - where) * spacing
    length = np.linalg.norm(step, axis=1, keepdims=True)
    direction = np.where(length > 0, step / np.maximum(length, 1e-6), 0.0)
    target = np.clip(np.rint(surface + direction * INWARD_MM / spacing).astype(int), 0, np.asarray(shape) - 1)
    source = np.where(la[tuple(target.T)][:, None], target, surface.astype(int))
    borrowed = flat_image[tuple(source.T)] - np.float32(zero)

    points, normals = surface_points_and_normals(la, spacing)
    surface_rays = _ray_indices(shape, points, normals, spacing, band_offsets(0.0, scar_mod.SURFACE_REACH_MM, 0.5))
    band_points = np.argwhere(np.asarray(band) > 0)
    band_normals = outward_normals(la, spacing, band_points, sigma_mm=band_params.normal_sigma_mm)
    offsets = band_params.reach_offsets()
    band_rays = _ray_indices(shape, band_points, band_normals, spacing, offsets)
    iir = (flat_image.ravel() - np.float32(zero)) / np.float32(max(float(blood.mean()), 1e-6))
    outward = band_rays[:, (offsets >= 0) & (offsets <= UNSURE_REACH_MM)]
    band_wall_iir = _lookup(np.where(la.ravel(), 0.0, iir).astype(np.float32), outward, 0.0).max(axis=1)
    positions = where * spacing - centre
    return WallCache(
        shape=shape,
        spacing=spacing,
        anatomy=anatomy,
        shell=np.asarray(np.ravel_multi_index(tuple(where.T), shape)),
        depth=outside[shell_mask].astype(np.float32),
        coords=tuple(positions[:, i].astype(np.float32) for i in range(3)),
        borrowed=borrowed.astype(np.float32),
        zero=zero,
        blood_mean=float(blood.mean()),
        surface_rays=surface_rays.astype(np.int32),
        band=np.asarray(np.ravel_multi_index(tuple(band_points.T), shape)),
        band_rays=band_rays.astype(np.int32),
        band_wall_iir=band_wall_iir.astype(np.float32),
    )


def draw_parameters(rng: np.random.Generator, ranges: SynthesisRanges) -> dict:
    """The scalar draws of one sample (the pattern geometry is drawn by `phantom.scar.sample_pattern`)."""
    free = bool(rng.random() < ranges.scar_free)
    low, high = ranges.iir
    mode = min(max(ranges.iir_mode, low), high)
    return {
        "pattern": str(rng.choice(list(ranges.drawable))),
        "burden": 0.0 if free else float(rng.uniform(max(ranges.burden[0], 0.01), ranges.burden[1])),
        "iir": float(rng.triangular(low, mode, high)) if high > low else float(low),
        "wall_mm": float(rng.uniform(*ranges.wall_mm)),
        "depth_fraction": float(rng.uniform(*ranges.depth_fraction)),
        "feather_voxels": float(rng.uniform(*ranges.feather_voxels)),
        "edge_gain": float(rng.uniform(*ranges.edge_gain)),
    }


def partial_volume(wall: WallCache, reach_mm: float) -> np.ndarray:
    """Share of each shell voxel covered by a scar layer 0..reach_mm outside the LA surface.

    A voxel whose centre lies d mm (`depth`, centre to the nearest LA voxel centre) outside spans about
    [d - h, d] from the surface, which lies half a voxel h from the LA voxel centres: its coverage is the overlap
    of that span with [0, reach] over h. A 2 mm layer at 1.5 mm voxels fills the first layer and a third of the
    second, as a thin lesion does in a coarse acquisition."""
    h = float(np.mean(wall.spacing))
    overlap = np.minimum(wall.depth, reach_mm) - np.maximum(wall.depth - h, 0.0)
    return np.where(wall.depth > 0, np.clip(overlap / h, 0.0, 1.0), 0.0).astype(np.float32)


def _lookup(values: np.ndarray, rays: np.ndarray, fill) -> np.ndarray:
    """values[rays] with -1 (off the grid) reading `fill`."""
    extended = np.append(values, np.asarray(fill, dtype=values.dtype))
    return extended[rays]


def _feathered(voxels: np.ndarray, shape: tuple[int, int, int], sigma: float) -> np.ndarray:
    """The flat Gaussian blur (σ in voxels) of the mask of flat indices `voxels`, filtered only on their box plus
    the kernel's reach: the same values as filtering the whole window (the mirrored border then holds zeros only,
    as the window's does), at the cost of the pattern's box."""
    mask = np.zeros(shape, dtype=np.float32)
    if not len(voxels):
        return mask.ravel()
    mask.ravel()[voxels] = 1.0
    reach = int(4.0 * sigma + 0.5)  # scipy's kernel radius at its default truncate = 4
    where = np.unravel_index(voxels, shape)
    box = tuple(
        slice(max(int(w.min()) - reach, 0), min(int(w.max()) + 1 + reach, n)) for w, n in zip(where, shape, strict=True)
    )
    mask[box] = ndimage.gaussian_filter(mask[box], sigma)
    return mask.ravel()


@dataclass
class ScarDraw:
    """One sample's draw: the replaced `arrays` (`image`, `band`, `phi_normal`, `phi_scar` in the cached dtypes),
    the volumetric `scar` it drew and its `params` (`burden_measured`: the share of LA surface voxels whose
    outward ray meets the scar, as the injection measures burden)."""

    arrays: dict[str, np.ndarray]
    scar: np.ndarray
    params: dict


def synthesise(
    arrays: Mapping[str, np.ndarray], wall: WallCache, rng: np.random.Generator, ranges: SynthesisRanges
) -> ScarDraw:
    """A fresh scar draw for one case (`ScarDraw`)."""
    draw = draw_parameters(rng, ranges)
    size = int(np.prod(wall.shape))
    scar_flat = np.zeros(size, dtype=bool)
    coverage = partial_volume(wall, draw["wall_mm"] * draw["depth_fraction"])
    measured = 0.0
    if draw["burden"] > 0:
        pattern = scar_mod.sample_pattern(rng, wall.anatomy, draw["pattern"], draw["burden"])
        in_wall = coverage > 0
        # Labelled scar: voxels at least half covered by the scar layer, and the first layer however thin it is.
        first_layer = wall.depth <= 1.01 * float(wall.spacing.min())
        labelled = in_wall & ((coverage >= 0.5) | first_layer)
        shell_score = np.full(len(wall.shell), -1.0, dtype=np.float32)
        x, y, z = (c[in_wall] for c in wall.coords)
        shell_score[in_wall] = scar_mod.scar_score(pattern, (x, y, z))
        score = np.full(size, -1.0, dtype=np.float32)
        score[wall.shell[labelled]] = shell_score[labelled]
        best = _lookup(score, wall.surface_rays, -1.0).max(axis=1)
        threshold = max(scar_mod.threshold_for_burden(best, draw["burden"]), 1e-3)
        in_pattern = shell_score >= threshold
        scar_flat[wall.shell[in_pattern & labelled]] = True
        measured = float((_lookup(scar_flat, wall.surface_rays, False).any(axis=1)).mean())
        draw["texture_amplitude"] = pattern["texture_amplitude"]
    image = np.array(arrays["image"], dtype=np.float32, copy=True)
    if scar_flat.any():
        blurred = _feathered(wall.shell[in_pattern], wall.shape, draw["feather_voxels"])
        lateral = np.clip(draw["edge_gain"] * blurred[wall.shell], 0.0, 1.0)
        lateral[in_pattern] = 1.0
        alpha = lateral * coverage  # soft lesion edges along the wall, partial volume across it
        alpha[alpha < 0.05] = 0.0
        touched = alpha > 0
        raw = wall.borrowed[touched] * scar_mod.textured(pattern, tuple(c[touched] for c in wall.coords))
        core = scar_flat[wall.shell][touched]
        gain = draw["iir"] * wall.blood_mean / max(float(raw[core].mean()), 1e-6)
        flat = image.reshape(-1)
        voxels = wall.shell[touched]
        a = alpha[touched]
        flat[voxels] = flat[voxels] * (1.0 - a) + (np.float32(gain) * raw + np.float32(wall.zero)) * a
    scar_band_flags = _lookup(scar_flat, wall.band_rays, False).any(axis=1)
    if ranges.real_scar_iir is not None:
        real = (wall.band_wall_iir > ranges.real_scar_iir) & ~scar_band_flags
        scar_band_flags = scar_band_flags | real
        draw["real_scar_band_share"] = round(float(real.mean()) if len(real) else 0.0, 4)
    band = np.zeros(size, dtype=np.uint8)
    band[wall.band] = np.where(scar_band_flags, 2, 1)
    band = band.reshape(wall.shape)
    draw["burden_measured"] = round(measured, 5)
    out: dict[str, np.ndarray] = {
        "image": image.astype(np.asarray(arrays["image"]).dtype, copy=False),
        "band": band.astype(np.asarray(arrays["band"]).dtype, copy=False),
        "phi_normal": part_distance(band == 1, wall.spacing, ranges.distance_clip_mm).astype(
            np.asarray(arrays["phi_normal"]).dtype
        ),
        "phi_scar": part_distance(band == 2, wall.spacing, ranges.distance_clip_mm).astype(
            np.asarray(arrays["phi_scar"]).dtype
        ),
    }
    if ranges.unsure_iir is not None:
        unknown = (wall.band_wall_iir > ranges.unsure_iir) & ~scar_band_flags
        weight = np.ones(size, dtype=np.float32)
        weight[wall.band[unknown]] = 0.0
        out[SCAR_WEIGHT] = weight.reshape(wall.shape)
        draw["unknown_band_share"] = round(float(unknown.mean()) if len(unknown) else 0.0, 4)
    return ScarDraw(out, scar_flat.reshape(wall.shape), draw)


class ScarSynthesizer:
    """Fresh scar for the unlabelled cases of a training bank, sample by sample.

    `probability`: the share of an unlabelled case's samples that get a draw (the rest train as acquired, scar
    terms off through `scar_known` = 0). Cases with a scar label keep it. Every draw is seeded by the sample's
    seed, so a resumed run sees the same scar as an uninterrupted one."""

    def __init__(
        self,
        cases: Sequence[Mapping[str, np.ndarray]],
        spacing: Sequence[float],
        probability: float,
        ranges: SynthesisRanges | None = None,
        progress: bool = False,
    ) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"synthetic scar probability must be within [0, 1], got {probability}")
        self.probability = float(probability)
        self.ranges = ranges or SynthesisRanges()
        self.spacing = tuple(float(s) for s in spacing)
        self.walls: dict[int, WallCache] = {}
        unlabelled = [i for i, case in enumerate(cases) if not _scar_known(case)]
        for index in tqdm(unlabelled, desc="scar synthesis set-up", unit="case", disable=not progress):
            case = cases[index]
            missing = [key for key in ("image", "la", "band", "phi_normal", "phi_scar") if key not in case]
            if missing:
                raise ValueError(f"case {index} lacks {missing}: synthetic scar needs a joint config's arrays")
            self.walls[index] = build_wall_cache(case["image"], case["la"], case["band"], self.spacing, seed=index)

    def __len__(self) -> int:
        return len(self.walls)

    def wants(self, case_index: int, rng: np.random.Generator) -> bool:
        return case_index in self.walls and bool(rng.random() < self.probability)

    @staticmethod
    def sample_rng(seed: int) -> np.random.Generator:
        """The generator of a sample's draw: first whether it gets one (`wants`), then the draw itself."""
        return np.random.default_rng(np.random.SeedSequence([int(seed), 2027]))

    def sample(self, case_index: int, arrays: Mapping[str, np.ndarray], seed: int) -> ScarDraw | None:
        """A draw for this sample, or None when it trains as acquired (or the case has its own scar label)."""
        rng = self.sample_rng(seed)
        if not self.wants(case_index, rng):
            return None
        return synthesise(arrays, self.walls[case_index], rng, self.ranges)


def _scar_known(case: Mapping[str, np.ndarray]) -> bool:
    flag = case.get("scar_known")
    return flag is None or float(np.asarray(flag).reshape(())) > 0
