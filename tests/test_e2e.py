"""End to end: the real server process, started as `make run` starts it, on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import RunningServer, group_alive, running_server
from .support import EXAMPLES
from .test_streams import delta, events, transcript

VALID = (EXAMPLES / "tool_calls_function.json").read_bytes()
INVALID = (EXAMPLES / "invalid_tool_calls.json").read_bytes()
JSON = {"Content-Type": "application/json"}
LIMIT = 32 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("e2e"), max_body_bytes=str(LIMIT)) as running:
        yield running


def test_valid_and_invalid_payloads(server: RunningServer) -> None:
    status, content_type, body = server.request("POST", "/v1/validate", VALID, JSON)
    assert (status, content_type, json.loads(body)["valid"]) == (200, "application/json", True)

    status, _, body = server.request("POST", "/v1/validate", INVALID, JSON)
    report = json.loads(body)
    assert (status, report["valid"], len(report["errors"])) == (200, False, 3)


def test_malformed_payload(server: RunningServer) -> None:
    status, content_type, body = server.request("POST", "/v1/validate", b'{"id": ', JSON)

    assert (status, content_type) == (400, "application/problem+json")
    assert json.loads(body)["line"] == 1


def test_oversized_payload_is_refused(server: RunningServer) -> None:
    status, content_type, body = server.request("POST", "/v1/validate", b" " * (LIMIT + 1), JSON)

    assert (status, content_type, json.loads(body)["limit"]) == (413, "application/problem+json", LIMIT)


def test_oversized_chunked_upload_is_refused(server: RunningServer) -> None:
    head = (
        b"POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunks = [b"400\r\n" + b" " * 1024 + b"\r\n"] * (LIMIT // 1024 + 2) + [b"0\r\n\r\n"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(head)
        # The server answers 413 as soon as the limit passes and closes: a client that went on sending into the
        # closed connection would get a reset that can discard the answer, so it stops once the answer is there.
        for piece in chunks:
            if select.select([raw], [], [], 0)[0]:
                break
            try:
                raw.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while not answer.startswith(b"HTTP/1.1 413") and (piece := raw.recv(65536)):
                answer += piece

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def test_chunked_upload_within_the_limit(server: RunningServer) -> None:
    connection = server.connection()
    connection.request("POST", "/v1/validate", body=iter([VALID[:100], VALID[100:]]), headers=JSON, encode_chunked=True)
    response = connection.getresponse()

    assert (response.status, json.loads(response.read())["valid"]) == (200, True)
    connection.close()


def test_batch(server: RunningServer) -> None:
    lines = b"\n".join([json.dumps(json.loads(VALID)).encode(), b"{oops", json.dumps(json.loads(INVALID)).encode()])
    status, _, body = server.request("POST", "/v1/validate/batch", lines, {"Content-Type": "application/x-ndjson"})

    report = json.loads(body)
    assert status == 200
    assert report["summary"] == {"total": 3, "valid": 1, "invalid": 2}
    assert [result["line"] for result in report["results"]] == [1, 2, 3]


def test_errors_are_problems_never_html(server: RunningServer) -> None:
    for method, path in [("GET", "/v1/validate"), ("GET", "/nowhere"), ("DELETE", "/healthz")]:
        status, content_type, body = server.request(method, path)
        assert content_type == "application/problem+json", (method, path)
        assert json.loads(body)["status"] == status


def test_client_that_disconnects_mid_upload_does_not_hurt_the_server(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(
            b"POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"
        )

    assert server.request("GET", "/healthz")[0] == 200


def test_shutdown_on_sigterm_is_clean(tmp_path: Path) -> None:
    with running_server(tmp_path, workers=1) as server:
        assert server.request("POST", "/v1/validate", VALID, JSON)[0] == 200
        assert server.stop() == 0
        log = server.log
    assert "POST /v1/validate 200" in log
    assert "step_8cVbZ3mQ2rTn5yWk1LdPx4Ha" not in log  # the access log holds no payload


def test_no_worker_outlives_its_server_even_one_killed_outright(tmp_path: Path) -> None:
    with running_server(tmp_path, workers=2) as server:
        group = server.process.pid
        server.process.kill()  # SIGKILL orphans granian's workers: the helper must still stop them
        server.process.wait(timeout=30)
        assert group_alive(group)

    assert not group_alive(group), "a worker outlived its server"
    # Killed outright, it could not remove its state directory; the next server to start does.
    left = list(Path(tempfile.gettempdir()).glob(f"runstep-validator-{group}-*"))
    assert left
    with running_server(tmp_path, workers=1):
        assert not any(path.exists() for path in left)


def test_a_large_stream_and_a_delta_through_the_real_server(tmp_path: Path) -> None:
    # Bodies over the front door's inline size are validated on its thread pool: this one is about 400 KB.
    body = transcript(
        events()[:3] + [("thread.run.step.delta", delta(0, arguments="")) for _ in range(2000)] + events()[3:]
    )
    assert len(body) > 256 * 1024
    with running_server(tmp_path, workers=1, access_log="false") as big:
        status, content_type, answer = big.request(
            "POST", "/v1/validate/stream", body, {"Content-Type": "text/event-stream"}
        )
        assert (status, content_type) == (200, "application/json")
        assert json.loads(answer)["valid"] is True
        status, _, answer = big.request("POST", "/v1/validate", json.dumps(events()[2][1]).encode(), JSON)
        assert status == 200
        assert json.loads(answer)["schema"].endswith("/run_step_delta.schema.json")


def test_the_azure_dialect_through_the_real_server(server: RunningServer) -> None:
    mcp = json.loads((EXAMPLES / "azure" / "invalid" / "mcp_call.json").read_bytes())
    body = json.dumps(mcp).encode()

    _, _, answer = server.request("POST", "/v1/validate", body, JSON)
    assert json.loads(answer)["valid"] is True  # OpenAI's entries know no mcp call: a warning only
    _, _, answer = server.request("POST", "/v1/validate?dialect=azure", body, JSON)
    report = json.loads(answer)
    assert (report["valid"], report["schema"].rsplit("/", 1)[1]) == (False, "azure_run_step.schema.json")
    status, content_type, _ = server.request("POST", "/v1/validate?dialect=bedrock", body, JSON)
    assert (status, content_type) == (400, "application/problem+json")
