"""Checking files of run steps: reading them (plain or gzipped; JSON documents or JSON Lines), validating every
record, and placing each error at its line and column in the file. The command line renders the results."""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from ..core.errors import InvalidJSONError
from ..core.parsing import NOT_JSON
from ..core.report import INVALID_JSON, OutputUnit, Report
from ..core.validator import Validator
from ..sources.positions import line_and_column, value_offset
from ..sources.records import Record, split_document, split_lines

DOCUMENT_SUFFIXES = (".json",)
LINES_SUFFIXES = (".jsonl", ".ndjson")
STDIN = "-"
_POSITION = re.compile(r" at line \d+, column \d+$")


def is_checkable(path: Path) -> bool:
    name = path.name.removesuffix(".gz")
    return name.endswith(DOCUMENT_SUFFIXES + LINES_SUFFIXES)


def expand(paths: Iterable[str]) -> Iterator[str]:
    """Files as given, and the checkable files below each folder, sorted."""
    for given in paths:
        path = Path(given)
        if given != STDIN and path.is_dir():
            yield from (str(found) for found in sorted(path.rglob("*")) if found.is_file() and is_checkable(found))
        else:
            yield given


@dataclass(frozen=True)
class RecordResult:
    """One record's report, its units placed in the file (`line`/`column` set)."""

    index: int
    line: int
    report: Report

    @property
    def valid(self) -> bool:
        return self.report.valid


@dataclass
class FileResult:
    """Every record of one file, or why the file could not be read."""

    path: str
    records: list[RecordResult] = field(default_factory=list)
    problem: str | None = None

    @property
    def invalid(self) -> int:
        return sum(not record.valid for record in self.records)

    @property
    def warnings(self) -> int:
        return sum(len(record.report.warnings) for record in self.records)


class _Unreadable(Exception):
    pass


def read_bytes(name: str, stdin: Iterable[bytes] | None = None) -> bytes:
    """The content of a file (or of standard input for `-`), gunzipped when it is gzip."""
    try:
        data = b"".join(stdin or ()) if name == STDIN else Path(name).read_bytes()
    except OSError as exc:
        raise _Unreadable(exc.strerror or str(exc)) from None
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise _Unreadable(f"not a readable gzip file: {exc}") from None
    return data


def _is_lines(name: str, data: bytes) -> bool:
    if name == STDIN:  # no name to go by: one JSON document if it parses as one, JSON Lines otherwise
        try:
            msgspec.json.decode(data)
        except NOT_JSON:
            return b"\n" in data.strip()
        return False
    return name.removesuffix(".gz").endswith(LINES_SUFFIXES)


class Checker:
    """Validates files with one `Validator`; build it once per run."""

    def __init__(self, validator: Validator) -> None:
        self.validator = validator

    def check(self, name: str, stdin: Iterable[bytes] | None = None) -> FileResult:
        result = FileResult(name)
        try:
            data = read_bytes(name, stdin)
        except _Unreadable as exc:
            result.problem = str(exc)
            return result
        try:
            records = list(split_lines(data)) if _is_lines(name, data) else split_document(data)
        except InvalidJSONError as exc:
            unit = OutputUnit("", "", str(exc), code=INVALID_JSON, line=exc.line, column=exc.column)
            result.records.append(RecordResult(0, 1, Report(False, self.validator.schema_id, (unit,))))
            return result
        text = None
        for record in records:
            report = self.validator.validate(record.raw)
            if report.errors or report.warnings:  # positions are only worth computing for what is reported
                text = text or data.decode("utf-8", errors="replace")
                report = _placed(report, record, text)
            result.records.append(RecordResult(record.index, record.line, report))
        return result


def _placed(report: Report, record: Record, text: str) -> Report:
    """The report with every unit's line and column set to where its value is in the whole file."""
    record_text = record.raw.decode("utf-8", errors="replace")
    start = text.find(record_text, _line_start(text, record.line))
    start_line, start_column = line_and_column(text, max(start, 0))

    def place(unit: OutputUnit) -> OutputUnit:
        if unit.code == INVALID_JSON and unit.line is not None and unit.column is not None:
            line, column = unit.line, unit.column
        else:
            line, column = line_and_column(record_text, value_offset(record_text, unit.instance_location))
        if line == 1:
            column += start_column - 1
        line += start_line - 1
        if unit.code == INVALID_JSON:  # the message gave the position within the record: give the file's
            error = _POSITION.sub(f" at line {line}, column {column}", unit.error)
            return msgspec.structs.replace(unit, error=error, line=line, column=column)
        return msgspec.structs.replace(unit, line=line, column=column)

    return msgspec.structs.replace(
        report,
        errors=tuple(place(unit) for unit in report.errors),
        pending_warnings=tuple(place(unit) for unit in report.warnings),
    )


def _line_start(text: str, line: int) -> int:
    position = 0
    for _ in range(line - 1):
        position = text.find("\n", position) + 1
    return position
