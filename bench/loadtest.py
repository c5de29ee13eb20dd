"""Load and faults against the production server on loopback, bounded in time: 64 connections mixing valid,
invalid, malformed and oversized requests; beside them, clients sending error-heavy bodies (issue 21's: 2,000 bad
tool calls, 10,006 errors) and clients that send a batch and never read its 3.4 MB answer; a probe of /healthz
every 50 ms (from a process of its own); one worker killed a third of the way in; SIGTERM near the end while
requests are in flight. Prints requests, unexpected statuses (must be 0), p50/p99 latency, /healthz's p50/p99 (p99
must be under 100 ms), the CPU the load generator and the server used and the machine's load, the server's memory
at start and end, what the killed worker cost, and the exit code after SIGTERM (must be 0).

LOAD_SECONDS (environment) sets the duration; the default is 60. LOAD_HEAVY_OUTPUT sets the output format the
error-heavy bodies ask for (default basic, whose errors are placed at their line and column; `flag` measures the
validation alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import signal
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.server import running_server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
CONNECTIONS = 64
HEAVY_CLIENTS = int(os.environ.get("LOAD_HEAVY_CLIENTS", "2"))  # each sends an error-heavy body, again and again
LAZY_CLIENTS = int(os.environ.get("LOAD_LAZY_CLIENTS", "8"))  # each sends a batch, never reads the answer, again
WRITE_TIMEOUT = 5.0
LIMIT = 256 * 1024
HEALTH_TARGET_MS = 100.0


def request(body: bytes, content_type: str = "application/json") -> bytes:
    head = f"POST /v1/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


VALID = json.dumps(json.loads((EXAMPLES / "tool_calls_function.json").read_bytes())).encode()
INVALID = json.dumps(json.loads((EXAMPLES / "invalid_tool_calls.json").read_bytes())).encode()
BAD_CALL = {"id": 1, "type": "function", "function": {"name": 2, "arguments": 3, "output": 4}}


def error_heavy(calls: int) -> bytes:
    details = {"type": "tool_calls", "tool_calls": [BAD_CALL] * calls}
    return json.dumps({"object": "thread.run.step", "type": "tool_calls", "step_details": details}).encode()


HEAVY = request(error_heavy(2000)).replace(  # 148 KB, 10,006 errors
    b"POST /v1/validate ", f"POST /v1/validate?output={os.environ.get('LOAD_HEAVY_OUTPUT', 'basic')} ".encode()
)
UNREAD = request(b"\n".join([error_heavy(2)] * 600), "application/x-ndjson").replace(
    b"POST /v1/validate ", b"POST /v1/validate/batch "
)  # 250 KB, a 3.4 MB answer
KINDS: list[tuple[str, bytes, int]] = [  # (kind, request, the status it must get)
    ("valid", request(VALID), 200),
    ("valid", request(VALID), 200),
    ("invalid", request(INVALID), 200),
    ("malformed", request(VALID[:-40]), 400),
    ("oversized", request(b" " * (LIMIT + 1) + VALID), 413),
    ("wrong type", request(VALID, "text/plain"), 415),
]


@dataclass
class Cpu:
    generator: float  # CPU seconds of this process (the clients), the probe's process aside
    server: float  # of the server, its workers and their validation processes
    seconds: float  # over this long
    load: tuple[float, float]  # the machine's 1-minute load average at the start and the end


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    unexpected: int = 0
    failed: list[tuple[float, str]] = field(default_factory=list)  # when and on what each connection failed

    def record(self, kind: str, status: int, expected: int, latency: float) -> None:
        self.latencies.append(latency)
        by_kind = self.statuses.setdefault(kind, {})
        by_kind[status] = by_kind.get(status, 0) + 1
        self.unexpected += status != expected


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes) -> tuple[int, bool]:
    writer.write(payload)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() == "close"


async def client(number: int, port: int, tally: Tally, stop_at: float) -> None:
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    turn = number
    while time.monotonic() < stop_at:
        kind, payload, expected = KINDS[turn % len(KINDS)]
        turn += 1
        try:
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", port)
            started = time.monotonic()
            status, closing = await exchange(*connection, payload)
            tally.record(kind, status, expected, time.monotonic() - started)
            if closing:
                connection[1].close()
                connection = None
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            tally.failed.append((time.monotonic(), kind))
            if os.environ.get("LOAD_DEBUG"):
                print(kind, type(exc).__name__, exc, file=sys.stderr)
            if connection is not None:
                connection[1].close()
            connection = None
            await asyncio.sleep(0.05)
    if connection is not None:
        connection[1].close()


async def heavy_client(port: int, tally: Tally, stop_at: float) -> None:
    """Error-heavy bodies one after the other: each answered in full (200) or stopped at the time limit (413)."""
    while time.monotonic() < stop_at:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                started = time.monotonic()
                status, _ = await exchange(reader, writer, HEAVY)
                tally.record("error-heavy", status, status if status in (200, 413) else 200, time.monotonic() - started)
            finally:
                writer.close()
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            tally.failed.append((time.monotonic(), "error-heavy"))
            await asyncio.sleep(0.05)


async def lazy_client(port: int, disconnected: list[float], stop_at: float) -> None:
    """Sends a batch whose answer it never reads, and waits; when the server disconnects it, does it again."""
    while time.monotonic() < stop_at:
        lazy = socket.socket()
        try:
            lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            lazy.settimeout(10)
            await asyncio.to_thread(lazy.connect, ("127.0.0.1", port))
            await asyncio.to_thread(lazy.sendall, UNREAD)
            started = time.monotonic()
            while time.monotonic() < stop_at:
                await asyncio.sleep(0.2)
                # The connection's TCP state: 1 while established, another once the server has ended it.
                if lazy.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] != 1:
                    disconnected.append(time.monotonic() - started)
                    break
        except OSError:
            await asyncio.sleep(0.1)
        finally:
            lazy.close()


def health_probe(port: int, seconds: float) -> tuple[list[float], list[str]]:
    """GET /healthz every 50 ms on a fresh connection, for `seconds`: what a load balancer's probe sees. It runs in
    a process of its own, with blocking sockets: in the load generator's event loop, beside 64 busy clients, its
    figures would include how long that loop took to get back to it."""
    latencies: list[float] = []
    failures: list[str] = []
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
                probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := probe.recv(65536):
                    answer += chunk
            latencies.append(time.monotonic() - started)
            status = answer.split(b" ", 2)[1].decode("latin-1") if answer.count(b" ") >= 2 else "no answer"
            if status != "200":
                failures.append(status)
        except OSError as exc:
            failures.append(type(exc).__name__)
        time.sleep(max(0.0, started + 0.05 - time.monotonic()))
    return latencies, failures


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of the processes so far (those still running)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def tree_of(pid: int) -> list[int]:
    """The process and all its descendants."""
    found, index = [pid], 0
    while index < len(found):
        with contextlib.suppress(OSError):
            found += [
                int(child) for child in Path(f"/proc/{found[index]}/task/{found[index]}/children").read_text().split()
            ]
        index += 1
    return found


def tree_rss_mib(pid: int) -> float:
    """The server's memory: granian's processes and the workers' validation processes."""
    total = 0
    for each in tree_of(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def workers_of(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def main() -> int:
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_server(Path(scratch), max_body_bytes=str(LIMIT), write_timeout_seconds=str(WRITE_TIMEOUT)) as server,
    ):
        pid, port = server.process.pid, server.port
        tally = Tally()
        start = time.monotonic()
        stop_at = start + SECONDS
        clients = [asyncio.create_task(client(n, port, tally, stop_at + 2)) for n in range(CONNECTIONS)]
        clients += [asyncio.create_task(heavy_client(port, tally, stop_at - 1)) for _ in range(HEAVY_CLIENTS)]
        disconnected: list[float] = []
        clients += [asyncio.create_task(lazy_client(port, disconnected, stop_at - 1)) for _ in range(LAZY_CLIENTS)]
        # The probe runs until just before SIGTERM: after it, the listener closes on purpose.
        probing = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        probed = asyncio.wrap_future(probing.submit(health_probe, port, stop_at - 1 - time.monotonic()))
        load_start = os.getloadavg()[0]
        await asyncio.sleep(min(5, SECONDS / 6))
        rss_start = tree_rss_mib(pid)
        cpu_start = (resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(tree_of(pid)), time.monotonic())

        await asyncio.sleep(max(0.0, start + SECONDS / 3 - time.monotonic()))
        victim = workers_of(pid)[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        await asyncio.sleep(max(0.0, stop_at - 1 - time.monotonic()))
        rss_end = tree_rss_mib(pid)
        generator = resource.getrusage(resource.RUSAGE_SELF)
        cpu = Cpu(
            generator.ru_utime + generator.ru_stime - cpu_start[0].ru_utime - cpu_start[0].ru_stime,
            cpu_seconds(tree_of(pid)) - cpu_start[1],
            time.monotonic() - cpu_start[2],
            (load_start, os.getloadavg()[0]),
        )
        health, health_failures = await probed
        probing.shutdown()
        answered_before_term = len(tally.latencies)
        await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        terminated_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(server.process.wait, 30)
        await asyncio.gather(*clients)

    return report(
        tally,
        (killed_at, terminated_at, victim, exit_code, answered_before_term),
        (rss_start, rss_end),
        health,
        health_failures,
        disconnected=disconnected,
        cpu=cpu,
    )


def report(
    tally: Tally,
    events: tuple[float, float, int, int, int],
    rss: tuple[float, float],
    health: list[float],
    health_failures: list[str],
    *,
    disconnected: list[float],
    cpu: Cpu,
) -> int:
    """Prints the figures; 0 when every target is met."""
    killed_at, terminated_at, victim, exit_code, answered_before_term = events
    rss_start, rss_end = rss
    # The server answers an oversized body with 413 before reading it and closes the connection, so a client
    # still writing that body may see the close before the answer: that is refusal working, not a failure.
    refused_early = [kind for _, kind in tally.failed if kind == "oversized"]
    failures = [(moment, kind) for moment, kind in tally.failed if kind != "oversized"]
    during_kill = [moment for moment, _ in failures if killed_at <= moment < terminated_at]
    before_kill = [moment for moment, _ in failures if moment < killed_at]
    after_term = [moment for moment, _ in failures if moment >= terminated_at]
    latencies = sorted(tally.latencies)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    health.sort()
    health_p50 = statistics.median(health) * 1000 if health else float("nan")
    health_p99 = health[int(len(health) * 0.99)] * 1000 if health else float("nan")
    health_max = health[-1] * 1000 if health else float("nan")
    print(f"load: {CONNECTIONS} connections for {SECONDS:.0f} s on loopback against granian (2 workers)")
    print(f"  requests answered   {len(latencies):>10,}   ({len(latencies) / SECONDS:,.0f} req/s)")
    for kind, statuses in sorted(tally.statuses.items()):
        print(f"    {kind:<16}{', '.join(f'{status}: {count:,}' for status, count in sorted(statuses.items()))}")
    print(f"  unexpected statuses {tally.unexpected:>10}   (must be 0)")
    print(f"  latency             p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"  /healthz probe      {len(health):,} probes: p50 {health_p50:.1f} ms, p99 {health_p99:.1f} ms, "
        f"max {health_max:.1f} ms (p99 must be under {HEALTH_TARGET_MS:.0f} ms); failed: {len(health_failures)}"
    )
    print(
        f"  clients not reading {LAZY_CLIENTS} at a time: disconnected {len(disconnected)} times, "
        f"after {statistics.median(disconnected) if disconnected else float('nan'):.1f} s (median; "
        f"write timeout {WRITE_TIMEOUT:g} s)"
    )
    print(
        f"  CPU over {cpu.seconds:.0f} s (2 cores): load generator {cpu.generator:.1f} s "
        f"({cpu.generator / cpu.seconds:.0%} of a core), server with its processes {cpu.server:.1f} s "
        f"({cpu.server / cpu.seconds:.0%}); load average {cpu.load[0]:.1f} at the start, {cpu.load[1]:.1f} at the end"
    )
    print(f"  server RSS          {rss_start:.0f} MiB after warm-up, {rss_end:.0f} MiB at the end")
    print(f"  oversized bodies cut off by the server's early 413: {len(refused_early):,}")
    print(f"  failures before the worker was killed: {len(before_kill)} (must be 0)")
    print(f"  failures after killing worker {victim}: {len(during_kill)} (requests in flight on it)")
    print(f"  after SIGTERM: {len(latencies) - answered_before_term:,} answered in the last second and drain,")
    print(f"                 {len(after_term)} refused once the server had stopped; server exit code {exit_code}")
    ok = tally.unexpected == 0 and not before_kill and exit_code == 0
    ok = ok and health_p99 < HEALTH_TARGET_MS and bool(disconnected)
    print("result: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
