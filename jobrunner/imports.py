"""Imports that leave out what a library would pull in only because it is installed.

structlog, when imported, looks for rich, better_exceptions and colorama and imports
each it finds, for the tracebacks of its console renderer. Where rich is installed (a
test or a web stack brings it), that made `import structlog` 150 ms and 5 MiB of the
runner's memory, for tracebacks jobrunner formats itself. `without` hides such
libraries for the length of one import; an import of them afterwards (job code's own)
works as usual."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

OPTIONAL = ("rich", "better_exceptions", "colorama")
"""What structlog would import, found or not, and jobrunner does without."""


@contextlib.contextmanager
def without(*names: str) -> Iterator[None]:
    """Within the block, importing one of `names` (not imported yet) raises ImportError,
    as if it were not installed; after it, nothing of that remains."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # (the import system's "absent")
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def asyncio_without_tls() -> None:
    """For the runner's process alone: asyncio, which structlog imports and the runner
    never uses, imported without the ssl module, which it would load for TLS transports
    (OpenSSL: 4.5 MiB of the runner's memory). An alert's mail or web hook imports ssl
    itself when it needs it, as usual; job code runs in other processes."""
    with without("ssl"):
        import asyncio  # noqa: F401
