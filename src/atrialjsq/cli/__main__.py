"""`python -m atrialjsq.cli` (e.g. under `torchrun -m atrialjsq.cli train ...`)."""

import sys

from atrialjsq.cli import console

sys.exit(console())
