"""Utah stages of LA scar burden under the two conventions clinicians quote.

Both grade the percentage of the LA wall (here: of the LA surface area) that enhances on LGE MRI:

- Utah (Oakes et al. 2009; Akoum et al. 2011): I ≤ 5 %, II 5–20 %, III 20–35 %, IV > 35 %. Upper bounds are
  inclusive: exactly 5 % is stage I, exactly 20 % is stage II, exactly 35 % is stage III.
- DECAAF (Marrouche et al., JAMA 2014): I < 10 %, II 10–20 %, III 20–30 %, IV ≥ 30 %. Lower bounds are
  inclusive: exactly 10 % is stage II, exactly 20 % is stage III, exactly 30 % is stage IV.

The two differ on purpose (they were fitted on different cohorts), so reports carry both.
"""

from __future__ import annotations

import bisect
import math

STAGE_NAMES = ("I", "II", "III", "IV")
UTAH_UPPER_BOUNDS = (5.0, 20.0, 35.0)  # stage k holds burdens in (bound[k-1], bound[k]]
DECAAF_LOWER_BOUNDS = (10.0, 20.0, 30.0)  # stage k+1 starts at bound[k], inclusive


def _check(burden_percent: float) -> float:
    value = float(burden_percent)
    if not math.isfinite(value) or value < 0.0 or value > 100.0:
        raise ValueError(f"scar burden must be a percentage in [0, 100], got {burden_percent}")
    return value


def utah_stage(burden_percent: float) -> str:
    """Utah stage ("I".."IV") with upper-inclusive bounds 5 / 20 / 35 %."""
    value = _check(burden_percent)
    return STAGE_NAMES[bisect.bisect_left(UTAH_UPPER_BOUNDS, value)]


def decaaf_stage(burden_percent: float) -> str:
    """DECAAF stage ("I".."IV") with lower-inclusive bounds 10 / 20 / 30 %."""
    value = _check(burden_percent)
    return STAGE_NAMES[bisect.bisect_right(DECAAF_LOWER_BOUNDS, value)]


def stages(burden_percent: float) -> dict[str, str]:
    """Both conventions at once, keyed as they appear in report.json."""
    return {"utah": utah_stage(burden_percent), "decaaf": decaaf_stage(burden_percent)}


def burden_text(burden_percent: float) -> str:
    """The burden to one decimal, or to as many more (up to 4) as it takes for the printed number to fall in the
    stage the exact one gets: 5.04 % is Utah II, and printed "5.0" it would read as Utah I."""
    value = float(burden_percent)
    if not math.isfinite(value) or not 0.0 <= value <= 100.0:
        return f"{value:.1f}"
    for decimals in (1, 2, 3, 4):
        if stages(round(value, decimals)) == stages(value):
            break
    return f"{value:.{decimals}f}"
