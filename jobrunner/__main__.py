"""`python -m jobrunner` runs the command line."""

from __future__ import annotations

import sys

from jobrunner.cli import main

sys.exit(main())
