"""What an operator sees: Prometheus metrics, request ids and JSON log lines.

Metrics go through the official prometheus_client. Under the server they are in multiprocess mode: each granian
worker writes its own files to the directory `PROMETHEUS_MULTIPROC_DIR` names (the server makes it at start and
removes it at exit), and `/metrics` adds up every worker's files, those of workers that died and were replaced
included. So the counts of all workers sum, and a restarted worker loses or doubles nothing.

Every label value comes from a closed set: route templates, method names, entry schema names, keyword and warning
codes of this package. Never from a path, a query string or a payload, so no client can grow the series count.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any, Final

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client import values as prometheus_values

from .. import __version__
from ..core.report import Report

_encoder = msgspec.json.Encoder()
MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
REQUEST_ID_KEY: Final = "runstep_validator.request_id"  # in the WSGI environ
DRAINING_FILE: Final = "draining"  # in the server's state directory: present once SIGTERM has been received
ROUTES: Final = (
    "/v1/validate",
    "/v1/validate/batch",
    "/v1/validate/stream",
    "/v1/schemas",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/",
    "/docs",
)
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CODE: Final = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]{0,39}")
_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:/+=-]{1,64}")
LIMITS: Final = {  # problem types that mean a limit was hit, and the limit's name
    "payload-too-large": "body",
    "batch-too-large": "batch",
    "time-limit": "time",
    "stream-too-long": "stream_events",
    "headers-too-large": "headers",
    "request-timeout": "body_time",
}

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# The verdict of the request being answered (valid, error count), for its access log line.
verdict: contextvars.ContextVar[tuple[bool, int] | None] = contextvars.ContextVar("verdict", default=None)


def route_of(path: str) -> str:
    """The route template a path belongs to, or `other`: never the path itself."""
    if path in ROUTES:
        return path
    if path.startswith("/v1/schemas/"):
        return "/v1/schemas/{name}"
    if path.startswith("/page/"):
        return "/page/{file}"
    return "other"


def method_of(method: str) -> str:
    return method if method in METHODS else "other"


def code_label(code: str | None) -> str:
    """A keyword or warning code as a label: ours are short identifiers; anything else is `other`."""
    return code if code is not None and _CODE.fullmatch(code) else "other"


_id_prefix = uuid.uuid4().hex[:16]  # this process's, random: ids never repeat across workers or restarts
_id_counter = itertools.count()


def _new_process() -> None:
    """granian forks its workers from one process: each must draw its own prefix."""
    global _id_prefix, _id_counter  # per-process state, reset in the child of a fork
    _id_prefix, _id_counter = uuid.uuid4().hex[:16], itertools.count()


os.register_at_fork(after_in_child=_new_process)


def accept_request_id(given: str | None) -> str:
    """The client's `X-Request-ID` when it is short and printable, else a new one (32 hex digits: a random
    prefix per process and a counter, which costs no system call per request as uuid4 would)."""
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return f"{_id_prefix}{next(_id_counter):016x}"


class Metrics:
    """The service's metrics, built once per process. Label children of the hot path are cached."""

    def __init__(self, schema_names: Iterable[str]) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        if self.multiprocess:
            # A granian worker forked from a process that imported prometheus_client before the server set the
            # directory: choose the value class again, so that this process's counts go to its files.
            prometheus_values.ValueClass = prometheus_values.get_value_class()  # type: ignore[no-untyped-call]
        one = {"multiprocess_mode": "max"} if self.multiprocess else {}  # one series, whatever the workers
        self.requests = Counter(
            "runstep_validator_http_requests", "HTTP requests answered.", ["route", "method", "status"]
        )
        self.duration = Histogram(
            "runstep_validator_http_request_duration_seconds",
            "Time from the request's arrival to its answer.",
            ["route"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.validations = Counter(
            "runstep_validator_validations", "Payloads validated, by entry schema and verdict.", ["schema", "verdict"]
        )
        self.errors = Counter("runstep_validator_validation_errors", "Errors reported, by keyword.", ["keyword"])
        self.warnings = Counter("runstep_validator_validation_warnings", "Warnings reported, by kind.", ["kind"])
        self.records = Counter(
            "runstep_validator_records", "Records of batches and run-step events of streams validated.", ["route"]
        )
        self.limits = Counter("runstep_validator_limits_hit", "Requests refused at a limit.", ["limit"])
        self.build = Gauge("runstep_validator_build_info", "The version serving.", ["version"], **one)  # type: ignore[arg-type]
        self.build.labels(__version__).set(1)
        self._schemas = {}
        for name in schema_names:
            self._schemas[name] = (self.validations.labels(name, "valid"), self.validations.labels(name, "invalid"))
        self._by_id: dict[str, str] = {}
        self._answered: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def name_ids(self, ids: dict[str, str]) -> None:
        """Which entry each schema `$id` is: a report names its schema by `$id`."""
        self._by_id = dict(ids)

    def validated(self, report: Report) -> None:
        name = self._by_id.get(report.schema, "other")
        children = self._schemas.get(name)
        if children is None:
            self.validations.labels(name, "valid" if report.valid else "invalid").inc()
        else:
            children[0 if report.valid else 1].inc()
        if not report.valid:
            for unit in report.errors:
                self.errors.labels(code_label(unit.code)).inc()

    def warned(self, report: Report) -> None:
        for unit in report.warnings:
            self.warnings.labels(code_label(unit.code)).inc()

    def counted(self, route: str, records: int) -> None:
        self.records.labels(route).inc(records)

    def stream_errors(self, units: Iterable[Any]) -> None:
        for unit in units:
            self.errors.labels(code_label(unit.code)).inc()

    def limit_hit(self, problem_type: str) -> None:
        limit = "depth" if problem_type == "depth" else LIMITS.get(problem_type)
        if limit is not None:
            self.limits.labels(limit).inc()

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._answered.get(key)
        if children is None:  # a closed set of keys: routes x methods x statuses
            children = self._answered[key] = (
                self.requests.labels(route, method, str(status)),
                self.duration.labels(route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        """The text format: every worker's counts added up in multiprocess mode, this process's otherwise."""
        if self.multiprocess:
            registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        from prometheus_client import REGISTRY  # noqa: PLC0415

        return generate_latest(REGISTRY)


class NoMetrics:
    """Metrics turned off (`RUNSTEP_VALIDATOR_METRICS=false`): every call does nothing, and `/metrics` is 404."""

    multiprocess = False

    def name_ids(self, ids: dict[str, str]) -> None:
        pass

    def validated(self, report: Report) -> None:
        pass

    def warned(self, report: Report) -> None:
        pass

    def counted(self, route: str, records: int) -> None:
        pass

    def stream_errors(self, units: Iterable[Any]) -> None:
        pass

    def limit_hit(self, problem_type: str) -> None:
        pass

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        pass

    def exposition(self) -> bytes | None:
        return None


_metrics: Metrics | None = None


def metrics(schema_names: Iterable[str] = ()) -> Metrics:
    """The process's metrics: prometheus_client registers each metric once per process."""
    global _metrics  # noqa: PLW0603  # one registry per process is prometheus_client's own model
    if _metrics is None:
        _metrics = Metrics(schema_names)
    return _metrics


def draining(state_directory: str | None) -> bool:
    """Whether the server has been told to stop (readiness turns false while in-flight requests finish)."""
    return bool(state_directory) and os.path.exists(os.path.join(state_directory or "", DRAINING_FILE))


class _Clock:
    """UTC timestamps to the millisecond (`2026-11-25T07:48:10.953`), the date formatted once a second, not once
    a line."""

    def __init__(self) -> None:
        self._second = -1
        self._date = ""

    def stamp(self, moment: float) -> str:
        second = int(moment)
        if second != self._second:
            self._second, self._date = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._date}.{int((moment - second) * 1000):03d}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, the request id, and what the record carries in `fields` (method,
    route, status, bytes, duration, verdict, error count); an error's message and exception type, never a body."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._clock.stamp(record.created) + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
        return _encoder.encode(line).decode()


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record, for the text format's lines too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes its lines in batches: at most `interval` seconds late, at once for warnings
    and errors, and everything on flush and close. One write per request cost a quarter of the throughput of the
    smallest requests; one write per batch costs next to nothing."""

    def __init__(self, stream: Any = None, interval: float = 0.1, capacity: int = 512) -> None:
        super().__init__(stream)
        self.interval = interval
        self.capacity = capacity
        self._pending: list[str] = []
        self._last = time.monotonic()
        self._ticker: threading.Thread | None = None
        # A forked child (a granian worker) must not write again what its parent has yet to write.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._pending = []
        self._ticker = None

    def emit(self, record: logging.LogRecord) -> None:  # called with the handler's lock held
        try:
            self._add(self.format(record), urgent=record.levelno >= logging.WARNING)
        except Exception:  # as logging.StreamHandler: a failing log line must not fail the request
            self.handleError(record)

    def append(self, line: str) -> None:
        """A line formatted by its caller (the access log's), without a log record: the hot path's shortcut."""
        with self.lock:  # type: ignore[union-attr]
            self._add(line)

    def _add(self, line: str, urgent: bool = False) -> None:
        self._pending.append(line)
        now = time.monotonic()
        if urgent or len(self._pending) >= self.capacity or now - self._last >= self.interval:
            self._write(now)
        elif self._ticker is None or not self._ticker.is_alive():  # started in the process that logs
            self._ticker = threading.Thread(target=self._tick, name="log-flush", daemon=True)
            self._ticker.start()

    def _write(self, now: float) -> None:
        if self._pending:
            self.stream.write("\n".join(self._pending) + "\n")
            self._pending.clear()
            self.stream.flush()
        self._last = now

    def _tick(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write(time.monotonic())


def access_writer(logger: logging.Logger, log_format: str) -> Any:
    """How the front door writes an access line: straight into the batching handler when the server configured
    one (the line formatted here, as its formatter would), else through `logger`. Returns a function of
    (text message, fields), or None when the logger would drop INFO lines."""
    if not logger.isEnabledFor(logging.INFO):
        return None
    owner: logging.Logger | None = logger
    while owner is not None and not owner.handlers and owner.propagate:
        owner = owner.parent
    handlers = owner.handlers if owner is not None else []
    batching = next((handler for handler in handlers if isinstance(handler, BatchingStreamHandler)), None)
    if batching is None or len(handlers) != 1:

        def through_logging(message: str, fields: dict[str, Any]) -> None:
            extra = {"fields": fields} if log_format == "json" else {}
            logger.info("%s", message, extra=extra)

        return through_logging
    clock = _Clock()

    def now() -> str:
        return clock.stamp(time.time())

    name = logger.name
    if log_format == "json":

        def json_line(message: str, fields: dict[str, Any]) -> None:
            line = {"time": now() + "Z", "level": "info", "logger": name, "request_id": request_id.get(), **fields}
            batching.append(_encoder.encode(line).decode())

        return json_line

    def text_line(message: str, fields: dict[str, Any]) -> None:
        batching.append(f"{now().replace('T', ' ')} INFO {name} [{request_id.get()}]: {message}")

    return text_line
