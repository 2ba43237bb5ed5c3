"""jobrunner: Business Central's Job Queue and Task Scheduler for jobs kept in git."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
