"""Streaming the records of a JSON document: the items of an array, or of an API list response's `data`, one at a
time with the line and column where each starts; any other document is one record.

Memory is bounded by the largest record, not the document: a 10 GB export is read a block at a time. Records are
found without parsing them (strings skipped, brackets counted); each keeps its bytes exactly as written, and what
they say is the validator's business. Where the document's structure breaks (it is cut short, a comma is missing)
reading stops: the rest of the document is one last record, `unreadable`, saying why and where.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import Any, BinaryIO, Final

import msgspec

from ..core.errors import InvalidJSONError
from ..core.parsing import ANY_VALUE, NOT_JSON, diagnose, parse
from .records import Record, RecordTooLarge, Unreadable

BLOCK_BYTES: Final = 1 << 20
PARSE_ATTEMPTS: Final = 8
# msgspec (checked with 0.22.0) has no public way to decode a prefix of its input, nor to say where an error is but
# in its message's wording: `_parsed_end` reads these two. tests/test_private_names.py fails loudly if the wording
# changes; should it change, `_parsed_end` returns None and values are found by counting brackets (slower, as right).
TRAILING_DATA: Final = re.compile(r"trailing characters \(byte (\d+)\)")
TRUNCATED: Final = "Input data was truncated"
_WHITESPACE: Final = b" \t\r\n"
_STRUCTURE = re.compile(rb'[\[\]{}"]')
_BACKSLASH = ord("\\")
_SPACE = re.compile(rb"[ \t\r\n]*")
_DELIMITERS: Final = b" \t\r\n,]}"
_DELIMITER = re.compile(rb"[ \t\r\n,\]}]")
# Valid JSON around a piece of a document that leaves a parser where the document's own text does: inside an
# array where an item must start, after an item, after a list response's `data` (a space so that nothing that
# follows joins the value), and a value for the `data` that closes the members before it.
_IN_ARRAY: Final = b"[0,"
_AFTER_ITEM: Final = b"[0 "
_AFTER_VALUE: Final = b"[] "  # after the document's one value
_AFTER_DATA: Final = b'{"data":0 '
_DATA_THEN_CLOSE: Final = b"0}"
# A scalar item complete as written: a number, a constant, a string without escapes or control characters. What is
# inside it (a number's range, a string's bytes) is its record's to report, as a payload of it would be told.
_PLAIN_SCALAR: Final = re.compile(
    rb'-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null|"[^"\\\x00-\x1f]*"'
)
_FIRST_NON_ASCII: Final = 0x80


class _Declared(msgspec.Struct):
    """The kind an object declares in its "object" member (None where it has none); its other members skipped."""

    object: Any = None


_DECLARED: Final = msgspec.json.Decoder(_Declared)
# How far the reader looks ahead for the "object" member of an object whose data comes first: far enough for any run
# step with a data member of its own (kilobytes), and a page dumped by an SDK (a hundred steps); an object longer than
# this (and a block more, read whole) is read as a list response, its memory that of its largest item plus this.
LOOK_AHEAD_BYTES: Final = BLOCK_BYTES


def _characters(data: bytes | bytearray) -> int:
    return len(data.decode("utf-8", errors="replace"))


def value_end_from_message(data: bytes | bytearray, message: str, at: int = 0) -> int | None:
    """Where the value that starts at `at` ends, when msgspec's error `message` on decoding `data[at:]` says where
    trailing data starts after it; else None."""
    trailing = TRAILING_DATA.search(message)
    if trailing is None:
        return None
    before = int(trailing.group(1)) - 1  # the offset of the first byte after the value and its spaces
    return at + len(bytes(data[at : at + before]).rstrip(_WHITESPACE))


class _Text:
    """The document's bytes from `base` on, read a block at a time, with the line and column of `base`."""

    def __init__(self, stream: BinaryIO, block_bytes: int, max_record_bytes: int | None = None) -> None:
        self._stream = stream
        self._block_bytes = block_bytes
        self.max_record_bytes = max_record_bytes
        self.data = bytearray()  # grows in place: a long record is not copied once per block
        self.base = 0  # offset in the document of data[0]
        self.line = 1  # line of data[0]
        self.column = 0  # characters before data[0] on its line
        self.eof = False
        self.pending: int | None = None  # where the record being read starts (relative to data), while it is read
        self.well_formed = False  # whether the value value_end last measured is known to be well-formed

    def more(self) -> bool:
        if self.eof:
            return False
        # What is held is the record being read (and a little around it): past the limit, it is too large.
        if self.max_record_bytes is not None and len(self.data) > self.max_record_bytes:
            start = _SPACE.match(self.data).end()  # type: ignore[union-attr]  # it matches the empty string
            raise RecordTooLarge(self.position(start)[0], self.max_record_bytes)
        piece = self._stream.read(self._block_bytes)
        if not piece:
            self.eof = True
            return False
        self.data += piece
        return True

    def byte(self, at: int) -> bytes:
        """The byte at `at` (relative to data), reading on when needed; b"" at the end."""
        while at >= len(self.data) and self.more():
            pass
        return bytes(self.data[at : at + 1])

    def skip_space(self, at: int) -> int:
        while True:
            end = _SPACE.match(self.data, at)
            at = end.end() if end else at
            if at < len(self.data) or not self.more():
                return at

    def position(self, at: int) -> tuple[int, int]:
        """1-based line and character column of `at` (relative to data)."""
        newlines = self.data.count(b"\n", 0, at)
        if newlines:
            prefix = self.data[self.data.rfind(b"\n", 0, at) + 1 : at]
            return self.line + newlines, _characters(prefix) + 1
        return self.line, self.column + _characters(self.data[:at]) + 1

    def drop(self, at: int) -> None:
        """Forget data before `at`, keeping count of lines and columns."""
        dropped = self.data[:at]
        newlines = dropped.count(b"\n")
        if newlines:
            self.line += newlines
            self.column = _characters(dropped[dropped.rfind(b"\n") + 1 :])
        else:
            self.column += _characters(dropped)
        del self.data[:at]
        self.base += at

    def error(self, at: int, reason: str) -> InvalidJSONError:
        line, column = self.position(at)
        return InvalidJSONError(reason, line, column, self.base + at)

    def diagnosed(self, at: int, *, before: bytes = b"", decided_by_byte: bool = False) -> InvalidJSONError:
        """Why the document's text from `at` to its end (read on) is not JSON, and where, as a single payload of the
        whole document is told: the diagnosis of that text after `before`, valid JSON that leaves a parser where
        the text before `at` (read, and perhaps dropped) left it. Read as a payload, the whole text fails there.
        `decided_by_byte`: the byte at `at` (a delimiter, or a value where none may be) decides when it is ASCII;
        then nothing after it is read, nor copied."""
        alone = decided_by_byte and self.data[at] < _FIRST_NON_ASCII
        if not alone:
            while self.more():
                pass
        piece = bytearray(before)
        piece += memoryview(self.data)[at : at + 1 if alone else None]
        found = diagnose(bytes(piece), EOFError("the document ends inside a value"))
        return self._placed(found, piece, at, len(before))

    def check_members(self, at: int, end: int, *, before: bytes = b"", after: bytes = b"") -> None:
        """Raise where a list response's members from `at` to `end` (text in no record, and so in no record's
        report), between `before` and `after`, are not the JSON a single payload's parse takes."""
        piece = before + bytes(self.data[at:end]) + after
        try:
            parse(piece)
        except InvalidJSONError as exc:
            raise self._placed(exc, piece, at, len(before)) from None

    def keep_item_or_break(self, at: int, end: int) -> None:
        """Raise where the document breaks, unless the array item from `at` to `end`, which value_end did not know
        for well-formed, is, or, read alone, is told what the document is told there: then it is a record of its
        own, invalid (a malformed object, `tru`), and reading goes on. `0{` is not (alone "extra data", in the array
        "expecting ',' delimiter"), nor an item whose quotes counting brackets pairs otherwise than a parser."""
        try:
            with memoryview(self.data) as view, view[at:end] as item:
                ANY_VALUE.decode(item)  # an escaped string, a value too large to be parsed from its start, ...
        except NOT_JSON as exc:
            piece = bytes(self.data[at:end])
            alone, in_place = diagnose(piece, exc), _IN_ARRAY + piece + b"]"
            told = self._placed(diagnose(in_place, exc), in_place, at, len(_IN_ARRAY))
            if (told.reason, told.offset) != (alone.reason, self._placed(alone, piece, at, 0).offset):
                raise self.diagnosed(at, before=_IN_ARRAY) from None

    def _placed(self, found: InvalidJSONError, piece: bytes | bytearray, at: int, before: int) -> InvalidJSONError:
        """A diagnosis of `piece` (`before` bytes of context, then the text from `at`) placed in the document; never
        before `at` (a diagnosis that names no place names the piece's start)."""
        offset = found.offset  # in characters, as many bytes as they encode to: the text before it is valid UTF-8
        if not piece.isascii():
            offset = len(piece.decode("utf-8", "replace")[:offset].encode())
        return self.error(at + max(0, offset - before), found.reason)

    def _parsed_end(self, at: int) -> int | None:
        """The end of a well-formed value, found by msgspec: parsing from `at` on, it stops at the first value's
        end and names the byte where trailing data starts. Counting brackets in Python costs ten times as much.
        None for a malformed value, or one that spans more blocks than are worth parsing again (the caller counts
        brackets instead)."""
        for _ in range(PARSE_ATTEMPTS):
            with memoryview(self.data) as view, view[at:] as rest:
                try:
                    ANY_VALUE.decode(rest)
                except msgspec.DecodeError as exc:
                    message = str(exc)
                except NOT_JSON:
                    return None
                else:
                    return at + len(rest.tobytes().rstrip(_WHITESPACE))
            end = value_end_from_message(self.data, message, at)
            if end is not None:
                return end
            if not message.startswith(TRUNCATED) or not self.more():
                return None
        return None

    def declared_kind(self, opener: int, written: bytes | None) -> Any:
        """What the object at `opener`, the document's one value, declares it is: its "object" member's value as
        `written` before data, or, where it comes after (an SDK's page dumped in the order its fields are declared,
        keys sorted), as the object read whole declares when it ends within LOOK_AHEAD_BYTES (and the record limit).
        None where it declares nothing, is longer, or is no JSON (where it breaks is for reading on to find)."""
        if written is not None:
            try:
                return msgspec.json.decode(written)
            except NOT_JSON:
                return None
        window = min(LOOK_AHEAD_BYTES, self.max_record_bytes or LOOK_AHEAD_BYTES)
        while len(self.data) <= window and self.more():
            pass
        if not self.eof:
            return None
        end = self._parsed_end(opener)  # the object alone: what follows it is for reading on to find
        if end is None:
            return None
        with memoryview(self.data) as view, view[opener:end] as whole:
            return _DECLARED.decode(whole).object

    def string_end(self, at: int, diagnose_from: int | None = None, before: bytes = b"") -> int:
        """Where the string whose `"` is at `at` ends. The search resumes where it stopped, so a long string is
        read once, however many blocks it spans. Where the input ends inside it: `diagnosed` from `diagnose_from`
        (the start of what holds it, `at` if None) after `before` (the context there)."""
        position = at + 1
        while True:
            quote = self.data.find(b'"', position)
            if quote == -1:
                position = len(self.data)
                if not self.more():
                    raise self.diagnosed(at if diagnose_from is None else diagnose_from, before=before)
                continue
            backslashes = 0
            while self.data[quote - 1 - backslashes] == _BACKSLASH:
                backslashes += 1
            if backslashes % 2 == 0:  # an even run escapes itself, not the quote
                return quote + 1
            position = quote + 1

    def value_end(self, at: int, diagnose_from: int | None = None, before: bytes = b"") -> int:
        """Where the JSON value starting at `at` ends (relative to data): strings skipped, brackets counted. Where
        the input ends inside it: `diagnosed` from `diagnose_from` (the start of what holds it, `at` if None) after
        `before` (the context there). It sets `well_formed`: whether it is known to be well-formed (msgspec parsed it
        whole, or it is a plain number, constant or string)."""
        start = at if diagnose_from is None else diagnose_from
        self.well_formed = False
        opener = self.byte(at)
        if opener == b'"':
            closed = self.string_end(at, start, before)
            self.well_formed = _PLAIN_SCALAR.fullmatch(self.data, at, closed) is not None
            return closed
        if opener in (b"{", b"["):
            end = self._parsed_end(at)
            if end is not None:
                self.well_formed = True
                return end
        if opener not in (b"[", b"{"):
            plain = _PLAIN_SCALAR.match(self.data, at)  # the usual number or constant: well-formed as it is
            if plain is not None and plain.end() < len(self.data) and self.data[plain.end()] in _DELIMITERS:
                self.well_formed = True
                return plain.end()
            position = at
            while True:  # a scalar: up to the next delimiter, the search resuming where it stopped
                stop = _DELIMITER.search(self.data, position)
                if stop:
                    return stop.start()
                position = len(self.data)
                if not self.more():
                    return position
        depth, position = 0, at
        while True:
            found = _STRUCTURE.search(self.data, position)
            if found is None:
                position = len(self.data)
                if not self.more():
                    raise self.diagnosed(start, before=before)
                continue
            symbol = self.data[found.start()]
            if symbol == ord('"'):
                position = self.string_end(found.start(), start, before)
                continue
            position = found.end()
            depth += 1 if symbol in b"[{" else -1
            if depth == 0:
                return position


def iter_document_records(
    stream: BinaryIO, block_bytes: int = BLOCK_BYTES, max_record_bytes: int | None = None
) -> Iterator[Record]:
    """The records of one JSON document read from `stream`; where its structure breaks, the rest of it as one
    `unreadable` record, and nothing after. `RecordTooLarge` past `max_record_bytes`; what is inside a record is
    left to the validator."""
    text = _Text(stream, block_bytes, max_record_bytes)
    count = 0
    try:
        for record in _records(text):
            yield record
            count += 1
    except InvalidJSONError as exc:
        yield _unreadable(text, count, exc)


def _unreadable(text: _Text, index: int, exc: InvalidJSONError) -> Record:
    """The rest of a document whose structure broke, from the start of the record being read (or from where it
    broke, between records): read to its end, within the record limit, so that nothing of it is lost."""
    start = text.pending if text.pending is not None else exc.offset - text.base
    text.drop(start)
    while text.more():
        pass
    line, column = text.line, text.column + 1
    within = exc.column - column + 1 if exc.line == line else exc.column
    problem = Unreadable(exc.reason, exc.line - line + 1, within)
    return Record(index, line, bytes(text.data), column=column, unreadable=problem)


def _records(text: _Text) -> Iterator[Record]:
    start = text.skip_space(0)
    opener = text.byte(start)
    if not opener:
        yield _record(text, 0, start, start)  # empty: the validator says so
        return
    if opener == b"[":
        close = yield from _items(text, start)
        _expect_end(text, close + 1)
        return
    text.pending = start
    if opener == b"{":
        items = _list_response_items(text, start)
        if items is not None:
            text.pending = None
            yield from items
            return
    end = text.value_end(start)
    record = _record(text, 0, start, end if text.skip_space(end) >= len(text.data) else _rest(text))
    text.pending = None
    yield record


def _rest(text: _Text) -> int:
    while text.more():
        pass
    return len(text.data)  # trailing data: the whole text is the record, and the validator reports where


def _record(text: _Text, index: int, start: int, end: int) -> Record:
    line, column = text.position(start)
    if text.max_record_bytes is not None and end - start > text.max_record_bytes:
        raise RecordTooLarge(line, text.max_record_bytes)
    return Record(index, line, bytes(text.data[start:end]), column=column)


def _items(text: _Text, opener: int) -> Generator[Record, None, int]:
    """The items of the array whose `[` is at `opener`; the generator returns where its `]` is."""
    index = 0
    at = text.skip_space(opener + 1)
    if text.byte(at) == b"]":
        return at
    while True:
        first = text.byte(at)
        # The input ends where an item should start ([1,), or an item is missing ([1,,2], [1,]): one record holds
        # the rest, said as a single payload is told.
        if not first or first in b",]}:":
            raise text.diagnosed(at, before=_IN_ARRAY, decided_by_byte=bool(first))
        text.pending = at
        end = text.value_end(at, before=_IN_ARRAY)
        if end == len(text.data) and text.eof:  # a scalar the input ends in ([1, 2, tr): the array is not closed
            raise text.diagnosed(at, before=_IN_ARRAY)
        if not text.well_formed:
            text.keep_item_or_break(at, end)
        record = _record(text, index, at, end)
        text.pending = None
        yield record
        index += 1
        after = text.skip_space(end)
        separator = text.byte(after)
        if separator == b",":
            text.drop(after + 1)
            at = text.skip_space(0)
        elif separator == b"]":
            return after
        else:
            raise text.diagnosed(after, before=_AFTER_ITEM, decided_by_byte=bool(separator))


def _expect_end(text: _Text, at: int) -> None:
    rest = text.skip_space(at)
    if text.byte(rest):
        raise text.diagnosed(rest, before=_AFTER_VALUE, decided_by_byte=True)


def _list_response_items(text: _Text, opener: int) -> Iterator[Record] | None:
    """The items of a list response's `data` array, or None if this object is no list response (then the object
    is one record: everything read so far is still in `text`). A list response has a `data` array, and its
    "object" member says "list" or nothing: a run step with a `data` member of its own is one run step."""
    declared: bytes | None = None  # the "object" member's value as written, when it comes before data
    at = text.skip_space(opener + 1)
    while text.byte(at) == b'"':
        key_end = text.value_end(at, opener)  # cut short: told from the object's start, all of it still held
        key = bytes(text.data[at:key_end])
        colon = text.skip_space(key_end)
        if text.byte(colon) != b":":
            return None
        value = text.skip_space(colon + 1)
        if key == b'"data"' and text.byte(value) == b"[":
            if text.declared_kind(opener, declared) not in (None, "list"):
                return None
            text.check_members(opener, value, after=_DATA_THEN_CLOSE)  # the members before it, skipped above
            return _rest_of_list(text, value)
        end = text.value_end(value, opener)
        if key == b'"object"':
            declared = bytes(text.data[value:end])
        at = text.skip_space(end)
        if text.byte(at) != b",":
            return None
        at = text.skip_space(at + 1)
    return None


def _rest_of_list(text: _Text, opener: int) -> Generator[Record, None, None]:
    """The `data` items; then the list response's other members (a few ids and `has_more`), checked to its close."""
    at = yield from _items(text, opener)
    while text.more():
        pass
    text.pending = at + 1  # should they break, the record holding the rest holds them all, as written
    text.check_members(at + 1, len(text.data), before=_AFTER_DATA)
    text.pending = None
