"""Where JSON Pointers' values sit in a JSON text, as offsets: every pointer of a record found in one pass.

Used only when reporting errors, so valid input never pays for it. The pointers are merged into a tree, and the
text is walked once along it: values off the tree are skipped with the standard library's C scanner, so each
character is read once however many errors a record has (a record with ten thousand errors is placed in the time
of one). For duplicate keys the last one counts, as in parsing.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Sequence
from contextlib import suppress

import msgspec

from ..core.report import INVALID_JSON, OutputUnit, Report
from .records import Record

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_PLAIN_KEY = re.compile(r'"([^"\\]*)"')  # a key without escapes, the usual kind: no decoder needed
_POSITION = re.compile(r" at line \d+, column \d+$")
_skipper = json.JSONDecoder()


class _Step:
    """One token of one or more pointers: the steps that follow it, and the offset of its value once found."""

    __slots__ = ("items", "members", "offset")

    def __init__(self) -> None:
        self.members: dict[str, _Step] = {}
        self.items: dict[int, _Step] | None = None  # the members whose token is an array index, made when needed
        self.offset: int | None = None

    def forget(self) -> None:
        """A later duplicate key replaces this value: nothing found inside the earlier one counts."""
        self.offset = None
        for step in self.members.values():
            step.forget()


def _skip_space(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


def _walk(text: str, position: int, step: _Step) -> int:
    """Record where the value at `position` and the values of `step`'s pointers inside it start; return the
    offset just past the value."""
    if step.offset is not None:
        step.forget()
    step.offset = position
    opener = text[position] if step.members else ""
    if opener == "{":
        position = _skip_space(text, position + 1)
        while text[position] != "}":
            plain = _PLAIN_KEY.match(text, position)
            if plain:
                key, position = plain.group(1), plain.end()
            else:
                key, position = _skipper.raw_decode(text, position)
            position = _skip_space(text, _skip_space(text, position) + 1)  # past the colon
            inner = step.members.get(key)
            position = _walk(text, position, inner) if inner else _skipper.raw_decode(text, position)[1]
            position = _skip_space(text, position)
            if text[position] == ",":
                position = _skip_space(text, position + 1)
        return position + 1
    if opener == "[":
        if step.items is None:
            step.items = {int(token): inner for token, inner in step.members.items() if token.isdigit()}
        position = _skip_space(text, position + 1)
        index = 0
        while text[position] != "]":
            inner = step.items.get(index)
            position = _walk(text, position, inner) if inner else _skipper.raw_decode(text, position)[1]
            position = _skip_space(text, position)
            if text[position] == ",":
                position = _skip_space(text, position + 1)
            index += 1
        return position + 1
    return _skipper.raw_decode(text, position)[1]


def value_offsets(text: str, pointers: Sequence[str]) -> list[int]:
    """The offset of each pointer's value (RFC 6901), or of the deepest value on its path that exists, in the
    order given: the whole text is read at most once, however many pointers there are."""
    root = _Step()
    paths: list[list[_Step]] = []
    for pointer in pointers:
        steps = [root]
        if pointer:
            for escaped in pointer[1:].split("/"):
                token = escaped.replace("~1", "/").replace("~0", "~")
                steps.append(steps[-1].members.setdefault(token, _Step()))
        paths.append(steps)
    start = _skip_space(text, 0)
    with suppress(ValueError, IndexError, RecursionError):  # text that is not the JSON it was validated as:
        _walk(text, start, root)  # keep what was found
    offsets = []
    for steps in paths:
        found = [step.offset for step in steps if step.offset is not None]
        offsets.append(found[-1] if found else start)
    return offsets


def value_offset(text: str, pointer: str) -> int:
    """The offset of the value at `pointer` (RFC 6901), or of the deepest value on its path that exists."""
    return value_offsets(text, (pointer,))[0]


class Lines:
    """1-based line and column (in characters) of offsets in one text: the line starts are found once."""

    __slots__ = ("_starts",)

    def __init__(self, text: str) -> None:
        self._starts = [0, *(match.end() for match in re.finditer("\n", text))]

    def at(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def placed(report: Report, record: Record) -> Report:
    """The report with every unit's line and column set to where its value is in the whole input (a record at
    `record.line`, `record.column`), for the command line's reports and the HTTP API's alike."""
    units = (*report.errors, *report.warnings)
    if not units:
        return report
    record_text = record.raw.decode("utf-8", errors="replace")
    lines = Lines(record_text)
    offsets = iter(value_offsets(record_text, [unit.instance_location for unit in units]))

    def place(unit: OutputUnit) -> OutputUnit:
        offset = next(offsets)
        if unit.code == INVALID_JSON and unit.line is not None and unit.column is not None:
            line, column = unit.line, unit.column
        else:
            line, column = lines.at(offset)
        if line == 1:
            column += record.column - 1
        line += record.line - 1
        if unit.code == INVALID_JSON:  # the message gave the position within the record: give the file's
            error = _POSITION.sub(f" at line {line}, column {column}", unit.error)
            return msgspec.structs.replace(unit, error=error, line=line, column=column)
        return msgspec.structs.replace(unit, line=line, column=column)

    return msgspec.structs.replace(
        report,
        errors=tuple(place(unit) for unit in report.errors),
        pending_warnings=tuple(place(unit) for unit in report.warnings),
    )
