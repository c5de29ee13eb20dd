"""Server-Sent Events framing, as the WHATWG rules read a stream: `event:`, `data:` (lines joined by newlines),
`id:`, `retry:`, comments, and CRLF, LF or CR line ends. An event ends at a blank line; a saved transcript's last
event often lacks its blank line and still counts. Transcripts written without blank lines between events (some
SDK fixtures) are read as the events they were meant to be, with a warning.

`validate_stream()` is the input layer's half of stream validation: it frames, the core checks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Final

from ..core.errors import LimitExceeded
from ..core.parsing import UTF8_BOM
from ..core.streams import Event, StreamChecker, StreamReport, Warning_
from .positions import value_offset

_LINE: Final = re.compile(rb"\r\n|\r|\n")
READ_BYTES: Final = 1 << 20


def _lines(source: bytes | BinaryIO | Iterable[bytes | str]) -> Iterator[bytes]:
    """The stream's lines without their ends, whatever the ends are and however the input is cut."""
    if isinstance(source, bytes | bytearray | memoryview):
        chunks: Iterable[bytes | str] = [bytes(source)]
    elif hasattr(source, "read"):
        chunks = iter(lambda: source.read(READ_BYTES), b"")
    else:
        chunks = source
    carry = b""
    first = True
    for chunk in chunks:
        data = carry + (chunk.encode() if isinstance(chunk, str) else chunk)
        if first:
            if len(data) < len(UTF8_BOM) and UTF8_BOM.startswith(data):
                carry = data
                continue
            data, first = data.removeprefix(UTF8_BOM), False
        held = b""
        if data.endswith(b"\r"):  # perhaps the first half of a CRLF cut between chunks: decided by the next one
            data, held = data[:-1], b"\r"
        pieces = _LINE.split(data)
        carry = pieces.pop() + held
        yield from pieces
    if carry:
        yield carry.removesuffix(b"\r")


def frame(source: bytes | BinaryIO | Iterable[bytes | str]) -> Iterator[Event | Warning_]:
    """The events of a stream, in order, each with its number and where it starts; warnings where the framing
    is off (events run together without a blank line)."""
    number = 0
    name: str | None = None
    data: list[bytes] = []
    event_id: str | None = None
    start = data_line = 0
    line_number = 0
    warned = False

    def event() -> Event:
        return Event(number, name or "message", b"\n".join(data) if data else None, event_id, start, data_line)

    for raw in _lines(source):
        line_number += 1
        if raw[:6] == b"data: ":  # the common line, first
            if not data:
                data_line = line_number
                if name is None:
                    start = line_number
            data.append(raw[6:])
            continue
        if not raw:
            if name is not None or data:
                number += 1
                yield event()
            name, data, event_id = None, [], None
            continue
        if raw.startswith(b":"):
            continue
        field, colon, value = raw.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if field == b"event":
            if name is not None and data:  # a new event before the blank line that should end the last one
                number += 1
                yield event()
                if not warned:
                    yield Warning_(number + 1, line_number, "events are not separated by a blank line", "framing")
                    warned = True
                data, event_id = [], None
            name = value.decode("utf-8", errors="replace")
            if not data:
                start = line_number
        elif field == b"data":
            if not data:
                data_line = line_number
                if name is None:
                    start = line_number
            data.append(value)
        elif field == b"id":
            event_id = value.decode("utf-8", errors="replace")
        # retry and unknown fields carry nothing to check
    if name is not None or data:
        number += 1
        yield event()


def _locate(data: bytes, location: str) -> int | None:
    """The offset of a value in an event's one-line data, in characters (None for multi-line data)."""
    text = data.decode("utf-8", errors="replace")
    return None if "\n" in text else value_offset(text, location)


def validate_stream(
    source: bytes | BinaryIO | Iterable[bytes | str],
    *,
    strict: bool = False,
    max_events: int | None = None,
    max_seconds: float | None = None,
    redact: bool = False,
) -> StreamReport:
    """Validate a Server-Sent Events transcript of a streamed run: `source` is its bytes, a binary file, or an
    iterable of lines or chunks. Every run-step event is validated against the entry its name implies and checked
    against it; deltas are accumulated per step and held to the step's final event. `LimitExceeded` past
    `max_events` events or `max_seconds` seconds; `redact` quotes no payload value in any message."""
    checker = StreamChecker(strict=strict, locate=_locate, redact=redact)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    for item in frame(source):
        if isinstance(item, Event):
            if max_events is not None and item.number > max_events:
                raise LimitExceeded("events", max_events, f"the stream has more than the limit of {max_events} events")
            if deadline is not None and not item.number % 256 and time.monotonic() > deadline:
                detail = f"validating took longer than the limit of {max_seconds:g} s after {item.number} events"
                raise LimitExceeded("seconds", max_seconds or 0, detail)
            checker.add(item)
        else:
            checker.warn(item)
    return checker.finish()
