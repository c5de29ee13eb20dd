"""The Azure AI Agents dialect's fast path against jsonschema-rs, beside OpenAI's in the same run.

Both dialects are measured the same way (raw bytes in, verdict out; validators built once), on real run steps of
each: the question is whether Azure's Structs keep the same lead over jsonschema-rs as OpenAI's do. Writes the table
as JSON to bench/results/azure.json too.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from pathlib import Path

import jsonschema_rs
import orjson

from common import environment, per_second
from runstep_validator import default_schemas, get_validator

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
REAL = ROOT / "tests" / "azure" / "real"
SAME_RATIO = 0.9  # Azure's lead over jsonschema-rs, as a share of OpenAI's lead in the same run


def steps(name: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = json.loads((REAL / name).read_text())["data"]
    return found


def payloads() -> dict[str, tuple[str, bytes]]:
    """(entry, compact bytes) by case: real Azure steps of several tool types, a large one, and OpenAI's peers."""
    bing = steps("bing_grounding-steps.json")[1]
    connected = steps("connected_agent-steps.json")[1]
    activities = steps("mcp-steps.json")[2]
    browser = steps("browser_automation-steps.json")[1]
    large = copy.deepcopy(browser)
    automation = large["step_details"]["tool_calls"][0]["browser_automation"]  # type: ignore[index]
    automation["steps"] = automation["steps"] * 40
    openai = {
        "message_creation": ROOT / "examples" / "message_creation.json",
        "function": ROOT / "examples" / "tool_calls_function.json",
        "code_interpreter": ROOT / "examples" / "tool_calls_code_interpreter.json",
    }
    found = {
        "azure bing_grounding": ("azure_run_step", orjson.dumps(bing)),
        "azure connected_agent": ("azure_run_step", orjson.dumps(connected)),
        "azure activities (MCP)": ("azure_run_step", orjson.dumps(activities)),
        "azure browser_automation": ("azure_run_step", orjson.dumps(browser)),
        "azure large (240 steps)": ("azure_run_step", orjson.dumps(large)),
    }
    for kind, path in openai.items():
        found[f"openai {kind}"] = ("run_step", orjson.dumps(json.loads(path.read_bytes())))
    return found


def rust_verdict(rust: jsonschema_rs.Draft202012Validator, raw: bytes) -> bool:
    return bool(rust.is_valid(orjson.loads(raw)))


def main() -> int:
    env = environment(["msgspec", "jsonschema-rs", "orjson"])
    print("environment: " + ", ".join(f"{name} {value}" for name, value in env.items()))
    schemas = default_schemas()
    registry = jsonschema_rs.Registry([(doc.id, doc.contents) for doc in schemas.documents])
    rows: dict[str, dict[str, float]] = {}
    for case, (entry, raw) in payloads().items():
        ours = get_validator(entry)
        rust = jsonschema_rs.Draft202012Validator(schemas.entry(entry).contents, registry=registry, offline=True)
        if not (ours.validate(raw).valid and rust.is_valid(orjson.loads(raw)) and ours.accepts_fast(raw)):
            print(f"{case}: not valid on the fast path under {entry}: the comparison would mean nothing")
            return 1
        mine = per_second(functools.partial(ours.validate, raw))
        theirs = per_second(functools.partial(rust_verdict, rust, raw))
        rows[case] = {"bytes": len(raw), "ours": mine, "jsonschema_rs": theirs, "ratio": mine / theirs}

    print(f"\n{'payload':<26}{'size':>9}{'validate()':>14}{'jsonschema-rs':>15}{'ratio':>8}   (valid payloads/s)")
    for case, row in rows.items():
        size = f"{row['bytes'] / 1000:.1f} KB" if row["bytes"] >= 1000 else f"{row['bytes']:.0f} B"
        print(f"{case:<26}{size:>9}{row['ours']:>14,.0f}{row['jsonschema_rs']:>15,.0f}{row['ratio']:>7.2f}x")

    def median_ratio(prefix: str) -> float:
        ratios = sorted(row["ratio"] for case, row in rows.items() if case.startswith(prefix))
        return ratios[len(ratios) // 2]

    azure, openai = median_ratio("azure"), median_ratio("openai")
    print(f"\nmedian lead over jsonschema-rs is_valid: Azure {azure:.2f}x, OpenAI {openai:.2f}x (same run)")
    print("targets:")
    for label, value, needed in (
        (f"Azure's lead >= {SAME_RATIO} of OpenAI's", azure / openai, SAME_RATIO),
        (
            "every Azure payload >= 1.5x jsonschema-rs is_valid",
            min(row["ratio"] for case, row in rows.items() if case.startswith("azure")),
            1.5,
        ),
    ):
        print(f"  {'met ' if value >= needed else 'MISSED'}  {label} ({value:.2f} against {needed})")

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "azure.json").write_text(json.dumps({"environment": env, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
