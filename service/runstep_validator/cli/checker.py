"""Checking files of run steps: reading them (plain or gzipped; JSON documents or JSON Lines), validating every
record, and placing each error at its line and column in the file. The command line renders the results."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import BinaryIO

from ..core.errors import NotAnEventStream, SchemaNotForStreams
from ..core.profile import Profile
from ..core.report import OutputUnit, Report
from ..core.streams import StreamUnit
from ..sources.positions import placed
from ..sources.reading import InputFormat, SourceError, as_event_stream, iter_records, open_source
from ..sources.records import RecordTooLarge, record_report
from ..sources.sse import validate_stream


@dataclass(frozen=True)
class RecordResult:
    """One record's report, its units placed in the file (`line`/`column` set)."""

    index: int
    line: int
    report: Report
    # What the record is when not a line of a file: "event 3 (thread.run.step.created)", "the stream".
    label: str | None = None
    unlisted: int = 0  # errors left out of the listing (--max-errors); the record's verdict stays
    event_name: str | None = None  # a stream's event's: its findings are quoted after its label, as the page shows them

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
            dataclasses.replace(record, report=_as_errors(record.report)) if record.report.warnings else record
            for record in self.records
        ]
        return FileResult(self.path, records, self.problem, self.total)


class Checker:
    """Validates files as one `Profile` says; build it once per run."""

    def __init__(
        self,
        profile: Profile,
        input_format: InputFormat = "auto",
        *,
        keep_valid: bool = True,
        max_record_bytes: int | None = None,
    ) -> None:
        """`keep_valid=False` keeps only the records with errors or warnings (the rest are counted); event
        streams take the profile's stream validators, whose events pick their entries by name; a record longer
        than `max_record_bytes` makes its file unreadable (a problem naming the line), before memory grows with
        it."""
        self.profile = profile
        self.validator = profile.validator
        self.input_format = input_format
        self.keep_valid = keep_valid
        self.max_record_bytes = max_record_bytes

    def check(self, name: str, stdin: BinaryIO | None = None) -> FileResult:
        """Every record of the file, streamed: memory is that of the largest record, not of the file."""
        result = FileResult(name)
        try:
            with open_source(name, stdin) as source:
                transcript, source.stream = as_event_stream(name, self.input_format, source.stream)
                if transcript:
                    return self._stream(result, source.stream)
                for record in iter_records(source, self.input_format, self.max_record_bytes):
                    result.total += 1
                    report = record_report(self.validator, record)
                    if report.errors or report.warnings:  # positions are only worth computing for what is reported
                        result.records.append(RecordResult(record.index, record.line, placed(report, record)))
                    elif self.keep_valid:
                        result.records.append(RecordResult(record.index, record.line, report))
        except SourceError as exc:
            result.problem = exc.reason
        return result

    def _stream(self, result: FileResult, stream: BinaryIO) -> FileResult:
        """An event stream as records, one per event: its own errors and warnings with those of the stream's
        checks that name it (order, accumulation, done), as every surface counts them; what names no event (or an
        event cut short, never dispatched) is the record of the stream as a whole."""
        try:
            report = validate_stream(stream, profile=self.profile, max_record_bytes=self.max_record_bytes)
        except SchemaNotForStreams as exc:  # as the stream route refuses it, naming the setting given
            result.problem = f"--schema {self.profile.schema}: {exc}"
            return result
        except (NotAnEventStream, RecordTooLarge) as exc:  # as the stream route refuses it; an endless line stops
            result.problem = str(exc)
            return result
        result.total = sum(report.events.values())
        found: dict[int, _Collected] = {}
        for event in report.results:
            collected = found[event.event] = _Collected(event.line, f"event {event.event} ({event.name})", event.name)
            collected.errors += map(_unit, event.errors)
            collected.warnings += map(_unit, event.warnings)
        for number, name, line in report.other_events:  # every event is a record, validated as a run step or not
            found.setdefault(number, _Collected(line, f"event {number} ({name})", name))
        whole = _Collected(0, "the stream")
        for unit, is_error in [
            *((unit, True) for unit in report.stream_errors),
            *((u, False) for u in report.stream_warnings),
        ]:
            collected = whole
            if unit.event is not None and 0 < unit.event <= result.total:
                named = f"event {unit.event} ({unit.event_name})" if unit.event_name else f"event {unit.event}"
                collected = found.setdefault(unit.event, _Collected(unit.line or 1, named, unit.event_name or ""))
            (collected.errors if is_error else collected.warnings).append(_unit(unit))
        schema = self.validator.schema_id  # of the events no entry holds, and of the stream as a whole
        entries = self.profile.stream
        for number, collected in sorted(found.items()):
            if collected.errors or collected.warnings or self.keep_valid:
                held_to = entries.for_event(collected.name or "")  # the entry its event was validated against
                judged = collected.report(held_to.schema_id if held_to is not None else schema)
                record = RecordResult(number, collected.line, judged, collected.label, event_name=collected.name)
                result.records.append(record)
        if whole.errors or whole.warnings:
            whole.line = min((unit.line for unit in (*whole.errors, *whole.warnings) if unit.line), default=1)
            result.records.append(RecordResult(0, whole.line, whole.report(schema), whole.label))
        return result


@dataclass
class _Collected:
    """What one event (or the stream as a whole) is blamed for, gathered from the stream report."""

    line: int
    label: str
    name: str | None = None  # the event's; None for the stream as a whole
    errors: list[OutputUnit] = field(default_factory=list)
    warnings: list[OutputUnit] = field(default_factory=list)

    def report(self, schema: str) -> Report:
        return Report(not self.errors, schema, tuple(self.errors), tuple(self.warnings))


def _unit(unit: StreamUnit) -> OutputUnit:
    """A stream's error or warning as a report unit of the record of the event it concerns: its message as every
    surface gives it; the formats that quote it say the event first (`quoted`)."""
    return OutputUnit(
        unit.instance_location or "",
        unit.keyword_location or "",
        unit.error,
        code=unit.code,
        line=unit.line,
        column=unit.column,
        suggestion=unit.suggestion,
    )


def _as_errors(report: Report) -> Report:
    return Report(False, report.schema, report.errors + report.warnings)
