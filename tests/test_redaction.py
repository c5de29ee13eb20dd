"""Redaction quotes no payload value at all: markers planted in every leaf of valid and invalid payloads appear in
no report, in any output format, from the core, the command line or the HTTP service."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runstep_validator import validate, validate_stream
from runstep_validator.cli import run
from runstep_validator.cli.reporters import FORMATS
from runstep_validator.core.report import OUTPUT_FORMATS
from runstep_validator.http.app import create_app

from .strategies import mutated, run_steps
from .test_streams import STEP_ID, delta, events, transcript

# Members whose values are the schema's vocabulary: a marker there would only make every payload invalid alike.
VOCABULARY = frozenset({"type", "object", "status"})
REDACTED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def planted(draw: st.DrawFn) -> tuple[Any, list[str]]:
    """A run step (maybe mutated) whose every free leaf holds a marker value, and the markers' texts."""
    markers: list[str] = []
    counter = iter(range(10**6, 10**7))

    def plant(node: Any, key: str | None) -> Any:
        if isinstance(node, dict):
            return {name: plant(value, name) for name, value in node.items()}
        if isinstance(node, list):
            return [plant(item, key) for item in node]
        if key in VOCABULARY or node is None or isinstance(node, bool):
            return node
        number = next(counter) * 7 + draw(st.integers(0, 6))
        if isinstance(node, str):
            marker = f"zqx{number}"
            markers.append(marker)
            return marker
        if isinstance(node, float):
            markers.append(str(number))
            return number / 10**7 if node <= 1 else float(number)
        markers.append(str(number))
        return number

    document = plant(draw(run_steps(strict=draw(st.booleans()))), None)
    for _ in range(draw(st.integers(0, 2))):
        document = draw(mutated(document))
    return document, markers


def assert_quotes_none(text: str, markers: list[str]) -> None:
    leaked = [marker for marker in markers if marker in text]
    assert not leaked, text


@REDACTED
@given(case=planted())
def test_no_marker_in_any_output_format(case: tuple[Any, list[str]]) -> None:
    document, markers = case
    report = validate(json.dumps(document).encode(), redact=True)

    for output in OUTPUT_FORMATS:
        assert_quotes_none(json.dumps(report.render(output)), markers)
    assert_quotes_none(json.dumps(report.to_dict()), markers)


@REDACTED
@given(case=planted())
def test_no_marker_from_the_command_line(tmp_path_factory: pytest.TempPathFactory, case: tuple[Any, list[str]]) -> None:
    document, markers = case
    path: Path = tmp_path_factory.mktemp("redact") / "step.json"
    path.write_text(json.dumps(document, indent=2))
    for output in FORMATS:
        stdout, stderr = io.StringIO(), io.StringIO()
        run(["validate", str(path), "--redact", "--format", output], stdout, stderr)
        assert_quotes_none(stdout.getvalue() + stderr.getvalue(), markers)


APP = create_app({"redact_values": True, "access_log": False})


@REDACTED
@given(case=planted())
def test_no_marker_over_http(case: tuple[Any, list[str]]) -> None:
    document, markers = case
    client = APP.test_client()
    body = json.dumps(document).encode()
    for output in OUTPUT_FORMATS:
        response = client.post(f"/v1/validate?output={output}", data=body, content_type="application/json")
        assert_quotes_none(response.get_data(as_text=True), markers)
    batch = client.post("/v1/validate/batch", data=body + b"\n" + body, content_type="application/x-ndjson")
    assert_quotes_none(batch.get_data(as_text=True), markers)


def test_no_marker_in_a_stream_report() -> None:
    items = events()
    items[4] = ("thread.run.step.delta", delta(0, arguments="zqx9876543"))
    body = transcript(items)

    report = validate_stream(body, redact=True)

    assert not report.valid
    assert_quotes_none(json.dumps(report.to_dict()), ["zqx9876543"])
    app = create_app({"redact_values": True, "access_log": False})
    answer = app.test_client().post("/v1/validate/stream", data=body, content_type="text/event-stream")
    assert_quotes_none(answer.get_data(as_text=True), ["zqx9876543"])


def leaky_transcript() -> tuple[bytes, list[str]]:
    """A stream whose every client-chosen string is a marker: step ids, an event name, a member name."""
    items = [(name, json.loads(json.dumps(data).replace(STEP_ID, "step_zqxSTEPID"))) for name, data in events()]
    unknown_member = delta(0, arguments="x")
    unknown_member["id"] = "step_zqxSTEPID"
    unknown_member["delta"]["step_details"]["tool_calls"][0]["function"]["zqxMEMBER"] = "x"
    never_created = delta(0, arguments="x")
    never_created["id"] = "step_zqxOTHERID"
    items[5:5] = [
        ("zqxEVENTNAME", "not JSON"),
        ("thread.run.step.delta", unknown_member),
        ("thread.run.step.delta", never_created),
    ]
    return transcript(items), ["zqxSTEPID", "zqxOTHERID", "zqxEVENTNAME", "zqxMEMBER"]


def test_no_client_string_in_a_redacted_stream_report(tmp_path: Path) -> None:
    body, markers = leaky_transcript()
    report = validate_stream(body)
    shown = json.dumps(report.to_dict())
    assert all(marker in shown for marker in markers), "the markers must be quoted when not redacting"

    assert_quotes_none(json.dumps(validate_stream(body, redact=True).to_dict()), markers)
    answer = APP.test_client().post("/v1/validate/stream", data=body, content_type="text/event-stream")
    assert_quotes_none(answer.get_data(as_text=True), markers)
    path = tmp_path / "run.sse"
    path.write_bytes(body)
    for output in FORMATS:
        stdout, stderr = io.StringIO(), io.StringIO()
        run(["validate", str(path), "--redact", "--format", output], stdout, stderr)
        assert_quotes_none(stdout.getvalue() + stderr.getvalue(), markers)


def test_a_redacted_stream_report_still_tells_its_steps_apart() -> None:
    body, _ = leaky_transcript()

    report = validate_stream(body, redact=True).to_dict()

    assert [step["id"] for step in report["steps"]] == ["#1"]
    assert any("step #2" in unit["error"] for result in report["events"] for unit in result.get("errors", ()))


def test_an_unknown_object_is_not_quoted(tmp_path: Path) -> None:
    body = b'{"object": "zqxOBJECT", "id": "step_1"}'
    report = validate(body, redact=True)
    for output in OUTPUT_FORMATS:
        assert_quotes_none(json.dumps(report.render(output)), ["zqxOBJECT"])
    client = APP.test_client()
    assert_quotes_none(
        client.post("/v1/validate", data=body, content_type="application/json").get_data(as_text=True), ["zqxOBJECT"]
    )
    path = tmp_path / "step.json"
    path.write_bytes(body)
    for cli_format in FORMATS:
        stdout, stderr = io.StringIO(), io.StringIO()
        run(["validate", str(path), "--redact", "--format", cli_format], stdout, stderr)
        assert_quotes_none(stdout.getvalue() + stderr.getvalue(), ["zqxOBJECT"])


def test_a_cut_event_of_an_unknown_name_is_not_quoted() -> None:
    body = b'event: thread.run.created\ndata: {}\n\nevent: zqxCUTNAME\ndata: {"id": "x'

    report = validate_stream(body, redact=True).to_dict()

    assert any(unit["code"] == "cut" for unit in report["warnings"]), report
    assert_quotes_none(json.dumps(report), ["zqxCUTNAME"])
