"""A time limit on validation that stops the work itself: the engine checks it between the errors it reports, and
callers between records and events. Outside `time_limit()` nothing is checked (the command line and the import
set none).

    with time_limit(10):
        report = validator.validate(body)   # LimitExceeded("seconds", ...) once 10 s have passed
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import LimitExceeded

# (the moment it passes, on time.monotonic's clock; the limit in seconds). A context variable: each thread and
# each asyncio task has its own, so that requests validated side by side keep their own limits.
_limit: ContextVar[tuple[float, float] | None] = ContextVar("validation_time_limit", default=None)


@contextmanager
def time_limit(seconds: float, spent: float = 0.0) -> Iterator[None]:
    """Within the block, `check_time()` raises `LimitExceeded` once `seconds` have passed, `spent` of them already
    (a request's wait in a queue). A limit within another ends no later than the outer one."""
    deadline = (time.monotonic() + seconds - spent, seconds)
    outer = _limit.get()
    token = _limit.set(outer if outer is not None and outer[0] < deadline[0] else deadline)
    try:
        yield
    finally:
        _limit.reset(token)


def check_time(progress: str = "") -> None:
    """`LimitExceeded("seconds")` when the current time limit has passed; `progress` (such as "12 records") says
    how far the work got, in its message."""
    limit = _limit.get()
    if limit is not None and time.monotonic() > limit[0]:
        raise over_time(limit[1], progress)


def over_time(seconds: float, progress: str = "") -> LimitExceeded:
    after = f" after {progress}" if progress else ""
    return LimitExceeded("seconds", seconds, f"validating took longer than the limit of {seconds:g} s{after}")
