"""Where JSON Pointers' values sit in a JSON text, as offsets: every pointer of a record found in one pass.

Used only when reporting errors, so valid input never pays for it. The pointers are merged into a tree, and the
text is walked once along it: values off the tree are skipped with the standard library's C scanner, so each
character is read once however many errors a record has (a record with ten thousand errors is placed in the time
of one). For duplicate keys the last one counts, as in parsing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import suppress
from itertools import accumulate
from json.scanner import make_scanner
from typing import Any, cast

import msgspec

from ..core.messages import tokens
from ..core.parsing import Lines, strip_bom
from ..core.report import INVALID_JSON, OutputUnit, Report
from .records import Record

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Each step of the walk is one match: a member's key (without escapes, the usual kind) up to its value, or what
# follows a value up to the next one.
_PLAIN_MEMBER = re.compile(r'[ \t\n\r]*"([^"\\]*)"[ \t\n\r]*:[ \t\n\r]*')
_AFTER_VALUE = re.compile(r"[ \t\n\r]*([,}])[ \t\n\r]*")
_AFTER_ITEM = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
_CLOSE_OBJECT = re.compile(r"[ \t\n\r]*}")
_CLOSE_ARRAY = re.compile(r"[ \t\n\r]*]")
_PLAIN_NAME = re.compile(r'[^"\\\x00-\x1f]*')  # a member name written the same in any JSON text
_POSITION = re.compile(r" at line \d+, column \d+$")
# The standard library's C scanner (json.scanner.make_scanner, in that module's __all__ though not in the
# documentation; checked on CPython 3.11-3.13), called as `JSONDecoder.raw_decode` calls it but without that
# method's Python wrapper, a third of the cost of skipping a short value. StopIteration where the text is not JSON;
# test_positions fails loudly if it changes.
_scan = make_scanner(cast(Any, json.JSONDecoder()))


class _Step:
    """One token of one or more pointers: the steps that follow it, and the offset of its value once found."""

    __slots__ = ("items", "key", "members", "offset")

    def __init__(self, key: str | None) -> None:
        self.key = key  # the member name it stands for (None for the root)
        self.members: dict[str, _Step] = {}
        self.items: dict[int, _Step] | None = None  # the members whose token is an array index, made when needed
        self.offset: int | None = None

    def forget(self) -> int:
        """A later duplicate key replaces this value: nothing found inside the earlier one counts. How many
        offsets were forgotten."""
        forgotten = self.offset is not None
        self.offset = None
        return forgotten + sum(step.forget() for step in self.members.values())

    def steps(self) -> Iterator[_Step]:
        yield self
        for step in self.members.values():
            yield from step.steps()


class _Found(Exception):
    """Every pointer's value is found and nothing later in the text can replace one: the rest need not be read."""


def _skip_space(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


class _Walk:
    """One read of a text along the tree of pointers."""

    __slots__ = ("missing", "names", "text")

    def __init__(self, text: str, root: _Step) -> None:
        self.text = text
        steps = list(root.steps())
        self.missing = len(steps)  # offsets not yet found
        # The member names on the tree, as a later duplicate would be written (None: one that an escape must spell).
        self.names = [
            f'"{step.key}"' if _PLAIN_NAME.fullmatch(step.key) else None for step in steps if step.key is not None
        ]

    def value(self, position: int, step: _Step) -> int:
        """Record where the value at `position` and the values of `step`'s pointers inside it start; return the
        offset just past the value."""
        text = self.text
        if step.offset is not None:
            self.missing += step.forget()
        step.offset = position
        self.missing -= 1
        if not self.missing and self._final(position):
            raise _Found
        opener = text[position] if step.members else ""
        if opener == "{":
            members = step.members
            closing = _CLOSE_OBJECT.match(text, position + 1)
            if closing:
                return closing.end()
            position += 1
            while True:
                member = _PLAIN_MEMBER.match(text, position)
                if member:
                    key, position = member.group(1), member.end()
                else:  # a key with escapes: the decoder reads it
                    key, position = _scan(text, _skip_space(text, position))
                    position = _skip_space(text, _skip_space(text, position) + 1)
                inner = members.get(key)
                position = self.value(position, inner) if inner else _scan(text, position)[1]
                after = _AFTER_VALUE.match(text, position)
                if after is None:
                    raise ValueError("not JSON")
                position = after.end()
                if after.group(1) != ",":
                    return position
        if opener == "[":
            if step.items is None:
                step.items = {int(token): inner for token, inner in step.members.items() if token.isdigit()}
            items = step.items
            closing = _CLOSE_ARRAY.match(text, position + 1)
            if closing:
                return closing.end()
            position = _skip_space(text, position + 1)
            index = 0
            while True:
                inner = items.get(index)
                position = self.value(position, inner) if inner else _scan(text, position)[1]
                after = _AFTER_ITEM.match(text, position)
                if after is None:
                    raise ValueError("not JSON")
                position = after.end()
                if after.group(1) != ",":
                    return position
                index += 1
        return _scan(text, position)[1]

    def _final(self, position: int) -> bool:
        """Whether no later member can be a duplicate of one found (the last duplicate is the one that counts):
        none of their names occurs again as written, nor an escape that could spell one otherwise."""
        text = self.text
        if text.find("\\u", position) >= 0 or text.find("\\/", position) >= 0:
            return False
        return all(name is not None and text.find(name, position) < 0 for name in self.names)


class _Unusual(Exception):
    """A text the measured walk does not take (an escaped or repeated member name, a value that is not JSON): the
    character walk places it."""


# The measured walk, over ASCII bytes: msgspec splits each container on the path into its members' raw texts, at
# the speed of parsing, and a member's length leads to the next one, so no value off the path is read in Python,
# however large. A member is taken only where its name, as written, is the one msgspec read, in order: an escape or
# a repeated name (whose earlier value msgspec drops) is _Unusual.
#
# A container written compactly (JSON Lines as the APIs and the SDKs write them) is not even stepped through: its
# length is that of its members' names and values plus one quote pair, colon and comma each, exactly when it holds no
# whitespace, no escaped name and no repeated name (each of those only adds bytes), and then every member's place is
# a sum of lengths.
_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_SPACE = re.compile(rb"[ \t\n\r]*")
_NAME = re.compile(rb'[ \t\n\r]*"([^"\\]*)"[ \t\n\r]*:[ \t\n\r]*')
_NEXT_MEMBER = re.compile(rb"[ \t\n\r]*([,}])")
_NEXT_ITEM = re.compile(rb"[ \t\n\r]*([,\]])")
_OPEN_OBJECT, _OPEN_ARRAY = ord("{"), ord("[")


def _measure(data: bytes, view: memoryview, start: int, end: int, step: _Step) -> None:
    """Set the offsets of `step`'s value, at `start` (ending at `end`), and of its pointers' values inside it."""
    step.offset = start
    wanted = step.members
    if not wanted:
        return
    opener = data[start]
    if opener == _OPEN_OBJECT:
        members = _MEMBERS.decode(view[start:end])
        names = list(members)
        values = list(members.values())
        # Joined, the names and values are measured in C: a length per member costs more than copying them.
        if end - start == 1 + len("".join(names)) + len(b"".join(values)) + 4 * len(names) or not names:
            # Many wanted names (an object with an error in every member): an index, not a search per name.
            numbers = {name: number for number, name in enumerate(names)} if len(wanted) > 8 else None
            for name, inner in wanted.items():
                raw = members.get(name)
                if raw is not None:
                    number = names.index(name) if numbers is None else numbers[name]
                    before = len("".join(names[:number])) + len(b"".join(values[:number]))
                    value = start + 4 * number + len(name) + 4 + before
                    _measure(data, view, value, value + len(raw), inner)
            return
        position, last = start + 1, len(members) - 1
        for number, (name, raw) in enumerate(members.items()):
            written = _NAME.match(data, position)
            if written is None or written.group(1) != name.encode():
                raise _Unusual
            value = written.end()
            position = value + len(raw)
            on_path = wanted.get(name)
            if on_path is not None:
                _measure(data, view, value, position, on_path)
            after = _NEXT_MEMBER.match(data, position)
            if after is None or (after.group(1) == b"}") != (number == last):
                raise _Unusual  # a name msgspec saw twice: the text has more members than the dict
            position = after.end()
    elif opener == _OPEN_ARRAY:
        if step.items is None:
            step.items = {int(token): inner for token, inner in wanted.items() if token.isdigit()}
        items = step.items
        values = _ITEMS.decode(view[start:end])
        sizes = list(accumulate(map(len, values)))  # each item's end, less the commas before it
        if end - start == 2 + (sizes[-1] + len(values) - 1 if values else 0):  # written compactly
            for index, inner in items.items():
                if index < len(values):
                    value = start + 1 + (sizes[index - 1] if index else 0) + index
                    _measure(data, view, value, value + len(values[index]), inner)
            return
        position = _SPACE.match(data, start + 1).end()  # type: ignore[union-attr]  # it matches nothing at least
        last = len(values) - 1
        for index, raw in enumerate(values):
            value, position = position, position + len(raw)
            on_path = items.get(index)
            if on_path is not None:
                _measure(data, view, value, position, on_path)
            after = _NEXT_ITEM.match(data, position)
            if after is None or (after.group(1) == b"]") != (index == last):
                raise _Unusual
            position = _SPACE.match(data, after.end()).end()  # type: ignore[union-attr]


def value_offsets(text: str, pointers: Sequence[str], data: bytes | None = None) -> list[int]:
    """The offset of each pointer's value (RFC 6901), or of the deepest value on its path that exists, in the
    order given: the text is read once at most, however many pointers there are, and only as far as needed.
    `data`, the text's UTF-8 bytes when the caller has them, lets an ASCII text be measured rather than walked."""
    root = _Step(None)
    paths: list[list[_Step]] = []
    for pointer in pointers:
        steps = [root]
        if pointer:
            for token in tokens(pointer):
                parent = steps[-1]
                found = parent.members.get(token)
                if found is None:
                    found = parent.members[token] = _Step(token)
                steps.append(found)
        paths.append(steps)
    start = _skip_space(text, 0)
    measured = False
    if data is not None and data.isascii():  # then a byte's offset is a character's
        try:
            _measure(data, memoryview(data), start, len(data.rstrip(b" \t\n\r")), root)
            measured = True
        except (_Unusual, msgspec.DecodeError, msgspec.ValidationError, IndexError, RecursionError):
            root.forget()
    if not measured:
        # _Found: all found early. The rest: text that is not the JSON it was validated as, keep what was found.
        with suppress(_Found, ValueError, IndexError, StopIteration, RecursionError):
            _Walk(text, root).value(start, root)
    offsets = []
    for steps in paths:
        found_offsets = [step.offset for step in steps if step.offset is not None]
        offsets.append(found_offsets[-1] if found_offsets else start)
    return offsets


def value_offset(text: str, pointer: str) -> int:
    """The offset of the value at `pointer` (RFC 6901), or of the deepest value on its path that exists."""
    return value_offsets(text, (pointer,))[0]


def placed(report: Report, record: Record) -> Report:
    """The report with every unit's line and column set to where its value is in the whole input (a record at
    `record.line`, `record.column`), for the command line's reports and the HTTP API's alike."""
    units = (*report.errors, *report.warnings)
    if not units:
        return report
    # A byte order mark is no character of the text, as every reader of ours skips it (only a record at the start
    # of its input can carry one).
    data = strip_bom(record.raw)
    record_text = data.decode("utf-8", errors="replace")
    lines = Lines(record_text)
    offsets = iter(value_offsets(record_text, [unit.instance_location for unit in units], data))

    def place(unit: OutputUnit) -> OutputUnit:
        offset = next(offsets)
        if unit.code == INVALID_JSON and unit.line is not None and unit.column is not None:
            line, column = unit.line, unit.column
        else:
            line, column = lines.at(offset)
        if line == 1:
            column += record.column - 1
        line += record.line - 1
        if unit.code == INVALID_JSON:  # the message gave the position within the record: give the file's
            error = _POSITION.sub(f" at line {line}, column {column}", unit.error)
            return msgspec.structs.replace(unit, error=error, line=line, column=column)
        return msgspec.structs.replace(unit, line=line, column=column)

    return msgspec.structs.replace(
        report,
        errors=tuple(place(unit) for unit in report.errors),
        pending_warnings=tuple(place(unit) for unit in report.warnings),
    )
