"""validate() against the validators users would pick instead, every path starting from the raw bytes, for three
payload sizes, valid and invalid (one wrong type deep inside). Medians of repeated runs, and ratios measured side
by side in this one run. Writes the table as JSON to bench/results/peers.json too.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema_rs
import msgspec
import orjson
import pydantic
from jsonschema import Draft202012Validator

from common import environment, per_second
from peer_models import RUN_STEP
from runstep_validator import default_schemas, validate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
OURS = "runstep_validator.validate()"
FLOOR = "msgspec.json.decode (floor)"


# The full report of an invalid payload against python-jsonschema's iter_errors, by payload size.
INVALID_TARGETS = {"medium": 25, "large": 15}


def payloads() -> dict[str, bytes]:
    """Compact JSON, as run steps travel: ~600 B, ~2 KB and ~30 KB, valid and with one wrong type deep inside."""
    small = json.loads((ROOT / "examples" / "message_creation.json").read_bytes())
    medium = json.loads((ROOT / "examples" / "tool_calls_function.json").read_bytes())
    large = json.loads((ROOT / "examples" / "tool_calls_code_interpreter.json").read_bytes())
    call = large["step_details"]["tool_calls"][0]["code_interpreter"]
    call["outputs"] = [{"type": "logs", "logs": f"step {n}: " + "ok, " * 130} for n in range(50)]
    documents = {"small": small, "medium": medium, "large": large}
    broken = copy.deepcopy(documents)
    broken["small"]["step_details"]["message_creation"]["message_id"] = 42
    broken["medium"]["step_details"]["tool_calls"][2]["function"]["output"] = 42
    broken["large"]["step_details"]["tool_calls"][0]["code_interpreter"]["outputs"][49]["logs"] = 42
    found = {}
    for size, document in documents.items():
        found[f"{size} valid"] = msgspec.json.encode(document)
        found[f"{size} invalid"] = msgspec.json.encode(broken[size])
    return found


def paths() -> dict[str, Callable[[bytes], bool]]:
    """Each path's verdict on raw bytes; validators are built once, as their documentation asks."""
    schemas = default_schemas()
    entry = schemas.entry("run_step").contents
    reference = Draft202012Validator(entry, registry=schemas.registry)
    rust = jsonschema_rs.Draft202012Validator(
        entry, registry=jsonschema_rs.Registry([(doc.id, doc.contents) for doc in schemas.documents]), offline=True
    )
    by_id = {doc.id: doc.contents for doc in schemas.documents}
    fast = fastjsonschema.compile(entry, handlers={"https": by_id.__getitem__})
    decoder = msgspec.json.Decoder()

    def fastjsonschema_path(raw: bytes) -> bool:
        try:
            fast(orjson.loads(raw))
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def pydantic_path(raw: bytes) -> bool:
        try:
            RUN_STEP.validate_json(raw)
        except pydantic.ValidationError:
            return False
        return True

    def full_report(errors: list[Any]) -> bool:
        return not errors

    return {
        OURS: lambda raw: validate(raw).valid,
        "json.loads + jsonschema is_valid": lambda raw: reference.is_valid(json.loads(raw)),
        "json.loads + jsonschema iter_errors": lambda raw: full_report(list(reference.iter_errors(json.loads(raw)))),
        "orjson.loads + fastjsonschema": fastjsonschema_path,
        "orjson.loads + jsonschema-rs is_valid": lambda raw: rust.is_valid(orjson.loads(raw)),
        "orjson.loads + jsonschema-rs iter_errors": lambda raw: full_report(list(rust.iter_errors(orjson.loads(raw)))),
        "pydantic TypeAdapter.validate_json": pydantic_path,
        FLOOR: lambda raw: decoder.decode(raw) is not None,
    }


def main() -> int:
    env = environment(["msgspec", "jsonschema", "jsonschema-rs", "fastjsonschema", "orjson", "pydantic"])
    print("environment: " + ", ".join(f"{name} {value}" for name, value in env.items()))
    cases, contenders = payloads(), paths()
    for case, raw in cases.items():  # every validator must reach the same verdict before its speed means anything
        expected = case.endswith(" valid")
        wrong = [name for name, check in contenders.items() if name != FLOOR and check(raw) is not expected]
        if wrong:
            print(f"verdicts differ on {case}: {wrong}")
            return 1
    rates = {
        case: {name: per_second(functools.partial(check, raw)) for name, check in contenders.items()}
        for case, raw in cases.items()
    }

    names = list(contenders)
    print(f"\n{'payload':<16}" + "".join(f"{index:>10}" for index in range(1, len(names) + 1)) + "   (payloads/s)")
    for case, raw in cases.items():
        cells = "".join(f"{rates[case][name]:>10,.0f}" for name in names)
        size = f"{len(raw) / 1000:.1f} KB" if len(raw) >= 1000 else f"{len(raw)} B"
        print(f"{case:<16}{cells}   {size}")
    for index, name in enumerate(names, 1):
        print(f"  {index}. {name}")

    print("\nvalidate() is this many times as fast as each path (same payload, same run):")
    print(f"{'payload':<16}" + "".join(f"{index:>10}" for index in range(2, len(names) + 1)))
    for case in cases:
        ours = rates[case][OURS]
        print(f"{case:<16}" + "".join(f"{ours / rates[case][name]:>9.1f}x" for name in names[1:]))

    checks = []
    for case in cases:
        mine = rates[case]
        speedup = {name: mine[OURS] / rate for name, rate in mine.items()}
        if case.endswith(" valid"):
            checks.append(
                (f"{case}: >= 1.5x jsonschema-rs is_valid", speedup["orjson.loads + jsonschema-rs is_valid"], 1.5)
            )
            checks.append((f"{case}: >= 150x jsonschema is_valid", speedup["json.loads + jsonschema is_valid"], 150))
            checks.append((f"{case}: within 1.3x of the msgspec floor", speedup[FLOOR] * 1.3, 1.0))
        else:
            target = INVALID_TARGETS.get(case.split()[0], 10)
            label = f"{case}: >= {target}x jsonschema iter_errors"
            checks.append((label, speedup["json.loads + jsonschema iter_errors"], target))
    print("\ntargets:")
    for label, value, needed in checks:
        print(f"  {'met ' if value >= needed else 'MISSED'}  {label} ({value:.2f} against {needed})")

    RESULTS.mkdir(exist_ok=True)
    document = {"environment": env, "payload_bytes": {case: len(raw) for case, raw in cases.items()}, "rates": rates}
    (RESULTS / "peers.json").write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
