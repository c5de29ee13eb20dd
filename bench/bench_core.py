"""Core throughput: `validate()` against json.loads + a reused jsonschema validator, on the same payload and schema.

Prints medians of repeated timed runs and their ratio. Machines here are shared and noisy, so only medians and
ratios measured side by side in one run mean anything.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from jsonschema import Draft202012Validator

from runstep_validator import default_schemas, validate

PAYLOAD_NAME = "tool_calls_function.json"
PAYLOAD = (Path(__file__).resolve().parent.parent / "examples" / PAYLOAD_NAME).read_bytes()
REPEATS = 7


def per_second(work: Callable[[], object], budget: float = 0.4) -> float:
    """Median calls per second over REPEATS runs of about `budget` seconds each."""
    calls = 1
    while True:  # calibrate the batch size so one run lasts about `budget`
        start = time.perf_counter()
        for _ in range(calls):
            work()
        elapsed = time.perf_counter() - start
        if elapsed > budget / 4:
            break
        calls *= 2
    calls = max(1, int(calls * budget / elapsed))
    rates = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(calls):
            work()
        rates.append(calls / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    schemas = default_schemas()
    reference = Draft202012Validator(schemas.entry("run_step").contents, registry=schemas.registry)
    assert validate(PAYLOAD).valid
    assert reference.is_valid(json.loads(PAYLOAD))

    ours = per_second(lambda: validate(PAYLOAD))
    theirs = per_second(lambda: reference.is_valid(json.loads(PAYLOAD)))

    print(f"python {platform.python_version()}, msgspec {version('msgspec')}, jsonschema {version('jsonschema')}")
    print(f"payload: examples/{PAYLOAD_NAME} ({len(PAYLOAD)} B), median of {REPEATS} runs")
    print(f"{'path':<48}{'payloads/s':>14}")
    print(f"{'runstep_validator.validate()':<48}{ours:>14,.0f}")
    print(f"{'json.loads + jsonschema is_valid (reused)':<48}{theirs:>14,.0f}")
    print(f"ratio: {ours / theirs:,.0f}x (target: at least 100x)")


if __name__ == "__main__":
    main()
