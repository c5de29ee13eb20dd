"""One record of an input: a run step (or whatever stands in its place) as read, and where it came from."""

from __future__ import annotations

import msgspec


class Record(msgspec.Struct, frozen=True, gc=False):
    """One payload: its 0-based `index` among the records, its 1-based `line` (and character `column`) in the
    input, its raw bytes exactly as read, and the line ending that followed it in JSON Lines (b"" for none)."""

    index: int
    line: int
    raw: bytes
    column: int = 1
    ending: bytes = b""
