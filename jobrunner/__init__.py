"""jobrunner: Business Central's Job Queue and Task Scheduler for jobs kept in git.

Job code imports from here: `gui_allowed()` and `confirm()`. This module imports only
the stdlib, so a session starts fast.
"""

from __future__ import annotations

from jobrunner.ui import CallbackNotAllowed, confirm, gui_allowed

__version__ = "0.1.0"

__all__ = ["CallbackNotAllowed", "__version__", "confirm", "gui_allowed"]
