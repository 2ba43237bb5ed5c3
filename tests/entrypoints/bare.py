"""A job module that imports only sys: what its session had imported before it shows."""

from __future__ import annotations

import sys


def imports(ctx) -> None:
    stdlib = sorted(
        m for m in ("typing", "json", "re", "traceback", "ctypes", "enum") if m in sys.modules
    )
    print("stdlib modules:", stdlib)
