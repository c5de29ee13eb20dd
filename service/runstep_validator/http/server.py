"""Serving the app under granian, with an access log and a clean shutdown on SIGTERM.

granian was chosen by measurement: on this 2-core machine it served a trivial Flask endpoint at about twice the
rate of gunicorn (sync workers), with the same worker count. It serves the front door (`front.py`, granian's RSGI
interface) rather than the WSGI app directly: under WSGI each request's body is read by a thread, and slow
clients could hold all of them.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import importlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
from importlib.metadata import version
from pathlib import Path
from typing import Any

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.server.mp import MPServer

from ..core.api import default_schemas
from ..core.schemas import AUTO
from .config import DRAINING_FILE, ENV_PREFIX, MULTIPROCESS_ENV, ConfigError, Settings

APP_FACTORY = "runstep_validator.http.front:create_front"
log = logging.getLogger("_granian")  # granian's own logger: these lines belong with its lines about workers


def logging_config(level: str = "INFO", log_format: str = "text") -> dict[str, Any]:
    """Our loggers (errors and the access log) to standard error, in the server and in each worker: a readable
    line each, or a JSON object each; both carry the request's id."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "runstep_validator.http.observe.RequestIdFilter"}},
        "formatters": {
            "text": {"()": "runstep_validator.http.observe.TextFormatter"},
            "json": {"()": "runstep_validator.http.observe.JsonFormatter"},
        },
        "handlers": {
            "stderr": {
                "class": "runstep_validator.http.observe.BatchingStreamHandler",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "loggers": {
            name: {"handlers": ["stderr"], "level": level, "propagate": False}
            for name in ("runstep_validator", "_granian")
        },
    }


def check_can_serve(settings: Settings) -> None:
    """What would make every worker fail, or two servers split the requests, found before any worker starts."""
    schemas = default_schemas()
    if settings.default_schema != AUTO and settings.default_schema not in schemas.entries:
        known = ", ".join([AUTO, *sorted(schemas.entries)])
        raise ConfigError(
            f"{ENV_PREFIX}DEFAULT_SCHEMA={settings.default_schema!r} is not an entry schema: give {known}"
        )
    if settings.default_dialect not in schemas.dialects:
        known = ", ".join(schemas.dialects)
        raise ConfigError(f"{ENV_PREFIX}DEFAULT_DIALECT={settings.default_dialect!r} is not a dialect: give {known}")
    if settings.share_port:
        return
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free to take
        try:
            probe.bind((settings.host, settings.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {settings.port} on {settings.host} is already in use by another process: choose another "
                    "--port, stop that process, or set RUNSTEP_VALIDATOR_SHARE_PORT=true to share it on purpose"
                ) from None
            raise ConfigError(f"cannot listen on {settings.host} port {settings.port}: {exc.strerror}") from None


def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT: granian stops accepting, lets in-flight requests finish, then returns.
    Settings that could not work are refused first, with `ConfigError`."""
    check_can_serve(settings)
    # Made before any worker starts, removed when the server stops: the workers' metric files and the draining
    # mark. prometheus_client reads the variable when a worker imports it.
    _remove_stale_state()
    state = tempfile.mkdtemp(prefix=f"{STATE_PREFIX}{os.getpid()}-")
    os.environ[MULTIPROCESS_ENV] = state
    # The app's modules, loaded once here so that each worker forks with them (a respawned worker answers at once);
    # only now, as prometheus_client picks its multiprocess mode from the variable when it is first imported.
    importlib.import_module(APP_FACTORY.partition(":")[0])
    settings = dataclasses.replace(settings, state_directory=state)
    # The workers build their app with create_app(), which reads the environment: pass our settings through it.
    for name, value in vars(settings).items():
        os.environ[ENV_PREFIX + name.upper()] = str(value)
    try:
        _serve(settings)
    finally:
        shutil.rmtree(state, ignore_errors=True)


STATE_PREFIX = "runstep-validator-"


def _remove_stale_state() -> None:
    """The state directories of servers that were killed outright (SIGKILL cannot be cleaned up after): each is
    named by its server's process id, and one whose process is gone is removed."""
    for path in Path(tempfile.gettempdir()).glob(f"{STATE_PREFIX}*-*"):
        pid_text = path.name.removeprefix(STATE_PREFIX).partition("-")[0]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:  # another user's live process
            continue


class _Draining(MPServer):  # granian.Granian on POSIX systems
    """granian, with a drain before it stops on SIGTERM: the draining mark makes every worker's /readyz answer
    503 while requests are still served, so that a load balancer takes the instance out first."""

    drain_seconds = 0.0
    state_directory = ""

    def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
        signal_number = args[0] if args else None
        if signal_number != signal.SIGTERM or self.drain_seconds <= 0 or getattr(self, "_draining", False):
            super().signal_handler_interrupt(*args, **kwargs)  # type: ignore[no-untyped-call]
            return
        self._draining = True
        Path(self.state_directory, DRAINING_FILE).touch()
        timer = threading.Timer(self.drain_seconds, super().signal_handler_interrupt)
        timer.daemon = True
        timer.start()

    # A SIGTERM sent to the whole process group (systemd's default KillMode, a terminal's Ctrl-C) reaches every
    # worker too, which then stops on its own, cleanly (exit code 0), before or after this process hears of it:
    # granian (2.8.7, server/common.py `AbstractWorker._watcher`) logged that as an "Unexpected exit" and, during a
    # drain, started a new worker to replace it. tests/test_http_limits.py fails loudly if either comes back.
    def _spawn_worker(self, *args: Any, **kwargs: Any) -> Any:
        worker: Any = super()._spawn_worker(*args, **kwargs)
        if not callable(getattr(worker, "_watcher", None)):
            raise RuntimeError(f"granian {version('granian')}'s worker has no _watcher: see _watch_worker")
        worker._watcher = functools.partial(_watch_worker, worker)
        return worker

    def _respawn_workers(self, workers: Any, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_draining", False):
            log.info("the server is stopping: worker %s not replaced", ", ".join(str(idx + 1) for idx in workers))
            return
        super()._respawn_workers(workers, *args, **kwargs)


def _watch_worker(worker: Any) -> None:
    """granian's watch of one worker process (2.8.7's `AbstractWorker._watcher`, whose text a test holds), with a
    clean exit of its own said to be one. Its branch for `reload_on_changes` is left out: the server never reloads."""
    worker.inner.join()
    if worker.interrupt_by_parent:
        return
    if worker.inner.exitcode == 0:
        log.info("worker-%d stopped on a signal sent to it", worker.idx + 1)
    else:
        log.error("Unexpected exit from worker-%d (exit code %s)", worker.idx + 1, worker.inner.exitcode)
    worker.parent.interrupt_children.append(worker.idx)
    worker.parent.main_loop_interrupt.set()


def _serve(settings: Settings) -> None:
    server = _Draining(
        APP_FACTORY,
        factory=True,
        interface=Interfaces.RSGI,  # the front door receives whole requests first (see front.py)
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        respawn_failed_workers=True,
        # After the drain, a worker whose requests are still running this long after SIGTERM is killed (and the
        # connections it held are closed): a stop is bounded whatever a request does.
        workers_kill_timeout=settings.shutdown_grace_seconds,
        # HTTP/1.1 only. granian's default (auto) also speaks HTTP/2 to any client that opens with its preface,
        # with limits of its own (200 streams per connection, 16 MiB of headers) that none of ours bound; and to
        # tell the two apart it waits for a connection's first bytes without any time limit, so a connection
        # that sends nothing stayed open for good. On HTTP/1.1 alone, the header timeout runs from the start.
        http=HTTPModes.http1,
        # Requests whose bodies are still arriving cost a coroutine each, so many may be open at once; the limits
        # on header and body time bound how long each can stay.
        backpressure=4096,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.header_timeout_seconds * 1000),
            # Room for headers well over the limit, so that the front door answers them with a 431 problem (past
            # this, hyper refuses them itself, without a body).
            max_buffer_size=max(1024 * 1024, 4 * settings.max_header_bytes),
        ),
        log_dictconfig=logging_config(log_format=settings.log_format),
        log_access=False,  # the front door logs each request itself, with its id, size and verdict
        websockets=False,
    )
    server.drain_seconds = settings.drain_seconds
    server.state_directory = settings.state_directory
    server.serve()
