"""One record of an input: a run step (or whatever stands in its place) as read, and where it came from."""

from __future__ import annotations

import msgspec

from ..core.errors import RunStepValidatorError


class Record(msgspec.Struct, frozen=True, gc=False):
    """One payload: its 0-based `index` among the records, its 1-based `line` (and character `column`) in the
    input, its raw bytes exactly as read, and the line ending that followed it in JSON Lines (b"" for none)."""

    index: int
    line: int
    raw: bytes
    column: int = 1
    ending: bytes = b""


class RecordTooLarge(RunStepValidatorError):
    """A record longer than the reader's limit: reading stops there, before memory grows with it. `line` is where
    the record starts; the caller names the input."""

    def __init__(self, line: int, limit: int) -> None:
        reason = f"a record longer than {limit:,} bytes (--max-record-bytes); reading stopped there"
        super().__init__(f"line {line}: {reason}")
        self.line, self.limit = line, limit
