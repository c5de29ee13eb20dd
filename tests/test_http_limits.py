"""What the HTTP server bounds, against the real server on loopback (issue 21): forged log lines, HTTP/2 cleartext,
shutdown with a request in flight, bodies cut short, connections that send nothing, clients that never read their
answers, error-heavy bodies on every route, and JSON-array batches past the record limit."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import RunningServer, running_server
from .support import error_heavy

pytestmark = pytest.mark.slow

# A run step with `calls` bad tool calls: five errors each, so its cost is all in validation (issue 21's reproduction).


def post(path: str, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return (head + extra + "\r\n").encode() + body


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("limits"), workers=1) as running:
        yield running


def exchange(server: RunningServer, raw: bytes, half_close: bool = False, seconds: float = 10) -> bytes:
    """Sends raw bytes, and returns everything the server sends back until it closes (or `seconds` pass)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=seconds) as connection:
        connection.sendall(raw)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline and (chunk := connection.recv(65536)):
                received += chunk
                if b"\r\n\r\n" in received and not half_close and _complete(received):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def status_and_problem(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else {}


def log_after(server: RunningServer, marker: str, seconds: float = 3) -> str:
    """The server's log once it mentions `marker` (lines are written at most 0.1 s late)."""
    deadline = time.monotonic() + seconds
    while marker not in server.log and time.monotonic() < deadline:
        time.sleep(0.05)
    return server.log


def validation_cpu(server: RunningServer) -> float:
    """CPU seconds used so far by the validation processes of the server's workers."""
    ticks = 0
    for worker in _children(server.process.pid):
        for helper in _children(worker):
            try:
                if b"spawn_main" not in Path(f"/proc/{helper}/cmdline").read_bytes():
                    continue
                fields = Path(f"/proc/{helper}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime and stime (proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait_until_validating(server: RunningServer, before: float, seconds: float = 30) -> None:
    """Returns once a validation process has worked a tenth of a second since `before` (its CPU time then): the
    request sent meanwhile is being validated. An idle validation process uses no CPU at all."""
    deadline = time.monotonic() + seconds
    while validation_cpu(server) < before + 0.1:
        assert time.monotonic() < deadline, "no validation process started on the request"
        time.sleep(0.02)


def test_a_path_cannot_forge_a_text_log_line(server: RunningServer) -> None:
    answer = exchange(server, b"GET /x%0AFORGED%20LINE%1B%5B2J HTTP/1.1\r\nHost: x\r\nX-Request-ID: forge-1\r\n\r\n")

    assert status_and_problem(answer)[0] == 404
    log = log_after(server, "forge-1")
    (line,) = [line for line in log.splitlines() if "forge-1" in line]
    assert line.endswith("ms")
    assert "/x\\nFORGED LINE\\x1b[2J 404 " in line
    assert "\x1b" not in log
    assert not any(line.startswith("FORGED") for line in log.splitlines())


def test_http2_cleartext_is_not_spoken(server: RunningServer) -> None:
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    settings_frame = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an empty SETTINGS frame, as a client's first

    answer = exchange(server, preface + settings_frame, half_close=True, seconds=5)

    # An HTTP/2 server answers with its own SETTINGS frame (type 4 in the fourth byte); HTTP/1.1 refuses the line.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 "), answer[:40]


def test_shutdown_waits_for_a_request_in_flight_only_as_long_as_the_grace_period(tmp_path: Path) -> None:
    # About half a million errors: many seconds of validation, longer than the grace period by far.
    batch = b"\n".join([error_heavy(2000)] * 50)
    with (
        running_server(
            tmp_path, workers=1, max_request_seconds="3600", shutdown_grace_seconds="1", access_log="false"
        ) as slow,
        socket.create_connection(("127.0.0.1", slow.port), timeout=30) as connection,
    ):
        before = validation_cpu(slow)
        connection.sendall(post("/v1/validate/batch?output=flag", batch, "application/x-ndjson"))
        wait_until_validating(slow, before)
        started = time.monotonic()
        code = slow.stop()
        stopped = time.monotonic() - started

    assert code == 0
    assert stopped < 6, f"shutdown took {stopped:.1f} s"


RECORD = b'{"object": "thread.run.step"}\n'
CHUNKED = b"POST /v1/validate/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
CHUNKED += b"Transfer-Encoding: chunked\r\n"


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@pytest.mark.parametrize(
    ("name", "rest", "half_close", "received"),
    [
        ("garbage chunk size", chunk(RECORD * 2) + b"zz\r\n" + RECORD + b"\r\n0\r\n\r\n", False, 60),
        ("overflowing chunk size", chunk(RECORD * 2) + b"f" * 40 + b"\r\n" + RECORD + b"\r\n0\r\n\r\n", False, 60),
        ("half-close before the last chunk", chunk(RECORD * 2) + chunk(RECORD), True, 90),
    ],
)
def test_a_chunked_batch_cut_short_gets_no_verdict(
    server: RunningServer, name: str, rest: bytes, half_close: bool, received: int
) -> None:
    request_id = "cut-" + name.replace(" ", "-")

    answer = exchange(server, CHUNKED + f"X-Request-ID: {request_id}\r\n\r\n".encode() + rest, half_close)

    status, problem = status_and_problem(answer)
    assert (status, problem["type"]) == (400, "https://runstep-validator.dev/problems/truncated-body")
    assert problem["detail"] == f"the chunked body ended before its last chunk, after {received} bytes"
    assert f"[{request_id}]: POST /v1/validate/batch 400 " in log_after(server, request_id)


def test_a_whole_chunked_batch_is_validated(server: RunningServer) -> None:
    answer = exchange(server, CHUNKED + b"\r\n" + chunk(RECORD * 2) + chunk(RECORD) + b"0\r\n\r\n")

    status, document = status_and_problem(answer)
    assert (status, document["summary"]) == (200, {"total": 3, "valid": 0, "invalid": 3})


def test_a_body_cut_short_by_a_half_close_gets_a_problem_logged_and_counted(server: RunningServer) -> None:
    raw = post("/v1/validate", b"{}", extra="X-Request-ID: cut-length\r\n").replace(b"Length: 2", b"Length: 100")

    answer = exchange(server, raw, half_close=True)

    status, problem = status_and_problem(answer)
    assert (status, problem["type"]) == (400, "https://runstep-validator.dev/problems/truncated-body")
    assert problem["detail"] == "the body ended before its 100 bytes arrived"
    assert problem["request_id"] == "cut-length"
    assert "[cut-length]: POST /v1/validate 400 " in log_after(server, "cut-length")
    metrics = server.request("GET", "/metrics")[2].decode()
    assert (
        'runstep_validator_http_request_duration_seconds_count{method="POST",route="/v1/validate",status="400"}'
        in metrics
    )


def timed_get(server: RunningServer, path: str) -> tuple[int, float]:
    started = time.monotonic()
    answer = exchange(server, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return status_and_problem(answer)[0], time.monotonic() - started


def send_all(port: int, requests: list[bytes]) -> list[socket.socket]:
    connections = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in requests]
    for connection, request in zip(connections, requests, strict=True):
        connection.sendall(request)
    return connections


def test_error_heavy_bodies_on_every_route_stop_at_the_time_limit(tmp_path: Path) -> None:
    step = error_heavy(10_000)  # 850 KB, 50,006 errors: seconds of validation
    heavy = [
        post("/v1/validate", step),
        post("/v1/validate/batch", step + b"\n", "application/x-ndjson"),
        post("/v1/validate/stream", b"event: thread.run.step.created\ndata: " + step + b"\n\n", "text/event-stream"),
    ]
    with running_server(tmp_path, workers=1, max_request_seconds="0.5", access_log="false") as one:
        connections = send_all(one.port, heavy)
        try:
            answers = [_read_answer(connection) for connection in connections]
        finally:
            for connection in connections:
                connection.close()

    for answer in answers:
        status, problem = status_and_problem(answer)
        assert (status, problem["type"]) == (413, "https://runstep-validator.dev/problems/time-limit")
        assert problem["limit"] == 0.5


def test_bodies_with_many_errors_are_validated_off_the_event_loop(tmp_path: Path) -> None:
    # Many errors in small pieces (100 KB, 6,000 errors each), on every route, validated in full.
    record = error_heavy(20)  # 100 errors
    bodies = [
        post("/v1/validate/batch", b"\n".join([record] * 60), "application/x-ndjson"),
        post(
            "/v1/validate/stream",
            (b"event: thread.run.step.created\ndata: " + record + b"\n\n") * 60,
            "text/event-stream",
        ),
        post("/v1/validate", error_heavy(200)),
    ]
    with running_server(tmp_path, workers=1, access_log="false") as one:
        before = validation_cpu(one)
        connections = send_all(one.port, bodies)
        try:
            wait_until_validating(one, before)
            health = [timed_get(one, "/healthz") for _ in range(5)]
            answers = [_read_answer(connection) for connection in connections]
        finally:
            for connection in connections:
                connection.close()

    assert [status_and_problem(answer)[0] for answer in answers] == [200, 200, 200]
    assert all(status == 200 for status, _ in health)
    # On the event loop, /healthz waited seconds behind these (7 s in one run); on a thread, for the GIL that
    # jsonschema-rs holds while it collects a payload's errors. In a validation process it waits for neither.
    assert max(seconds for _, seconds in health) < 3, health


def _read_answer(connection: socket.socket) -> bytes:
    received = b""
    while not _complete(received) and (chunk := connection.recv(65536)):
        received += chunk
    return received


def closed_after(connection: socket.socket, seconds: float) -> tuple[bytes, bool]:
    """What arrives on a connection within `seconds`, and whether the server ended it (EOF or reset) by then."""
    connection.settimeout(0.5)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = connection.recv(1 << 20)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout(tmp_path: Path) -> None:
    with running_server(tmp_path, workers=1, header_timeout_seconds="1", access_log="false") as quick:
        silent = [socket.create_connection(("127.0.0.1", quick.port), timeout=10) for _ in range(20)]
        try:
            started = time.monotonic()
            endings = [closed_after(connection, 6) for connection in silent]
            elapsed = time.monotonic() - started
            assert quick.request("GET", "/healthz")[0] == 200
        finally:
            for connection in silent:
                connection.close()

    assert endings == [(b"", True)] * 20
    assert elapsed < 4


# 2,000 records of ten errors each: an 830 KB batch whose answer is 11 MB, far more than loopback's buffers hold.
UNREAD_BATCH = b"\n".join([error_heavy(2)] * 2000)


def lazy_client(port: int, request_id: str) -> socket.socket:
    """A client that sends a batch and does not read its answer (with a small receive window)."""
    lazy = socket.socket()
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    lazy.connect(("127.0.0.1", port))
    lazy.sendall(post("/v1/validate/batch", UNREAD_BATCH, "application/x-ndjson", f"X-Request-ID: {request_id}\r\n"))
    return lazy


ESTABLISHED = 1  # a TCP state, in Linux's tcp_states.h


def tcp_state(connection: socket.socket) -> int:
    """The connection's TCP state, the first byte of Linux's struct tcp_info."""
    return connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def test_a_client_that_does_not_read_its_answer_is_disconnected_at_the_write_timeout(tmp_path: Path) -> None:
    with (
        # A time limit far from the batch's few seconds of validation: on a busy machine they may be many more.
        running_server(tmp_path, workers=1, write_timeout_seconds="1", max_request_seconds="120") as quick,
        lazy_client(quick.port, "lazy-1") as lazy,
    ):
        log_after(quick, "[lazy-1]", seconds=60)  # answered: the answer is being written
        # Not a byte read meanwhile: the server ends the connection once the write timeout has passed.
        deadline = time.monotonic() + 30
        while tcp_state(lazy) == ESTABLISHED and time.monotonic() < deadline:
            time.sleep(0.05)
        received, ended = closed_after(lazy, 10)

    assert ended
    assert received.startswith(b"HTTP/1.1 200 ")
    assert len(received) < 8_000_000  # far from the 11 MB answer


def test_answers_that_clients_do_not_read_are_bounded_per_worker(tmp_path: Path) -> None:
    with running_server(
        tmp_path, workers=1, max_pending_answer_bytes=str(1024 * 1024), max_request_seconds="120"
    ) as bounded:
        with lazy_client(bounded.port, "lazy-2"):
            log_after(bounded, "[lazy-2]", seconds=60)
            with lazy_client(bounded.port, "lazy-3") as second:
                refused = _read_answer(second)
        # The first client is gone: the watch releases its answer at its next look (twice a second, later on a
        # busy machine), so a new client is retried until admitted, within a bound.
        deadline = time.monotonic() + 30
        while True:
            with lazy_client(bounded.port, "lazy-4") as third:
                admitted = _read_answer(third)
            if status_and_problem(admitted)[0] == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)

    status, problem = status_and_problem(refused)
    assert (status, problem["type"], problem["limit"]) == (
        503,
        "https://runstep-validator.dev/problems/answers-pending",
        1024 * 1024,
    )
    assert b"\r\nretry-after: 1\r\n" in refused.lower()
    assert status_and_problem(admitted)[0] == 200


@pytest.mark.parametrize("drain", ["0", "1"])
def test_sigterm_to_the_whole_process_group_is_an_orderly_stop(tmp_path: Path, drain: str) -> None:
    # What systemd's default KillMode (control-group) does: every process of the server gets SIGTERM at once.
    with running_server(tmp_path, workers=2, drain_seconds=drain) as server:
        for worker in (1, 2):
            log_after(server, f"Started worker-{worker} runtime", seconds=30)
        os.killpg(server.process.pid, signal.SIGTERM)
        code = server.process.wait(timeout=30)
        log = server.log

    assert code == 0
    assert "Unexpected exit" not in log
    assert "Respawning" not in log
    assert "Granian shutdown completed" in log
