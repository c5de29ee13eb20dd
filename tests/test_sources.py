"""The input layer: one reader for every command and route, streaming, with exact bytes and positions."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runstep_validator import NotJsonLines
from runstep_validator.cli import run
from runstep_validator.sources import documents
from runstep_validator.sources.documents import iter_document_records
from runstep_validator.sources.reading import expand, format_of, iter_lines
from runstep_validator.sources.records import Record, RecordTooLarge

from .support import EXAMPLES

VALID = (EXAMPLES / "message_creation.json").read_bytes()
COMPACT = json.dumps(json.loads(VALID)).encode()
ITEM_STRING = b'"a ] \\" string"'  # brackets and an escaped quote inside a string
# Items that are not JSON (found by counting brackets, then reported by the validator) and brackets inside strings.
ODD = [b'{"a": x}', b'{"s": "}]", "t": [1, {"u": "\\"}]"}]}', b"[tru]"]


def test_folders_skip_hidden_and_tool_folders(tmp_path: Path) -> None:
    for folder in ("fixtures", ".git", ".venv", "node_modules", "fixtures/.cache"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "step.json").write_bytes(VALID)

    assert list(expand([str(tmp_path)])) == [str(tmp_path / "fixtures" / "step.json")]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (COMPACT + b"\n" + COMPACT + b"\n", "jsonl"),
        (COMPACT + b"\n", "json"),
        (VALID, "json"),
        (b"[" + COMPACT + b",\n" + COMPACT + b"]", "json"),
        (b'{"object": "list", "data": []}\n', "json"),
    ],
    ids=["json-lines", "one-line", "pretty-printed", "array", "list-response"],
)
def test_standard_input_is_detected_by_one_rule(head: bytes, expected: str) -> None:
    assert format_of("-", head) == expected


@pytest.mark.parametrize("command", ["validate", "import"])
def test_validate_and_import_read_standard_input_alike(tmp_path: Path, command: str) -> None:
    body = b"[\n" + VALID + b",\n" + VALID + b"\n]\n"  # a pretty-printed array: not JSON Lines
    argv = [command, "-"]
    if command == "import":
        argv += ["--accepted", str(tmp_path / "ok.jsonl"), "--rejected", str(tmp_path / "bad.jsonl")]
    stdout, stderr = io.StringIO(), io.StringIO()

    assert run(argv, stdout, stderr, io.BytesIO(body)) == 0, stdout.getvalue() + stderr.getvalue()
    assert "2" in stdout.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(st.sampled_from([COMPACT, VALID.strip(), ITEM_STRING, b"[1, [2, {}]]", b"null", *ODD]), max_size=6),
    block=st.integers(min_value=1, max_value=64),
    newline=st.sampled_from([b"\n", b"\r\n"]),
)
def test_any_block_size_finds_the_same_array_items(items: list[bytes], block: int, newline: bytes) -> None:
    body = b"[" + (b"," + newline).join(items) + b"]"

    found = [record.raw for record in iter_document_records(io.BytesIO(body), block)]

    assert found == items
    if not set(items) & set(ODD):
        assert [json.loads(raw) for raw in found] == json.loads(body)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.sampled_from([COMPACT, b"", b"  ", b"{broken"]), max_size=8),
    block=st.integers(min_value=1, max_value=64),
    newline=st.sampled_from([b"\n", b"\r\n"]),
)
def test_json_lines_keep_bytes_endings_and_line_numbers(lines: list[bytes], block: int, newline: bytes) -> None:
    body = newline.join(lines) + newline

    records = list(iter_lines(io.BytesIO(body), block))

    expected = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    assert [(record.line, record.raw) for record in records] == expected
    assert all(record.ending == newline for record in records)


def data_first(items: list[bytes], says: bytes | None) -> bytes:
    """A list response with its data first, as an SDK's page is dumped, and its "object" member (if any) last."""
    members = b'{"data": [' + b", ".join(items) + b'], "has_more": false'
    return members + (b"}" if says is None else b', "object": ' + says + b"}")


@settings(max_examples=100, deadline=None)
@given(
    items=st.lists(st.sampled_from([COMPACT, VALID.strip(), b"null"]), min_size=1, max_size=5),
    block=st.integers(min_value=1, max_value=64),
    says=st.sampled_from([b'"list"', b"null", b'"thread.run.step"', None]),
)
def test_an_object_with_its_data_first_is_a_list_response_when_it_says_so_later(
    items: list[bytes], block: int, says: bytes | None
) -> None:
    body = data_first(items, says)

    found = [record.raw for record in iter_document_records(io.BytesIO(body), block)]

    assert found == ([body] if says == b'"thread.run.step"' else items)


@pytest.mark.parametrize("says", [b'"list"', b'"thread.run.step"', None])
def test_an_object_with_its_data_first_longer_than_a_record_may_be_is_read_for_its_items(says: bytes | None) -> None:
    """Whether it is a list response is read from the whole object, which cannot be one record if it is longer than
    a record may be: its items, each within the limit, are read one at a time as ever."""
    items = [COMPACT] * 20
    body = data_first(items, says)

    found = [record.raw for record in iter_document_records(io.BytesIO(body), 64, max_record_bytes=3 * len(COMPACT))]

    assert len(body) > 3 * len(COMPACT)
    assert found == items


def test_memory_is_that_of_the_largest_record_not_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """For a list response whose data comes before its object member (or that has none), plus the look-ahead for
    what it declares: it held the whole document (3.4 MB) before reading its first item."""
    largest: list[int] = [0]
    original = documents._Text.more

    def watched(text: Any) -> bool:
        largest[0] = max(largest[0], len(text.data))
        return original(text)

    monkeypatch.setattr(documents._Text, "more", watched)
    items = b",".join([COMPACT] * 5000)  # about 4 MB
    for body, looked_ahead in [
        (b"[" + items + b"]", 0),
        (b'{"object": "list", "data": [' + items + b"]}", 0),
        (b'{"data": [' + items + b'], "has_more": false}', documents.LOOK_AHEAD_BYTES),
        (b'{"data": [' + items + b'], "object": "list"}', documents.LOOK_AHEAD_BYTES),
    ]:
        largest[0] = 0
        count = sum(1 for _ in iter_document_records(io.BytesIO(body), block_bytes=4096))

        assert count == 5000
        assert largest[0] < looked_ahead + 2 * len(COMPACT) + 2 * 4096, body[:12]


@pytest.mark.parametrize("gzipped", [False, True])
def test_json_lines_on_standard_input_are_told_from_one_document(gzipped: bool, tmp_path: Path) -> None:
    lines = b'{"object": "thread.run.step"}\n{"object": "thread.run.step.delta"}\n'
    body = gzip.compress(lines) if gzipped else lines
    pipe_in, pipe_out = os.pipe()
    os.write(pipe_out, body)  # a real pipe, read as the command line reads standard input
    os.close(pipe_out)
    stdout, stderr = io.StringIO(), io.StringIO()
    with os.fdopen(pipe_in, "rb") as stdin:
        code = run(["validate", "--format", "json", "-"], stdout, stderr, stdin)

    assert code == 1, stderr.getvalue()
    records = json.loads(stdout.getvalue())["files"][0]["records"]
    assert [record["line"] for record in records] == [1, 2]
    assert not any(unit["code"] == "invalid-json" for record in records for unit in record["errors"])


# JSON Lines as people hand them over: a byte order mark, CRLF, a blank line, an invalid record, a broken one.
WAYS_BODY = b"\xef\xbb\xbf" + COMPACT + b"\r\n\n" + b'{"object": "thread.run.step"}\n{"id": "step_cut", \n' + COMPACT


def gave_input(way: str, tmp_path: Path, body: bytes = WAYS_BODY) -> tuple[str, Callable[[], BinaryIO | None]]:
    """The input `body` given one way: the name to pass, and what stands for standard input (opened when called)."""
    if way in ("stdin", "stdin-gzip"):
        data = gzip.compress(body) if way == "stdin-gzip" else body
        return "-", lambda: io.BytesIO(data)
    if way == "pipe":

        def piped() -> BinaryIO:
            reading, writing = os.pipe()
            threading.Thread(target=_write_and_close, args=(writing, body), daemon=True).start()
            return os.fdopen(reading, "rb")

        return "-", piped
    if way == "fifo":  # a named pipe, as `<(zcat steps.gz)` gives one: readable once, no suffix to go by
        fifo = tmp_path / f"steps-{uuid.uuid4().hex[:6]}"
        os.mkfifo(fifo)

        def opened_by_writer() -> None:
            deadline = time.monotonic() + 30
            while True:  # a FIFO opens for writing once the command opens it for reading: ENXIO until then
                try:
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        return
                    time.sleep(0.01)
            os.set_blocking(fd, True)
            _write_and_close(fd, body)

        def writer() -> None:
            threading.Thread(target=opened_by_writer, daemon=True).start()

        return str(fifo), writer
    folder = tmp_path / f"in-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    path = folder / ("steps.jsonl.gz" if way == "gzip" else "steps.jsonl")
    path.write_bytes(gzip.compress(body) if way == "gzip" else body)
    named = {"file": str(path), "gzip": str(path), "folder": str(folder), "file-url": path.as_uri()}
    return named[way], lambda: None


def _write_and_close(fd: int, body: bytes) -> None:
    with os.fdopen(fd, "wb") as stream:
        stream.write(body)


def validated_records(name: str, stdin: BinaryIO | None) -> list[tuple[Any, ...]]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(["validate", "--format", "json", name], stdout, stderr, stdin)
    assert code == 1, stderr.getvalue()
    (found,) = json.loads(stdout.getvalue())["files"]
    return [
        (record["line"], record["valid"], [(unit["code"], unit["line"], unit["column"]) for unit in record["errors"]])
        for record in found["records"]
    ]


def imported(name: str, stdin: BinaryIO | None, tmp_path: Path) -> tuple[bytes, list[tuple[Any, ...]]]:
    accepted, rejected = tmp_path / f"{uuid.uuid4().hex}.ok", tmp_path / f"{uuid.uuid4().hex}.bad"
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["import", name, "--accepted", str(accepted), "--rejected", str(rejected), "--workers", "2"]
    assert run(argv, stdout, stderr, stdin) == 1, stderr.getvalue()
    entries = [json.loads(line) for line in rejected.read_bytes().splitlines()]
    return accepted.read_bytes(), [(entry["line"], entry["text"], entry["errors"][0]["code"]) for entry in entries]


WAYS = ["file", "folder", "stdin", "stdin-gzip", "pipe", "fifo", "gzip", "file-url"]


@pytest.mark.parametrize("way", WAYS)
def test_every_way_of_giving_input_gives_the_same_records(way: str, tmp_path: Path) -> None:
    name, stdin = gave_input(way, tmp_path)
    validated = validated_records(name, stdin())
    name, stdin = gave_input(way, tmp_path)
    accepted, rejected = imported(name, stdin(), tmp_path)

    assert validated == [
        (1, True, []),
        (3, False, [("required", 3, 1)] * 8),
        (4, False, [("invalid-json", 4, 20)]),
        (5, True, []),
    ]
    assert accepted == COMPACT + b"\r\n" + COMPACT + b"\n"  # as read, the byte order mark left out
    assert rejected == [(3, '{"object": "thread.run.step"}', "required"), (4, '{"id": "step_cut", ', "invalid-json")]


def test_json_lines_whose_first_record_is_longer_than_the_first_read_are_still_told_apart() -> None:
    first = json.dumps({"object": "thread.run.step", "padding": "x" * (3 << 20)}).encode()  # 3 MiB, one line
    body = first + b"\n" + b'{"object": "thread.run.step.delta"}\n'
    stdout, stderr = io.StringIO(), io.StringIO()

    code = run(["validate", "--format", "json", "-"], stdout, stderr, io.BytesIO(body))

    assert code == 1, stderr.getvalue()
    records = json.loads(stdout.getvalue())["files"][0]["records"]
    assert [record["line"] for record in records] == [1, 2]
    assert not any(unit["code"] == "invalid-json" for record in records for unit in record["errors"])


@settings(max_examples=200, deadline=None)
@given(
    blanks=st.lists(st.sampled_from([b"", b"  ", b"\t", b"\x0c"]), max_size=3),
    bracket=st.sampled_from([b"{", b"[", b"  { ", b"[\t"]),
    block=st.integers(min_value=1, max_value=64),
    newline=st.sampled_from([b"\n", b"\r\n"]),
)
def test_json_lines_whose_first_line_is_a_lone_bracket_are_refused_at_any_read_size(
    blanks: list[bytes], bracket: bytes, block: int, newline: bytes
) -> None:
    body = newline.join([*blanks, bracket, b'  "id": "step_1"', b"}"]) + newline

    with pytest.raises(NotJsonLines) as raised:
        list(iter_lines(io.BytesIO(body), block))

    assert (raised.value.line, raised.value.bracket) == (len(blanks) + 1, bracket.strip().decode())
    assert pickle.loads(pickle.dumps(raised.value)).args == raised.value.args  # it crosses processes whole


@pytest.mark.parametrize("first", [b"{}", b"{ }", b"[ ]", b"[1]", b'{"a": 1}'])
def test_json_lines_whose_first_line_is_a_whole_value_are_read_line_by_line(first: bytes) -> None:
    body = first + b"\n{\n" + COMPACT + b"\n"

    assert [record.line for record in iter_lines(io.BytesIO(body), 3)] == [1, 2, 3]


def test_a_list_response_whose_members_after_data_break_keeps_them_all_in_its_last_record() -> None:
    """Nothing the user gave is lost: the members after data, from the comma, in the record that says why."""
    body = b'{"object": "list", "data": [' + COMPACT + b'], "first_id": "x", "has_more": fa}'

    records = list(iter_document_records(io.BytesIO(body), 16))

    assert [record.raw for record in records] == [COMPACT, b', "first_id": "x", "has_more": fa}']
    assert records[-1].unreadable is not None


@pytest.mark.parametrize("block", [64, 1 << 20])
def test_a_record_too_large_stops_json_lines_where_it_stops_a_document(tmp_path: Path, block: int) -> None:
    """The records before it are read, in JSON Lines as in an array: JSON Lines dropped those of the block that
    held the long line (0 records where the array's reader gave 1, of the same records)."""
    short, long = COMPACT, b'{"x": "' + b"y" * 3000 + b'"}'
    lines = read_until_too_large(iter_lines(io.BytesIO(short + b"\n" + long + b"\n"), block, 2000))
    items = read_until_too_large(iter_document_records(io.BytesIO(b"[" + short + b",\n" + long + b"]"), block, 2000))

    assert lines == items == [short]


def read_until_too_large(records: Iterator[Record]) -> list[bytes]:
    read: list[bytes] = []
    with pytest.raises(RecordTooLarge) as raised:
        read.extend(record.raw for record in records)
    assert raised.value.line == 2
    return read


def test_what_follows_an_object_with_its_data_first_does_not_make_it_a_list_response() -> None:
    """What it declares is read from the object alone: text after it made the look decode nothing, and the object a
    list response of its items."""
    body = b'{"data": [{"status": 5}], "object": "thread.run.step"}\n,\n'

    (record,) = iter_document_records(io.BytesIO(body))

    assert record.raw == body
