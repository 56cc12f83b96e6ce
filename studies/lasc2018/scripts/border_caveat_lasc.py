"""How many LASC 2018 expert LA labels touch their image's border over more than the caveat's area.

    python studies/lasc2018/scripts/border_caveat_lasc.py ../shared/data/lasc2018

Prints the number of cases and those the border caveat (`data.plausibility.border_problem`) fires on: the
README's measured false-alarm check of that caveat on expert labels (numbers only, no image data).
"""

from __future__ import annotations

import sys

from atrialjsq.data.layouts import index_dataset, load_case
from atrialjsq.data.plausibility import MIN_BORDER_AREA_MM2, border_problem


def main(root: str) -> int:
    refs = index_dataset(root)
    touching = []
    for ref in refs:
        la = load_case(ref).labels["la"]
        if border_problem(la.array, la.geometry.spacing):
            touching.append(ref.case_id)
    print(f"{len(touching)} of {len(refs)} expert LA labels touch the border over {MIN_BORDER_AREA_MM2:g} mm²")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/lasc2018"))
