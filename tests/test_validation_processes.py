"""The validation processes behind each worker (issue 21): large bodies are answered there, byte for byte as the
worker would, a process past the time limit is killed and replaced, one that dies is replaced, and none outlives
its worker. Valid large bodies stay on the event loop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from runstep_validator.core.errors import LimitExceeded
from runstep_validator.http.app import create_app
from runstep_validator.http.front import Handler, RequestHead, RequestHeaders, create_front, serve_jobs
from runstep_validator.http.processes import GRACE_SECONDS, READY, ChildDied, ValidationProcesses
from runstep_validator.http.server import logging_config

from .server import running_server
from .support import error_heavy

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEAVY = error_heavy(300)
JSON_HEADERS = {"content-type": "application/json"}


def head(path: str = "/v1/validate", query: str = "", content_type: str = "application/json") -> RequestHead:
    headers = RequestHeaders([("host", "x"), ("content-type", content_type)])
    return RequestHead("POST", path, query, headers, "127.0.0.1:5000", "127.0.0.1:8000", "http", "1.1")


def never_answers(connection: Connection, settings: dict[str, Any], log_config: dict[str, Any], parent: int) -> None:
    connection.send(READY)
    connection.recv()
    time.sleep(600)  # an uninterruptible call, as jsonschema-rs's on a huge body


def dies_on_a_job(connection: Connection, settings: dict[str, Any], log_config: dict[str, Any], parent: int) -> None:
    connection.send(READY)
    connection.recv()
    os._exit(3)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def pool(serve: Any, seconds: float = 0.2, size: int = 1) -> ValidationProcesses:
    processes = ValidationProcesses(size, serve, {}, seconds, logging_config())
    processes.start()
    return processes


@pytest.fixture
def real_pool() -> Iterator[ValidationProcesses]:
    processes = pool(serve_jobs, seconds=10)
    yield processes
    processes.close()


def test_a_process_answers_as_the_worker_itself_would(real_pool: ValidationProcesses) -> None:
    handler = Handler(create_app())
    valid = (EXAMPLES / "tool_calls_function.json").read_bytes()
    cases = [
        (head(), HEAVY),
        (head(query="output=detailed"), HEAVY),
        (head(query="output=flag"), HEAVY),
        (head(), valid),
        (head(path="/v1/validate/batch", content_type="application/x-ndjson"), b"\n".join([error_heavy(2), valid])),
        (head(content_type="text/plain"), HEAVY),
    ]
    for request, body in cases:
        expected = handler.answer(request, body, "same-1")
        assert real_pool.answer(request, body, "same-1") == expected
    assert real_pool.replaced == 0


def test_a_process_past_the_time_limit_is_killed_and_replaced() -> None:
    processes = pool(never_answers, seconds=0.2)
    try:
        (first,) = processes.pids()
        started = time.monotonic()
        with pytest.raises(LimitExceeded) as refused:
            processes.answer(head(), HEAVY, "slow-1")
        waited = time.monotonic() - started
        (second,) = processes.pids()

        assert refused.value.kind == "seconds"
        assert "longer than the limit of 0.2 s" in refused.value.detail
        assert waited >= 0.2 + GRACE_SECONDS
        assert not alive(first)
        assert second != first
        assert processes.replaced == 1
        with pytest.raises(LimitExceeded):  # the replacement takes requests (and is killed the same way)
            processes.answer(head(), HEAVY, "slow-2")
        assert processes.replaced == 2
    finally:
        processes.close()
    assert not any(alive(pid) for pid in [first, second, *processes.pids()])


def test_the_time_limit_counts_the_wait_for_a_free_process() -> None:
    """Requests queued behind a busy process are refused at their own time limit, not one limit after another."""
    processes = pool(never_answers, seconds=0.5)
    ended: list[tuple[float, str]] = []

    def request(number: int) -> None:
        started = time.monotonic()
        with pytest.raises(LimitExceeded) as refused:
            processes.answer(head(), HEAVY, f"queued-{number}")
        ended.append((time.monotonic() - started, refused.value.detail))

    try:
        threads = [threading.Thread(target=request, args=(number,)) for number in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        processes.close()

    assert len(ended) == 3
    queued = sorted(ended)[:2]  # the busy process ends its own request at 0.5 s + GRACE_SECONDS, after these
    assert all(seconds < 0.5 + GRACE_SECONDS for seconds, _ in queued), ended
    assert all("a wait for a free validation process" in detail for _, detail in queued), ended


def test_a_process_that_dies_fails_its_request_and_is_replaced() -> None:
    processes = pool(dies_on_a_job)
    try:
        (first,) = processes.pids()
        with pytest.raises(ChildDied, match=f"validation process {first} ended before it answered"):
            processes.answer(head(), HEAVY, "dies-1")
        (second,) = processes.pids()
        assert second != first
        assert processes.replaced == 1
    finally:
        processes.close()


def test_large_valid_bodies_are_answered_without_the_full_report() -> None:
    service = create_app().extensions["runstep_validator"]
    step = json.loads((EXAMPLES / "tool_calls_function.json").read_bytes())
    step["step_details"]["tool_calls"][0]["function"]["arguments"] = json.dumps({"text": "x" * 20_000})
    valid = json.dumps(step).encode()

    accepted = service.answer_accepted("", JSON_HEADERS, valid)

    assert len(valid) > 4096
    assert accepted is not None
    assert json.loads(accepted.body)["valid"] is True
    assert accepted.body == service.answer_fast("", JSON_HEADERS, valid).body
    assert service.answer_accepted("", JSON_HEADERS, HEAVY) is None  # errors: the full report, elsewhere
    assert service.answer_accepted("output=nonsense", JSON_HEADERS, valid) is None  # Flask's problem


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_a_workers_validation_process_ends_with_it(tmp_path: Path) -> None:
    with running_server(tmp_path, workers=1) as server:
        (worker,) = _children(server.process.pid)
        deadline = time.monotonic() + 30
        while not (helpers := _children(worker)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert helpers, "the worker started no validation process"
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.05)

        assert not any(alive(pid) for pid in helpers)


class _Protocol:
    """granian's HTTPProtocol, as far as the front uses it for a body with a Content-Length."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent: list[tuple[int, list[tuple[str, str]], bytes]] = []

    async def __call__(self) -> bytes:
        return self.body

    def response_bytes(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.sent.append((status, headers, content))


class _RecordingProcesses:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.asked: list[str] = []

    def answer(self, head: RequestHead, body: bytes, identifier: str) -> Any:
        self.asked.append(identifier)
        return self.handler.answer(head, body, identifier)


def test_the_front_answers_large_valid_bodies_itself_and_sends_the_rest_to_a_process() -> None:
    front = create_front({"access_log": False, "metrics": False})
    recording = _RecordingProcesses(front.handler)
    front.processes = recording  # type: ignore[assignment]
    step = json.loads((EXAMPLES / "tool_calls_function.json").read_bytes())
    step["step_details"]["tool_calls"][0]["function"]["arguments"] = json.dumps({"text": "x" * 20_000})
    valid = json.dumps(step).encode()

    def served(body: bytes, identifier: str) -> tuple[int, dict[str, Any]]:
        request = head()._replace(headers=RequestHeaders([*head().headers, ("x-request-id", identifier)]))
        scope = SimpleNamespace(proto="http", **request._asdict())
        scope.headers.append(("content-length", str(len(body))))
        protocol = _Protocol(body)
        asyncio.run(front.__rsgi__(scope, protocol))  # type: ignore[arg-type]
        ((status, _, content),) = protocol.sent
        return status, json.loads(content)

    try:
        assert served(valid, "valid-large") == (200, json.loads(front.handler.answer(head(), valid, "x").content))
        assert recording.asked == []  # the fast path's verdict, on the event loop
        status, report = served(HEAVY, "heavy-1")
        assert (status, report["valid"]) == (200, False)
        assert recording.asked == ["heavy-1"]
    finally:
        front.pool.shutdown()


def test_what_a_validation_process_counts_is_in_the_metrics(tmp_path: Path) -> None:
    batch = b"\n".join([error_heavy(2)] * 100)  # 40 KB: validated in a process
    with running_server(tmp_path, workers=1) as server:
        status, _, _ = server.request("POST", "/v1/validate/batch", batch, {"Content-Type": "application/x-ndjson"})
        _, _, exposition = server.request("GET", "/metrics")

    assert status == 200
    lines = exposition.decode().splitlines()
    assert 'runstep_validator_records_total{route="/v1/validate/batch"} 100.0' in lines
    assert 'runstep_validator_validations_total{schema="run_step",verdict="invalid"} 100.0' in lines
