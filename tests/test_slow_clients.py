"""Slow clients cannot take the service down: a real server on loopback, 1,000 connections that send their request
slowly, and the service still answers others at once, refuses oversized headers, and closes the slow ones when
their time is up."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import RunningServer, running_server
from .support import EXAMPLES

pytestmark = pytest.mark.slow

VALID = (EXAMPLES / "tool_calls_function.json").read_bytes()
SLOW = 1000
BODY_SECONDS = 3.0
HEADER_SECONDS = 3.0
# Answered at once: a request starved by the slow connections waits for their timeouts (3 s); a second leaves a
# loaded machine its pauses (a bound of 0.1 s failed there, one run in five, with nothing starved).
PROMPTLY = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("slow")
    with running_server(
        folder, access_log="false", body_timeout_seconds=str(BODY_SECONDS), header_timeout_seconds=str(HEADER_SECONDS)
    ) as running:
        yield running


def open_slow(server: RunningServer, count: int) -> list[socket.socket]:
    """Half send their headers and one byte of a 100 KB body; half send only part of their headers."""
    connections = []
    for number in range(count):
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        if number % 2:
            connection.sendall(b"POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        else:
            head = b"POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            connection.sendall(head + b"Content-Length: 100000\r\n\r\n{")
        connections.append(connection)
    return connections


def timed(server: RunningServer, method: str, path: str, body: bytes | None = None) -> tuple[int, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        connection.close()


def closed_within(connection: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing the connection, or None if it was still open after `seconds`."""
    connection.settimeout(seconds)
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


def test_slow_clients_neither_starve_others_nor_stay_forever(server: RunningServer) -> None:
    slow = open_slow(server, SLOW)
    try:
        time.sleep(0.5)  # every slow connection is in, and waiting
        for _ in range(5):
            status, seconds = timed(server, "GET", "/healthz")
            assert (status, seconds < PROMPTLY) == (200, True), seconds
            status, seconds = timed(server, "POST", "/v1/validate", VALID)
            assert (status, seconds < PROMPTLY) == (200, True), seconds

        deadline = max(BODY_SECONDS, HEADER_SECONDS) + 2  # the sweeper's interval and scheduling on a busy machine
        answers = [closed_within(connection, deadline) for connection in slow[:20]]
        assert all(answer is not None for answer in answers), "a slow connection outlived its timeout"
        bodies = [answer for answer in answers[::2] if answer]
        assert bodies
        assert all(b" 408 " in answer.split(b"\r\n", 1)[0] for answer in bodies)
        assert all(b"application/problem+json" in answer for answer in bodies)
    finally:
        for connection in slow:
            connection.close()


def test_oversized_headers_are_refused_with_a_problem(server: RunningServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", "/healthz", headers={"X-Padding": "a" * 200_000})
        response = connection.getresponse()
        assert response.status == 431
        assert response.getheader("Content-Type") == "application/problem+json"
        assert b"headers-too-large" in response.read()
    finally:
        connection.close()


def test_the_timeouts_are_settings(tmp_path: Path) -> None:
    with running_server(tmp_path, workers=1, body_timeout_seconds="0.5", access_log="false") as quick:
        (connection,) = open_slow(quick, 1)
        started = time.monotonic()
        answer = closed_within(connection, 5)
        connection.close()

    assert answer is not None
    assert b" 408 " in answer
    assert time.monotonic() - started < 2.5
