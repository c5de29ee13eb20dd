"""Event streams: SSE framing, every run-step event checked against its name, and deltas that must add up to the
step's final event. A synthetic transcript (built here, so that the tests run anywhere) and its mutations, the real
transcripts of ../shared/corpus/streams where present, and hypothesis over chunking and line endings."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runstep_validator import Profile, RunStep, SchemaSet, validate_stream
from runstep_validator.cli import run
from runstep_validator.http.app import create_app
from runstep_validator.sources.records import RecordTooLarge
from runstep_validator.sources.sse import frame

from .support import ROOT, example, load_json

STREAMS = ROOT.parent / "shared" / "corpus" / "streams"
STEP_ID = "step_stream1"
PIECES = ['{"city"', ': "Li', 'ma"}']


def step(status: str, **changes: Any) -> dict[str, Any]:
    base = example("tool_calls_function.json")
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "", "output": None}}
    base.update(id=STEP_ID, status=status, step_details={"type": "tool_calls", "tool_calls": [call]})
    base.update(completed_at=base["created_at"] + 5 if status == "completed" else None)
    base.update(changes)
    return base


def delta(index: int, **function: Any) -> dict[str, Any]:
    fragment: dict[str, Any] = {"index": index, "type": "function", "function": function}
    details = {"type": "tool_calls", "tool_calls": [fragment]}
    return {"id": STEP_ID, "object": "thread.run.step.delta", "delta": {"step_details": details}}


def events() -> list[tuple[str, Any]]:
    created = step("in_progress")
    created["step_details"]["tool_calls"] = []
    first = delta(0, name="get_weather", arguments="", output=None)
    first["delta"]["step_details"]["tool_calls"][0]["id"] = "call_1"
    completed = step("completed")
    completed["step_details"]["tool_calls"][0]["function"].update(arguments="".join(PIECES), output="18C")
    return [
        ("thread.run.created", {"id": "run_1", "object": "thread.run"}),
        ("thread.run.step.created", created),
        ("thread.run.step.delta", first),
        *[("thread.run.step.delta", delta(0, arguments=piece)) for piece in PIECES],
        ("thread.run.step.completed", completed),
        ("thread.run.completed", {"id": "run_1", "object": "thread.run"}),
        ("done", "[DONE]"),
    ]


def transcript(items: list[tuple[str, Any]], end: str = "\n") -> bytes:
    lines = []
    for name, data in items:
        lines += [f"event: {name}", f"data: {data if isinstance(data, str) else json.dumps(data)}", ""]
    return end.join(lines).encode() + end.encode()


def test_a_whole_stream_is_valid_and_yields_its_typed_steps() -> None:
    report = validate_stream(transcript(events()))

    assert report.valid, report.to_dict()
    document = report.to_dict()
    assert document["summary"]["run_step_events"] == 6
    assert document["steps"] == [
        {"id": STEP_ID, "events": 6, "deltas": 4, "final": "thread.run.step.completed", "valid": True}
    ]
    typed = report.steps()[STEP_ID]
    assert isinstance(typed, RunStep)


def errors_of(items: list[tuple[str, Any]]) -> list[str]:
    return [unit.code for unit in validate_stream(transcript(items)).stream_errors] + [
        unit.code for result in validate_stream(transcript(items)).results for unit in result.errors
    ]


def test_a_dropped_delta_is_caught() -> None:
    items = events()
    del items[4]

    assert "accumulation" in errors_of(items)


def test_a_reordered_pair_is_caught() -> None:
    items = events()
    items[3], items[4] = items[4], items[3]

    assert "accumulation" in errors_of(items)


def test_a_changed_fragment_is_caught() -> None:
    items = events()
    items[4] = ("thread.run.step.delta", delta(0, arguments=": 'Li"))

    report = validate_stream(transcript(items))
    (unit,) = report.errors
    assert unit.instance_location == "/step_details/tool_calls/0/function/arguments"
    assert unit.event == 7
    assert "events 3 to 6" in unit.error


def test_a_status_that_contradicts_its_event_is_caught() -> None:
    items = events()
    items[6] = ("thread.run.step.completed", step("failed", failed_at=1))

    assert "status" in errors_of(items)


def test_a_delta_for_an_unknown_step_is_caught() -> None:
    items = events()
    stray = delta(0, arguments="x")
    stray["id"] = "step_other"
    items.insert(5, ("thread.run.step.delta", stray))

    assert "order" in errors_of(items)


def test_final_arguments_that_differ_from_the_deltas_are_caught() -> None:
    items = events()
    final = step("completed")
    final["step_details"]["tool_calls"][0]["function"].update(arguments='{"city": "Quito"}', output="18C")
    items[6] = ("thread.run.step.completed", final)

    assert errors_of(items) == ["accumulation"]


def test_an_event_after_the_final_one_is_caught() -> None:
    items = events()
    items.insert(7, ("thread.run.step.delta", delta(0, arguments="x")))

    assert "order" in errors_of(items)


def test_a_cut_stream_is_only_warned_about() -> None:
    items = events()[:-1]

    report = validate_stream(transcript(items))
    assert report.valid
    assert [unit.code for unit in report.warnings] == ["no-done"]


@settings(max_examples=100, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
    end=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_chunking_and_any_line_end_give_the_same_report(cuts: list[int], end: str) -> None:
    body = transcript(events(), end)
    points = sorted({min(cut, len(body)) for cut in cuts})
    chunks = [body[start:stop] for start, stop in zip([0, *points], [*points, len(body)], strict=True)]

    assert validate_stream(iter(chunks)).to_dict() == validate_stream(transcript(events())).to_dict()


def test_framing_reads_comments_ids_multiline_data_and_a_last_event_without_its_blank_line() -> None:
    body = (
        b': a comment\nid: 7\nevent: thread.run.created\ndata: {"a":\ndata: 1}\nretry: 10\n\nevent: done\ndata: [DONE]'
    )

    found = list(frame(io.BytesIO(body)))

    assert [(event.name, event.data, event.id) for event in found] == [  # type: ignore[union-attr]
        ("thread.run.created", b'{"a":\n1}', "7"),
        ("done", b"[DONE]", None),
    ]


needs_streams = pytest.mark.skipif(not (STREAMS / "MANIFEST.json").is_file(), reason="no shared/corpus/streams")


@needs_streams
@pytest.mark.parametrize(
    "entry",
    load_json(STREAMS / "MANIFEST.json") if (STREAMS / "MANIFEST.json").is_file() else [],
    ids=lambda e: e["file"],
)
def test_every_real_transcript_is_valid(entry: dict[str, Any]) -> None:
    path: Path = STREAMS / entry["file"]
    report = validate_stream(path.read_bytes())

    assert report.valid, report.to_dict()["errors"]
    assert sum(report.events.values()) >= entry["run_step_events"]


def test_the_stream_route_answers_with_the_report_and_its_limits() -> None:
    client = create_app({"access_log": False}).test_client()
    body = transcript(events())

    answer = client.post("/v1/validate/stream", data=body, content_type="text/event-stream")
    assert answer.status_code == 200
    assert answer.get_json()["valid"] is True
    assert answer.get_json() == validate_stream(body).to_dict()

    limited = create_app({"access_log": False, "max_stream_events": 3}).test_client()
    refused = limited.post("/v1/validate/stream", data=body, content_type="text/event-stream")
    assert (refused.status_code, refused.mimetype) == (413, "application/problem+json")
    assert refused.get_json()["type"].endswith("/stream-too-long")

    wrong = client.post("/v1/validate/stream", data=body, content_type="application/json")
    assert wrong.status_code == 415


@pytest.mark.parametrize("name", ["run.sse", "run.sse.gz", "run.txt"])
def test_the_command_line_reads_transcripts_by_name_or_by_flag(tmp_path: Path, name: str) -> None:
    items = events()
    items[4] = ("thread.run.step.delta", delta(0, arguments=": 'Li"))
    body = transcript(items)
    path = tmp_path / name
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    argv = ["validate", str(path), *(["--input-format", "sse"] if name == "run.txt" else [])]
    stdout, stderr = io.StringIO(), io.StringIO()

    code = run(argv, stdout, stderr)

    assert code == 1, stdout.getvalue() + stderr.getvalue()
    lines = body.decode().splitlines()
    line = next(number for number, text in enumerate(lines, 1) if text.startswith("data:") and '"completed"' in text)
    assert f"{path}:{line}:" in stdout.getvalue()
    assert "event 7 (thread.run.step.completed): /step_details/tool_calls/0/function/arguments: " in stdout.getvalue()


def bogus_step_stream() -> list[tuple[str, Any]]:
    """The issue's minimal reproduction: a step created with a status no step has, then a valid delta for it."""
    created = step("bogus")
    created["step_details"]["tool_calls"] = []
    first = delta(0, name="get_weather", arguments="", output=None)
    first["delta"]["step_details"]["tool_calls"][0]["id"] = "call_1"
    return [
        ("thread.run.created", {"id": "run_1", "object": "thread.run"}),
        ("thread.run.step.created", created),
        ("thread.run.step.delta", first),
        ("done", "[DONE]"),
    ]


@pytest.mark.parametrize("strict", [False, True])
def test_an_invalid_created_event_keeps_its_step_in_the_lifecycle(strict: bool) -> None:
    report = validate_stream(transcript(bogus_step_stream()), strict=strict)

    units = report.errors
    if strict:  # the synthetic step lacks members only the strict entry requires: those are its errors too
        assert {unit.event for unit in units} == {2}, units
        assert [unit.instance_location for unit in units].count("/status") == 1, units
    else:
        assert [(unit.event, unit.instance_location) for unit in units] == [(2, "/status")], units
    assert [result.valid for result in report.results] == [False, True]
    assert report.warnings == []
    assert [(step.id, step.events, step.deltas) for step in report.step_results] == [(STEP_ID, 2, 1)]


def test_an_invalid_step_event_is_still_held_to_its_deltas() -> None:
    """Accumulation still runs when the final event is invalid for another reason (here its status)."""
    items = events()
    final = step("completed")
    final["status"] = "bogus"
    final["step_details"]["tool_calls"][0]["function"].update(arguments='{"city": "Quito"}', output="18C")
    items[6] = ("thread.run.step.completed", final)

    report = validate_stream(transcript(items))
    assert [unit.code for unit in report.stream_errors] == ["accumulation"]
    assert [unit.instance_location for result in report.results for unit in result.errors] == ["/status"]


def test_the_route_and_the_command_line_give_the_one_error_of_an_invalid_created_event(tmp_path: Path) -> None:
    body = transcript(bogus_step_stream())
    client = create_app({"access_log": False}).test_client()

    answer = client.post("/v1/validate/stream", data=body, content_type="text/event-stream").get_json()
    assert answer["summary"]["invalid_events"] == 1
    assert [unit["instanceLocation"] for unit in answer["errors"]] == ["/status"]  # the event's, listed once
    assert [unit["instanceLocation"] for event in answer["events"] for unit in event.get("errors", [])] == ["/status"]

    path = tmp_path / "run.sse"
    path.write_bytes(body)
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run(["validate", str(path)], stdout, stderr) == 1
    found = [line for line in stdout.getvalue().splitlines() if f"{path}:" in line]
    assert len(found) == 1, stdout.getvalue()
    assert "event 2 (thread.run.step.created): /status: " in found[0]


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-2, 2),
            st.text(max_size=3),
            st.lists(st.integers(0, 2), max_size=2),
            st.dictionaries(st.sampled_from(["index", "arguments", "id"]), st.integers(0, 2), max_size=2),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_invalid_deltas_of_any_shape_take_part_without_breaking_the_check(values: list[Any]) -> None:
    """Invalid events now take part in accumulation: whatever shapes their members have, the check reports."""
    items = events()
    for value in values:
        fragment = delta(0, arguments=value)
        fragment["delta"]["step_details"]["tool_calls"].append({"index": value, "function": value})
        items.insert(5, ("thread.run.step.delta", fragment))

    report = validate_stream(transcript(items))
    assert report.to_dict()["summary"]["steps"] == 1


def cut_inside_the_last_event() -> tuple[bytes, int]:
    """A transcript cut in the middle of its last event's data, and the line that event starts on."""
    whole = transcript(events()[:7])
    last = whole.rindex(b"event: thread.run.step.completed")
    cut = whole[: whole.index(b'"status"', last)]
    return cut, whole[:last].count(b"\n") + 1


@pytest.mark.parametrize("chunked", [False, True])
def test_a_transcript_cut_inside_its_last_event_warns_and_does_not_check_it(chunked: bool) -> None:
    body, line = cut_inside_the_last_event()

    report = validate_stream(iter([body[:50], body[50:]]) if chunked else body)

    assert [result.event for result in report.results] == [2, 3, 4, 5, 6]  # event 7, cut, is not validated
    assert report.valid, report.to_dict()
    cut = [unit for unit in report.warnings if unit.code == "cut"]
    assert [(unit.event, unit.line) for unit in cut] == [(7, line)]
    assert "ends inside event 7 (thread.run.step.completed)" in cut[0].error
    assert f"line {line}" in cut[0].error


def test_a_complete_last_event_without_its_blank_line_still_counts() -> None:
    body = transcript(events()).removesuffix(b"\n\n")

    report = validate_stream(body)
    assert report.valid
    assert report.warnings == []
    assert report.events["done"] == 1


def test_the_route_and_the_command_line_say_a_transcript_was_cut(tmp_path: Path) -> None:
    body, line = cut_inside_the_last_event()
    client = create_app({"access_log": False}).test_client()

    answer = client.post("/v1/validate/stream", data=body, content_type="text/event-stream").get_json()
    assert answer["valid"] is True
    assert [(unit["code"], unit["line"]) for unit in answer["warnings"] if unit["code"] != "no-done"] == [("cut", line)]

    path = tmp_path / "cut.sse"
    path.write_bytes(body)
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run(["validate", str(path)], stdout, stderr) == 0, stdout.getvalue() + stderr.getvalue()
    assert f"{path}:{line}:" in stdout.getvalue()
    assert "invalid JSON" not in stdout.getvalue()


def stream_whose_final_text_differs(final_arguments: str, pieces: list[str]) -> list[tuple[str, Any]]:
    items = events()
    items[3:6] = [("thread.run.step.delta", delta(0, arguments=piece)) for piece in pieces]
    final = step("completed")
    final["step_details"]["tool_calls"][0]["function"].update(arguments=final_arguments, output="18C")
    items[6] = ("thread.run.step.completed", final)
    return items


def test_an_accumulation_error_quotes_both_texts_where_they_first_differ() -> None:
    prefix = '{"note": "# Let\'s check the file type and content of the uploaded file, ' + "x" * 60
    built, final = prefix + 'A tail"}', prefix + 'B tail"}'
    items = stream_whose_final_text_differs(final, [built[:50], built[50:100], built[100:]])
    body = transcript(items)

    (unit,) = validate_stream(body).errors

    position = len(prefix) + 1
    assert f"differ at character {position}" in unit.error, unit.error
    quoted = unit.error.split(": ", 1)[1]
    assert 'A tail\\"}"' in quoted, unit.error  # both sides show where they part
    assert 'B tail\\"}"' in quoted, unit.error
    assert "# Let's check" not in unit.error  # not the identical beginnings
    line = body.decode().splitlines()[unit.line - 1]  # type: ignore[operator]
    assert line[unit.column - 1 : unit.column + 5] == "B tail"  # type: ignore[operator]


def test_an_accumulation_error_places_the_difference_past_escapes_and_non_ascii() -> None:
    built = '{"city": "Ñuñoa\\n", "q": "Li\U0001f600ma"}'
    final = built.replace("ma", "mo")
    items = stream_whose_final_text_differs(final, [built[:10], built[10:], ""])
    body = transcript(items)

    (unit,) = validate_stream(body).errors

    assert f"differ at character {built.index('ma') + 2}" in unit.error, unit.error
    line = body.decode().splitlines()[unit.line - 1]  # type: ignore[operator]
    assert line[unit.column - 1] == "o"  # type: ignore[operator]


def test_a_text_that_stops_short_says_where_and_a_redacted_one_quotes_nothing(tmp_path: Path) -> None:
    items = stream_whose_final_text_differs('{"city": "Lima"}', ['{"city": "Lima"}', " and more", ""])
    body = transcript(items)

    (unit,) = validate_stream(body).errors
    assert "differ at character 17" in unit.error, unit.error
    assert "and more" in unit.error

    (redacted,) = validate_stream(body, redact=True).errors
    assert "differ at character 17" in redacted.error
    assert "Lima" not in redacted.error
    assert "more" not in redacted.error
    assert (redacted.line, redacted.column) == (unit.line, unit.column)

    path = tmp_path / "run.sse"
    path.write_bytes(body)
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run(["validate", str(path)], stdout, stderr) == 1
    assert f"{path}:{unit.line}:{unit.column}:" in stdout.getvalue(), stdout.getvalue()
    assert "differ at character 17" in stdout.getvalue()
    client = create_app({"access_log": False}).test_client()
    answer = client.post("/v1/validate/stream", data=body, content_type="text/event-stream").get_json()
    assert [(error["line"], error["column"]) for error in answer["errors"]] == [(unit.line, unit.column)]
    assert "differ at character 17" in answer["errors"][0]["error"]


def test_a_body_that_is_only_a_cut_event_is_a_stream_with_its_warning() -> None:
    client = create_app({"access_log": False}).test_client()

    cut = client.post("/v1/validate/stream", data=b"data", content_type="text/event-stream")
    nothing = client.post("/v1/validate/stream", data=b"hello", content_type="text/event-stream")

    assert cut.status_code == 200, cut.get_json()
    assert [unit["code"] for unit in cut.get_json()["warnings"]] == ["cut", "no-done"]
    assert nothing.status_code == 400
    assert nothing.get_json()["type"].endswith("/not-an-event-stream")


def test_a_transcript_cut_inside_its_first_event_is_still_a_stream() -> None:
    body = b'event: thread.run.step.created\ndata: {"id": "step_1", "obj'
    client = create_app({"access_log": False}).test_client()

    answer = client.post("/v1/validate/stream", data=body, content_type="text/event-stream")

    assert answer.status_code == 200, answer.get_json()
    assert [unit["code"] for unit in answer.get_json()["warnings"]] == ["cut", "no-done"]
    refused = client.post("/v1/validate/stream", data=b": only a comment\n", content_type="text/event-stream")
    assert refused.status_code == 400


def test_the_stream_route_holds_events_to_the_services_depth_limit() -> None:
    items = events()
    deep = json.loads("[" * 7 + "]" * 7)  # eight levels with the step around it: past a limit of 5
    items[1][1]["metadata"] = {"nested": deep}
    body = transcript(items)
    limited = create_app({"access_log": False, "max_depth": 5}).test_client()

    answer = limited.post("/v1/validate/stream", data=body, content_type="text/event-stream")
    assert answer.status_code == 200
    errors = [unit["error"] for event in answer.get_json()["events"] for unit in event.get("errors", [])]
    assert any("nested deeper than the limit of 5 levels" in error for error in errors), errors
    single = limited.post("/v1/validate", data=json.dumps(items[1][1]), content_type="application/json")
    assert "nested deeper than the limit of 5 levels" in single.get_json()["detail"]  # the same limit, every route


def test_validate_stream_honours_a_custom_schema_set(tmp_path: Path) -> None:
    for name, kind in (("loose_step", "thread.run.step"), ("loose_delta", "thread.run.step.delta")):
        schema = {
            "$id": f"https://example.test/{name}.schema.json",
            "type": "object",
            "required": ["id", "object"],
            "properties": {"id": {"type": "string"}, "object": {"const": kind}},
        }
        (tmp_path / f"{name}.schema.json").write_text(json.dumps(schema))
    bare = {"id": STEP_ID, "object": "thread.run.step", "status": "in_progress"}
    body = transcript([("thread.run.step.created", bare), ("done", "[DONE]")])

    assert not validate_stream(body).valid  # the shipped schemas want a whole run step
    report = validate_stream(body, profile=Profile(schemas=SchemaSet.load(tmp_path)))
    assert report.valid, report.to_dict()
    with pytest.raises(TypeError, match="not both"):
        validate_stream(body, strict=True, profile=Profile())


def test_the_answers_errors_are_every_error_as_its_warnings_are_every_warning() -> None:
    """A client that reads only the top-level `errors` of a stream's answer sees what is wrong, as with `warnings`:
    the stream's own, then each event's (each also listed under its event, naming it)."""
    items = events()
    final = step("completed")
    final["status"] = "bogus"
    final["step_details"]["tool_calls"][0]["function"].update(arguments='{"city": "Quito"}', output="18C")
    items[6] = ("thread.run.step.completed", final)

    answer = validate_stream(transcript(items)).to_dict()

    listed = [(unit["code"], unit.get("instanceLocation")) for unit in answer["errors"]]
    assert listed[0][0] == "accumulation"
    assert ("enum", "/status") in listed
    by_event = [unit for result in answer["events"] for unit in result.get("errors", ())]
    assert all(unit in answer["errors"] and unit["event"] for unit in by_event)
    assert len(answer["errors"]) == len(by_event) + 1


def step_lines(**changes: Any) -> list[bytes]:
    step = {**example("message_creation.json"), **changes}
    return json.dumps(step, indent=2).encode().split(b"\n")


TRANSCRIPTS_OF_ONE_BAD_STEP = {
    "data: on one line": [b"data: " + b" ".join(line.strip() for line in step_lines(status="bogus"))],
    "data: without its space": [b"data:" + b" ".join(line.strip() for line in step_lines(status="bogus"))],
    "data across lines": [b"data: " + line for line in step_lines(status="bogus")],
    "data across lines, some without a space": [b"data:" + line for line in step_lines(status="bogus")],
    "data across lines, a comment among them": [
        *(b"data: " + line for line in step_lines(status="bogus")[:3]),
        b": keep-alive",
        *(b"data: " + line for line in step_lines(status="bogus")[3:]),
    ],
}


@pytest.mark.parametrize("name", TRANSCRIPTS_OF_ONE_BAD_STEP)
def test_an_events_error_is_placed_at_its_value_however_its_data_lines_are_written(name: str) -> None:
    """At the value, in the transcript's line and column: data written across lines was placed at its start (2:7),
    and a data line without the space after the colon one column off."""
    lines = [
        b"event: thread.run.step.created",
        *TRANSCRIPTS_OF_ONE_BAD_STEP[name],
        b"",
        b"event: done",
        b"data: [DONE]",
    ]
    body = b"\n".join([*lines, b"", b""])

    (unit,) = validate_stream(body).errors
    assert unit.line is not None
    assert unit.column is not None
    line = lines[unit.line - 1].decode()

    assert unit.instance_location == "/status"
    assert line[unit.column - 1 :].startswith('"bogus"'), (unit.line, unit.column, line)


@pytest.mark.parametrize("prefix", [b"data: ", b"data:"])
def test_invalid_json_across_data_lines_is_placed_in_the_transcript(prefix: bytes) -> None:
    lines = [b"event: thread.run.step.created", prefix + b'{"id": "step_1",', prefix + b'  "object": x}', b""]
    (unit,) = validate_stream(b"\n".join([*lines, b""])).errors

    assert (unit.error, unit.line) == ("invalid JSON: expecting value", 3)
    assert unit.column is not None
    assert lines[2].decode()[unit.column - 1] == "x"


@pytest.mark.parametrize("as_given", [bytes, io.BytesIO], ids=["bytes", "a binary file"])
def test_the_record_limit_holds_however_a_transcript_is_given(as_given: Any) -> None:
    """The bytes' fast path skipped it; and data exactly at the limit, across lines, is within it."""
    long_line = b"event: thread.run.created\ndata: " + b"x" * 3000 + b"\n\n"
    with pytest.raises(RecordTooLarge, match="line 2: a record longer than 1,024 bytes"):
        validate_stream(as_given(long_line), max_record_bytes=1024)
    at_the_limit = b"event: thread.run.created\ndata: " + b"x" * 511 + b"\ndata: " + b"y" * 512 + b"\n\n"
    validate_stream(as_given(at_the_limit), max_record_bytes=1024)  # 511 + 1 + 512 bytes of data
