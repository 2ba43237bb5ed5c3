"""Pure retry policy: BC's job queue backoff and the Task Scheduler's platform retries.

BC (bc-job-queue.md §2.7): while max_retries > attempts (and attempts < 10) a failed run
is retried after the rerun delay plus 10^attempts ms (6 h from the 8th attempt). The
platform (§7.3) re-runs a task that failed with a retriable exception on a fixed
profile before the job queue's failure path sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

BC_MAX_ATTEMPTS = 10
_SIX_HOURS = timedelta(hours=6)


def bc_extra_wait(attempts: int) -> timedelta:
    """The extra wait BC adds to the rerun delay after `attempts` (already incremented)."""
    if attempts > 7:
        return _SIX_HOURS
    return timedelta(milliseconds=10**attempts)


def bc_retry(max_retries: int, attempts: int, rerun_delay: timedelta) -> timedelta | None:
    """The delay before the next attempt, or None when the failure is final.
    `attempts` is the count before this failure."""
    if max_retries > attempts and attempts < BC_MAX_ATTEMPTS:
        return rerun_delay + bc_extra_wait(attempts + 1)
    return None


def platform_delay(profile: Sequence[timedelta], retries: int) -> timedelta | None:
    """The wait before platform retry number `retries + 1`, or None when spent."""
    return profile[retries] if retries < len(profile) else None


def is_retriable(exception_names: Sequence[str], message: str, patterns: Sequence[str]) -> bool:
    """Whether an exception matches the configured retriable exceptions. A pattern is a
    class name ('ConnectionError'), a qualified one ('pkg.mod:RateLimited'), either
    followed by ':message-substring'. `exception_names` are the exception's classes
    (its MRO) as 'module:QualName'."""
    for pattern in patterns:
        name, substring = _split(pattern)
        for qualified in exception_names:
            short = qualified.rsplit(":", 1)[-1]
            if name in (qualified, short) and (not substring or substring in message):
                return True
    return False


def _split(pattern: str) -> tuple[str, str]:
    parts = pattern.split(":")
    if len(parts) >= 2 and "." in parts[0]:  # module:Class[:substring]
        return f"{parts[0]}:{parts[1]}", ":".join(parts[2:])
    return parts[0], ":".join(parts[1:])
