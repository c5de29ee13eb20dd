"""Operations against the real server with 2 workers: exact metric counts summed across workers (and kept when a
worker is killed), the exposition checked by promtool, JSON log lines that follow a request id, and readiness
that turns 503 after SIGTERM while requests in flight finish."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .server import RunningServer, running_server
from .support import EXAMPLES

JSON = {"Content-Type": "application/json"}
LIMIT = 32 * 1024
VALID = json.dumps(json.loads((EXAMPLES / "message_creation.json").read_text())).encode()


def invalid(**changes: object) -> bytes:
    document = json.loads(VALID)
    for key, value in changes.items():
        if value is None:
            del document[key]
        else:
            document[key] = value
    return json.dumps(document).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(
        tmp_path_factory.mktemp("ops"), workers=2, max_body_bytes=str(LIMIT), log_format="json"
    ) as running:
        yield running


def scrape(server: RunningServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, content_type, body = server.request("GET", "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_known_traffic_gives_exact_counts_summed_across_workers(server: RunningServer) -> None:
    before = scrape(server)
    sent = {"valid": 6, "enum": 3, "type": 2, "required": 2}
    for _ in range(sent["valid"]):
        assert server.request("POST", "/v1/validate", VALID, JSON)[0] == 200
    for _ in range(sent["enum"]):
        server.request("POST", "/v1/validate", invalid(status="finished"), JSON)
    for _ in range(sent["type"]):
        server.request("POST", "/v1/validate", invalid(created_at="yesterday"), JSON)
    for _ in range(sent["required"]):
        server.request("POST", "/v1/validate", invalid(thread_id=None), JSON)
    batch = b"\n".join([VALID, invalid(status="finished"), VALID]) + b"\n"
    assert server.request("POST", "/v1/validate/batch", batch, {"Content-Type": "application/x-ndjson"})[0] == 200
    assert server.request("POST", "/v1/validate", b" " * (LIMIT + 1), JSON)[0] == 413
    assert server.request("GET", "/no/such/route/12345")[0] == 404

    after = scrape(server)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    single = sum(sent.values())
    requests = "runstep_validator_http_request_duration_seconds_count"  # the histogram counts requests too
    assert grew(requests, route="/v1/validate", method="POST", status="200") == single
    assert grew(requests, route="/v1/validate", method="POST", status="413") == 1
    assert grew(requests, route="/v1/validate/batch", method="POST", status="200") == 1
    assert grew(requests, route="other", method="GET", status="404") == 1
    fast = "runstep_validator_http_request_duration_seconds_bucket"
    assert grew(fast, route="/v1/validate", method="POST", status="200", le="+Inf") == single
    assert grew("runstep_validator_validations_total", schema="run_step", verdict="valid") == sent["valid"] + 2
    assert grew("runstep_validator_validations_total", schema="run_step", verdict="invalid") == single - 6 + 1
    assert grew("runstep_validator_validation_errors_total", keyword="enum") == sent["enum"] + 1
    assert grew("runstep_validator_validation_errors_total", keyword="type") == sent["type"]
    assert grew("runstep_validator_validation_errors_total", keyword="required") == sent["required"]
    assert grew("runstep_validator_records_total", route="/v1/validate/batch") == 3
    assert grew("runstep_validator_limits_hit_total", limit="body") == 1
    assert value(after, "runstep_validator_build_info", version=_version()) == 1
    # The unknown route's path is nowhere in the series: label values come from closed sets only.
    assert "12345" not in server.request("GET", "/metrics")[2].decode()


def _version() -> str:
    from runstep_validator import __version__  # noqa: PLC0415

    return __version__


def worker_pids(server: RunningServer) -> list[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    return [int(child) for child in children]


def test_a_killed_worker_neither_loses_nor_doubles_counts(server: RunningServer) -> None:
    for _ in range(10):
        server.request("POST", "/v1/validate", VALID, JSON)
    before = scrape(server)
    victim = worker_pids(server)[0]

    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while victim in worker_pids(server) or len(worker_pids(server)) < 2:  # granian respawns it
        assert time.monotonic() < deadline, "the killed worker was not replaced"
        time.sleep(0.1)
    for _ in range(20):  # both workers answer /readyz again
        assert server.request("GET", "/readyz")[0] == 200
    after = scrape(server)

    name = "runstep_validator_validations_total"
    assert value(after, name, schema="run_step", verdict="valid") == value(
        before, name, schema="run_step", verdict="valid"
    )
    for key, count in before.items():
        if key[0].endswith(("_total", "_count", "_bucket")):
            assert after.get(key, 0.0) >= count, key  # counters never go back, a dead worker's counts included


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (.ci/run installs it)")
def test_the_exposition_passes_promtool(server: RunningServer) -> None:
    server.request("POST", "/v1/validate", invalid(status="finished"), JSON)
    exposition = server.request("GET", "/metrics")[2]

    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition, capture_output=True, timeout=60, check=False
    )

    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def log_lines(server: RunningServer) -> list[dict[str, object]]:
    return [json.loads(line) for line in server.log.splitlines() if line.startswith("{")]


def test_a_request_id_is_followed_from_header_to_log_line_and_problem(server: RunningServer) -> None:
    connection = server.connection()
    try:
        connection.request("POST", "/v1/validate", invalid(status="finished"), {**JSON, "X-Request-ID": "trace-42.a"})
        response = connection.getresponse()
        response.read()
        echoed = response.getheader("X-Request-ID")
        connection.request("GET", "/nope", headers={"X-Request-ID": "bad id with spaces " + "x" * 80})
        refused = connection.getresponse()
        problem = json.loads(refused.read())
        made = refused.getheader("X-Request-ID")
    finally:
        connection.close()

    assert echoed == "trace-42.a"
    assert made is not None
    assert len(made) == 32  # made here: the client's was not short and printable
    assert problem["request_id"] == made
    time.sleep(0.5)  # log lines are written in batches, at most a tenth of a second late
    lines = log_lines(server)
    assert lines, server.log[-2000:]
    assert all({"time", "level", "request_id"} <= line.keys() for line in lines)
    mine_lines = [line for line in lines if line["request_id"] == "trace-42.a"]
    assert len(mine_lines) == 1, mine_lines
    (mine,) = mine_lines
    assert {key: mine[key] for key in ("method", "route", "status", "verdict", "errors")} == {
        "method": "POST",
        "route": "/v1/validate",
        "status": 200,
        "verdict": "invalid",
        "errors": 1,
    }
    assert isinstance(mine["bytes"], int)
    assert isinstance(mine["duration_ms"], float)
    assert "finished" not in json.dumps(mine)  # never a payload value
    (other,) = [line for line in lines if line["request_id"] == made]
    assert other["status"] == 404


def test_readiness_turns_503_after_sigterm_while_in_flight_requests_finish(tmp_path: Path) -> None:
    with running_server(tmp_path, workers=2, drain_seconds="3", access_log="false") as draining:
        assert draining.request("GET", "/readyz") == (200, "application/json", b'{"status":"ready"}')
        # A request in flight: its headers are in, its body still coming.
        slow = socket.create_connection(("127.0.0.1", draining.port), timeout=10)
        slow.sendall(b"POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        slow.sendall(f"Content-Length: {len(VALID)}\r\n\r\n".encode() + VALID[:10])

        draining.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        status, content_type, body = draining.request("GET", "/readyz")
        assert (status, content_type) == (503, "application/problem+json")
        assert json.loads(body)["type"].endswith("/draining")
        assert draining.request("GET", "/healthz")[0] == 200  # alive, just not taking new work

        slow.sendall(VALID[10:])
        answer = slow.recv(65536)
        slow.close()
        assert answer.startswith(b"HTTP/1.1 200")
        assert b'"valid":true' in answer
        assert draining.process.wait(timeout=30) == 0


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    from runstep_validator.http.app import create_app  # noqa: PLC0415

    client = create_app({"access_log": False, "metrics": False}).test_client()
    assert client.get("/metrics").status_code == 404
    assert client.post("/v1/validate", data=VALID, content_type="application/json").status_code == 200
