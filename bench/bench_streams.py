"""Deltas and event streams, measured in one run:

- delta validation (`validate(..., schema="run_step_delta.strict")`, from raw bytes) against orjson + jsonschema-rs
  `is_valid` with the same official delta schema (RunStepDeltaObject), on deltas shaped like the live API's;
- a large transcript (about 100,000 run-step events) through `validate_stream`, against the same run-step payloads
  sent as JSON Lines through the service's batch path, in 10,000-record requests as its limit allows.

Medians of repeated runs; the ratios compare figures of this run only.
"""

from __future__ import annotations

import statistics
import sys
import time
from functools import partial
from typing import Any

import jsonschema_rs
import orjson

from common import environment, per_second
from runstep_validator import default_schemas, validate, validate_stream
from runstep_validator.core.api import get_validator
from runstep_validator.http.config import Settings
from runstep_validator.http.service import Service

STEPS = 1000
DELTAS_PER_STEP = 98  # with created and completed: 100 run-step events a step, 100,000 in all


def step(step_id: str, status: str, code: str) -> dict[str, Any]:
    call = {"id": f"call_{step_id}", "type": "code_interpreter", "code_interpreter": {"input": code, "outputs": []}}
    return {
        "id": step_id,
        "object": "thread.run.step",
        "created_at": 1730284800,
        "run_id": "run_abc",
        "assistant_id": "asst_abc",
        "thread_id": "thread_abc",
        "type": "tool_calls",
        "status": status,
        "cancelled_at": None,
        "completed_at": 1730284805 if status == "completed" else None,
        "expires_at": None,
        "failed_at": None,
        "last_error": None,
        "step_details": {"type": "tool_calls", "tool_calls": [call] if code else []},
        "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30} if status == "completed" else None,
    }


def delta(step_id: str, piece: str, first: bool) -> dict[str, Any]:
    call: dict[str, Any] = {"index": 0, "type": "code_interpreter", "code_interpreter": {"input": piece}}
    if first:
        call["id"] = f"call_{step_id}"
        call["code_interpreter"]["outputs"] = []
    return {
        "id": step_id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}},
    }


def transcript() -> tuple[bytes, list[bytes]]:
    """The stream, and its run-step events' data as JSON Lines records."""
    events: list[tuple[str, bytes]] = []
    for number in range(STEPS):
        step_id = f"step_{number:06d}"
        pieces = [f"x{index} = {index} * 2\n" for index in range(DELTAS_PER_STEP)]
        events.append(("thread.run.step.created", orjson.dumps(step(step_id, "in_progress", ""))))
        events += [
            ("thread.run.step.delta", orjson.dumps(delta(step_id, piece, index == 0)))
            for index, piece in enumerate(pieces)
        ]
        events.append(("thread.run.step.completed", orjson.dumps(step(step_id, "completed", "".join(pieces)))))
    body = b"".join(b"event: " + name.encode() + b"\ndata: " + data + b"\n\n" for name, data in events)
    return body + b"event: done\ndata: [DONE]\n\n", [data for _, data in events]


def median_seconds(work: Any, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    env = environment(["msgspec", "jsonschema-rs", "orjson"])
    print("environment: " + ", ".join(f"{name} {value}" for name, value in env.items()))
    schemas = default_schemas()
    registry = jsonschema_rs.Registry([(doc.id, doc.contents) for doc in schemas.documents])
    official = jsonschema_rs.Draft202012Validator(schemas.entry("run_step_delta.strict").contents, registry=registry)

    body, records = transcript()
    samples = [records[1], records[2], records[50]]  # the first fragment of a call, and later ones
    strict_deltas, picked = get_validator("run_step_delta.strict"), get_validator()  # built once, as callers do
    print("\ndeltas (payloads/s, median):")
    failed = False
    for index, raw in enumerate(samples):
        assert validate(raw, schema="run_step_delta.strict").valid
        assert official.is_valid(orjson.loads(raw))
        ours = per_second(partial(strict_deltas.validate, raw))
        auto = per_second(partial(picked.validate, raw))
        rust = per_second(lambda raw=raw: official.is_valid(orjson.loads(raw)))  # type: ignore[misc]
        ratio = ours / rust
        failed |= ratio < 1.5
        print(
            f"  delta {index + 1} ({len(raw)} B): Validator.validate() {ours:,.0f}, auto-picked {auto:,.0f}, "
            f"jsonschema-rs is_valid {rust:,.0f}: {ratio:.2f}x (target >= 1.5x)"
        )

    report = validate_stream(body)
    assert report.valid, report.to_dict()["errors"][:3]
    events = len(records)
    stream_seconds = median_seconds(lambda: validate_stream(body))
    service = Service(Settings.load({}, {"access_log": False}))
    validator = get_validator()
    lines = [b"\n".join(records[start : start + 10_000]) for start in range(0, events, 10_000)]
    for chunk in lines:
        assert service.validate_batch(validator, chunk, ndjson=True).status == 200
    batch_seconds = median_seconds(lambda: [service.validate_batch(validator, chunk, ndjson=True) for chunk in lines])
    stream_rate, batch_rate = events / stream_seconds, events / batch_seconds
    stream_ratio = stream_rate / batch_rate
    failed |= stream_ratio < 0.5
    print(f"\nstream of {events:,} run-step events ({len(body) / 2**20:.1f} MiB), median of 5:")
    print(f"  validate_stream (framing, validation, accumulation)  {stream_rate:>10,.0f} events/s")
    print(f"  the same payloads as JSON Lines, batch path           {batch_rate:>10,.0f} records/s")
    print(f"  stream / batch: {stream_ratio:.2f}x (target >= 0.5x)")
    print("targets: " + ("MISSED" if failed else "met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
