"""The Python API's half that reads: a payload or a whole document read as the command line reads it, its reports
placed at their line and column as the command line and the HTTP API place them (`placed`)."""

from __future__ import annotations

from typing import BinaryIO

import msgspec

from ..core.api import get_validator
from ..core.delta_models import RunStepDelta
from ..core.errors import RunStepDecodeError
from ..core.models import RunStep
from ..core.profile import Profile, selected
from ..core.report import Deferred, OutputUnit, Report
from ..core.schemas import AUTO, DEFAULT_DIALECT
from ..core.validator import Payload
from .documents import iter_document_records
from .positions import placed
from .reading import as_stream
from .records import Record, record_report


class ItemReport(msgspec.Struct, frozen=True, gc=False):
    """One item of a document: its 0-based `index`, where it starts (1-based `line`, character `column`) and its
    `report`, whose errors and warnings carry their line and column in the whole document."""

    index: int
    line: int
    column: int
    report: Report

    @property
    def valid(self) -> bool:
        return self.report.valid


def validate(
    data: Payload,
    schema: str = AUTO,
    *,
    redact: bool = False,
    strict: bool = False,
    dialect: str = DEFAULT_DIALECT,
    profile: Profile | None = None,
) -> Report:
    """Validate one payload (JSON bytes or text, or a parsed value): by default against the entry its `object`
    names (a run step, a run-step delta) in `dialect` (`openai`, or `azure` for Azure AI Agents), its strict
    variant with `strict`, or against the entry named; or as `profile` says, instead of the other arguments.
    Given as bytes or text, its errors and warnings say where they are (`line`, `column`), as the command line's
    do.

    >>> validate(b'{"object": "thread.run.step"}').valid
    False
    """
    if profile is None:  # the usual call: the shipped profile's validator, found by the arguments in one lookup
        report = get_validator(schema, redact, strict, dialect).validate(data)
    else:
        report = selected(profile, schema, strict, dialect, redact).validate(data)
    return _positioned(report, data)


def decode(
    data: Payload,
    schema: str = AUTO,
    *,
    strict: bool = False,
    dialect: str = DEFAULT_DIALECT,
    profile: Profile | None = None,
) -> RunStep | RunStepDelta:
    """Decode and validate one payload with the same choice of schema as `validate()`: a typed run step
    (`RunStep`) or delta (`RunStepDelta`), as its `object` says (or as the entry named types it); raises
    `RunStepDecodeError` with the report `validate()` gives when it is invalid or cannot be typed."""
    try:
        return selected(profile, schema, strict, dialect).decode(data)
    except RunStepDecodeError as exc:
        raise RunStepDecodeError(_positioned(exc.report, data)) from None


def validate_document(
    data: bytes | str | BinaryIO,
    schema: str = AUTO,
    *,
    redact: bool = False,
    strict: bool = False,
    dialect: str = DEFAULT_DIALECT,
    profile: Profile | None = None,
) -> list[ItemReport]:
    """Validate a JSON document as the command line reads a `.json` file: a run step or a delta (one item), an
    array of them, or a list response (`{"object": "list", "data": [...]}`, as `GET .../steps` answers), each item
    against the entry `validate()` would pick and within the profile's time limit. One report per item, in order.
    A document that breaks off (cut short, a comma missing) ends with an invalid item holding the rest of it. A
    `profile` gives the whole selection instead of the other arguments. `data` is the document's bytes, text, or
    a binary file, read a block at a time."""
    chosen = selected(profile, schema, strict, dialect, redact)
    stream = as_stream(data.encode() if isinstance(data, str) else data)
    items = []
    for record in iter_document_records(stream):
        with chosen.limited():  # each item is a payload of its own, as validate() takes it
            report = record_report(chosen.validator, record)
        items.append(ItemReport(record.index, record.line, record.column, _placed(report, record)))
    return items


_Text = Record | bytes | bytearray | memoryview  # a record, or a payload's text alone (a record at line 1)


def _positioned(report: Report, data: Payload) -> Report:
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogatepass")
    elif not isinstance(data, bytes | bytearray | memoryview):
        return report  # a parsed value has no text to point into
    return _placed(report, data)


def _placed(report: Report, where: _Text) -> Report:
    """`placed`, keeping a valid report's warnings lazy: a caller that asks only for the verdict does not pay for
    them (nor for placing them, nor for a copy of the payload)."""
    pending = report.pending_warnings
    if report.valid and isinstance(pending, Deferred):
        report.pending_warnings = Deferred(_placed_warnings, (pending, where))
        return report
    return placed(report, _record(where))


def _placed_warnings(subject: tuple[Deferred, _Text]) -> tuple[OutputUnit, ...]:
    """A valid report's warnings, computed and placed the first time they are read. The report is the caller's
    own (the validator builds one per call): it is given its placed warnings in place of the pending ones."""
    pending, where = subject
    warnings = pending.check(pending.subject)
    if not warnings:
        return warnings
    return placed(Report(True, "", (), warnings), _record(where)).warnings


def _record(where: _Text) -> Record:
    return where if isinstance(where, Record) else Record(0, 1, bytes(where))
