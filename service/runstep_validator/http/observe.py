"""What an operator sees: Prometheus metrics, request ids and JSON log lines.

Metrics go through the official prometheus_client. Under the server they are in multiprocess mode: each granian
worker writes its own files to the directory `PROMETHEUS_MULTIPROC_DIR` names (the server makes it at start and
removes it at exit), and `/metrics` adds up every worker's files, those of workers that died and were replaced
included. So the counts of all workers sum, and a restarted worker loses or doubles nothing.

Every label value comes from a closed set: route templates, method names, entry schema names, keyword and warning
codes of this package. Never from a path, a query string or a payload, so no client can grow the series count.
"""

from __future__ import annotations

import collections
import contextvars
import itertools
import logging
import os
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Protocol

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

from .. import __version__
from ..core.report import Report
from .config import DRAINING_FILE, MULTIPROCESS_ENV
from .shared_values import MetricName, RequestSeries, RequestSeriesCollector

_encoder = msgspec.json.Encoder()
REQUEST_ID_KEY: Final = "runstep_validator.request_id"  # in the WSGI environ
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
    "answers-pending": "pending_answers",
}

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# The verdict of the request being answered (valid, error count), for its access log line.
verdict: contextvars.ContextVar[tuple[bool, int] | None] = contextvars.ContextVar("verdict", default=None)


# Control characters (C0, DEL, C1) and Unicode's line separators, written as escapes: a client's path or method can
# then neither split a text log line nor drive the terminal that shows it. Backslashes are doubled, so that an
# escape in the log always means an escaped character.
_LOG_ESCAPES: Final = {
    **{code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]},
    **{ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r", ord("\\"): "\\\\"},
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def loggable(text: str, limit: int = 200) -> str:
    """Client text (a path, a method) as it may appear in a log line: cut to `limit` characters, escaped."""
    return text[:limit].translate(_LOG_ESCAPES)


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


# One histogram for both the request count and the latency, as OpenTelemetry's HTTP conventions and Micrometer
# have it: its `_count` is the number of requests by route, method and status. A separate counter would cost a
# third write to shared memory per request.
DURATION: Final = MetricName(
    "runstep_validator_http_request_duration_seconds",
    "Time from the request's arrival to its answer; its count is the number of requests answered.",
    ("route", "method", "status"),
)
DURATION_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
VALIDATIONS: Final = MetricName(
    "runstep_validator_validations", "Payloads validated, by entry schema and verdict.", ("schema", "verdict")
)


class LocalRequestSeries:
    """The series every request changes, in this process's memory (no multiprocess directory: one process)."""

    def __init__(self) -> None:
        self.duration = Histogram(*DURATION, buckets=DURATION_BUCKETS)
        self.validations = Counter(*VALIDATIONS)
        self._answered: dict[tuple[str, str, int], Any] = {}

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        child = self._answered.get(key)
        if child is None:  # a closed set of keys: routes x methods x statuses
            child = self._answered[key] = self.duration.labels(route, method, str(status))
        child.observe(seconds)

    def validated(self, schema: str, valid: bool, count: int = 1) -> None:
        self.validations.labels(schema, "valid" if valid else "invalid").inc(count)


class CountedByCode:
    """A counter of report units by their code, with each code's series kept: a label lookup and a shared-memory
    write per unit were 6-7% of a worker's time answering an invalid 2 KB payload (py-spy); a report now finds
    each code's series once and adds to it once."""

    # Our codes are a closed set; the bound only keeps codes that are not ours (counted as `other`) from growing it.
    MOST_CODES_KEPT: Final = 256

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self._series: dict[str | None, Counter] = {}

    def count(self, units: Iterable[Any]) -> None:
        counts: dict[str | None, int] = {}
        for unit in units:
            counts[unit.code] = counts.get(unit.code, 0) + 1
        for code, count in counts.items():
            found = self._series.get(code)
            if found is None:
                if len(self._series) >= self.MOST_CODES_KEPT:
                    self._series.clear()
                found = self._series[code] = self.counter.labels(code_label(code))
            found.inc(count)


class Metrics:
    """The service's metrics, built once per process."""

    def __init__(self, schema_names: Iterable[str]) -> None:
        # prometheus_client chose its multiprocess values when it was first imported, by this variable: the server
        # sets it before it forks the workers, and imports prometheus_client in them only.
        directory = os.environ.get(MULTIPROCESS_ENV)
        self.multiprocess = bool(directory)
        self._directory = directory
        if directory:
            self._requests: RequestSeries | LocalRequestSeries = RequestSeries(directory, DURATION_BUCKETS)
        else:
            self._requests = LocalRequestSeries()
        self.answered = self._requests.answered
        one = {"multiprocess_mode": "max"} if self.multiprocess else {}  # one series, whatever the workers
        self.errors = CountedByCode(
            Counter("runstep_validator_validation_errors", "Errors reported, by keyword.", ["keyword"])
        )
        self.warnings = CountedByCode(
            Counter("runstep_validator_validation_warnings", "Warnings reported, by kind.", ["kind"])
        )
        self.records = Counter(
            "runstep_validator_records", "Records of batches and run-step events of streams validated.", ["route"]
        )
        self.limits = Counter("runstep_validator_limits_hit", "Requests refused at a limit.", ["limit"])
        self.build = Gauge("runstep_validator_build_info", "The version serving.", ["version"], **one)  # type: ignore[arg-type]
        self.build.labels(__version__).set(1)
        self._schema_names = frozenset(schema_names)
        self._by_id: dict[str, str] = {}
        for name in self._schema_names:  # every entry's series, at 0 from the start
            self._requests.validated(name, True, 0)
            self._requests.validated(name, False, 0)

    def name_ids(self, ids: dict[str, str]) -> None:
        """Which entry each schema `$id` is: a report names its schema by `$id`."""
        self._by_id = {schema_id: name for schema_id, name in ids.items() if name in self._schema_names}

    def validated(self, report: Report) -> None:
        self._requests.validated(self._by_id.get(report.schema, "other"), report.valid)
        if not report.valid:
            self.errors.count(report.errors)

    def warned(self, report: Report) -> None:
        self.warnings.count(report.warnings)

    def counted(self, route: str, records: int) -> None:
        self.records.labels(route).inc(records)

    def stream_errors(self, units: Iterable[Any]) -> None:
        self.errors.count(units)

    def limit_hit(self, problem_type: str) -> None:
        limit = "depth" if problem_type == "depth" else LIMITS.get(problem_type)
        if limit is not None:
            self.limits.labels(limit).inc()

    def exposition(self) -> bytes:
        """The text format: every worker's counts added up in multiprocess mode, this process's otherwise."""
        if self.multiprocess:
            registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(RequestSeriesCollector(self._directory or "", DURATION, DURATION_BUCKETS, VALIDATIONS))
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
    """UTC timestamps to the millisecond (`2026-11-25T07:48:10.953`, then `suffix`), each formatted once: a busy
    worker writes several lines a millisecond."""

    def __init__(self, suffix: str = "") -> None:
        self._suffix = suffix
        self._millisecond = -1
        self._stamp = ""

    def stamp(self, moment: float) -> str:
        millisecond = int(moment * 1000)
        if millisecond != self._millisecond:
            second, fraction = divmod(millisecond, 1000)
            self._millisecond = millisecond
            self._stamp = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(second))}.{fraction:03d}{self._suffix}"
        return self._stamp


class TextFormatter(logging.Formatter):
    """A readable line: time (UTC, to the millisecond, as the access lines have it), level, logger, request id and
    message. One layout for every line of the server's log, granian's own included."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
        self._clock = _Clock()

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # logging's name
        return self._clock.stamp(record.created).replace("T", " ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, the request id, and what the record carries in `fields` (method,
    route, status, bytes, duration, verdict, error count); an error's message and exception type, never a body."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = _Clock("Z")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._clock.stamp(record.created),
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


class Timed(Protocol):
    """A Struct that carries its own time, as UTC text (`JsonFormatter`'s form)."""

    time: str


Pending = str | tuple[float, Timed]


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes its lines in batches: at most `interval` seconds late, at once for warnings
    and errors, and everything on flush and close. One write per request cost a quarter of the throughput of the
    smallest requests; one write per batch costs next to nothing.

    A line is a formatted string or a timed msgspec Struct, which is encoded as a JSON line with the rest of its
    batch, in one call. Lines wait in a deque, whose append and popleft are atomic: adding a line takes no lock,
    and only the writing of a batch is serialized, under the handler's lock."""

    def __init__(self, stream: Any = None, interval: float = 0.1, capacity: int = 512) -> None:
        super().__init__(stream)
        self.interval = interval
        self.capacity = capacity
        self._pending: collections.deque[Pending] = collections.deque()
        self._clock = _Clock("Z")
        self._ticker: threading.Thread | None = None
        self._stopped = threading.Event()
        # A forked child (a granian worker) must not write again what its parent has yet to write. Held weakly:
        # a callback registered at fork lives as long as the process.
        forget = weakref.WeakMethod(self._forget)
        os.register_at_fork(after_in_child=lambda: (method := forget()) is not None and method())

    def _forget(self) -> None:
        self._pending.clear()
        self._ticker = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.append(self.format(record), urgent=record.levelno >= logging.WARNING)
        except Exception:  # as logging.StreamHandler: a failing log line must not fail the request
            self.handleError(record)

    def append(self, line: Pending, urgent: bool = False) -> None:
        """Adds a line without a log record: a string formatted already, or a Struct with the moment
        (`time.time()`) its `time` is set from when its batch is written. Formatting a batch's times and encoding its
        lines in one go costs a third of doing it request by request, when the caches are cold from everything else
        a request does."""
        pending = self._pending
        pending.append(line)
        if urgent or len(pending) >= self.capacity:
            self.flush()
        elif self._ticker is None:  # started in the process that logs, which may be a fork of the one that made it
            self._ticker = threading.Thread(target=self._tick, name="log-flush", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stopped.wait(self.interval):
            self.flush()

    def close(self) -> None:
        self._stopped.set()
        self.flush()
        super().close()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            pending = self._pending
            # Only the lines present now: others may be appended meanwhile, and wait for the next batch.
            lines = [pending.popleft() for _ in range(len(pending))]
            if lines:
                self.stream.write("".join(self._text_lines(lines)))
                self.stream.flush()

    def _text_lines(self, lines: list[Pending]) -> Iterator[str]:
        """Each line with its newline; each run of Structs encoded as JSON lines in one call."""
        structs: list[Any] = []  # Structs, encoded alike
        stamp = self._clock.stamp
        for line in lines:
            if isinstance(line, str):
                if structs:
                    yield _encoder.encode_lines(structs).decode()
                    structs = []
                yield line + "\n"
            else:
                moment, timed = line
                timed.time = stamp(moment)
                structs.append(timed)
        if structs:
            yield _encoder.encode_lines(structs).decode()


ACCESS_LOGGER: Final = "runstep_validator.access"


class AccessLine(msgspec.Struct, omit_defaults=True):
    """An access log line's fields, in their order on a JSON line. Never a body, a query string or a payload
    value: the method and path are cut short, and the rest are ours."""

    time: str
    level: str
    logger: str
    request_id: str
    method: str
    route: str
    path: str
    status: int
    bytes: int
    duration_ms: float
    verdict: str | None = None
    errors: int | None = None

    @property
    def message(self) -> str:
        """The line of the text format, after its time, level, logger and request id."""
        return f"{loggable(self.method)} {loggable(self.path)} {self.status} {self.bytes} {self.duration_ms:.2f}ms"


def access_line(identifier: str, method: str, route: str, path: str, answer: tuple[int, int, float]) -> AccessLine:
    """An answered request's line, from its (status, size, seconds); its time is set when it is written."""
    status, size, seconds = answer
    # to the microsecond
    return AccessLine(
        "",
        "info",
        ACCESS_LOGGER,
        identifier,
        method[:16],
        route,
        path[:200],
        status,
        size,
        int(seconds * 1_000_000) / 1000,
    )


def access_writer(logger: logging.Logger, log_format: str) -> Callable[[AccessLine], None] | None:
    """How the front door writes access lines: straight into the batching handler when the server configured
    one, which encodes JSON lines a batch at a time (through a log record each, a line cost as much again as the
    request's validation), else through `logger`. None when the logger would drop INFO lines."""
    if not logger.isEnabledFor(logging.INFO):
        return None
    owner: logging.Logger | None = logger
    while owner is not None and not owner.handlers and owner.propagate:
        owner = owner.parent
    handlers = owner.handlers if owner is not None else []
    batching = next((handler for handler in handlers if isinstance(handler, BatchingStreamHandler)), None)
    if batching is None or len(handlers) != 1:

        def through_logging(line: AccessLine) -> None:
            extra: dict[str, Any] = {"request_id": line.request_id}
            if log_format == "json":
                fields = msgspec.structs.asdict(line)
                for name in ("time", "level", "logger", "request_id"):
                    del fields[name]
                extra["fields"] = {name: value for name, value in fields.items() if value is not None}
            logger.info("%s", line.message, extra=extra)

        return through_logging
    name = logger.name
    if log_format == "json":

        def json_line(line: AccessLine) -> None:
            line.logger = name
            batching.append((time.time(), line))

        return json_line
    text_clock = _Clock()

    def text_line(line: AccessLine) -> None:
        stamp = text_clock.stamp(time.time()).replace("T", " ")
        batching.append(f"{stamp} INFO {name} [{line.request_id}]: {line.message}")

    return text_line
