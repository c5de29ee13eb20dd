"""HTTP figures against the production server (granian, started as `make run` starts it) on loopback.

The load comes from wrk, a separate process: requests/s and p50/p99 latency for `/v1/validate` (valid and invalid
payloads) and payloads/s for `/v1/validate/batch`, beside `/healthz`, a trivial endpoint of the same app, as the
framework's ceiling. Each figure is the median of several runs; wrk shares the machine's cores with the server,
so compare ratios from the same run rather than absolute numbers across machines.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.server import running_server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RUNS = 3
SECONDS = 5
CONNECTIONS = 32
BATCH_RECORDS = 1000
OBSERVED_ROUNDS = 11
OBSERVED = (
    ("on", {"metrics": "true", "log_format": "json"}),
    ("off", {"metrics": "false", "access_log": "false"}),
)
BATCH_CONNECTIONS = 4  # each batch request is ~2 MB of work: a few in flight keep both workers busy


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: Path | None, connections: int = CONNECTIONS, seconds: int = SECONDS) -> Load:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    latencies = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Load(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_milliseconds(latencies["50"]),
        p99_ms=_milliseconds(latencies["99"]),
        errors=int(errors.group(1) if errors else 0) + sum(map(int, socket_errors.groups() if socket_errors else ())),
    )


def post_script(directory: Path, name: str, body: bytes, content_type: str) -> Path:
    body_path = directory / f"{name}.body"
    body_path.write_bytes(body)
    script = directory / f"{name}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
        f'local f = io.open("{body_path}", "rb"); wrk.body = f:read("*a"); f:close()\n'
    )
    return script


def median_load(url: str, script: Path | None, connections: int = CONNECTIONS) -> Load:
    loads = [wrk(url, script, connections) for _ in range(RUNS)]
    return Load(
        statistics.median(load.requests_per_second for load in loads),
        statistics.median(load.p50_ms for load in loads),
        statistics.median(load.p99_ms for load in loads),
        sum(load.errors for load in loads),
    )


class PageVisitors:
    """A thread that loads the page (HTML, script, styles) twice a second until stopped."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._visit, daemon=True)

    def _visit(self) -> None:
        while not self.stopped.wait(0.5):
            for path in ("/", "/page/app.js", "/page/app.css"):
                with urllib.request.urlopen(self.base + path, timeout=10) as answer:  # loopback
                    answer.read()

    def __enter__(self) -> PageVisitors:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench_http: wrk is not installed (Debian: apt-get install wrk); skipping the HTTP figures")
        return 0
    valid = json.dumps(json.loads((EXAMPLES / "tool_calls_function.json").read_bytes())).encode()
    invalid = json.dumps(json.loads((EXAMPLES / "invalid_tool_calls.json").read_bytes())).encode()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        batch = b"\n".join([valid] * BATCH_RECORDS) + b"\n"
        scripts = {
            "valid": post_script(directory, "valid", valid, "application/json"),
            "invalid": post_script(directory, "invalid", invalid, "application/json"),
            "batch": post_script(directory, "batch", batch, "application/x-ndjson"),
        }
        with running_server(directory) as server:
            base = f"http://127.0.0.1:{server.port}"
            ceiling = median_load(f"{base}/healthz", None)
            results = {
                "GET /healthz (ceiling)": ceiling,
                "POST /v1/validate, valid 2 KB": median_load(f"{base}/v1/validate", scripts["valid"]),
                "POST /v1/validate, invalid 2 KB": median_load(f"{base}/v1/validate", scripts["invalid"]),
                f"POST /v1/validate/batch, {BATCH_RECORDS} valid": median_load(
                    f"{base}/v1/validate/batch", scripts["batch"], BATCH_CONNECTIONS
                ),
                "GET / (the page)": median_load(f"{base}/", None),
            }
            # The page's cost to the API: validation measured again while people load the page (its HTML, script
            # and styles, twice a second, as a few people at their browsers would).
            with PageVisitors(base):
                results["POST /v1/validate, valid 2 KB, page in use"] = median_load(
                    f"{base}/v1/validate", scripts["valid"]
                )
            server.stop()
        # What operations cost: the same valid payloads, with metrics and JSON logs on, and with both off. Both
        # servers run side by side and are loaded in turn, in rounds that alternate which goes first: this
        # machine's speed drifts by more than the difference being measured, and a pair measured seconds apart
        # shares the drift. The figure is the median of the rounds' ratios.
        on_rates, off_rates, ratios = [], [], []
        for round_number in range(OBSERVED_ROUNDS):
            with contextlib.ExitStack() as servers:
                bases = {}
                order = OBSERVED if round_number % 2 == 0 else OBSERVED[::-1]
                for label, settings in order:
                    server = servers.enter_context(running_server(directory, 2, **settings))
                    bases[label] = f"http://127.0.0.1:{server.port}/v1/validate"
                for label, _ in order:  # warm both up first
                    wrk(bases[label], scripts["valid"], seconds=1)
                rates = {label: wrk(bases[label], scripts["valid"]).requests_per_second for label, _ in order}
            on_rates.append(rates["on"])
            off_rates.append(rates["off"])
            ratios.append(rates["on"] / rates["off"])
    print(f"HTTP: granian, 2 workers, wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, median of {RUNS} runs, loopback")
    print(f"{'endpoint':<40}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs ceiling':>12}{'errors':>8}")
    for name, load in results.items():
        ratio = load.requests_per_second / ceiling.requests_per_second
        print(
            f"{name:<40}{load.requests_per_second:>10,.0f}{load.p50_ms:>9.2f}{load.p99_ms:>9.2f}"
            f"{ratio:>11.0%}{load.errors:>8}"
        )
    batch_rate = results[f"POST /v1/validate/batch, {BATCH_RECORDS} valid"].requests_per_second * BATCH_RECORDS
    print(f"batch: {batch_rate:,.0f} payloads/s (target: at least 150,000)")
    valid_ratio = results["POST /v1/validate, valid 2 KB"].requests_per_second / ceiling.requests_per_second
    print(f"valid single payload: {valid_ratio:.0%} of the /healthz ceiling (target: at least 85%)")
    invalid_rate = results["POST /v1/validate, invalid 2 KB"].requests_per_second
    valid_rate = results["POST /v1/validate, valid 2 KB"].requests_per_second
    print(
        f"invalid 2 KB (3 errors, placed at line and column): {invalid_rate / valid_rate:.2f}x the valid 2 KB rate "
        "(target: at least 0.6x)"
    )
    plain = results["POST /v1/validate, valid 2 KB"].requests_per_second
    with_page = results["POST /v1/validate, valid 2 KB, page in use"].requests_per_second
    print(f"validation while the page is in use: {with_page / plain:.2f}x of without (target: at least 0.95x)")
    print(
        f"valid 2 KB with metrics and JSON logs on: {statistics.median(on_rates):,.0f} req/s; with both off: "
        f"{statistics.median(off_rates):,.0f} req/s; {statistics.median(ratios):.2f}x, the median of "
        f"{OBSERVED_ROUNDS} side-by-side rounds ({', '.join(f'{ratio:.2f}' for ratio in ratios)}) "
        "(target: at least 0.9x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
