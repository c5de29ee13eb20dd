"""Hostile input: each case has a defined outcome (an invalid report, or a 4xx problem), never an exception, a
hang or a 500; and validation never reaches the network."""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from jsonschema import Draft202012Validator

from runstep_validator import SchemaSet, Validator, default_schemas, validate
from runstep_validator.cli import run
from runstep_validator.core import parsing
from runstep_validator.core.deadline import check_time, time_limit
from runstep_validator.core.engine import Engine
from runstep_validator.core.errors import LimitExceeded
from runstep_validator.http.app import create_app
from runstep_validator.importing import pipeline as importing
from runstep_validator.sources import positions

from .strategies import JSON_VALUES
from .support import EXAMPLES, error_heavy

BASE = (EXAMPLES / "message_creation.json").read_bytes()
DEEP = b"[" * 100_000 + b"]" * 100_000
DUPLICATE = BASE.replace(b'"status": "completed"', b'"status": 1, "status": "completed"')


def with_member(name: str, value: bytes) -> bytes:
    return BASE.rstrip()[:-1] + b', "' + name.encode() + b'": ' + value + b"}"


# (name, body, valid, message of the first error or None)
HOSTILE: list[tuple[str, bytes, bool, str | None]] = [
    (
        "nesting 100,000 deep",
        DEEP,
        False,
        "invalid JSON: nested deeper than the limit of 64 levels",
    ),
    ("nesting in an unknown member", with_member("x", DEEP), False, "invalid JSON: nested deeper"),
    ("50 MB string", BASE.replace(b'"completed"', b'"' + b"x" * 50_000_000 + b'"'), False, '/status: "xxxxxxxx'),
    ("10,000-digit integer", BASE.replace(b"1730284800", b"1" + b"0" * 10_000), False, "invalid JSON: a number with"),
    ("4,000-digit integer", BASE.replace(b"1730284800", b"1" + b"0" * 4_000), True, None),
    ("NaN", with_member("x", b"NaN"), False, "invalid JSON: NaN is not a JSON number"),
    ("Infinity", with_member("x", b"Infinity"), False, "invalid JSON: Infinity is not a JSON number"),
    ("-0", BASE.replace(b"1730284800", b"-0"), True, None),
    ("1e400", with_member("x", b"1e400"), False, "invalid JSON: number 1e400 is out of the range of a double"),
    (
        "duplicate keys, last wins",
        BASE.replace(b'"status": "completed"', b'"status": 1, "status": "completed"'),
        True,
        None,
    ),
    ("UTF-8 BOM", b"\xef\xbb\xbf" + BASE, True, None),
    ("invalid UTF-8", BASE.replace(b"msg_", b"msg_\xc3\x28"), False, "invalid JSON: invalid UTF-8 byte 0xc3"),
    ("lone surrogate", BASE.replace(b"msg_", b"msg_\\ud800"), False, "invalid JSON: lone UTF-16 surrogate"),
    ("raw NUL byte", BASE.replace(b"msg_", b"msg_\x00"), False, "invalid JSON: invalid control character"),
    ("escaped NUL", BASE.replace(b"msg_", b"msg_\\u0000"), True, None),
    ("empty", b"", False, "invalid JSON: empty input"),
    ("only whitespace", b" \r\n\t ", False, "invalid JSON: empty input"),
    ("truncated", BASE[: len(BASE) // 2], False, "invalid JSON:"),
]


@pytest.mark.parametrize(("name", "body", "valid", "message"), HOSTILE, ids=[case[0] for case in HOSTILE])
def test_core_outcome(name: str, body: bytes, valid: bool, message: str | None) -> None:
    report = validate(body)

    assert report.valid is valid, report.headline
    if message is not None:
        assert report.headline is not None
        assert report.headline.startswith(message)
        assert len(report.headline) < 200  # an excerpt, never the value


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app({"access_log": False, "max_batch_records": 1000})


@pytest.mark.parametrize(("name", "body", "valid", "message"), HOSTILE, ids=[case[0] for case in HOSTILE])
def test_http_outcome(app: Flask, name: str, body: bytes, valid: bool, message: str | None) -> None:
    response = app.test_client().post("/v1/validate", data=body, content_type="application/json")

    if len(body) > 10 * 1024 * 1024:
        assert response.status_code == 413
    elif message is not None and message.startswith("invalid JSON"):
        assert (response.status_code, response.mimetype) == (400, "application/problem+json")
    elif not body.strip():
        assert response.status_code == 400
    else:
        assert (response.status_code, response.get_json()["valid"]) == (200, valid)
    assert len(response.data) < 100_000


def test_http_batch_of_100000_tiny_lines_is_refused_at_the_limit(app: Flask) -> None:
    response = app.test_client().post("/v1/validate/batch", data=b"{}\n" * 100_000, content_type="application/x-ndjson")

    assert response.status_code == 413
    assert response.get_json()["limit"] == 1000


@pytest.mark.parametrize("array", [b"[" + b"{}," * 1001, b'{"object": "list", "data": [' + b"{}," * 1001])
def test_a_json_array_batch_is_refused_at_the_limit_before_the_rest_is_read(app: Flask, array: bytes) -> None:
    # What follows the 1,001st record is not JSON: reading it would answer 400, so a 413 means reading stopped.
    body = array + b"{} this is not JSON" + b" " * 10_000_000

    response = app.test_client().post("/v1/validate/batch", data=body, content_type="application/json")

    assert (response.status_code, response.get_json()["type"]) == (
        413,
        "https://runstep-validator.dev/problems/batch-too-large",
    )
    assert response.get_json()["detail"] == "the batch has more than the limit of 1000 records"


@pytest.mark.parametrize(("name", "body", "valid", "message"), HOSTILE[:4], ids=[case[0] for case in HOSTILE[:4]])
def test_cli_outcome(tmp_path: Any, name: str, body: bytes, valid: bool, message: str | None) -> None:
    (tmp_path / "case.json").write_bytes(body)
    out = io.StringIO()

    code = run(["validate", str(tmp_path / "case.json")], out, io.StringIO())

    assert code == (0 if valid else 1)
    assert len(out.getvalue()) < 2000


REFERENCE = Draft202012Validator(default_schemas().entry("run_step").contents, registry=default_schemas().registry)


@settings(max_examples=500, deadline=None)
@given(value=JSON_VALUES)
def test_arbitrary_json_values_never_raise_and_agree_with_jsonschema(value: Any) -> None:
    assert validate(value).valid is REFERENCE.is_valid(value)
    assert validate(json.dumps(value).encode()).valid is REFERENCE.is_valid(value)


def test_validation_never_opens_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("validation tried to open a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    schemas = SchemaSet.load()  # a fresh load: registry, compiled engine and all
    for name in schemas.entries:
        validator = Validator(schemas, name)
        for path in EXAMPLES.glob("*.json"):
            validator.validate(path.read_bytes()).to_dict()


def fastest_of_five(work: Callable[[], object]) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def test_the_regular_expressions_run_in_linear_time_on_adversarial_input() -> None:
    """Four times the text must cost about four times as long, not sixteen: a ratio (fastest of five runs each)
    holds on a loaded machine where a bound in seconds did not."""
    patterns = [parsing._LONE_SURROGATE, parsing.refused_token("NaN"), parsing._LONG_NUMBER, positions._WHITESPACE]
    patterns += [importing._INDEX]
    adversarial: list[Callable[[int], str]] = [
        lambda size: "\\ud800" * (size // 6),
        lambda size: ":" + " " * size + "x",
        lambda size: '"' + "\\" * size,
        lambda size: "1" * size + "x",
        lambda size: " at line 1" * (size // 10),
        lambda size: "/" + "9" * size + "x",
        lambda size: "[" + "\t" * size,
    ]
    for pattern in patterns:
        for text in adversarial:
            small, large = text(20_000), text(80_000)
            small_time = fastest_of_five(lambda: sum(1 for _ in pattern.finditer(small)))  # noqa: B023
            large_time = fastest_of_five(lambda: sum(1 for _ in pattern.finditer(large)))  # noqa: B023
            # A quadratic pattern takes seconds here (16x); the slack absorbs a loaded machine's pauses.
            assert large_time < 10 * small_time + 0.05, (pattern.pattern, small[:20])


SECRET = "sk-CONFIDENTIAL-4242"


@pytest.mark.parametrize(
    "body",
    [
        BASE.replace(b'"completed"', f'"{SECRET}"'.encode()),
        with_member(SECRET, b"1"),
        BASE.replace(b"step_", SECRET.encode() + b"_"),  # an id-prefix warning quotes the id
        BASE.replace(b'"completed"', f'"\\ud800{SECRET}"'.encode()),
        with_member("x", SECRET.replace("sk-CONFIDENTIAL-", "1e4").encode() + b"00"),
    ],
    ids=["error", "unknown member", "warning", "not JSON", "number token"],
)
def test_redacted_reports_quote_no_payload_value(body: bytes) -> None:
    quoted = validate(body)
    redacted = validate(body, redact=True)

    assert redacted.valid is quoted.valid
    text = json.dumps(redacted.to_dict())
    assert SECRET not in text
    assert "4242" not in text
    assert [unit.instance_location for unit in redacted.errors] == [unit.instance_location for unit in quoted.errors]


def test_redaction_is_a_service_setting() -> None:
    app = create_app({"access_log": False, "redact_values": True})
    body = BASE.replace(b'"completed"', f'"{SECRET}"'.encode())

    response = app.test_client().post("/v1/validate", data=body, content_type="application/json")

    assert response.get_json()["errors"][0]["error"].startswith("a string is not one of")
    assert SECRET not in response.get_data(as_text=True)


def test_depth_limit_is_a_setting_and_reported() -> None:
    app = create_app({"access_log": False, "max_depth": 10})
    body = with_member("x", b"[" * 20 + b"]" * 20)

    response = app.test_client().post("/v1/validate", data=body, content_type="application/json")

    assert response.status_code == 400
    assert "nested deeper than the limit of 10 levels" in response.get_json()["detail"]
    assert validate(body).valid  # the tolerant schema itself allows any unknown member


def test_time_limit_stops_a_batch_and_says_so() -> None:
    app = create_app({"access_log": False, "max_request_seconds": 1e-6})
    lines = b"\n".join([BASE.replace(b"\n", b"")] * 300)

    response = app.test_client().post("/v1/validate/batch", data=lines, content_type="application/x-ndjson")

    assert (response.status_code, response.get_json()["type"]) == (
        413,
        "https://runstep-validator.dev/problems/time-limit",
    )
    assert response.get_json()["detail"] == "validating took longer than the limit of 1e-06 s after 0 records"


def test_a_limit_within_another_ends_no_later_than_it() -> None:
    with time_limit(0), time_limit(60), pytest.raises(LimitExceeded, match="limit of 0 s"):
        check_time()
    with time_limit(60, spent=60), pytest.raises(LimitExceeded, match="limit of 60 s"):  # all of it spent waiting
        check_time()
    with time_limit(60), time_limit(60):
        check_time()


def test_a_time_limit_stops_one_payload_between_its_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    units = 0
    unit = Engine._unit

    def counted(self: Engine, *args: Any) -> Any:
        nonlocal units
        units += 1
        return unit(self, *args)

    monkeypatch.setattr(Engine, "_unit", counted)
    body = error_heavy(2000)  # 10,006 errors

    with pytest.raises(LimitExceeded) as raised, time_limit(0):
        validate(body)

    assert units < 10  # stopped at the first check after the limit, not after all 10,006
    assert (raised.value.kind, str(raised.value)) == ("seconds", "validating took longer than the limit of 0 s")
    assert len(validate(body).errors) == 10_006  # outside a time limit, nothing is checked


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/v1/validate", error_heavy(400), "application/json"),
        ("/v1/validate?output=flag", error_heavy(400), "application/json"),
        ("/v1/validate/batch", error_heavy(400), "application/json"),
        (
            "/v1/validate/stream",
            b"event: thread.run.step.created\ndata: " + error_heavy(400) + b"\n\n",
            "text/event-stream",
        ),
    ],
)
def test_every_route_stops_at_the_time_limit_inside_a_payload(path: str, body: bytes, content_type: str) -> None:
    app = create_app({"access_log": False, "max_request_seconds": 1e-6})

    response = app.test_client().post(path, data=body, content_type=content_type)

    assert (response.status_code, response.get_json()["type"]) == (
        413,
        "https://runstep-validator.dev/problems/time-limit",
    )
    assert response.get_json()["detail"].startswith("validating took longer than the limit of 1e-06 s")


@pytest.mark.parametrize("depth", [65, 500, 985, 990, 995, 999, 1000, 1005, 5000])
@pytest.mark.parametrize("closed", [True, False], ids=["closed", "unclosed"])
def test_the_configured_depth_limit_wins_at_every_depth(app: Flask, depth: int, closed: bool) -> None:
    body = b"[" * depth + (b"]" * depth if closed else b"")

    (unit,) = validate(body).errors
    assert (unit.error, unit.line, unit.column) == ("invalid JSON: nested deeper than the limit of 64 levels", 1, 65)
    problem = app.test_client().post("/v1/validate", data=body, content_type="application/json").get_json()
    assert (problem["detail"], problem["line"], problem["column"]) == (unit.error, 1, 65)
