"""Input that is not JSON yields an invalid report that says what is wrong and where; it never raises."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runstep_validator import OutputUnit, validate

NOT_JSON = [
    (b"", "invalid JSON: empty input: expected a JSON value at line 1, column 1"),
    (b" \n\t ", "invalid JSON: empty input: expected a JSON value at line 2, column 3"),
    (b'{"id": "step_1",\n  "object": }', "invalid JSON: expecting value at line 2, column 13"),
    (b'{"id": "step_1"', "invalid JSON: the object is not closed at line 1, column 16"),
    (b'{"a": NaN}', "invalid JSON: NaN is not a JSON number at line 1, column 7"),
    (b'{"a": [1,\n -Infinity]}', "invalid JSON: -Infinity is not a JSON number at line 2, column 2"),
    (b'{"a": 1e400}', "invalid JSON: number 1e400 is out of the range of a double at line 1, column 7"),
    (b"{} {}", "invalid JSON: extra data at line 1, column 4"),
    (b'{"a": "\xff"}', "invalid JSON: invalid UTF-8 byte 0xff at line 1, column 8"),
    (b'{"a" 1, "b": "\xff"}', "invalid JSON: expecting ':' delimiter at line 1, column 6"),  # the first problem
    (b'[1e400, "\xff"]', "invalid JSON: number 1e400 is out of the range of a double at line 1, column 2"),
    (b'["x:NaN", NaN]', "invalid JSON: NaN is not a JSON number at line 1, column 11"),  # not inside the string
    (b'{"1e400": 1e400}', "invalid JSON: number 1e400 is out of the range of a double at line 1, column 11"),
    (b"[0.1e309, 1e309]", "invalid JSON: number 1e309 is out of the range of a double at line 1, column 11"),
    (b'["\\ud800", "\xff"]', "invalid JSON: lone UTF-16 surrogate \\ud800 is not a character at line 1, column 3"),
    (b'["\\ud800", x]', "invalid JSON: lone UTF-16 surrogate \\ud800 is not a character at line 1, column 3"),
    (b'{"a": "caf\xc3', "invalid JSON: invalid UTF-8 byte 0xc3 at line 1, column 11"),  # not an unterminated string
    (b'{"a":\n "\\ud800"}', "invalid JSON: lone UTF-16 surrogate \\ud800 is not a character at line 2, column 3"),
    (b"{'a': 1}", "invalid JSON: expecting property name enclosed in double quotes at line 1, column 2"),
    (b'{"a": "caf\xc3\xa9", "b": tru}', "invalid JSON: expecting value at line 1, column 20"),
    (gzip.compress(b'{"a": 1}'), "invalid JSON: gzip-compressed data: decompress it first at line 1, column 1"),
    (
        b"\nevent: thread.run.step.created\ndata: {}\n\n",
        "invalid JSON: a Server-Sent Events transcript, not JSON: validate it as an event stream at line 2, column 1",
    ),
    (
        b"examples/message_creation.json",
        "invalid JSON: a file's name, not its content: give the content (curl --data-binary @NAME,"
        " open(NAME, 'rb').read()) at line 1, column 1",
    ),
    (
        b"  run.sse.gz\n",
        "invalid JSON: a file's name, not its content: give the content (curl --data-binary @NAME,"
        " open(NAME, 'rb').read()) at line 1, column 3",
    ),
    (b"stepsjson", "invalid JSON: expecting value at line 1, column 1"),  # no file's name
    (
        b": keep-alive\n\n",
        "invalid JSON: a Server-Sent Events transcript, not JSON: validate it as an event stream at line 1, column 1",
    ),
]


@pytest.mark.parametrize(("data", "said"), NOT_JSON, ids=[said for _, said in NOT_JSON])
def test_not_json_is_an_invalid_report(data: bytes, said: str) -> None:
    """What it says and where: the message says what (the headline too), the unit's line and column where."""
    report = validate(data)
    message = said.rpartition(" at line ")[0]

    assert not report.valid
    assert [f"{unit.error} at line {unit.line}, column {unit.column}" for unit in report.errors] == [said]
    assert report.errors[0].code == "invalid-json"
    assert report.headline == message


def test_position_is_reported_as_members() -> None:
    (unit,) = validate(b"[\n  1,\n  ]").errors

    assert unit == OutputUnit(
        instance_location="",
        keyword_location="",
        error="invalid JSON: expecting value",
        code="invalid-json",
        line=3,
        column=3,
    )


def test_byte_order_mark_is_ignored() -> None:
    report = validate(b'\xef\xbb\xbf{"object": "thread.run.step"}')

    assert report.errors[0].error == "'id' is a required property"


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    report = validate(data)

    assert report.valid is False
    assert report.errors
