"""One input, one answer, on every surface: the same records through the Python API, the command line's JSON
output, HTTP single and batch, and `import` (its rejected report and its summary) give the same verdict, the same
errors (instanceLocation, keywordLocation, code, message), the same warnings, the same line and column wherever a
surface gives them, and the same counts.

The inputs are every data-driven case (grouped by the entry it names), every real payload of ../shared/corpus
(where present) and hypothesis's mutations of run steps.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from runstep_validator import NotJsonLines, validate, validate_document, validate_stream
from runstep_validator.cli import run
from runstep_validator.core.report import OutputUnit, Report
from runstep_validator.http.app import create_app
from runstep_validator.importing import iter_validate
from runstep_validator.sources import documents, library

from .strategies import mutated, run_steps
from .support import ROOT, all_cases, corpus_files, load_json
from .test_streams import delta, events, transcript

APP = create_app({"access_log": False, "metrics": False})
Unit = tuple[str, str, str, str]  # instanceLocation, keywordLocation, code, message


class Verdict(NamedTuple):
    valid: bool
    errors: list[Unit]
    warnings: list[Unit]


class Placed(NamedTuple):
    line: int
    column: int


def units(items: Iterable[dict[str, Any]]) -> list[Unit]:
    return [(unit["instanceLocation"], unit["keywordLocation"], unit.get("code", ""), unit["error"]) for unit in items]


def placements(items: Iterable[dict[str, Any]]) -> list[Placed]:
    return [Placed(unit["line"], unit["column"]) for unit in items]


def of_report(report: Report) -> Verdict:
    answer = report.to_dict()
    return Verdict(answer["valid"], units(answer["errors"]), units(answer["warnings"]))


def said(unit: OutputUnit) -> str:
    """What a unit says and where, in one sentence."""
    return f"{unit.error} at line {unit.line}, column {unit.column}"


def of_unit_lists(answer: dict[str, Any]) -> Verdict:
    return Verdict(answer["valid"], units(answer["errors"]), units(answer["warnings"]))


class Surfaces:
    """Every surface's answer about the records of one JSON Lines file, validated against one schema."""

    def __init__(self, records: list[bytes], schema: str, folder: Path) -> None:
        self.records = records
        self.schema = schema
        self.body = b"".join(record + b"\n" for record in records)
        self.path = folder / "records.jsonl"
        self.path.write_bytes(self.body)
        self.folder = folder

    def api(self) -> list[Verdict]:
        return [of_report(validate(record, self.schema)) for record in self.records]

    def cli(self) -> tuple[list[Verdict], list[list[Placed]], dict[str, Any]]:
        stdout, stderr = io.StringIO(), io.StringIO()
        run(["validate", str(self.path), "--schema", self.schema, "--format", "json"], stdout, stderr)
        answer = json.loads(stdout.getvalue())
        records = answer["files"][0]["records"]
        assert [record["index"] for record in records] == list(range(len(self.records))), stderr.getvalue()
        verdicts = [of_unit_lists(record) for record in records]
        return verdicts, [placements(record["errors"] + record["warnings"]) for record in records], answer["summary"]

    def http_single(self) -> tuple[list[Verdict], list[list[Placed]]]:
        client = APP.test_client()
        verdicts, places = [], []
        for record in self.records:
            response = client.post(f"/v1/validate?schema={self.schema}", data=record, content_type="application/json")
            answer = response.get_json()
            assert response.status_code == 200, answer
            verdicts.append(of_unit_lists(answer))
            places.append(placements(answer["errors"] + answer["warnings"]))
        return verdicts, places

    def http_batch(self) -> tuple[list[Verdict], list[list[Placed]], dict[str, Any]]:
        response = APP.test_client().post(
            f"/v1/validate/batch?schema={self.schema}", data=self.body, content_type="application/x-ndjson"
        )
        answer = response.get_json()
        assert response.status_code == 200, answer
        results = answer["results"]
        verdicts = [of_unit_lists(result) for result in results]
        return verdicts, [placements(result["errors"] + result["warnings"]) for result in results], answer["summary"]

    def imported(self) -> tuple[dict[int, Verdict], dict[int, list[Placed]], dict[str, Any]]:
        """The rejected records by line, where their errors and warnings are, and the summary. (The Dask import is
        held to these same outputs, byte for byte, in test_cluster.)"""
        outputs = self.folder / "import"
        outputs.mkdir()
        report = outputs / "report.json"
        argv = ["import", str(self.path), "--schema", self.schema, "--workers", "1"]
        argv += ["--accepted", str(outputs / "accepted.jsonl"), "--rejected", str(outputs / "rejected.jsonl")]
        stdout, stderr = io.StringIO(), io.StringIO()
        assert run([*argv, "--report", str(report)], stdout, stderr) in {0, 1}, stderr.getvalue()
        rejected, places = {}, {}
        for line in (outputs / "rejected.jsonl").read_text().split("\n")[:-1]:
            entry = json.loads(line)
            rejected[entry["line"]] = Verdict(False, units(entry["errors"]), units(entry["warnings"]))
            places[entry["line"]] = placements([*entry["errors"], *entry["warnings"]])
        return rejected, places, load_json(report)


def assert_one_answer(surfaces: Surfaces) -> None:
    api = surfaces.api()
    cli, cli_places, cli_summary = surfaces.cli()
    single, single_places = surfaces.http_single()
    batch, batch_places, batch_summary = surfaces.http_batch()
    rejected, rejected_places, import_summary = surfaces.imported()

    assert cli == api
    assert single == api
    assert batch == api
    invalid_lines = {number for number, verdict in enumerate(api, 1) if not verdict.valid}
    assert set(rejected) == invalid_lines
    for number in invalid_lines:
        assert rejected[number] == api[number - 1]
        assert rejected_places[number] == cli_places[number - 1]
    # Positions: every record is one line of the file and the whole body of its single request.
    assert batch_places == cli_places
    for number, (places, alone) in enumerate(zip(cli_places, single_places, strict=True), 1):
        assert places == [Placed(line + number - 1, column) for line, column in alone]
    total, valid = len(api), sum(verdict.valid for verdict in api)
    assert (cli_summary["records"], cli_summary["valid"], cli_summary["invalid"]) == (total, valid, total - valid)
    assert (batch_summary["total"], batch_summary["valid"], batch_summary["invalid"]) == (total, valid, total - valid)
    assert (import_summary["records"], import_summary["accepted"], import_summary["rejected"]) == (
        total,
        valid,
        total - valid,
    )


CASES_BY_SCHEMA: dict[str, list[bytes]] = {}
for case in all_cases():
    CASES_BY_SCHEMA.setdefault(case.schema, []).append(json.dumps(case.payload).encode())


@pytest.mark.parametrize("schema", sorted(CASES_BY_SCHEMA))
def test_every_case_gets_one_answer_on_every_surface(schema: str, tmp_path: Path) -> None:
    assert_one_answer(Surfaces(CASES_BY_SCHEMA[schema], schema, tmp_path))


@pytest.mark.skipif(not corpus_files(), reason="../shared/corpus is absent (a user's clone)")
@pytest.mark.parametrize("schema", ["auto", "run_step.strict"])
def test_every_real_payload_gets_one_answer_on_every_surface(schema: str, tmp_path: Path) -> None:
    paths = corpus_files() + corpus_files("thread.run.step.delta")
    records = [json.dumps(load_json(path)).encode() for path in paths]
    assert_one_answer(Surfaces(records, schema, tmp_path))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents=st.lists(run_steps(strict=False).flatmap(mutated), min_size=1, max_size=6))
def test_mutated_run_steps_get_one_answer_on_every_surface(
    documents: list[Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    records = [json.dumps(document).encode() for document in documents]
    assert_one_answer(Surfaces(records, "auto", tmp_path_factory.mktemp("surfaces")))


STREAMS = sorted((ROOT.parent / "shared" / "corpus" / "streams").glob("*.sse"))


def stream_report_counts(report: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """(events, valid, invalid, errors, warnings) of a stream report as the page counts them: its errors and its
    warnings, which hold the stream's own and every event's."""
    summary = report["summary"]
    events = summary["events"]
    invalid = summary["invalid_events"]
    return (events, events - invalid, invalid, len(report["errors"]), len(report["warnings"]))


def cli_stream_counts(body: bytes, folder: Path) -> tuple[int, int, int, int, int]:
    """(records, valid, invalid, errors, warnings) of the command line's JSON summary for one transcript."""
    path = folder / "run.sse"
    path.write_bytes(body)
    stdout, stderr = io.StringIO(), io.StringIO()
    run(["validate", str(path), "--format", "json"], stdout, stderr)
    cli = json.loads(stdout.getvalue())["summary"]
    return (cli["records"], cli["valid"], cli["invalid"], cli["errors"], cli["warnings"])


def invalid_events(body: bytes, folder: Path) -> list[set[int]]:
    """The numbers of the events said to be invalid: by the Python API's and the stream route's per-event results,
    and by the command line's records (one per event; the stream as a whole is record 0)."""
    path = folder / "events.sse"
    path.write_bytes(body)
    stdout = io.StringIO()
    run(["validate", str(path), "--format", "json"], stdout, io.StringIO())
    records = json.loads(stdout.getvalue())["files"][0]["records"]
    http = APP.test_client().post("/v1/validate/stream", data=body, content_type="text/event-stream").get_json()
    return [
        {event["event"] for event in validate_stream(body).to_dict()["events"] if not event["valid"]},
        {record["index"] for record in records if not record["valid"] and record["index"]},
        {event["event"] for event in http["events"] if not event["valid"]},
    ]


def stream_counts(body: bytes, folder: Path) -> list[tuple[int, int, int, int, int]]:
    """(events, valid, invalid, errors, warnings) as the Python API, the command line's JSON and the HTTP stream
    route count them."""
    http = APP.test_client().post("/v1/validate/stream", data=body, content_type="text/event-stream").get_json()
    return [
        stream_report_counts(validate_stream(body).to_dict()),
        cli_stream_counts(body, folder),
        stream_report_counts(http),
    ]


def broken_streams() -> list[bytes]:
    items = events()
    accumulation = [*items[:4], ("thread.run.step.delta", delta(0, arguments="zz")), *items[5:]]
    out_of_order = [*items[:2], ("thread.run.step.delta", {**delta(0, arguments="x"), "id": "step_other"}), *items[2:]]
    schema_error = [*items[:1], ("thread.run.step.created", {**items[1][1], "status": "bogus"}), *items[2:]]
    # Issue 22's: one misnamed delta among ten events, thread.run.created and done counted as events too.
    misnamed = [*items[:3], ("thread.run.step.delta", {**delta(0, arguments="{"), "object": "thread.run.step.deltaa"})]
    misnamed += items[3:]
    return [
        transcript(accumulation),
        transcript(out_of_order),
        transcript(schema_error),
        transcript(items),
        transcript(misnamed),
    ]


def findings_by_event(body: bytes, folder: Path) -> list[dict[int, list[tuple[str, str, int, int]]]]:
    """Each event's errors and warnings (pointer, message, line, column), by the Python API (its units name their
    event), the stream route and the command line (whose records are the events; the stream as a whole is 0)."""

    def by_event(answer: dict[str, Any]) -> dict[int, list[tuple[str, str, int, int]]]:
        found: dict[int, list[tuple[str, str, int, int]]] = {}
        for unit in answer["errors"] + answer["warnings"]:
            place = (unit.get("instanceLocation", ""), unit["error"], unit["line"], unit["column"])
            found.setdefault(unit.get("event") or 0, []).append(place)
        return {event: sorted(units) for event, units in found.items()}

    path = folder / "findings.sse"
    path.write_bytes(body)
    stdout = io.StringIO()
    run(["validate", str(path), "--format", "json"], stdout, io.StringIO())
    cli = {
        record["index"]: sorted(
            (unit["instanceLocation"], unit["error"], unit["line"], unit["column"])
            for unit in record["errors"] + record["warnings"]
        )
        for record in json.loads(stdout.getvalue())["files"][0]["records"]
        if record["errors"] or record["warnings"]
    }
    http = APP.test_client().post("/v1/validate/stream", data=body, content_type="text/event-stream").get_json()
    return [by_event(validate_stream(body).to_dict()), by_event(http), cli]


@pytest.mark.parametrize("number", range(len(broken_streams())))
def test_a_streams_findings_are_said_alike_on_every_surface(number: int, tmp_path: Path) -> None:
    """The same message for the same finding: the command line wrote "event 4 (thread.run.step.delta): " into
    each message, where the API gives the message alone and the event beside it."""
    api, http, cli = findings_by_event(broken_streams()[number], tmp_path)

    assert api == http == cli


@pytest.mark.parametrize("number", range(len(broken_streams())))
def test_a_stream_is_counted_alike_on_every_surface(number: int, tmp_path: Path) -> None:
    body = broken_streams()[number]
    counts = stream_counts(body, tmp_path)

    assert counts[0] == counts[1] == counts[2]
    report = validate_stream(body)
    assert (counts[0][2] == 0) is report.valid, counts
    said_invalid = invalid_events(body, tmp_path)
    assert said_invalid[0] == said_invalid[1] == said_invalid[2]
    assert len(said_invalid[0]) == counts[0][2]


@pytest.mark.skipif(not STREAMS, reason="../shared/corpus is absent (a user's clone)")
@pytest.mark.parametrize("path", STREAMS, ids=lambda path: path.name)
def test_every_real_stream_is_counted_alike_on_every_surface(path: Path, tmp_path: Path) -> None:
    counts = stream_counts(path.read_bytes(), tmp_path)
    api, http, cli = findings_by_event(path.read_bytes(), tmp_path)

    assert counts[0] == counts[1] == counts[2]
    assert api == http == cli


def test_a_pretty_printed_document_is_placed_alike_by_validate_and_import(tmp_path: Path) -> None:
    """Members of an indented array, each over several lines and not at column 1: the import writes them flattened,
    one per line, yet places their errors where the input has them, as `validate` does."""
    members = [json.loads(record) for record in CASES_BY_SCHEMA["run_step"]]
    path = tmp_path / "steps.json"
    path.write_text('{"object": "list", "data": ' + json.dumps(members, indent=2) + ', "has_more": false}\n')
    stdout, stderr = io.StringIO(), io.StringIO()
    run(["validate", str(path), "--schema", "run_step", "--format", "json"], stdout, stderr)
    records = json.loads(stdout.getvalue())["files"][0]["records"]
    expected = {
        record["line"]: placements(record["errors"] + record["warnings"]) for record in records if not record["valid"]
    }
    outputs = tmp_path / "import"
    outputs.mkdir()
    argv = ["import", str(path), "--accepted", str(outputs / "ok.jsonl"), "--rejected", str(outputs / "bad.jsonl")]
    assert run([*argv, "--schema", "run_step", "--workers", "1"], io.StringIO(), stderr) == 1, stderr.getvalue()
    entries = [json.loads(line) for line in (outputs / "bad.jsonl").read_text().splitlines()]

    assert {entry["line"]: placements(entry["errors"] + entry["warnings"]) for entry in entries} == expected
    assert len(expected) > 5
    assert any(place.column > 1 for places in expected.values() for place in places)


@pytest.mark.parametrize("shape", ["document", "array"])
def test_a_syntax_error_in_a_pretty_printed_record_is_placed_alike_by_validate_and_import(
    tmp_path: Path, shape: str
) -> None:
    """The import validates a pretty-printed record flattened onto one line, but says where the input breaks, as
    `validate` does: the flattened line's column (1:326) is no place in the file."""
    text = (ROOT / "examples" / "invalid_tool_calls.json").read_text()
    broken = text.replace('"cancelled_at": null,', '"cancelled_at": null,,', 1)
    assert broken != text
    path = tmp_path / "steps.json"
    path.write_text(broken if shape == "document" else "[\n" + text.rstrip() + ",\n" + broken.rstrip() + "\n]\n")
    stdout, stderr = io.StringIO(), io.StringIO()
    run(["validate", str(path), "--format", "json"], stdout, stderr)
    records = json.loads(stdout.getvalue())["files"][0]["records"]
    expected = {record["line"]: placements(record["errors"]) for record in records}
    outputs = tmp_path / "import"
    outputs.mkdir()
    argv = ["import", str(path), "--accepted", str(outputs / "ok.jsonl"), "--rejected", str(outputs / "bad.jsonl")]
    assert run([*argv, "--workers", "1"], io.StringIO(), stderr) == 1, stderr.getvalue()
    entries = [json.loads(line) for line in (outputs / "bad.jsonl").read_text().splitlines()]

    assert {entry["line"]: placements(entry["errors"]) for entry in entries} == expected
    assert [entry["errors"][-1]["code"] for entry in entries][-1] == "invalid-json"


def test_a_byte_order_mark_moves_no_position(tmp_path: Path) -> None:
    """RFC 8259 lets a reader ignore a leading byte order mark: every surface ignores it when placing errors too."""
    payload = b'\xef\xbb\xbf{"object": "thread.run.step", "id": 5}'
    path = tmp_path / "step.json"
    path.write_bytes(payload)
    stdout = io.StringIO()
    run(["validate", str(path), "--format", "json"], stdout, io.StringIO())
    on_the_command_line = placements(json.loads(stdout.getvalue())["files"][0]["records"][0]["errors"])
    over_http = placements(
        APP.test_client().post("/v1/validate", data=payload, content_type="application/json").get_json()["errors"]
    )
    from_python = placements(validate(payload).to_dict()["errors"])

    assert Placed(1, 37) in on_the_command_line
    assert over_http == on_the_command_line
    assert from_python == on_the_command_line


BROKEN_DOCUMENTS = [
    b"[1, 2,",
    b'[{"object": "thread.run.step"} {"object": "thread.run.step"}]',
    b'{"object": "list", "data": [{"object": "thread.run.step", "id": 5}',
    b"{not json}",
    b"[1,,2]",
    b'[{"object": "thread.run.step"},\n]',
]


@pytest.mark.parametrize("body", BROKEN_DOCUMENTS)
def test_a_document_that_breaks_off_gets_one_answer_on_every_surface(body: bytes, tmp_path: Path) -> None:
    """Its readable items, then one invalid record holding the rest: from the command line, the batch route and
    `validate_document` alike (the batch route answered a 400 problem before)."""
    path = tmp_path / "broken.json"
    path.write_bytes(body)
    stdout = io.StringIO()
    run(["validate", str(path), "--format", "json"], stdout, io.StringIO())
    by_cli = [
        (record["index"], record["line"], units(record["errors"]), placements(record["errors"]))
        for record in json.loads(stdout.getvalue())["files"][0]["records"]
    ]
    answer = APP.test_client().post("/v1/validate/batch", data=body, content_type="application/json")
    by_http = [
        (result["index"], result["line"], units(result["errors"]), placements(result["errors"]))
        for result in answer.get_json()["results"]
    ]
    by_python = [
        (item.index, item.line, units(item.report.to_dict()["errors"]), placements(item.report.to_dict()["errors"]))
        for item in validate_document(body)
    ]

    assert answer.status_code == 200
    assert by_http == by_cli
    assert by_python == by_cli
    assert by_cli[-1][2][0][2] == "invalid-json"


@pytest.mark.parametrize(("body", "records"), [(b"[", 1), (b"[1, 2,", 3), (b"[1, 2, ", 3), (b'[{"a": 1}', 2)])
def test_a_document_cut_where_an_item_should_start_ends_with_one_record_holding_the_rest(
    body: bytes, records: int
) -> None:
    items = validate_document(body)

    assert len(items) == records
    assert [said(unit) for unit in items[-1].report.errors] == [
        f"invalid JSON: the array is not closed at line 1, column {len(body) + 1}"
    ]


@pytest.mark.parametrize(
    ("body", "column"), [(b"[1,,2]", 4), (b"[1, ]", 5), (b"[,1]", 2), (b'{"object": "list", "data": [1,,2]}', 31)]
)
def test_an_array_item_missing_between_commas_breaks_the_document_there(body: bytes, column: int) -> None:
    """Not an empty record ("empty input") but the place where the array stops being JSON, as for a missing comma:
    the items before it, then one record holding the rest."""
    items = validate_document(body)

    assert [said(unit) for unit in items[-1].report.errors] == [
        f"invalid JSON: expecting value at line 1, column {column}"
    ]
    assert len(items) == (1 if body.startswith(b"[,") else 2)


@pytest.mark.parametrize(
    "body",
    [
        b"[1,,2]",
        b"[1 2]",
        b'[{"a": 1}\n {"b": 2}]',
        b'{"object": "list", "data": [1] "has_more": false}',
        b'{"object": "list", "data": [1], "has_more" false}',
        b'{"object": "list", "data": [], "has_more": fa}',  # read as a valid list of no steps before
        b'{"object": "list", "data": [1], "has_more": false} {}',
        b"[1]\n[2]",
        b"[tr",  # a scalar the input ends in: one record holding it, not it and an empty one
        b"[1, 2.",
        b'["a", nul',
        b"[1 .5]",  # what follows an item never joins the context the rest is diagnosed after
        b'{"object": "list", "data": [1]e5}',
        b'{"object": fa, "data": [{"id": 1}]}',  # a member before data, skipped unchecked before
        b'{"object": "list", "x": [1 2], "data": [1]}',
        b'{"object": "list", "data": [1], "x": 1e400}',  # what a single payload's parse refuses, past msgspec
        b"[1, 2\x0c",  # a form feed is no JSON whitespace: not the end of the input
        b'[1e400, "\xff"]',  # a problem before a byte that is no UTF-8 comes first
        b"[" + b"1" * 5000 + b', "\xff"]',  # ... and did not crash the diagnosis
        b"[1]\xc3",
        b'["x:NaN", NaN]',
        b"[0.1e309, 1e309]",  # the refused number, not a valid one it ends
        b'["\\ud800", "\xff"]',  # a lone surrogate before a byte that is no UTF-8
        b'["\\ud800", x]',  # ... and before a syntax error
    ],
)
def test_where_a_document_breaks_is_said_in_the_words_of_a_single_payload(body: bytes) -> None:
    """The same bytes as one payload (POST /v1/validate, validate()) or as a document of records (the command line,
    the batch route, validate_document, import): the same first message at the same place."""
    single = validate(body).errors[0]
    first = next(unit for item in validate_document(body) for unit in item.report.errors if unit.code == "invalid-json")

    assert (first.error, first.line, first.column) == (single.error, single.line, single.column)


# Documents cut short, as an archive's truncated export or a log line cut at its limit is: where each ends, what is
# left open.
CUT_SHORT = {
    b"[1, 2,": "the array is not closed at line 1, column 7",
    b'[{"a": 1}': "the array is not closed at line 1, column 10",
    b"[": "the array is not closed at line 1, column 2",
    b"[1, 2,\n": "the array is not closed at line 2, column 1",
    b'{"object": "list", "data": [1': "the array is not closed at line 1, column 30",
    b'{"a": [1, 2': "the array is not closed at line 1, column 12",
    b"[[1, 2], [3": "the array is not closed at line 1, column 12",
    b'[{"a": 1}, {"b": ': "the object is not closed at line 1, column 18",
    b'{"id": "step_1", "object": ': "the object is not closed at line 1, column 28",
    b'{"a": {"b": [1]': "the object is not closed at line 1, column 16",
    b'{"a": 1,': "the object is not closed at line 1, column 9",
    b'{"id": "step_1"': "the object is not closed at line 1, column 16",
    b'["abc': "unterminated string at line 1, column 2",
    b'{"a": "abc': "unterminated string at line 1, column 7",
    b'[{"a": 1},\n{"id": "step_cut': "unterminated string at line 2, column 8",
}


@pytest.mark.parametrize("body", CUT_SHORT)
def test_a_document_cut_short_says_what_is_left_open_alike_as_one_payload_and_as_records(body: bytes) -> None:
    """A single payload said "expecting ',' delimiter" where the input ended inside an array, and a document read as
    records "the document ends inside this value" at the start of that value: now both say what is not closed, at
    the end of the input, and where an unterminated string starts."""
    single = validate(body).errors[0]
    last = validate_document(body)[-1].report.errors[0]

    assert said(single) == said(last) == f"invalid JSON: {CUT_SHORT[body]}"


STEP = json.loads((ROOT / "examples" / "tool_calls_function.json").read_bytes())
# What pretty printers write where JSON Lines was meant: json.dumps(indent=2) and JSON.stringify(v, null, 2) of one
# step, jq's default output (each value over many lines, one after the other), an array of one item per line, and
# the same after blank lines, with Windows line endings.
WRITTEN_ACROSS_LINES = {
    "one document": (json.dumps(STEP, indent=2) + "\n", 1, "{"),
    "jq without -c": (json.dumps(STEP, indent=2) + "\n" + json.dumps(STEP, indent=2) + "\n", 1, "{"),
    "an array": ("[\n" + json.dumps(STEP) + ",\n" + json.dumps(STEP) + "\n]\n", 1, "["),
    "after blank lines, CRLF": ("\r\n  \r\n" + json.dumps(STEP, indent=4).replace("\n", "\r\n") + "\r\n", 3, "{"),
}


@pytest.mark.parametrize("name", WRITTEN_ACROSS_LINES)
def test_a_value_written_across_lines_is_refused_as_json_lines_alike_on_every_surface(
    name: str, tmp_path: Path
) -> None:
    """A pretty-printed value where JSON Lines was meant (a .jsonl file, an NDJSON body) is not judged a line at a
    time (every line an error, 40 rejected records for one step): every surface refuses it in one sentence, as the
    stream route and the command line refuse a transcript with no event."""
    body, line, bracket = WRITTEN_ACROSS_LINES[name]
    reason = (
        f"line {line} holds only '{bracket}', as pretty-printed JSON starts, where JSON Lines has each value whole on "
        "one line: convert it with jq -c ., or give a single value or an array as JSON"
    )
    path = tmp_path / "steps.jsonl"
    path.write_bytes(body.encode())

    with pytest.raises(NotJsonLines) as raised:
        list(iter_validate(io.BytesIO(body.encode())))
    stdout, stderr = io.StringIO(), io.StringIO()
    validated = run(["validate", str(path)], stdout, stderr)
    answer = APP.test_client().post("/v1/validate/batch", data=body, content_type="application/x-ndjson")
    outputs = tmp_path / "import"
    outputs.mkdir()
    argv = ["import", str(path), "--accepted", str(outputs / "ok.jsonl"), "--rejected", str(outputs / "bad.jsonl")]
    imported_out, imported_err = io.StringIO(), io.StringIO()
    imported = run([*argv, "--workers", "1"], imported_out, imported_err)

    assert str(raised.value) == f"not JSON Lines: {reason}"
    assert (raised.value.line, raised.value.reason) == (line, reason)
    assert validated == 2
    assert f"{path}: cannot read: not JSON Lines: {reason}" in stdout.getvalue()
    assert answer.status_code == 400
    assert answer.get_json() == {
        "type": "https://runstep-validator.dev/problems/not-json-lines",
        "title": "Not JSON Lines",
        "status": 400,
        "detail": reason,
        "line": line,
    }
    assert imported == 2
    assert imported_err.getvalue() == f"runstep-validator: {path}: not JSON Lines: {reason}\n"
    assert list(outputs.iterdir()) == []


@pytest.mark.parametrize(
    ("body", "total"),
    [
        (b'{"id": "step_cut\n' + json.dumps(STEP).encode() + b"\n", 2),  # a first record cut short: one bad line
        (b'{"a": 1,\n"b": 2}\n' + json.dumps(STEP).encode() + b"\n", 3),  # a record broken by a stray newline
        (b"{ }\n" + json.dumps(STEP).encode() + b"\n", 2),  # an empty object is a record
        (b"\n\n" + json.dumps(STEP).encode() + b"\n{\n", 2),  # a lone brace after the first record: that line's error
    ],
)
def test_json_lines_with_a_bad_line_are_still_judged_line_by_line(body: bytes, total: int) -> None:
    answer = APP.test_client().post("/v1/validate/batch", data=body, content_type="application/x-ndjson")

    assert answer.status_code == 200
    assert answer.get_json()["summary"]["total"] == total


# Documents to cut anywhere: an array of steps compact and indented (with scalars, characters beyond ASCII, brackets
# and escaped quotes inside strings), and a list response.
WHOLE_DOCUMENTS = [
    json.dumps([STEP, STEP]).encode(),
    json.dumps([STEP, {"a": ["x]", {"b": 'y\\"}'}], "c": "caf\u00e9 \U0001f600"}, 12.5, True, None], indent=2).encode(),
    json.dumps([STEP, "\u00fcber", -1.5e3, False], ensure_ascii=False).encode(),
    json.dumps(["ab", 12.5, True, None, -3, {"k": [1, "\u00e9"]}, "x"], ensure_ascii=False).encode(),
    json.dumps({"object": "list", "data": [STEP, 7], "first_id": "step_\u00e9", "has_more": False}).encode(),
]


@settings(max_examples=400, deadline=None)
@given(
    document=st.sampled_from(WHOLE_DOCUMENTS),
    cut=st.floats(min_value=0, max_value=1, exclude_max=True),
    block=st.sampled_from([1, 7, 64, documents.BLOCK_BYTES]),
)
def test_a_document_cut_anywhere_is_told_alike_as_one_payload_and_as_records(
    document: bytes, cut: float, block: int
) -> None:
    """Whatever the read size: a small one drops what was read before the record being read."""
    body = document[: int(len(document) * cut)]
    single = validate(body).errors[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(library, "iter_document_records", partial(documents.iter_document_records, block_bytes=block))
        last = validate_document(body)[-1].report.errors[0]

    assert (last.error, last.line, last.column) == (single.error, single.line, single.column)


EDITED_DOCUMENTS = [
    json.dumps([{"a": [1, "x]"], "b": None}, {"c": 'é\\"', "d": 2.5}, True], ensure_ascii=False).encode(),
    json.dumps(
        {"object": "list", "data": [{"a": 1}, {"b": [2]}], "first_id": "x", "has_more": False}, indent=1
    ).encode(),
    json.dumps([{"a": 1}, {"b": {"c": [3, 4]}}], indent=2).encode(),
]
EDIT = st.tuples(
    st.sampled_from(["delete", "insert", "replace"]),
    st.floats(0, 1, exclude_max=True),
    st.sampled_from(b'{}[],:" \n0a\\-.e\xc3'),  # 0xc3 starts a character that may not follow
)


@settings(max_examples=400, deadline=None)
@given(document=st.sampled_from(EDITED_DOCUMENTS), edits=st.lists(EDIT, min_size=1, max_size=2))
def test_a_document_broken_anywhere_tells_its_first_error_alike_as_one_payload_and_as_records(
    document: bytes, edits: list[tuple[str, float, int]]
) -> None:
    """A byte lost, added or changed (an archive's corruption): the first JSON error of the records read from it is
    the single payload's, at the same place. Counting brackets pairs quotes otherwise than a parser where a string
    breaks: such an item ends the document there, as a payload of it would be told."""
    body = bytearray(document)
    for kind, where, byte in edits:
        at = int(len(body) * where)
        if kind == "delete":
            del body[at]
        elif kind == "insert":
            body.insert(at, byte)
        else:
            body[at] = byte
    single = validate(bytes(body)).errors[0]
    assume(single.code == "invalid-json")
    first = next(
        unit for item in validate_document(bytes(body)) for unit in item.report.errors if unit.code == "invalid-json"
    )

    assert (first.error, first.line, first.column) == (single.error, single.line, single.column)


def test_a_document_nested_past_the_parsers_limit_before_a_bad_byte_is_an_invalid_record() -> None:
    """It crashed the diagnosis (RecursionError). A document's depth is its records' (the validator's limit counts
    from each), so the place differs from a single payload's: the one difference left, as noted."""
    items = validate_document(b"[" * 5001 + b"\xff")

    assert [unit.code for unit in items[-1].report.errors] == ["invalid-json"]


def document_answers(body: bytes, folder: Path) -> dict[str, list[tuple[Verdict, list[Placed]]]]:
    """Each record's verdict and places, by every surface that reads a JSON document as records: the command line
    (a .json file), the batch route (application/json), `validate_document` and `import` (all of its records: the
    rejected ones from their report, the accepted ones as valid: their warnings are not reported)."""
    path = folder / "document.json"
    path.write_bytes(body)
    stdout = io.StringIO()
    run(["validate", str(path), "--format", "json"], stdout, io.StringIO())
    cli = [
        (of_unit_lists(record), placements(record["errors"] + record["warnings"]))
        for record in json.loads(stdout.getvalue())["files"][0]["records"]
    ]
    answer = APP.test_client().post("/v1/validate/batch", data=body, content_type="application/json")
    assert answer.status_code == 200, answer.get_json()
    batch = [
        (of_unit_lists(result), placements(result["errors"] + result["warnings"]))
        for result in answer.get_json()["results"]
    ]
    python = [
        (of_report(item.report), placements(item.report.to_dict()["errors"] + item.report.to_dict()["warnings"]))
        for item in validate_document(body)
    ]
    accepted, rejected = folder / "accepted.jsonl", folder / "rejected.jsonl"
    argv = ["import", str(path), "--workers", "1", "--accepted", str(accepted), "--rejected", str(rejected)]
    assert run(argv, io.StringIO(), io.StringIO()) in {0, 1}
    imported: list[tuple[Verdict, list[Placed]]] = [
        (Verdict(True, [], []), []) for _ in accepted.read_text().split("\n")[:-1]
    ]
    for line in rejected.read_text().split("\n")[:-1]:
        entry = json.loads(line)
        places = placements([*entry["errors"], *entry["warnings"]])
        imported.append((Verdict(False, units(entry["errors"]), units(entry["warnings"])), places))
    return {"command line": cli, "batch route": batch, "validate_document": python, "import": imported}


MESSAGE_CREATION = json.loads((ROOT / "examples" / "message_creation.json").read_bytes())
NOT_LIST_RESPONSES = {
    "a run step with a data member": {**MESSAGE_CREATION, "data": []},
    "a run step with a data member holding an object": {**MESSAGE_CREATION, "data": [{"a": 1}]},
    "a run step written with sorted members, data among them": dict(sorted({**MESSAGE_CREATION, "data": []}.items())),
    "a misspelled list response": {"object": "lists", "data": [MESSAGE_CREATION]},
}


@pytest.mark.parametrize("name", NOT_LIST_RESPONSES)
def test_an_object_that_says_it_is_no_list_response_is_one_record_on_every_surface(name: str, tmp_path: Path) -> None:
    """An object is read for the items of its data array only when it is a list response: one whose "object" says
    "list" (or says nothing). A run step with a data member was read as a list of its items: an empty one vanished
    from an import, with nothing accepted, nothing rejected and exit 0."""
    body = json.dumps(NOT_LIST_RESPONSES[name]).encode()
    alone = validate(body)
    expected = [(of_report(alone), placements(alone.to_dict()["errors"] + alone.to_dict()["warnings"]))]
    answers = document_answers(body, tmp_path)
    imported = answers.pop("import")
    for surface, answer in answers.items():
        assert answer == expected, surface
    assert [(verdict.valid, verdict.errors) for verdict, _ in imported] == [(alone.valid, expected[0][0].errors)]


LIST_RESPONSES = {
    "its object first": {"object": "list", "data": [MESSAGE_CREATION, {"a": 1}], "has_more": False},
    "its data first (an SDK's page dumped)": {
        "data": [MESSAGE_CREATION, {"a": 1}],
        "has_more": False,
        "object": "list",
    },
    "no object member": {"data": [MESSAGE_CREATION, {"a": 1}], "first_id": "step_abc123"},
}


@pytest.mark.parametrize("name", LIST_RESPONSES)
def test_a_list_response_is_read_for_its_items_wherever_its_object_member_is(name: str, tmp_path: Path) -> None:
    body = json.dumps(LIST_RESPONSES[name], indent=2).encode()
    for surface, answer in document_answers(body, tmp_path).items():
        assert [verdict.valid for verdict, _ in answer] == [True, False], surface


INVALID_JSON_BODIES = {
    "a payload": b'{"id": "step_1",\n  "object": }',
    "an unterminated string": b'{"id": "step_1", "object": "thread.run.st',
    "a record of JSON Lines": b'{"object": "thread.run.step"}\n{"id": x}\n',
}


@pytest.mark.parametrize("name", INVALID_JSON_BODIES)
def test_where_json_breaks_is_said_once_in_the_units_line_and_column(name: str, tmp_path: Path) -> None:
    """Not again in the message, which said it as well (path:2:13: invalid JSON: expecting value at line 2, column
    13), and in an event stream's data counted from the data's own start, not the transcript's."""
    body = INVALID_JSON_BODIES[name]
    path = tmp_path / ("steps.jsonl" if name.endswith("Lines") else "step.json")
    path.write_bytes(body)
    stdout = io.StringIO()
    run(["validate", str(path)], stdout, io.StringIO())
    (line,) = [line for line in stdout.getvalue().splitlines() if "invalid JSON" in line]

    assert " at line " not in line, line
    assert re.fullmatch(rf"{re.escape(str(path))}:\d+:\d+: invalid JSON: [a-z' ,:]+", line), line


def test_an_events_invalid_json_is_placed_in_the_transcript_alone() -> None:
    """Its data's own line and column were in the message (at line 1, column 57) beside the transcript's (2:63)."""
    body = b'event: thread.run.step.created\ndata: {"id": "step_1", "object": "thread.run.step", "status": tru}\n\n'
    report = validate_stream(body)
    (unit,) = report.errors

    assert (unit.line, unit.column) == (2, 63)
    assert unit.error == "invalid JSON: expecting value"
