"""Checking files of run steps: reading them (plain or gzipped; JSON documents or JSON Lines), validating every
record, and placing each error at its line and column in the file. The command line renders the results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from ..core.api import PayloadValidator
from ..core.errors import InvalidJSONError
from ..core.report import INVALID_JSON, OutputUnit, Report
from ..core.schemas import DEFAULT_DIALECT
from ..core.streams import StreamUnit
from ..sources.positions import placed
from ..sources.reading import InputFormat, SourceError, is_event_stream, iter_records, open_source
from ..sources.sse import validate_stream


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
    """The records of one file that have something to say (or all of them, when kept), how many were read, or why
    the file could not be read. Keeping only what is reported bounds memory by that, not by the file's size."""

    path: str
    records: list[RecordResult] = field(default_factory=list)
    problem: str | None = None
    total: int = 0  # records read, kept or not

    @property
    def invalid(self) -> int:
        return sum(not record.valid for record in self.records)

    @property
    def warnings(self) -> int:
        return sum(len(record.report.warnings) for record in self.records)

    def with_warnings_as_errors(self) -> FileResult:
        """The same results with every warning made an error, and its record invalid."""
        records = [
            RecordResult(record.index, record.line, _as_errors(record.report)) if record.report.warnings else record
            for record in self.records
        ]
        return FileResult(self.path, records, self.problem, self.total)


class Checker:
    """Validates files with one `Validator`; build it once per run."""

    def __init__(
        self,
        validator: PayloadValidator,
        input_format: InputFormat = "auto",
        *,
        keep_valid: bool = True,
        strict: bool = False,
        redact: bool = False,
        dialect: str = DEFAULT_DIALECT,
        max_record_bytes: int | None = None,
    ) -> None:
        """`keep_valid=False` keeps only the records with errors or warnings (the rest are counted); `strict`
        and `dialect` apply to event streams, whose events pick their entries by name; a record longer than
        `max_record_bytes` makes its file unreadable (a problem naming the line), before memory grows with it."""
        self.validator = validator
        self.input_format = input_format
        self.keep_valid = keep_valid
        self.strict = strict
        self.redact = redact
        self.dialect = dialect
        self.max_record_bytes = max_record_bytes

    def check(self, name: str, stdin: BinaryIO | None = None) -> FileResult:
        """Every record of the file, streamed: memory is that of the largest record, not of the file."""
        result = FileResult(name)
        try:
            with open_source(name, stdin) as source:
                if is_event_stream(name, self.input_format):
                    return self._stream(result, source.stream)
                for record in iter_records(source, self.input_format, self.max_record_bytes):
                    result.total += 1
                    report = self.validator.validate(record.raw)
                    if report.errors or report.warnings:  # positions are only worth computing for what is reported
                        result.records.append(RecordResult(record.index, record.line, placed(report, record)))
                    elif self.keep_valid:
                        result.records.append(RecordResult(record.index, record.line, report))
        except SourceError as exc:
            result.problem = exc.reason
        except InvalidJSONError as exc:  # the text between records is not JSON: the file stops there
            unit = OutputUnit("", "", str(exc), code=INVALID_JSON, line=exc.line, column=exc.column)
            result.records.append(
                RecordResult(result.total, exc.line, Report(False, self.validator.schema_id, (unit,)))
            )
            result.total += 1
        return result

    def _stream(self, result: FileResult, stream: BinaryIO) -> FileResult:
        """An event stream as records: one per run-step event, and one for what concerns the stream as a whole."""
        report = validate_stream(stream, strict=self.strict, redact=self.redact, dialect=self.dialect)
        result.total = sum(report.events.values())
        schema = self.validator.schema_id
        for event in report.results:
            if event.errors or event.warnings or self.keep_valid:
                errors = tuple(_unit(unit) for unit in event.errors)
                warnings = tuple(_unit(unit) for unit in event.warnings)
                verdict = Report(not errors, schema, errors, warnings)
                result.records.append(RecordResult(event.event, event.line, verdict))
        stream_errors = tuple(_unit(unit) for unit in report.errors)
        stream_warnings = tuple(_unit(unit) for unit in report.stream_warnings)
        if stream_errors or stream_warnings:
            first = min((unit.line for unit in (*stream_errors, *stream_warnings) if unit.line), default=1)
            whole = Report(not stream_errors, schema, stream_errors, stream_warnings)
            result.records.append(RecordResult(0, first, whole))
        return result


def _unit(unit: StreamUnit) -> OutputUnit:
    """A stream's error or warning as a report unit: its message names the event it concerns."""
    where = f"event {unit.event} ({unit.event_name}): " if unit.event is not None and unit.event_name else ""
    return OutputUnit(
        unit.instance_location or "",
        unit.keyword_location or "",
        where + unit.error,
        code=unit.code,
        line=unit.line,
        column=unit.column,
    )


def _as_errors(report: Report) -> Report:
    return Report(False, report.schema, report.errors + report.warnings)
