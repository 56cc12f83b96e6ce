"""A `Case`: one LGE image with its labels on the same grid (the unit that layouts, phantoms and caches share)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from atrialjsq.errors import InputError
from atrialjsq.io.orientation import reoriented
from atrialjsq.io.volume import Volume

LABEL_NAMES = ("la", "scar", "lv", "valve")


@dataclass
class Case:
    """`labels` maps a name from LABEL_NAMES to a binary uint8 volume on the image's grid."""

    case_id: str
    image: Volume
    labels: dict[str, Volume] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def la(self) -> Volume | None:
        return self.labels.get("la")

    @property
    def scar(self) -> Volume | None:
        return self.labels.get("scar")

    def label(self, name: str) -> Volume:
        """The label `name`, or an InputError naming the case when it has none."""
        volume = self.labels.get(name)
        if volume is None:
            raise InputError(self.meta.get("source", self.case_id), f"case has no {name!r} label")
        return volume


def reoriented_case(case: Case) -> Case:
    """The case with its image and labels turned to the networks' orientation (`io.orientation`): lossless
    views, every voxel at its physical place; what every training array is cut from."""
    labels = {name: reoriented(volume) for name, volume in case.labels.items()}
    return Case(case.case_id, reoriented(case.image), labels, case.meta)
