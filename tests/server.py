"""Running the real server process on a free loopback port, for end-to-end tests and benchmarks.

with running_server(tmp_path, max_body_bytes="65536") as server:
    status, content_type, body = server.request("GET", "/healthz")
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Every server process group a test started, checked at the end of the session: none may outlive it.
STARTED_GROUPS: set[int] = set()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve_command() -> list[str]:
    """What `make run` runs: the installed console script, next to this interpreter."""
    script = Path(sys.executable).with_name("runstep-validator")
    return [str(script)] if script.exists() else [sys.executable, "-m", "runstep_validator"]


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def connection(self, timeout: float = 10) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str, bytes]:
        connection = self.connection()
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()

    def stop(self) -> int:
        """As an operator stops it: SIGTERM and its exit code; then whatever of its process group is left (granian's
        workers, if the server died without them) is killed, so that nothing outlives a test."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            kill_group(self.process.pid)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(log_dir: Path, workers: int = 2, **settings: str) -> Iterator[RunningServer]:
    """The server, started with `runstep-validator serve` and the given RUNSTEP_VALIDATOR_* settings, up and
    answering; killed on exit if it is still running."""
    port = free_port()
    settings = {"drain_seconds": "0", **settings}  # tests stop their servers at once unless they test draining
    env = {**os.environ, **{f"RUNSTEP_VALIDATOR_{name.upper()}": value for name, value in settings.items()}}
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*serve_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: the server and its workers are stopped together
        )
    STARTED_GROUPS.add(process.pid)
    server = RunningServer(process, port, log_path)
    try:
        _wait_until_up(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        kill_group(process.pid)


def kill_group(group: int, seconds: float = 5) -> None:
    """SIGKILL whatever is left of a process group, and wait (a little) until it is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
    deadline = time.monotonic() + seconds
    while group_alive(group) and time.monotonic() < deadline:
        time.sleep(0.05)


def group_alive(group: int) -> bool:
    """Whether any process of the group is still running (a zombie, killed and not yet reaped, is not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def _wait_until_up(server: RunningServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log}")
        try:
            if server.request("GET", "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not come up:\n{server.log}")
