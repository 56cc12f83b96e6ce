"""A `Case`: one LGE image with its labels on the same grid (the unit that layouts, phantoms and caches share)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
