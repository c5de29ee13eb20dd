"""One record of an input: a run step (or whatever stands in its place) as read, and where it came from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from ..core.errors import RunStepValidatorError, invalid_json
from ..core.report import INVALID_JSON, OutputUnit, Report

if TYPE_CHECKING:
    from ..core.api import PayloadValidator

# The longest record read by default (the command line's --max-record-bytes): a run step is kilobytes; 64 MiB leaves
# room for any real one (a 50 MB string is tested) and stops an endless line or a gzip bomb before memory does.
MAX_RECORD_BYTES: Final = 64 << 20


class Unreadable(msgspec.Struct, frozen=True, gc=False):
    """Why a document could not be read on (its structure breaks: cut short, a comma missing), and where, as a
    1-based line and character column within the record that holds the rest of it."""

    reason: str
    line: int = 1
    column: int = 1


class Record(msgspec.Struct, frozen=True, gc=False):
    """One payload: its 0-based `index` among the records, its 1-based `line` (and character `column`) in the
    input, its raw bytes exactly as read, and the line ending that followed it in JSON Lines (b"" for none).

    A record the reader could not read (`unreadable` says why) holds the rest of its document from where reading
    broke off: it is rejected like any invalid record, so that every surface accounts for it and names its line."""

    index: int
    line: int
    raw: bytes
    column: int = 1
    ending: bytes = b""
    unreadable: Unreadable | None = None


def record_report(validator: PayloadValidator, record: Record) -> Report:
    """The record's report: the validator's, or for a record the reader could not read, why not (positions within
    the record, as the validator gives them; `placed` puts them in the whole input)."""
    problem = record.unreadable
    if problem is None:
        return validator.validate(record.raw)
    error = invalid_json(problem.reason)
    unit = OutputUnit("", "", error, code=INVALID_JSON, line=problem.line, column=problem.column)
    return Report(False, validator.schema_id, (unit,))


class RecordTooLarge(RunStepValidatorError):
    """A record longer than the reader's limit: reading stops there, before memory grows with it. `line` is where
    the record starts; the caller names the input."""

    def __init__(self, line: int, limit: int) -> None:
        reason = f"a record longer than {limit:,} bytes (--max-record-bytes); reading stopped there"
        super().__init__(f"line {line}: {reason}")
        self.line, self.limit = line, limit
