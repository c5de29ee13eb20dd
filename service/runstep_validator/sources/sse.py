"""Server-Sent Events framing, as the WHATWG rules read a stream: `event:`, `data:` (lines joined by newlines),
`id:`, `retry:`, comments, and CRLF, LF or CR line ends. An event ends at a blank line. At the end of a transcript,
an event under way whose data is incomplete (the transcript was cut inside it) is never dispatched, as the WHATWG
rules say, and a warning says so; one whose data is complete (a saved transcript's last event often lacks its blank
line) still counts. Transcripts written without blank lines between events (some SDK fixtures) are read as the
events they were meant to be, with a warning.

`validate_stream()` is the input layer's half of stream validation: it frames, the core checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from typing import BinaryIO, Final

import msgspec

from ..core.deadline import check_time, over_time, time_limit
from ..core.errors import LimitExceeded, NotAnEventStream
from ..core.parsing import NOT_JSON, strip_bom
from ..core.profile import Profile, selected
from ..core.schemas import DEFAULT_DIALECT
from ..core.streams import DATA_COLUMN, KNOWN_EVENTS, Event, StreamChecker, StreamReport, Warning_
from .positions import value_offsets
from .reading import as_stream
from .records import RecordTooLarge

_LINE: Final = re.compile(rb"\r\n|\r|\n")
READ_BYTES: Final = 1 << 20


def _lines(stream: BinaryIO, max_line_bytes: int | None = None) -> Iterator[bytes]:
    """The stream's lines without their ends, whatever the ends are (CRLF, LF or CR, as the WHATWG rules have them;
    JSON Lines know only LF and CRLF) and however the input is cut. `RecordTooLarge` for a line longer than
    `max_line_bytes`, before reading on (an endless line, a gzip bomb)."""
    carry = b""
    number = 0  # lines yielded
    for chunk in iter(lambda: stream.read(READ_BYTES), b""):
        data = carry + chunk
        held = b""
        if data.endswith(b"\r"):  # perhaps the first half of a CRLF cut between chunks: decided by the next one
            data, held = data[:-1], b"\r"
        pieces = _LINE.split(data)
        carry = pieces.pop() + held
        number += len(pieces)
        if (
            max_line_bytes is not None
            and max(len(carry) - len(held), max(map(len, pieces), default=0)) > max_line_bytes
        ):
            too_long = next((at for at, piece in enumerate(pieces) if len(piece) > max_line_bytes), len(pieces))
            yield from pieces[:too_long]
            raise RecordTooLarge(number - len(pieces) + too_long + 1, max_line_bytes)
        yield from pieces
    if carry:
        yield carry.removesuffix(b"\r")


class _Framer:
    """The SSE state machine, fed one line at a time; it numbers events and lines across everything fed."""

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self.max_event_bytes = max_event_bytes  # of an event's data, all its lines: past it, RecordTooLarge
        self.data_bytes = 0
        self.number = 0
        self.line_number = 0
        self.name: str | None = None
        self.data: list[bytes] = []
        self.event_id: str | None = None
        self.start = self.data_line = 0
        self.data_column = DATA_COLUMN
        self.continued: list[tuple[int, int]] = []  # where each data line after the event's first starts
        self.warned = False

    def _event(self) -> Event:
        data = b"\n".join(self.data) if self.data else None
        where = (self.start, self.data_line, self.data_column, tuple(self.continued) if self.continued else ())
        return Event(self.number, self.name or "message", data, self.event_id, *where)

    def feed(self, raw: bytes) -> Iterator[Event | Warning_]:
        self.line_number += 1
        if raw[:6] == b"data: ":  # the common line, first
            self._data(raw[6:], DATA_COLUMN)
            return
        if not raw:
            yield from self.end()
            return
        if raw.startswith(b":"):
            return
        field, colon, value = raw.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if field == b"event":
            if self.name is not None and self.data:  # a new event before the blank line that should end the last
                self.number += 1
                yield self._event()
                if not self.warned:
                    message = "events are not separated by a blank line"
                    yield Warning_(self.number + 1, self.line_number, message, "framing")
                    self.warned = True
                self.data, self.event_id = [], None
            self.name = value.decode("utf-8", errors="replace")
            if not self.data:
                self.start = self.line_number
        elif field == b"data":
            self._data(value, len(raw) - len(value) + 1)
        elif field == b"id":
            self.event_id = value.decode("utf-8", errors="replace")
        # retry and unknown fields carry nothing to check

    def _data(self, value: bytes, column: int) -> None:
        """A data line's value, which starts at `column` of its line."""
        if not self.data:  # the first line: its length is bounded as every line's is
            self.data_line, self.data_column = self.line_number, column
            if self.continued:
                self.continued = []
            self.data_bytes = len(value)
            if self.name is None:
                self.start = self.line_number
        else:  # data across lines: its length, the newlines that join them included, is bounded too
            self.continued.append((self.line_number, column))
            self.data_bytes += 1 + len(value)
            if self.max_event_bytes is not None and self.data_bytes > self.max_event_bytes:
                raise RecordTooLarge(self.start, self.max_event_bytes)
        self.data.append(value)

    def end(self) -> Iterator[Event]:
        """Dispatch the event under way, if any (a blank line, or the end of the stream)."""
        if self.name is not None or self.data:
            self.number += 1
            yield self._event()
        self.name, self.data, self.event_id = None, [], None

    def finish(self) -> Iterator[Event | Warning_]:
        """The end of the transcript: the event under way has no blank line after it. Dispatched when its data is
        whole; when the transcript was cut inside its data, not dispatched (WHATWG) and warned about."""
        if self.data and not _whole(self.data):
            name = f" ({self.name})" if self.name in KNOWN_EVENTS else ""  # another name is the sender's: not quoted
            message = f"the stream ends inside event {self.number + 1}{name}, which starts at line {self.start}: it "
            message += "was cut, so that event is not checked"
            yield Warning_(self.number + 1, self.start, message, "cut")
            self.name, self.data, self.event_id = None, [], None
            return
        yield from self.end()

    def block(self, block: bytes) -> Iterator[Event | Warning_]:
        """One blank-line-separated block of an LF-only transcript, and the blank line after it. The common
        block, `event: NAME` then one `data: ...` line, is read without going line by line."""
        if block[:7] == b"event: " and self.name is None and not self.data:
            head, newline, tail = block.partition(b"\n")
            if newline and tail[:6] == b"data: " and b"\n" not in tail:
                self.number += 1
                line = self.line_number + 1
                self.line_number += 3
                yield Event(self.number, head[7:].decode("utf-8", errors="replace"), tail[6:], None, line, line + 1)
                return
        for raw in block.split(b"\n"):
            yield from self.feed(raw)
        yield from self.feed(b"")


def frame(
    source: bytes | BinaryIO | Iterable[bytes | str], max_record_bytes: int | None = None
) -> Iterator[Event | Warning_]:
    """The events of a stream, in order, each with its number and where it starts; warnings where the framing
    is off (events run together without a blank line). `RecordTooLarge` for a line, or an event's data, longer than
    `max_record_bytes`, before reading on."""
    framer = _Framer(max_record_bytes)
    if isinstance(source, bytes | bytearray | memoryview):
        whole = strip_bom(bytes(source))
        # LF line ends only, the usual transcript, and no line can pass the record limit: split into events in C first
        if b"\r" not in whole and (max_record_bytes is None or len(whole) <= max_record_bytes):
            *blocks, last = whole.split(b"\n\n")
            for block in blocks:
                yield from framer.block(block)
            for raw in last.removesuffix(b"\n").split(b"\n") if last else ():  # no blank line after this one
                yield from framer.feed(raw)
            yield from framer.finish()
            return
    for raw in _lines(as_stream(source), max_record_bytes):
        yield from framer.feed(raw)
    yield from framer.finish()


def _whole(data: list[bytes]) -> bool:
    """Whether an event's data lines make a whole value: JSON, or the done event's [DONE]."""
    joined = b"\n".join(data)
    if joined == b"[DONE]":
        return True
    try:
        msgspec.json.decode(joined)
    except NOT_JSON:
        return False
    return True


def _locate(data: bytes, locations: Sequence[str]) -> list[int] | None:
    """The offsets of values in an event's data, in characters from its start (its lines joined by newlines)."""
    return value_offsets(data.decode("utf-8", errors="replace"), locations)


def _holds_no_event(report: StreamReport) -> bool:
    """Whether what was read as a transcript is none: no event in it (one cut inside its only event still held one,
    which its report says)."""
    return not report.events and not any(unit.code == "cut" for unit in report.stream_warnings)


def validate_stream(
    source: bytes | BinaryIO | Iterable[bytes | str],
    *,
    strict: bool = False,
    max_events: int | None = None,
    max_seconds: float | None = None,
    redact: bool = False,
    dialect: str = DEFAULT_DIALECT,
    profile: Profile | None = None,
    max_record_bytes: int | None = None,
) -> StreamReport:
    """Validate a Server-Sent Events transcript of a streamed run: `source` is its bytes, a binary file, or an
    iterable of lines or chunks. Every run-step event is validated against the entry its name implies and checked
    against it; deltas are accumulated per step and held to the step's final event. `LimitExceeded` past
    `max_events` events or `max_seconds` seconds; `NotAnEventStream` when it holds no event at all (as the stream
    route and the command line refuse it); `redact` quotes no payload value in any message. A `profile` gives the
    whole selection instead (its schema set, depth limit and `max_seconds` too). `RecordTooLarge` for a line or an
    event's data longer than `max_record_bytes`, before reading on (the command line's --max-record-bytes)."""
    if profile is not None:
        if max_seconds is not None:
            raise TypeError("give max_seconds in the profile")
        max_seconds = profile.max_seconds
    checker = StreamChecker(selected(profile, strict=strict, dialect=dialect, redact=redact), locate=_locate)
    with time_limit(max_seconds) if max_seconds is not None else nullcontext():
        for item in frame(source, max_record_bytes):
            if isinstance(item, Event):
                if max_events is not None and item.number > max_events:
                    detail = f"the stream has more than the limit of {max_events} events"
                    raise LimitExceeded("events", max_events, detail)
                try:
                    check_time()
                except LimitExceeded as exc:  # say how far it got
                    raise over_time(exc.limit, f"{item.number} events") from None
                checker.add(item)
            else:
                checker.warn(item)
    report = checker.finish()
    if _holds_no_event(report):
        raise NotAnEventStream
    return report
