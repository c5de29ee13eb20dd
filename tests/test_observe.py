"""The pieces operations rest on, checked in this process: the request series written straight into shared memory
and read back by a collector of ours (held to prometheus_client's own multiprocess values), the access line's JSON,
and the batching log handler."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
import threading
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from runstep_validator.http.observe import (
    DURATION,
    DURATION_BUCKETS,
    VALIDATIONS,
    AccessLine,
    BatchingStreamHandler,
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    access_line,
    access_writer,
    loggable,
)
from runstep_validator.http.server import logging_config
from runstep_validator.http.shared_values import RequestSeries, RequestSeriesCollector, SharedValues, read_values

ROUTES = st.sampled_from(["/v1/validate", "/v1/validate/batch", "other"])
METHODS = st.sampled_from(["GET", "POST"])
STATUSES = st.sampled_from([200, 400, 413])
# Durations on and around the bucket bounds, where `le` decides, and far from them.
SECONDS = st.one_of(st.sampled_from([*DURATION_BUCKETS, 0.0, 1e-9, 11.0]), st.floats(0, 20, allow_nan=False))
ANSWERED = st.tuples(st.just("answered"), ROUTES, METHODS, STATUSES, SECONDS)
VALIDATED = st.tuples(st.just("validated"), st.sampled_from(["run_step", "other"]), st.booleans(), st.integers(0, 3))

# The same changes made through prometheus_client's own Histogram and Counter, in multiprocess mode (which is
# chosen when it is imported, hence a process of its own).
NATIVE = """
import json, sys
from prometheus_client import Counter, Histogram
duration, buckets, validations, changes = json.load(sys.stdin)
histogram = Histogram(*duration, buckets=buckets)
counter = Counter(*validations)
for change in changes:
    if change[0] == "answered":
        histogram.labels(change[1], change[2], str(change[3])).observe(change[4])
    else:
        counter.labels(change[1], "valid" if change[2] else "invalid").inc(change[3])
"""


def samples(directory: Path, native: bool = False) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """What /metrics shows of the files in `directory`: ours, or prometheus_client's own (`native`)."""
    registry = CollectorRegistry()
    if native:
        MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    else:
        registry.register(RequestSeriesCollector(str(directory), DURATION, DURATION_BUCKETS, VALIDATIONS))
    exposition = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.one_of(ANSWERED, VALIDATED), max_size=30))
def test_request_series_expose_what_prometheus_clients_own_values_do(
    tmp_path_factory: pytest.TempPathFactory, changes: list[tuple[object, ...]]
) -> None:
    ours, theirs = tmp_path_factory.mktemp("ours"), tmp_path_factory.mktemp("theirs")
    series = RequestSeries(str(ours), DURATION_BUCKETS)
    for change in changes:
        if change[0] == "answered":
            series.answered(*change[1:])  # type: ignore[arg-type]
        else:
            series.validated(*change[1:])  # type: ignore[arg-type]
    native = subprocess.run(
        [sys.executable, "-c", NATIVE],
        input=json.dumps([DURATION, DURATION_BUCKETS, VALIDATIONS, changes]),
        env={"PROMETHEUS_MULTIPROC_DIR": str(theirs), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert native.returncode == 0, native.stderr

    ours_samples, theirs_samples = samples(ours), samples(theirs, native=True)
    assert ours_samples.keys() >= theirs_samples.keys()
    for key, value in ours_samples.items():  # ours also shows series at 0 that theirs has not made
        assert value == pytest.approx(theirs_samples.get(key, 0.0)), key


def test_values_written_before_the_file_grows_stay_visible(tmp_path: Path) -> None:
    values = SharedValues(str(tmp_path / "grow.requests"))
    first = values.slot("first")
    values.doubles[first] += 5
    later = [values.slot(f"later {n}", 1 + n % 3) for n in range(2000)]  # > 64 KiB
    values.doubles[first] += 1
    values.doubles[later[-1]] += 2
    values.doubles[later[-1] + 1] += 3

    read = dict(read_values(tmp_path / "grow.requests"))

    assert read["first"] == (6.0,)
    assert read["later 1999"] == (2.0, 3.0)
    assert read["later 0"] == (0.0,)
    assert len(read) == 2001


@given(
    method=st.text(max_size=40),
    path=st.text(max_size=300),
    found=st.none() | st.tuples(st.booleans(), st.integers(0, 99)),
)
def test_an_access_line_is_one_json_object_of_its_fields(
    method: str, path: str, found: tuple[bool, int] | None
) -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream)
    logger = logging.getLogger("runstep_validator.test_access")
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.INFO
    write = access_writer(logger, "json")
    assert write is not None
    line = access_line("rid-1", method, "other", path, (404, 12, 0.0123456))
    if found is not None:
        line.verdict, line.errors = "valid" if found[0] else "invalid", found[1]

    write(line)
    handler.close()

    (written,) = stream.getvalue().removesuffix("\n").split("\n")  # JSON Lines end at "\n" only
    document = json.loads(written)
    assert document.pop("time").endswith("Z")
    expected: dict[str, object] = {"level": "info", "logger": logger.name, "request_id": "rid-1"}
    expected |= {"method": method[:16]}
    expected |= {"route": "other", "path": path[:200], "status": 404, "bytes": 12, "duration_ms": 12.345}
    if found is not None:
        expected |= {"verdict": "valid" if found[0] else "invalid", "errors": found[1]}
    assert document == expected


def test_the_batching_handler_writes_every_line_once_in_order_from_many_threads() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=0.001, capacity=7)
    per_thread = 2000

    def write(thread: int) -> None:
        for number in range(per_thread):
            if number % 2:
                handler.append(f"{thread} {number}")
            else:
                handler.append((0.0, AccessLine("", "info", "l", str(thread), "GET", "/", "/", 200, number, 0.0)))

    threads = [threading.Thread(target=write, args=(thread,)) for thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.close()

    seen: dict[str, list[int]] = {}
    for text in stream.getvalue().splitlines():
        if text.startswith("{"):
            line = msgspec.json.decode(text, type=AccessLine)
            seen.setdefault(line.request_id, []).append(line.bytes)
        else:
            name, number = text.split()
            seen.setdefault(name, []).append(int(number))
    assert seen == {str(thread): list(range(per_thread)) for thread in range(4)}


def test_warnings_are_written_at_once_and_lines_at_most_an_interval_late() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=0.05)
    handler.append("an access line")
    assert stream.getvalue() == ""  # waits for its batch
    handler.emit(logging.LogRecord("x", logging.WARNING, __file__, 1, "a warning", None, None))
    assert stream.getvalue() == "an access line\na warning\n"
    handler.append("another")
    ticked = threading.Event()
    for _ in range(100):
        if stream.getvalue().endswith("another\n"):
            ticked.set()
            break
        threading.Event().wait(0.01)
    handler.close()
    assert ticked.is_set(), "the ticker did not write the pending line"


def test_a_process_id_used_again_adds_its_counts_to_the_dead_ones(tmp_path: Path) -> None:
    # Two series in one process stand for a worker and its successor under the same process id.
    for _ in range(2):
        series = RequestSeries(str(tmp_path), DURATION_BUCKETS)
        series.validated("run_step", True, 2)

    assert samples(tmp_path)["runstep_validator_validations_total", (("schema", "run_step"), ("verdict", "valid"))] == 4


@pytest.mark.parametrize("batching", [True, False], ids=["batching handler", "any other handler"])
def test_access_lines_read_the_same_through_either_handler(batching: bool) -> None:
    stream = io.StringIO()
    handler: logging.Handler = BatchingStreamHandler(stream) if batching else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"runstep_validator.test_either_{batching}")
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.INFO
    write = access_writer(logger, "json")
    assert write is not None
    line = access_line("rid-2", "POST", "/v1/validate", "/v1/validate", (200, 99, 0.002))
    line.verdict, line.errors = "invalid", 3

    write(line)
    handler.close()

    document = json.loads(stream.getvalue())
    assert document.pop("time").endswith("Z")
    assert document.pop("logger") == logger.name
    assert document == {
        "level": "info",
        "request_id": "rid-2",
        "method": "POST",
        "route": "/v1/validate",
        "path": "/v1/validate",
        "status": 200,
        "bytes": 99,
        "duration_ms": 2.0,
        "verdict": "invalid",
        "errors": 3,
    }


def test_client_text_in_a_log_line_has_no_control_character_left() -> None:
    separators = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
    for code in separators:
        escaped = loggable(f"/a{chr(code)}b")
        assert escaped.isprintable(), (code, escaped)
    assert loggable("/a\\nb") != loggable("/a\nb")  # a backslash the client sent never reads as an escape


def test_error_lines_and_access_lines_stamp_time_alike_in_text() -> None:
    """One server log, one clock: the same UTC layout on access lines and on every other line (the app's errors,
    granian's own), which the server's text format gives to all of them."""
    formatters = logging_config(log_format="text")["formatters"]
    assert formatters["text"] == {"()": f"{TextFormatter.__module__}.TextFormatter"}
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(TextFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("runstep_validator.test_one_clock")
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.INFO
    write = access_writer(logger, "text")
    assert write is not None

    logger.error("a failure")
    write(access_line("rid-3", "GET", "/healthz", "/healthz", (200, 15, 0.001)))
    handler.close()

    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} "
    error, access = stream.getvalue().splitlines()
    assert re.match(stamp + r"ERROR runstep_validator.test_one_clock \[-\]: a failure$", error), error
    assert re.match(stamp + r"INFO ", access), access
