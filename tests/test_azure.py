"""The Azure AI Agents dialect: real captures, every mutation of every Azure tool call, and every surface.

Azure's run steps share OpenAI's `object`, so they are reached by name (`azure_run_step`) or by the dialect
(`--dialect azure`, `?dialect=azure`, `dialect=`), never by automatic selection alone.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from runstep_validator import UnknownDialectError, get_validator, validate
from runstep_validator.cli import run
from runstep_validator.core.api import default_schemas
from runstep_validator.http.app import create_app
from runstep_validator.importing import iter_validate
from runstep_validator.sources.sse import validate_stream

from .support import AZURE_CAPTURES, EXAMPLES, azure_deltas, azure_steps, load_json

STEPS = azure_steps()
STREAMS = sorted(AZURE_CAPTURES.glob("*.sse"))
EXAMPLE_NAMES = sorted(path.name for path in (EXAMPLES / "azure").glob("*.json"))
AZURE = get_validator("azure_run_step")


def azure_example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = load_json(EXAMPLES / "azure" / name)
    return document


def test_every_capture_is_listed_with_its_source() -> None:
    manifest = load_json(AZURE_CAPTURES / "MANIFEST.json")
    listed = {entry["file"] for entry in manifest}
    on_disk = {path.name for path in AZURE_CAPTURES.iterdir() if path.name != "MANIFEST.json"}

    assert listed == on_disk
    assert all(entry["repo"] and entry["path"] and len(entry["commit"]) == 40 for entry in manifest)


@pytest.mark.parametrize(("path", "number", "step"), STEPS, ids=[f"{p.name}-{n}" for p, n, _ in STEPS])
def test_real_azure_step_is_valid_on_the_fast_path(path: Path, number: int, step: dict[str, Any]) -> None:
    raw = json.dumps(step).encode()
    report = AZURE.validate(raw)

    assert report.valid, report.errors
    assert report.warnings == ()
    assert AZURE.accepts_fast(raw)
    assert validate(raw, dialect="azure").valid  # automatic selection within the dialect picks the same entry


def test_real_azure_steps_cover_the_types_the_issue_names() -> None:
    kinds = {call.get("type") for _, _, step in STEPS for call in step["step_details"].get("tool_calls", [])} | {
        step["type"] for _, _, step in STEPS
    }

    assert {
        "bing_grounding",
        "bing_custom_search",
        "mcp",
        "connected_agent",
        "openapi",
        "deep_research",
        "azure_function",
        "sharepoint_grounding",
        "fabric_dataagent",
        "browser_automation",
        "activities",
    } <= kinds


def test_what_the_service_sends_is_not_the_contract() -> None:
    strict = get_validator("azure_run_step.strict")
    for _, _, step in STEPS:
        errors = {unit.error for unit in strict.validate(json.dumps(step).encode()).errors}
        assert "'expired_at' is a required property" in errors
        assert "'metadata' is a required property" in errors


def test_openai_dialect_only_warns_about_azure_tool_calls() -> None:
    """The default is unchanged: Azure's tool calls are unknown types there, checked for id and type only."""
    bing = next(
        step for path, _, step in STEPS if path.name.startswith("bing_grounding") and step["type"] == "tool_calls"
    )
    broken = copy.deepcopy(bing)
    del broken["step_details"]["tool_calls"][0]["bing_grounding"]["requesturl"]

    assert validate(broken).valid
    assert [unit.code for unit in validate(broken).warnings] == ["unknown-type"]
    assert not validate(broken, dialect="azure").valid
    assert not validate(broken, schema="azure_run_step").valid


@pytest.mark.parametrize("path", STREAMS, ids=lambda path: path.name)
def test_real_azure_stream_is_valid(path: Path) -> None:
    report = validate_stream(path.read_bytes(), dialect="azure")

    assert report.valid, (report.errors, [result for result in report.results if not result.valid])
    assert not [unit for unit in report.warnings if unit.code == "unknown-type"]


def test_real_azure_deltas_are_valid() -> None:
    deltas = azure_deltas()
    tolerant = get_validator("azure_run_step_delta")

    assert deltas
    for delta in deltas:
        raw = json.dumps(delta).encode()
        assert tolerant.validate(raw).valid
        assert tolerant.accepts_fast(raw)


def tool_call_members(document: dict[str, Any]) -> list[tuple[str, ...]]:
    """The paths of every member of the first tool call (or activity), and of the objects inside it."""
    details = document["step_details"]
    items = details.get("tool_calls") or details.get("activities")
    prefix: tuple[str, ...] = ("step_details", "tool_calls" if "tool_calls" in details else "activities", "0")
    found: list[tuple[str, ...]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"id", "type"} and len(path) == len(prefix):
                    continue
                found.append((*path, key))
                walk(value, (*path, key))

    walk(items[0], prefix)
    return found


def at(document: dict[str, Any], path: tuple[str, ...]) -> tuple[Any, str]:
    parent: Any = document
    for part in path[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    return parent, path[-1]


def required_here(document: dict[str, Any], path: tuple[str, ...]) -> bool:
    mutated = copy.deepcopy(document)
    parent, key = at(mutated, path)
    del parent[key]
    return not AZURE.validate(json.dumps(mutated).encode()).valid


OPEN = {"parameters": {"type", "properties", "required", "additionalProperties"}, "action": {"type"}}
WRONG = {str: 12345, type(None): 12345, dict: "text", list: "text", int: "text", float: "text", bool: "text"}


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_wrong_type_in_an_azure_tool_call_is_an_error_located_there(name: str) -> None:
    document = azure_example(name)
    for path in tool_call_members(document):
        mutated = copy.deepcopy(document)
        parent, key = at(mutated, path)
        if (path[-2] in OPEN and key not in OPEN[path[-2]]) or set(path[:-2]) & set(OPEN):
            continue  # what open objects hold beyond their typed members: a JSON Schema's keywords, a click's x
        parent[key] = WRONG[type(parent[key])]
        report = AZURE.validate(json.dumps(mutated).encode())
        pointer = "/" + "/".join(path)

        assert not report.valid, pointer
        assert report.errors[0].instance_location == pointer, (pointer, report.errors[0])
        assert report.errors[0].code in {"type", "const", "enum"}


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_required_member_of_an_azure_tool_call_dropped_is_an_error_that_names_it(name: str) -> None:
    document = azure_example(name)
    dropped = 0
    for path in tool_call_members(document):
        if not required_here(document, path):
            continue
        dropped += 1
        mutated = copy.deepcopy(document)
        parent, key = at(mutated, path)
        del parent[key]
        headline = AZURE.validate(json.dumps(mutated).encode()).errors[0]

        assert headline.instance_location == "/" + "/".join(path[:-1])
        assert headline.error == f"{key!r} is a required property"
    # every Azure tool call requires something (computer use its action, MCP its name and arguments, ...)
    assert dropped or name in {"azure_function.json", "connected_agent.json", "bing_custom_search.json"}


def test_dialects_are_named_by_the_schemas() -> None:
    assert default_schemas().dialects == ("openai", "azure")
    with pytest.raises(UnknownDialectError, match="unknown dialect 'bedrock'; known: openai, azure"):
        validate(b"{}", dialect="bedrock")


def cli(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(argv, stdout, stderr, io.BytesIO(stdin))
    return code, stdout.getvalue(), stderr.getvalue()


def test_cli_validates_with_the_dialect_by_name_and_by_strict() -> None:
    captures = [str(path) for path, _, _ in STEPS] + [str(path) for path in STREAMS]
    code, out, _ = cli(["validate", "--dialect", "azure", *sorted(set(captures))])
    summary = out.splitlines()[-1]
    assert code == 0
    assert summary.startswith(f"{len(set(captures))} files, ")
    assert " 0 invalid (0 errors, " in summary
    assert all(": warning: " in line for line in out.splitlines()[:-1])  # only stream notes: cut, re-announced

    code, out, _ = cli(["validate", "--schema", "azure_run_step", str(AZURE_CAPTURES / "mcp-steps.json")])
    assert (code, out.splitlines()[-1]) == (0, "1 file, 3 records: 3 valid, 0 invalid (0 errors, 0 warnings)")

    code, out, _ = cli(["validate", "--dialect", "azure", "--strict", str(AZURE_CAPTURES / "mcp-steps.json")])
    assert code == 1
    assert "'expired_at' is a required property" in out

    broken = azure_example("mcp.json")
    broken["step_details"]["tool_calls"][0]["arguments"] = 3
    code, out, _ = cli(["validate", "--dialect", "azure", "-"], json.dumps(broken).encode())
    assert code == 1
    assert "/step_details/tool_calls/0/arguments: 3 is not of type 'string'" in out


def test_import_sorts_azure_records_by_the_dialect(tmp_path: Path) -> None:
    good = [json.dumps(step) for _, _, step in STEPS]
    bad = azure_example("bing_grounding.json")
    del bad["step_details"]["tool_calls"][0]["bing_grounding"]["requesturl"]
    source = tmp_path / "steps.jsonl"
    source.write_text("\n".join([*good, json.dumps(bad)]) + "\n")
    accepted, rejected = tmp_path / "ok.jsonl", tmp_path / "bad.jsonl"

    code, _, _ = cli(
        ["import", str(source), "--accepted", str(accepted), "--rejected", str(rejected), "--dialect", "azure"]
    )

    assert code == 1  # something was rejected
    assert accepted.read_text().splitlines() == good
    (line,) = rejected.read_text().splitlines()
    assert "'requesturl' is a required property" in line
    with source.open("rb") as lines:
        verdicts = [result.valid for result in iter_validate(lines, dialect="azure")]
    assert verdicts == [True] * len(good) + [False]


def test_http_takes_the_dialect_from_the_query_and_the_settings() -> None:
    broken = azure_example("mcp.json")
    broken["step_details"]["tool_calls"][0]["arguments"] = 3
    body = json.dumps(broken)
    client = create_app({"access_log": False}).test_client()

    assert client.post("/v1/validate", data=body, content_type="application/json").get_json()["valid"]
    answer = client.post("/v1/validate?dialect=azure", data=body, content_type="application/json").get_json()
    assert not answer["valid"]
    refused = client.post("/v1/validate?dialect=bedrock", data=body, content_type="application/json")
    assert refused.status_code == 400
    assert refused.get_json()["detail"] == "dialect must be one of openai, azure"

    stream = (AZURE_CAPTURES / "mcp-stream.sse").read_bytes()
    answer = client.post("/v1/validate/stream?dialect=azure", data=stream, content_type="text/event-stream")
    assert answer.get_json()["valid"]

    azure_by_default = create_app({"access_log": False, "default_dialect": "azure"}).test_client()
    answer = azure_by_default.post("/v1/validate", data=body, content_type="application/json").get_json()
    assert not answer["valid"]
    lines = "\n".join(json.dumps(step) for _, _, step in STEPS)
    batch = azure_by_default.post("/v1/validate/batch", data=lines, content_type="application/x-ndjson").get_json()
    assert batch["summary"]["invalid"] == 0


def suspicious_payloads() -> list[tuple[str, bytes]]:
    """Payloads both dialects accept, each with something the lint warns about."""
    step = load_json(EXAMPLES / "tool_calls_function.json")
    calls = step["step_details"]["tool_calls"]
    calls[1]["id"] = calls[0]["id"]  # repeated
    calls[2]["id"] = "tool_42"  # without call_
    retrieval_era = load_json(EXAMPLES / "tool_calls_file_search.json")
    retrieval_era["step_details"]["tool_calls"][0]["file_search"]["ranking_options"] = {
        "ranker": "zz_ranker",
        "score_threshold": 0.5,
    }
    fragment = {"index": -1, "id": "tool_1", "type": "function", "function": {"arguments": "{"}}
    delta: dict[str, Any] = {"id": "step_1", "object": "thread.run.step.delta"}
    delta["delta"] = {"step_details": {"type": "tool_calls", "tool_calls": [fragment]}}
    return [
        ("repeated and odd call ids", json.dumps(step).encode()),
        ("unknown ranker", json.dumps(retrieval_era).encode()),
        ("negative delta index", json.dumps(delta).encode()),
    ]


@pytest.mark.parametrize(("name", "payload"), suspicious_payloads())
def test_both_dialects_warn_alike(name: str, payload: bytes) -> None:
    openai = validate(payload, dialect="openai")
    azure = validate(payload, dialect="azure")

    assert openai.valid, openai.errors
    assert azure.valid, azure.errors
    assert openai.warnings, name
    assert [(unit.instance_location, unit.code) for unit in azure.warnings] == [
        (unit.instance_location, unit.code) for unit in openai.warnings
    ]


def test_connected_agent_fragments_with_null_ids_are_what_the_service_sends_not_the_contract() -> None:
    """The .NET SDK's recording opens a connected agent call with run_id, thread_id and assistant_id null."""
    stream = (AZURE_CAPTURES / "connected_agent-stream.sse").read_bytes()
    first = next(delta for delta in azure_deltas() if "connected_agent" in json.dumps(delta))
    raw = json.dumps(first).encode()
    opened = first["delta"]["step_details"]["tool_calls"][0]["connected_agent"]
    assert (opened["run_id"], opened["thread_id"], opened["assistant_id"]) == (None, None, None)

    assert get_validator("azure_run_step_delta").validate(raw).valid
    strict = get_validator("azure_run_step_delta.strict").validate(raw)
    assert not strict.valid  # the contract names no connected_agent fragment at all (v1)

    report = validate_stream(stream, dialect="azure")
    assert report.valid, report.to_dict()
    assert [step.deltas for step in report.step_results] == [9, 0]  # the arguments added up in 8 pieces, then held
    client = create_app({"access_log": False}).test_client()
    answer = client.post("/v1/validate/stream?dialect=azure", data=stream, content_type="text/event-stream")
    assert answer.get_json()["valid"] is True
    code, out, _ = cli(["validate", "--dialect", "azure", str(AZURE_CAPTURES / "connected_agent-stream.sse")])
    assert code == 0, out


HOW_TO_CHOOSE = '(--dialect azure, ?dialect=azure, dialect="azure")'


def test_the_openai_dialect_names_the_dialect_that_knows_an_azure_type() -> None:
    bing = next(
        step for path, _, step in STEPS if path.name.startswith("bing_grounding") and step["type"] != "message_creation"
    )
    (warning,) = validate(bing).warnings
    assert warning.error.startswith('unknown tool call type "bing_grounding": accepted, but only its required members')
    assert warning.error.endswith(f"; the azure dialect knows it {HOW_TO_CHOOSE}"), warning.error

    activities = next(step for _, _, step in STEPS if step["type"] == "activities")
    report = validate(activities)
    assert not report.valid
    assert any(unit.error.endswith(f"the azure dialect knows it {HOW_TO_CHOOSE}") for unit in report.errors), report

    made_up = json.loads(json.dumps(bing))
    made_up["step_details"]["tool_calls"][0]["type"] = "teleport"
    assert "dialect knows" not in validate(made_up).warnings[0].error  # nobody knows it: nothing to suggest
    assert validate(bing, dialect="azure").warnings == ()


@pytest.mark.parametrize("path", STREAMS, ids=lambda path: path.name)
def test_under_the_strict_entries_invalid_events_keep_their_steps_and_sums(path: Path) -> None:
    """Strict Azure entries refuse what the service sends (expires_at, no metadata), event by event; the stream's own
    checks still follow every step: no 'created before this transcript starts', no 'never created', sums held."""
    tolerant = validate_stream(path.read_bytes(), dialect="azure")
    strict = validate_stream(path.read_bytes(), dialect="azure", strict=True)

    assert [unit.error for unit in strict.warnings] == [unit.error for unit in tolerant.warnings]
    assert strict.stream_errors == tolerant.stream_errors == []
    assert [(step.id, step.events, step.deltas) for step in strict.step_results] == [
        (step.id, step.events, step.deltas) for step in tolerant.step_results
    ]
