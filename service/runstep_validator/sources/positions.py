"""Where JSON Pointers' values sit in a JSON text, as offsets: every pointer of a record found in one pass.

Used only when reporting errors, so valid input never pays for it. The pointers are merged into a tree, and the
text is read once along it, however many errors a record has (a record with ten thousand errors is placed in the
time of one). An ASCII text is measured: msgspec splits each container on the tree into its members' raw texts, and
lengths lead from member to member (by sums alone where the record is laid out as a standard writer lays it out).
Any other text is walked a character at a time, values off the tree skipped with the standard library's C scanner.
For duplicate keys the last one counts, as in parsing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import suppress
from itertools import accumulate
from json.scanner import make_scanner
from typing import Any, Final, cast

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
# A container laid out as a standard writer lays it out is not even stepped through: compactly (JSON Lines as the
# APIs and the SDKs write them), on one line with a space after each colon and comma (Python's json.dumps), or
# indented by so many spaces a level (json.dumps(indent=n), JSON.stringify(value, null, n)), or so and shifted by a
# margin (an item of an indented document: every line after its first at the margin). Its length is then that
# of its members' names and values plus the layout's punctuation, exactly when it holds no escaped name and no
# repeated name (each of those only adds bytes), and every member's place is a sum of lengths. Compact needs no
# other proof (whitespace, too, only adds bytes); the spaced layouts are proven once per record, by msgspec writing
# the record in that layout and finding the same bytes (msgspec.json.format writes json.dumps's layouts, checked on
# msgspec 0.22 and held by test_positions: were it to write otherwise, records would be stepped through instead).
_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_SPACE = re.compile(rb"[ \t\n\r]*")
_INDENT = re.compile(rb" *")
_NAME = re.compile(rb'[ \t\n\r]*"([^"\\]*)"[ \t\n\r]*:[ \t\n\r]*')
_NEXT_MEMBER = re.compile(rb"[ \t\n\r]*([,}])")
_NEXT_ITEM = re.compile(rb"[ \t\n\r]*([,\]])")
_OPEN_OBJECT, _OPEN_ARRAY = ord("{"), ord("[")


class _Gaps:
    """The bytes a standard writer puts in a container at one depth: after its opening bracket, between two members
    or items (the comma included), before its closing bracket, and between a name and its value (the colon
    included); `inner` is the next depth's (the same, on one line; `indent` spaces more each, when indented)."""

    __slots__ = ("colon", "comma", "head", "indent", "inner", "tail")

    def __init__(self, head: int, comma: int, tail: int, colon: int, indent: int = 0) -> None:
        self.head, self.comma, self.tail, self.colon, self.indent = head, comma, tail, colon, indent
        self.inner: _Gaps | None = None if indent else self  # an attribute, not a property: read once a level

    def deeper(self) -> _Gaps:
        """The next depth's gaps, made the first time they are needed."""
        if self.inner is None:
            indent = self.indent
            self.inner = _Gaps(self.head + indent, self.comma + indent, self.tail + indent, self.colon, indent)
        return self.inner


_COMPACT: Final = _Gaps(0, 1, 0, 1)
_ONE_LINE: Final = _Gaps(0, 2, 0, 2)  # Python's json.dumps
_NEWLINE, _BLANK = ord("\n"), ord(" ")
_FEW: Final = 2  # wanted members of one container measured by joins; more by sums made once


def _layout_of(data: bytes, view: memoryview, start: int, end: int) -> _Gaps:
    """The gaps of the record's own value at `start:end`: indented (at a margin, as an item of an indented
    document, or not) or spaced as json.dumps spaces it, when its start looks so and msgspec, writing the record in
    that layout, gives the same bytes; otherwise compact, which each container's length proves or disproves by
    itself."""
    if data[start] != _OPEN_OBJECT:
        return _COMPACT
    if data[start + 1] == _NEWLINE:
        # An item of an indented document sits at a margin: its closing bracket's line is indented by it, and every
        # line inside by the margin and the indentation.
        inside = _INDENT.match(data, start + 2).end() - start - 2  # type: ignore[union-attr]  # matches ""
        closing_line = data.rfind(b"\n", start, end) + 1
        margin = end - 1 - closing_line
        indent = inside - margin
        if indent <= 0 or data[closing_line : end - 1].strip(b" "):
            return _COMPACT
        written = msgspec.json.format(view[start:end], indent=indent)
        if margin:
            written = written.replace(b"\n", b"\n" + b" " * margin)
        # A newline and the indentation of the level inside, and before the closing bracket the margin.
        return _Gaps(1 + inside, 2 + inside, 1 + margin, 2, indent) if written == view[start:end] else _COMPACT
    colon = data.find(b":", start, end)  # the first member's colon, unless its name holds one
    if colon < 0 or data[colon + 1] != _BLANK:
        return _COMPACT
    return _ONE_LINE if msgspec.json.format(view[start:end], indent=0) == view[start:end] else _COMPACT


def _measure(data: bytes, view: memoryview, start: int, end: int, step: _Step, *, gaps: _Gaps = _COMPACT) -> None:
    """Set the offsets of `step`'s value, at `start` (ending at `end`), and of its pointers' values inside it; the
    value is laid out with `gaps` if its writer was a standard one."""
    step.offset = start
    wanted = step.members
    if not wanted:
        return
    opener = data[start]
    head, comma, tail = gaps.head, gaps.comma, gaps.tail
    if opener == _OPEN_OBJECT:
        members = _MEMBERS.decode(view[start:end])
        names = list(members)
        values = list(members.values())
        # Joined, the names and values are measured in C: a length per member costs more than copying them.
        member = 2 + gaps.colon + comma  # each member's quotes and punctuation
        if not names or end - start == (
            2 + head + tail - comma + len("".join(names)) + len(b"".join(values)) + member * len(names)
        ):
            inner_gaps = gaps.inner or gaps.deeper()
            if len(wanted) <= _FEW:  # each searched for, and what comes before it joined
                for name, inner in wanted.items():
                    raw = members.get(name)
                    if raw is not None:
                        number = names.index(name)
                        before = len("".join(names[:number])) + len(b"".join(values[:number])) + member * number
                        value = start + 3 + head + before + len(name) + gaps.colon
                        _measure(data, view, value, value + len(raw), inner, gaps=inner_gaps)
            else:  # many (an error in every member): summed in one pass, or each would copy all before it
                before = 0
                for name, raw in members.items():
                    on_path = wanted.get(name)
                    if on_path is not None:
                        value = start + 3 + head + before + len(name) + gaps.colon
                        _measure(data, view, value, value + len(raw), on_path, gaps=inner_gaps)
                    before += len(name) + len(raw) + member
        else:
            _step_through_members(data, view, start, members, step, gaps=gaps)
    elif opener == _OPEN_ARRAY:
        if step.items is None:
            step.items = {int(token): inner for token, inner in wanted.items() if token.isdigit()}
        values = _ITEMS.decode(view[start:end])
        if not values or end - start == 2 + head + tail - comma + len(b"".join(values)) + comma * len(values):
            inner_gaps = gaps.inner or gaps.deeper()
            # Each item's place by a join of what comes before it, or for many by sums made once.
            sums = [0, *accumulate(map(len, values))] if len(step.items) > _FEW else None
            for index, inner in step.items.items():
                if index < len(values):
                    before = sums[index] if sums is not None else len(b"".join(values[:index]))
                    value = start + 1 + head + before + comma * index
                    _measure(data, view, value, value + len(values[index]), inner, gaps=inner_gaps)
        else:
            _step_through_items(data, view, start, values, step, gaps=gaps)


def _step_through_members(
    data: bytes, view: memoryview, start: int, members: dict[str, msgspec.Raw], step: _Step, *, gaps: _Gaps
) -> None:
    """The members' places, one after the other, in an object written in no layout of a standard writer."""
    wanted, inner_gaps = step.members, gaps.inner or gaps.deeper()
    position, last = start + 1, len(members) - 1
    for number, (name, raw) in enumerate(members.items()):
        written = _NAME.match(data, position)
        if written is None or written.group(1) != name.encode():
            raise _Unusual
        value = written.end()
        position = value + len(raw)
        if view[value:position] != memoryview(raw):  # the first of repeated names: msgspec kept the last one's value
            raise _Unusual
        on_path = wanted.get(name)
        if on_path is not None:
            _measure(data, view, value, position, on_path, gaps=inner_gaps)
        after = _NEXT_MEMBER.match(data, position)
        if after is None or (after.group(1) == b"}") != (number == last):
            raise _Unusual  # a name msgspec saw twice: the text has more members than the dict
        position = after.end()


def _step_through_items(
    data: bytes, view: memoryview, start: int, values: list[msgspec.Raw], step: _Step, *, gaps: _Gaps
) -> None:
    """The items' places, one after the other, in an array written in no layout of a standard writer."""
    items, inner_gaps = step.items or {}, gaps.inner or gaps.deeper()
    position = _SPACE.match(data, start + 1).end()  # type: ignore[union-attr]  # it matches nothing at least
    last = len(values) - 1
    for index, raw in enumerate(values):
        value, position = position, position + len(raw)
        on_path = items.get(index)
        if on_path is not None:
            _measure(data, view, value, position, on_path, gaps=inner_gaps)
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
            end = len(data.rstrip(b" \t\n\r"))
            view = memoryview(data)
            _measure(data, view, start, end, root, gaps=_layout_of(data, view, start, end))
            measured = True
        except (_Unusual, msgspec.DecodeError, msgspec.ValidationError, IndexError, RecursionError):
            root.forget()
    if not measured:
        # _Found: all found early. The rest: text that is not the JSON it was validated as, keep what was found.
        with suppress(_Found, ValueError, IndexError, StopIteration, RecursionError):
            _Walk(text, root).value(start, root)
    offsets = []
    for steps in paths:
        deepest = steps[-1].offset  # found, as it usually is
        if deepest is None:
            deepest = next((step.offset for step in reversed(steps) if step.offset is not None), start)
        offsets.append(deepest)
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
        return msgspec.structs.replace(unit, line=line, column=column)

    return msgspec.structs.replace(
        report,
        errors=tuple(place(unit) for unit in report.errors),
        pending_warnings=tuple(place(unit) for unit in report.warnings),
    )
