"""``python -m studies.lasc2018 COMMAND``: the LASC 2018 studies (`studies.lasc2018.cli`)."""

import sys

from studies.lasc2018.cli import main

sys.exit(main())
