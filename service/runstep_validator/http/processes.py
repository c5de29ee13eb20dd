"""Validation of large bodies in processes of their own, so that no request can freeze a worker's event loop.

jsonschema-rs (0.60) collects every error of a payload in one call that holds the GIL and cannot be interrupted:
0.2 s for 10,006 errors, 1.9 s for 50,000. On a thread of the worker that call freezes the event loop, which answers
`/healthz` and every small request, for as long as it runs. Processes do not share a GIL: a request whose body is
too large to answer on the event loop (and that the fast path did not find valid) is answered by one of a few
child processes of the worker, each with the same app, so answers are the same byte for byte. The children run at
a lower CPU priority, so that on a saturated machine the event loops (cheap work, answered in milliseconds) are
favoured.

The time limit stays a limit: a child still busy `GRACE_SECONDS` after `max_request_seconds` (it stops itself at
the limit between errors, so only an uninterruptible call gets there) is killed and replaced, and the request gets
the same 413 `time-limit` problem. A child exits when its worker does: it reads its jobs from a pipe that closes
when the worker dies, and a thread of its own ends it as soon as its worker is gone, even in the middle of a job.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Final

from ..core.deadline import over_time
from ..core.errors import LimitExceeded

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from .front import Answer, RequestHead

log = logging.getLogger("runstep_validator.http")

# Seconds past the time limit before a busy child is killed: the child itself answers at the limit, unless one
# uninterruptible call holds it past it.
GRACE_SECONDS: Final = 1.0
# Below the event loops, not far below: niceness 5 gives a process about a third of the CPU of one at 0 when both
# want it. At 10 (a tenth) a machine busy with other work starved the validations into their time limit (an 830 KB
# batch got 413 at 10 s under a load average of 20); in `make loadtest` 0, 5 and 10 gave /healthz p99 within the
# noise of such a machine (0: 583 and 905 ms, 5: 653 and 363 ms, 10: 736 and 461 ms, load average 16 to 19).
CHILD_NICENESS: Final = 5
# What a child says once its app is built, and how long that may take (at its lower priority, on a busy machine).
READY: Final = "ready"
STARTUP_SECONDS: Final = 120.0


class ChildDied(Exception):
    """A validation process ended (killed from outside, out of memory) before it answered."""


@dataclass(frozen=True)
class Job:
    head: RequestHead
    body: bytes
    identifier: str
    waited: float  # seconds of the request's time limit spent waiting for a free process


class ValidationProcesses:
    """`size` child processes validating one request at a time each; `answer` is called from pool threads."""

    def __init__(
        self,
        size: int,
        serve_jobs: Callable[[Connection, dict[str, Any], dict[str, Any], int], None],
        settings: Mapping[str, Any],
        seconds: float,
        log_config: dict[str, Any],
    ) -> None:
        """`serve_jobs(connection, settings, log_config, parent pid)` is what a child runs: `front.serve_jobs`."""
        self.size = size
        self._serve_jobs = serve_jobs
        self.seconds = seconds
        self._settings = dict(settings)
        self._log_config = log_config
        self._context = multiprocessing.get_context("spawn")  # a granian worker runs threads: never fork it
        self._idle: queue.SimpleQueue[_Child] = queue.SimpleQueue()
        self._children: set[_Child] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.replaced = 0  # children killed at the time limit or found dead, and replaced (for tests and logs)

    def start(self) -> None:
        for _ in range(self.size):
            self._idle.put(self._spawn())

    def close(self) -> None:
        """Ends every child (the worker is stopping)."""
        with self._lock:
            self._closed = True
            children = list(self._children)
        for child in children:
            child.end()

    def pids(self) -> list[int]:
        with self._lock:
            return [child.process.pid for child in self._children if child.process.pid is not None]

    def answer(self, head: RequestHead, body: bytes, identifier: str) -> Answer:
        """The app's answer to the request, from a child; `LimitExceeded` when the child had to be killed at the
        time limit, or when no child was free within it, `ChildDied` when it died on its own (or the worker is
        stopping). The time limit counts from the call: a wait behind other requests is part of it."""
        arrived = time.monotonic()
        child = self._next_idle(arrived + self.seconds)
        try:
            if not child.ready:  # a new child builds its app first: not part of any request's time
                building = time.monotonic()
                if not child.connection.poll(STARTUP_SECONDS) or child.connection.recv() != READY:
                    raise EOFError("the validation process did not start")
                child.ready = True
                arrived += time.monotonic() - building
            waited = time.monotonic() - arrived
            child.connection.send(Job(head, body, identifier, waited))
            if not child.connection.poll(self.seconds - waited + GRACE_SECONDS):
                self._replace(child, "passed the time limit")
                raise over_time(self.seconds)
            answer: Answer = child.connection.recv()
        except (EOFError, OSError) as exc:
            self._replace(child, "died")
            raise ChildDied(f"the validation process {child.process.pid} ended before it answered") from exc
        except LimitExceeded:
            raise
        except BaseException:
            self._replace(child, "was interrupted")
            raise
        self._idle.put(child)
        return answer

    def _next_idle(self, deadline: float) -> _Child:
        """A free child, waited for until `deadline` (on time.monotonic's clock) at the most."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise over_time(self.seconds, "a wait for a free validation process")
            try:
                return self._idle.get(timeout=min(0.5, remaining))
            except queue.Empty:
                if self._closed:
                    raise ChildDied("the worker is stopping") from None

    def _replace(self, child: _Child, why: str) -> None:
        child.end()
        with self._lock:
            self._children.discard(child)
            self.replaced += 1
            if self._closed:
                return
        log.warning("validation process %s %s: replaced", child.process.pid, why)
        self._idle.put(self._spawn())

    def _spawn(self) -> _Child:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=self._serve_jobs,
            args=(theirs, self._settings, self._log_config, os.getpid()),
            name="runstep-validator-validate",
            daemon=True,  # ended with the worker when it exits normally
        )
        process.start()
        theirs.close()
        child = _Child(process, ours)
        with self._lock:
            self._children.add(child)
        return child


class _Child:
    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self.process = process
        self.connection = connection
        self.ready = False  # it has said READY: its app is built

    def end(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.connection.close()
