"""Bulk import: records/s and peak RSS for `runstep-validator import` on a generated NDJSON file of about 2 KB
records with 1% invalid, with 1 and with 2 workers, beside the floor (a bare msgspec decode of every line of the
same file), and the time spent on the invalid records.

RECORDS (environment) sets the file size; the default is 1,000,000 records, about 2 GB.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec

from runstep_validator import get_validator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RECORDS = int(os.environ.get("RECORDS", "1000000"))
# The error path's archives (issue 24): all invalid beside the same records made valid, one worker, in rounds.
ARCHIVE_RECORDS = int(os.environ.get("ARCHIVE_RECORDS", "100000"))
ARCHIVE_ROUNDS = 3
ARCHIVE_TARGET = 0.5  # all invalid at half the rate of all valid or better
SCRIPT = Path(sys.executable).with_name("runstep-validator")


def generate(path: Path) -> tuple[bytes, bytes]:
    valid = json.loads((EXAMPLES / "tool_calls_function.json").read_bytes())
    invalid = json.loads((EXAMPLES / "invalid_tool_calls.json").read_bytes())
    with path.open("wb") as stream:
        for number in range(RECORDS):
            document = invalid if number % 100 == 42 else valid
            document["id"] = f"step_{number:024}"
            stream.write(msgspec.json.encode(document) + b"\n")
    return msgspec.json.encode(valid), msgspec.json.encode(invalid)


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and its children, from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    except OSError:
        return 0
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def run_import(source: Path, workers: int, scratch: Path, expected: int = 1) -> tuple[float, int]:
    command = [str(SCRIPT), "import", str(source), "--workers", str(workers)]
    command += ["--accepted", str(scratch / "ok.jsonl"), "--rejected", str(scratch / "bad.jsonl")]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0

    def watch() -> None:
        nonlocal peak
        while process.poll() is None:
            peak = max(peak, tree_rss_kib(process.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    process.wait()
    watcher.join()
    elapsed = time.perf_counter() - start
    if process.returncode != expected:  # 1 when some records are rejected
        raise SystemExit(f"import exited {process.returncode}")
    return elapsed, peak


def floor(source: Path) -> float:
    decoder = msgspec.json.Decoder()
    start = time.perf_counter()
    with source.open("rb") as stream:
        for line in stream:
            decoder.decode(line)
    return time.perf_counter() - start


def per_record(raw: bytes, count: int = 2000) -> float:
    validate = get_validator().validate
    validate(raw)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(count):
            validate(raw)  # as the import does: the verdict, and a rejected record's errors
        timings.append((time.perf_counter() - start) / count)
    return statistics.median(timings)


def archives(scratch: Path) -> None:
    """`import --workers 1` of an archive whose every record is invalid beside the same archive made valid: the
    figures of issue 24, measured in rounds that alternate which goes first, the ratio the median of the rounds'."""
    valid = json.loads((EXAMPLES / "tool_calls_function.json").read_bytes())
    invalid = json.loads((EXAMPLES / "invalid_tool_calls.json").read_bytes())
    paths = {"valid": scratch / "all_valid.jsonl", "invalid": scratch / "all_invalid.jsonl"}
    for path, document in zip(paths.values(), (valid, invalid), strict=True):
        with path.open("wb") as stream:
            for number in range(ARCHIVE_RECORDS):
                document["id"] = f"step_{number:024}"
                stream.write(msgspec.json.encode(document) + b"\n")
    rates: dict[str, list[float]] = {"valid": [], "invalid": []}
    ratios = []
    for round_number in range(ARCHIVE_ROUNDS):
        order = ("valid", "invalid") if round_number % 2 == 0 else ("invalid", "valid")
        measured = {}
        for label in order:
            elapsed, _ = run_import(paths[label], 1, scratch, expected=0 if label == "valid" else 1)
            measured[label] = ARCHIVE_RECORDS / elapsed
            rates[label].append(measured[label])
        ratios.append(measured["invalid"] / measured["valid"])
    ratio = statistics.median(ratios)
    print(f"  import --workers 1 of {ARCHIVE_RECORDS:,} records, median of {ARCHIVE_ROUNDS} alternating rounds:")
    print(f"    {'all valid':<28}{statistics.median(rates['valid']):>12,.0f} records/s")
    invalid_rate = statistics.median(rates["invalid"])
    print(f"    {'all invalid (3 errors each)':<28}{invalid_rate:>12,.0f} records/s   {ratio:.2f}x")
    verdict = "met" if ratio >= ARCHIVE_TARGET else "MISSED"
    print(f"    target: all invalid >= {ARCHIVE_TARGET}x all valid: {verdict}")


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as scratch_name:
        scratch = Path(scratch_name)
        source = scratch / "steps.jsonl"
        valid, invalid = generate(source)
        size = source.stat().st_size
        print(f"import: {RECORDS:,} records, {size / 2**30:.2f} GiB NDJSON, 1% invalid")
        floor_seconds = floor(source)
        print(f"  {'bare msgspec decode (floor)':<30}{RECORDS / floor_seconds:>12,.0f} records/s")
        for workers in (1, 2):
            elapsed, peak = run_import(source, workers, scratch)
            label = f"import, {workers} worker{'s' if workers > 1 else ''}"
            rate = f"{RECORDS / elapsed:>12,.0f} records/s"
            print(f"  {label:<30}{rate}   peak RSS {peak / 1024:,.0f} MiB   {elapsed:.1f} s")
        valid_cost, invalid_cost = per_record(valid), per_record(invalid)
        invalid_count = RECORDS // 100
        share = invalid_count * invalid_cost / (invalid_count * invalid_cost + (RECORDS - invalid_count) * valid_cost)
        costs = f"valid {valid_cost * 1e6:.1f} us, invalid (full report) {invalid_cost * 1e6:.1f} us"
        print(f"  validation per record: {costs}; the 1% invalid take {share:.0%} of validation time")
        archives(scratch)
    print("  targets: at least 100,000 records/s with 2 workers, peak RSS under 300 MB")


if __name__ == "__main__":
    main()
