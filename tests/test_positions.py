"""Line and column of a JSON Pointer's value: for any document, pretty-printed or on one line, the offset found
for every location is where that location's value starts."""

from __future__ import annotations

import gc
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any, cast

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runstep_validator import validate, validate_stream
from runstep_validator.core.messages import pointer
from runstep_validator.core.parsing import Lines
from runstep_validator.sources.positions import placed, value_offset, value_offsets
from runstep_validator.sources.records import Record

from .strategies import JSON_VALUES, paths
from .support import ROOT, error_heavy

DOCUMENTS = st.recursive(
    JSON_VALUES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=30,
)


def value_at(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


@settings(max_examples=300, deadline=None)
@given(document=DOCUMENTS, indent=st.sampled_from([None, 2, "\t"]))
def test_every_location_is_found(document: Any, indent: int | str | None) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=indent is None)
    decoder = json.JSONDecoder()

    for path in paths(document):
        offset = value_offset(text, pointer(path))
        assert decoder.raw_decode(text, offset)[0] == value_at(document, path)


@settings(max_examples=300, deadline=None)
@given(document=DOCUMENTS, indent=st.sampled_from([None, 1, 2, 4, "\t", "compact"]), data=st.data())
def test_pointers_found_together_are_found_as_one_by_one(document: Any, indent: int | str | None, data: Any) -> None:
    # "compact" is how JSON Lines are written: no whitespace at all. It, json.dumps's default and indenting by spaces
    # are the layouts whose places the measured walk sums up; a tab is stepped through.
    text = json.dumps(document, separators=(",", ":")) if indent == "compact" else json.dumps(document, indent=indent)
    locations = [pointer(path) for path in paths(document)]
    locations += data.draw(st.lists(st.sampled_from([*locations, "/zz", "/0/zz", "/~0/~1"]), max_size=6))

    assert value_offsets(text, locations) == [value_offset(text, location) for location in locations]
    # Measured (an ASCII text handed over as bytes, split by msgspec) as walked, whatever the document.
    assert value_offsets(text, locations, text.encode()) == value_offsets(text, locations)


@settings(max_examples=200, deadline=None)
@given(document=DOCUMENTS, indent=st.sampled_from([1, 2, 4]), margin=st.sampled_from([0, 1, 2, 6]), data=st.data())
def test_an_item_of_an_indented_document_is_measured_as_walked(
    document: Any, indent: int, margin: int, data: Any
) -> None:
    """An item as an indented document holds it: every line after its first at the item's margin."""
    text = json.dumps(document, indent=indent).replace("\n", "\n" + " " * margin)
    locations = [pointer(path) for path in paths(document)]
    locations += data.draw(st.lists(st.sampled_from([*locations, "/zz", "/0/zz"]), max_size=4))

    assert value_offsets(text, locations, text.encode()) == value_offsets(text, locations)


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    return Lines(text).at(offset)


def test_deep_inside_nested_arrays() -> None:
    document = {"a": [[0, [1, 2, {"b": [3, {"c": "here"}]}]]]}
    pretty = json.dumps(document, indent=2)
    single = json.dumps(document)

    assert line_and_column(pretty, value_offset(pretty, "/a/0/1/2/b/1/c")) == (12, 20)
    assert line_and_column(single, value_offset(single, "/a/0/1/2/b/1/c")) == (1, 35)


def test_last_duplicate_key_counts_as_in_parsing() -> None:
    text = '{"a": 1,\n "a": 2}'

    assert line_and_column(text, value_offset(text, "/a")) == (2, 7)


def test_missing_location_falls_back_to_its_deepest_existing_parent() -> None:
    text = '{"a": {"b": 1}}'

    assert value_offset(text, "/a/zzz") == text.index('{"b"')


def test_a_later_duplicate_replaces_what_was_found_inside_the_earlier_one() -> None:
    text = '{"a": {"b": 1}, "a": {"c": 2}}'

    assert value_offsets(text, ["/a/b", "/a/c"]) == [text.rindex("{"), text.index("2")]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_any_text_gives_offsets_within_it(text: str) -> None:
    for offset in value_offsets(text, ["", "/a", "/0/b"]):
        assert 0 <= offset <= len(text)


def calls_made(work: Callable[[], object]) -> int:
    """Every Python and C function call `work` makes: a count of work that does not depend on the machine."""
    calls: Counter[str] = Counter()

    def count(frame: object, event: str, arg: object) -> None:
        calls[event] += 1

    sys.setprofile(count)
    try:
        work()
    finally:
        sys.setprofile(None)
    return calls["call"] + calls["c_call"]


def test_placing_every_error_of_a_record_costs_time_linear_in_its_size() -> None:
    """One error per tool call: placing eight times the errors in eight times the text must cost about eight times
    the work, not sixty-four (each error's value used to be looked for from the start of the text)."""
    costs = []
    for count in (50, 400):
        raw = error_heavy(count, indent=1)
        report = validate(raw)
        assert len(report.errors) > 4 * count
        costs.append(calls_made(lambda: placed(report, Record(0, 1, raw))))  # noqa: B023

    assert costs[1] < 12 * costs[0]


@pytest.mark.parametrize("container", ["array", "object"])
def test_measuring_every_member_of_a_container_costs_time_linear_in_its_size(container: str) -> None:
    """Work in C that calls_made cannot see: sixteen times the members, each wanted, must cost about sixteen times
    the time, not 256 (each member's place was a copy of everything before it). The fastest of three runs of each,
    without the cyclic collector, so that neither a busy machine nor a collection makes the ratio."""

    def seconds(count: int) -> float:
        if container == "array":
            text = json.dumps(list(range(count)), separators=(",", ":"))
        else:
            text = json.dumps({f"m{number}": number for number in range(count)}, separators=(",", ":"))
        pointers = [f"/{number}" if container == "array" else f"/m{number}" for number in range(count)]
        data = text.encode()
        runs = []
        gc.disable()
        try:
            for _ in range(3):
                started = time.perf_counter()
                value_offsets(text, pointers, data)
                runs.append(time.perf_counter() - started)
        finally:
            gc.enable()
        return min(runs)

    seconds(100)  # warmed up
    assert seconds(16_000) < 64 * seconds(1_000)


@settings(max_examples=300, deadline=None)
@given(document=DOCUMENTS, indent=st.sampled_from([None, 1, 2, 4]))
def test_msgspec_writes_a_layout_as_the_standard_writers_do(document: Any, indent: int | None) -> None:
    """Placing trusts a record to be in a layout when msgspec.json.format, writing it in that layout, gives its
    very bytes (checked on msgspec 0.22): json.dumps's one line for indent 0, its indentation otherwise, empty
    containers as [] and {}. Were msgspec to write otherwise, records would be stepped through, slower but right;
    this says so loudly."""
    text = json.dumps(document, indent=indent).encode()

    assert msgspec.json.format(text, indent=indent or 0) == text


def test_a_repeated_name_whose_last_value_happens_to_fit_is_still_placed_where_parsing_takes_it() -> None:
    """Stepping from the first "a" by the length of the last one's value lands on a closing brace here: the walk
    must notice that the bytes there are not that value."""
    text = '{"a":0,"a":{},"a":{"b":0}}'

    assert value_offsets(text, ["/a/b"], text.encode()) == value_offsets(text, ["/a/b"]) == [text.rindex("0")]


def test_every_error_of_a_record_is_placed_at_its_value() -> None:
    raw = error_heavy(3, indent=1)
    text = raw.decode()
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    shown = placed(validate(raw), Record(0, 10, raw))

    assert len(shown.errors) > 10
    for unit in shown.errors:
        assert unit.line is not None
        assert unit.column is not None
        expected = json.loads(text)
        for token in unit.instance_location.split("/")[1:]:
            expected = expected[int(token) if isinstance(expected, list) else token]
        offset = line_starts[unit.line - 10] + unit.column - 1
        assert json.JSONDecoder().raw_decode(text, offset)[0] == expected


def test_placing_every_error_of_a_stream_event_costs_time_linear_in_its_size() -> None:
    costs = []
    for count in (50, 400):
        data = error_heavy(count, indent=1).replace(b"\n", b"")
        transcript = b"event: thread.run.step.completed\ndata: " + data + b"\n\n"
        report = validate_stream(transcript)
        assert sum(len(result.errors) for result in report.results) > 4 * count
        costs.append(calls_made(lambda: validate_stream(transcript)))  # noqa: B023

    assert costs[1] < 12 * costs[0]


def test_the_standard_librarys_scanner_is_still_there_as_positions_uses_it() -> None:
    """positions.py skips values with json.scanner.make_scanner, which the documentation does not describe: this
    fails if a Python release renames or changes it."""
    scan = make_scanner(cast(Any, json.JSONDecoder()))

    assert scan('{"a": [1, "x"]} tail', 0) == ({"a": [1, "x"]}, 15)
    with pytest.raises(StopIteration):
        scan("}", 0)


def reference_offset(text: str, pointer_: str) -> int:
    """The offset as the plain definition gives it, one pointer at a time: parse each container on the path, the
    last member of a name counting, and fall back to the deepest value found."""
    decoder = json.JSONDecoder()
    position = len(text) - len(text.lstrip(" \t\n\r"))
    for escaped in pointer_[1:].split("/") if pointer_ else []:
        token = escaped.replace("~1", "/").replace("~0", "~")
        found = None
        if text[position] == "{":
            inner = position + 1
            pairs = decoder.raw_decode(text, position)  # checks it is JSON; the walk below finds the offsets
            del pairs
            while True:
                inner += len(text[inner:]) - len(text[inner:].lstrip(" \t\n\r,"))
                if text[inner] == "}":
                    break
                key, inner = decoder.raw_decode(text, inner)
                inner = text.index(":", inner) + 1
                inner += len(text[inner:]) - len(text[inner:].lstrip(" \t\n\r"))
                if key == token:
                    found = inner
                inner = decoder.raw_decode(text, inner)[1]
        elif text[position] == "[" and token.isdigit():
            inner = position + 1
            for index in range(int(token) + 1):
                inner += len(text[inner:]) - len(text[inner:].lstrip(" \t\n\r,"))
                if text[inner] == "]":
                    break
                if index == int(token):
                    found = inner
                    break
                inner = decoder.raw_decode(text, inner)[1]
        if found is None:
            break
        position = found
    return position


PAIRS = st.recursive(
    JSON_VALUES,
    lambda children: (
        st.lists(children, max_size=4).map(lambda items: ("array", items))
        | st.lists(st.tuples(st.sampled_from(["a", "b", "ab", "a/b", "é", "\\u0061"]), children), max_size=4).map(
            lambda members: ("object", members)
        )
    ),
    max_leaves=20,
)


def written(node: Any, compact: bool = False) -> str:
    """JSON text that may repeat member names, and may spell a name with an escape; with no whitespace if `compact`."""
    comma, colon = (",", ":") if compact else (", ", ": ")
    if isinstance(node, tuple) and node[0] == "array":
        return "[" + comma.join(written(item, compact) for item in node[1]) + "]"
    if isinstance(node, tuple) and node[0] == "object":
        parts = []
        for name, value in node[1]:
            key = '"\\u0061"' if name == "\\u0061" else json.dumps(name)
            parts.append(f"{key}{colon}{written(value, compact)}")
        return "{" + comma.join(parts) + "}"
    return json.dumps(node, separators=(comma, colon))


@settings(max_examples=300, deadline=None)
@given(node=PAIRS, compact=st.booleans(), data=st.data())
def test_repeated_member_names_are_resolved_as_parsing_resolves_them(node: Any, compact: bool, data: Any) -> None:
    text = written(node, compact)
    tokens = st.sampled_from(["a", "b", "ab", "a~1b", "é", "0", "1", "2"])
    anywhere = st.lists(tokens, max_size=4).map(lambda path: "".join("/" + t for t in path))
    existing = [pointer(path) for path in paths(json.loads(text))]  # all found: the walk may stop early
    choices = anywhere | st.sampled_from(existing) if existing else anywhere
    pointers = data.draw(st.lists(choices, max_size=5))

    expected = [reference_offset(text, pointer_) for pointer_ in pointers]
    assert value_offsets(text, pointers) == expected
    assert value_offsets(text, pointers, text.encode()) == expected  # measured where it can be, walked elsewhere


def test_a_later_duplicate_spelled_with_an_escape_still_counts() -> None:
    text = '{"a": 1, "b": {"\\u0061": 3}, "\\u0061": 2}'

    assert value_offsets(text, ["/a"]) == [text.index("2")]
    assert value_offsets(text, ["/a"], text.encode()) == [text.index("2")]


def test_an_ascii_record_is_measured_without_the_character_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The measured walk is what places a usual record (the character walk is its fallback), pretty-printed or not."""
    from runstep_validator.sources import positions  # noqa: PLC0415

    def no_walk(*args: object) -> None:
        raise AssertionError("walked")

    raw = (ROOT / "examples" / "invalid_tool_calls.json").read_bytes()
    expected = [(unit.line, unit.column) for unit in validate(raw).errors]
    monkeypatch.setattr(positions, "_Walk", no_walk)
    for text in (raw, json.dumps(json.loads(raw)).encode()):
        report = placed(validate(text), Record(0, 1, text))
        assert len(report.errors) == 3
    assert [(unit.line, unit.column) for unit in placed(validate(raw), Record(0, 1, raw)).errors] == expected


@pytest.mark.parametrize(
    ("layout", "margin"),
    [
        ({"separators": (",", ":")}, 0),
        ({}, 0),
        ({"indent": 2}, 0),
        ({"indent": 4}, 0),
        ({"indent": 1, "sort_keys": True}, 0),
        ({"indent": 2}, 2),
        ({"indent": 4}, 8),
    ],
    ids=["compact", "json.dumps", "indent 2", "indent 4", "indent 1 sorted", "item of an array", "item of a list"],
)
def test_a_record_a_standard_writer_wrote_is_placed_by_sums_of_lengths(
    monkeypatch: pytest.MonkeyPatch, layout: dict[str, Any], margin: int
) -> None:
    """Compact, json.dumps's default and space-indented records, and the items of an indented document (each line
    after the first at the item's margin), are measured without stepping through members one by one (the slower
    way, kept for any other spacing), and placed where the character walk places them."""
    from runstep_validator.sources import positions  # noqa: PLC0415

    raw = json.dumps(json.loads((ROOT / "examples" / "invalid_tool_calls.json").read_bytes()), **layout).encode()
    raw = raw.replace(b"\n", b"\n" + b" " * margin)
    report = validate(raw)
    pointers = [unit.instance_location for unit in report.errors]
    walked = value_offsets(raw.decode(), pointers)

    def stepped(*args: object) -> None:
        raise AssertionError("stepped through")

    monkeypatch.setattr(positions, "_step_through_members", stepped)
    monkeypatch.setattr(positions, "_step_through_items", stepped)
    monkeypatch.setattr(positions, "_Walk", stepped)
    assert len(pointers) == 3
    assert value_offsets(raw.decode(), pointers, raw) == walked
