"""Which way a grid's index axes point in the patient, and turning a volume so they point the way networks saw.

A network sees voxels in index order, not millimetres: the same heart stored as a sagittal stack, or with x
running right-to-left, is a different picture to it. Every network here is trained on arrays whose axes
point as an identity direction does (ITK's LPS: x to the patient's left, y posterior, z superior; the LASC
2018 release and the phantoms are stored so), and training caches and inference turn other inputs that way
first. The turn only permutes and mirrors axes (as SimpleITK's DICOMOrient does, here as a NumPy view): no
voxel is interpolated and every voxel keeps its physical position, so results map back onto the input's own
grid exactly.

What a permutation cannot undo is obliquity, a grid rotated between the patient axes; training augments
rotations of ±10°, so a scan tilted much further is outside what the network has seen.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from atrialjsq.io.geometry import Geometry, triple
from atrialjsq.io.volume import Volume

# The patient directions (ITK/DICOM letters) the index axes of every network input point to: identity direction.
NETWORK_ORIENTATION = "LPS"
# Training rotates samples by up to ±`train.rotate_deg` (10° by default); a grid tilted more than twice that
# from the patient axes shows the network, or teaches it, an LA at an angle outside that range.
OBLIQUE_WARNING_DEG = 20.0
# Direction cosines further than this from orthonormal describe a sheared grid (not an MR acquisition).
ORTHONORMAL_TOLERANCE = 1e-3


# ITK/DICOM letters: the patient direction (in LPS coordinates) an index axis pointing that way runs along.
_LETTER_AXES = {"L": (0, 1), "R": (0, -1), "P": (1, 1), "A": (1, -1), "S": (2, 1), "I": (2, -1)}


def orientation_code(geometry: Geometry) -> str:
    """Three letters, the patient direction each index axis points to most (e.g. "LPS" for identity)."""
    import SimpleITK as sitk  # SimpleITK: deferred, slow to import

    return str(sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(geometry.direction))


def _axis_assignment(direction: np.ndarray) -> tuple[int, ...]:
    """The patient axis each index axis is assigned to: the permutation with the largest total |cosine| (a
    plain argmax per axis could give two axes the same patient axis at a 45° tie)."""
    weights = np.abs(direction)
    return max(itertools.permutations(range(3)), key=lambda p: sum(weights[p[i], i] for i in range(3)))


def orientation_problem(code: object) -> str | None:
    """Why `code` is not an orientation (three letters of L/R, P/A, S/I naming three different axes), or None."""
    letters = code.upper() if isinstance(code, str) else ""
    if len(letters) != 3 or set(letters) - set(_LETTER_AXES) or len({_LETTER_AXES[c][0] for c in letters}) != 3:
        return f"orientation must be three letters naming three different patient axes, got {code!r}"
    return None


def reoriented(volume: Volume, code: str = NETWORK_ORIENTATION) -> Volume:
    """`volume` with its axes permuted and mirrored so they point as `code` says (the same object when they
    already do). Lossless: a view of the same voxels (any dtype), each at the same physical position; what
    SimpleITK's DICOMOrient does, without its copies and dtype limits (a test holds the two together)."""
    problem = orientation_problem(code)
    if problem is not None:
        raise ValueError(problem)
    code = code.upper()
    geometry = volume.geometry
    matrix = geometry.direction_matrix
    patient_axis = _axis_assignment(matrix)
    order, flips = [], []
    for letter in code:
        wanted, sign = _LETTER_AXES[letter]
        source = patient_axis.index(wanted)
        order.append(source)
        flips.append(np.sign(matrix[wanted, source]) != sign)
    if order == [0, 1, 2] and not any(flips):
        return volume
    array = np.transpose(volume.array, order)
    array = np.flip(array, axis=tuple(new for new, flip in enumerate(flips) if flip)) if any(flips) else array
    start = np.zeros(3)
    columns = []
    for source, flip in zip(order, flips, strict=True):
        if flip:
            start[source] = geometry.shape[source] - 1
        columns.append(-matrix[:, source] if flip else matrix[:, source])
    turned = Geometry(
        triple(geometry.shape[i] for i in order),
        triple(geometry.spacing[i] for i in order),
        triple(float(c) for c in geometry.index_to_physical(start)),
        tuple(np.stack(columns, axis=1).reshape(-1)),
    )
    return Volume(array, turned)


def direction_problem(geometry: Geometry) -> str | None:
    """Why the direction cosines cannot be a scan's (not orthonormal: a sheared or scaled grid), or None."""
    matrix = geometry.direction_matrix
    if not np.all(np.isfinite(matrix)):
        return "direction cosines are not finite numbers"
    error = float(np.abs(matrix.T @ matrix - np.eye(3)).max())
    if error > ORTHONORMAL_TOLERANCE:
        return f"direction cosines are not orthonormal (off by {error:.3g}): the header describes a sheared grid"
    return None


def obliquity_deg(geometry: Geometry) -> float:
    """The largest angle (degrees) between an index axis and the patient axis it points along most: 0 for a
    grid aligned with the patient axes, up to 54.7° (a cube's diagonal)."""
    matrix = geometry.direction_matrix
    columns = matrix / np.linalg.norm(matrix, axis=0, keepdims=True)
    cosine = float(np.abs(columns).max(axis=0).min())
    return math.degrees(math.acos(min(1.0, cosine)))


def tilt_problem(geometry: Geometry, limit_deg: float = OBLIQUE_WARNING_DEG) -> str | None:
    """The sentence for a grid tilted more than `limit_deg` from the patient axes (None within it)."""
    tilt = obliquity_deg(geometry)
    return f"the image grid is tilted {tilt:.0f}° from the patient axes" if tilt > limit_deg else None
