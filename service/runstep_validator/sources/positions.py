"""Where a JSON Pointer's value sits in a JSON text, as an offset: found by scanning only along the pointer's path.

Used only when reporting errors, so valid input never pays for it. Values off the path are skipped with the
standard library's C scanner; for duplicate keys the last one counts, as in parsing.
"""

from __future__ import annotations

import json
import re

import msgspec

from ..core.report import INVALID_JSON, OutputUnit, Report
from .records import Record

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_POSITION = re.compile(r" at line \d+, column \d+$")
_skipper = json.JSONDecoder()


def _skip_space(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


def _skip_value(text: str, position: int) -> int:
    return _skipper.raw_decode(text, position)[1]


def _member(text: str, position: int, key: str) -> int | None:
    """The offset of the value of the last member named `key` in the object starting at `position`."""
    found = None
    position = _skip_space(text, position + 1)
    while position < len(text) and text[position] != "}":
        name, position = _skipper.raw_decode(text, position)
        position = _skip_space(text, _skip_space(text, position) + 1)  # past the colon
        if name == key:
            found = position
        position = _skip_space(text, _skip_value(text, position))
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
    return found


def _item(text: str, position: int, index: int) -> int | None:
    position = _skip_space(text, position + 1)
    for _ in range(index):
        if position >= len(text) or text[position] == "]":
            return None
        position = _skip_space(text, _skip_value(text, position))
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
    return position if position < len(text) and text[position] != "]" else None


def value_offset(text: str, pointer: str) -> int:
    """The offset of the value at `pointer` (RFC 6901), or of the deepest value on its path that exists."""
    position = _skip_space(text, 0)
    if not pointer:
        return position
    try:
        for escaped in pointer[1:].split("/"):
            token = escaped.replace("~1", "/").replace("~0", "~")
            opener = text[position] if position < len(text) else ""
            if opener == "{":
                found = _member(text, position, token)
            elif opener == "[" and token.isdigit():
                found = _item(text, position, int(token))
            else:
                found = None
            if found is None:
                break
            position = found
    except (ValueError, IndexError):  # text that is not the JSON it was validated as: keep what was found
        pass
    return position


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of an offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def placed(report: Report, record: Record) -> Report:
    """The report with every unit's line and column set to where its value is in the whole input (a record at
    `record.line`, `record.column`), for the command line's reports and the HTTP API's alike."""
    record_text = record.raw.decode("utf-8", errors="replace")

    def place(unit: OutputUnit) -> OutputUnit:
        if unit.code == INVALID_JSON and unit.line is not None and unit.column is not None:
            line, column = unit.line, unit.column
        else:
            line, column = line_and_column(record_text, value_offset(record_text, unit.instance_location))
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
