"""Turning bytes into JSON values, and saying exactly where and why when that fails.

msgspec does the parsing. When it refuses, the input is parsed again by the standard library (only then, so valid
input never pays for it) to find a precise reason and position.
"""

from __future__ import annotations

import json
import math
import re
import sys
from bisect import bisect_right
from typing import Any, Final

import msgspec

from .errors import InvalidJSONError
from .messages import token as quote

UTF8_BOM = b"\xef\xbb\xbf"
MAX_DEPTH = sys.getrecursionlimit()  # msgspec and json both stop near Python's recursion limit
MAX_DIGITS = sys.get_int_max_str_digits() or 4300  # Python's limit on converting digits to an int
_LONG_NUMBER = re.compile(rf"-?\d{{{MAX_DIGITS + 1},}}")
_decoder = msgspec.json.Decoder()
ANY_VALUE: Final = msgspec.json.Decoder(msgspec.Raw)  # parses, checks, builds nothing
A_STRING: Final = r'"(?:[^"\\]|\\.)*"'  # a JSON string, escapes and all (a regular expression)
_STRUCTURE = re.compile(A_STRING.encode() + rb"|[\[\]{}]")
_QUOTE: Final = ord('"')
# What msgspec raises for input it will not decode: RecursionError past its depth limit, ValueError for an
# integer longer than Python converts (4300 digits).
NOT_JSON = (msgspec.DecodeError, UnicodeDecodeError, RecursionError, ValueError)
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


GZIP_MAGIC: Final = b"\x1f\x8b"  # how every gzip stream starts, and no UTF-8 text


# A transcript starts with a field (`event:`, `data:`, `id:`, `retry:`) or a comment (`:`); no JSON text does.
_TRANSCRIPT_START: Final = re.compile(rb"(?:event|data|id|retry)?:")


def starts_like_transcript(head: bytes) -> bool:
    """Whether text starts as a Server-Sent Events transcript does, and as no JSON text can."""
    return _TRANSCRIPT_START.match(head.lstrip()) is not None


def strip_bom(data: bytes) -> bytes:
    """RFC 8259 lets a parser ignore a leading byte order mark; editors on Windows still write one."""
    return data[3:] if data[:3] == UTF8_BOM else data


TOO_DEEP: Final = "nested deeper than the limit"  # how an invalid-JSON unit says the depth limit was hit


def parse(data: bytes, max_depth: int | None = None) -> Any:
    """The JSON value in `data`, or `InvalidJSONError` saying where it breaks, or where it nests deeper than
    `max_depth` levels of objects and arrays."""
    try:
        value = _decoder.decode(data)
    except NOT_JSON as exc:
        # Input too deep for the parser itself is also deeper than any configured limit: that limit is the news.
        if max_depth is not None and _depth_offset(data, max_depth) >= 0:
            raise _too_deep(data, max_depth) from None
        raise diagnose(data, exc) from None
    # Nothing nests deeper than it has brackets: most payloads are shown shallow enough by a few searches in C.
    if max_depth is not None and _more_brackets_than(data, max_depth) and _deeper_than(value, max_depth):
        raise _too_deep(data, max_depth)
    return value


# Up to this size, two counts (a byte at a time, about a nanosecond each) cost less than a Python step per bracket.
_COUNTED_BYTES: Final = 4096


def _more_brackets_than(data: bytes, limit: int) -> bool:
    """Whether `data` opens more than `limit` objects and arrays, strings included. Large texts take at most
    `limit + 1` searches (memchr, many bytes a cycle): two counts over a 30 KB payload cost as much as parsing it."""
    if len(data) <= _COUNTED_BYTES:
        return data.count(b"[") + data.count(b"{") > limit
    found = 0
    for opener in b"[{":
        position = data.find(opener)
        while position >= 0:
            found += 1
            if found > limit:
                return True
            position = data.find(opener, position + 1)
    return False


def _too_deep(data: bytes, max_depth: int) -> InvalidJSONError:
    text = data[: _depth_offset(data, max_depth)].decode("utf-8", errors="replace")
    return _error(text, len(text), f"{TOO_DEEP} of {max_depth} levels")


def _deeper_than(value: Any, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:  # iterative: the point is not to trust the input's depth
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _depth_offset(data: bytes, limit: int) -> int:
    """Where the text first opens more than `limit` objects and arrays (strings skipped), or -1 if it never does."""
    depth = 0
    for match in _STRUCTURE.finditer(data):
        symbol = match.group()[:1]
        if symbol in b"[{":
            depth += 1
            if depth > limit:
                return match.start()
        elif symbol in b"]}":
            depth -= 1
    return -1


class _NotInteroperable(ValueError):
    def __init__(self, token: str, reason: str) -> None:
        super().__init__(reason)
        self.token = token
        self.reason = reason


def _reject_constant(token: str) -> Any:
    raise _NotInteroperable(token, f"{token} is not a JSON number")


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise _NotInteroperable(token, f"number{quote(token)} is out of the range of a double")
    return value


class Lines:
    """1-based line and column (in characters) of offsets in one text: the line starts are found once. The one
    helper for it: the reasons for text that is not JSON here, the places of reported values in sources/."""

    __slots__ = ("_starts",)

    def __init__(self, text: str) -> None:
        # A record of JSON Lines is one line: its offsets are columns, and no search need be set up.
        self._starts = [0, *(match.end() for match in re.finditer("\n", text))] if "\n" in text else [0]

    def at(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def _error(text: str, offset: int, reason: str) -> InvalidJSONError:
    offset = max(0, min(offset, len(text)))
    line, column = Lines(text).at(offset)
    return InvalidJSONError(reason, line, column, offset)


# A text that is only a file's name as the command line reads files: no JSON value starts like it.
_FILE_NAME: Final = re.compile(r"[^\s\[\]{}\"',:]*\.(?:json|jsonl|ndjson|sse)(?:\.gz)?")
_LONGEST_PATH: Final = 4096  # PATH_MAX: a longer text is not looked at as a name
FILE_NAME_NOT_CONTENT: Final = (
    "a file's name, not its content: give the content (curl --data-binary @NAME, open(NAME, 'rb').read())"
)
_LEFT_OPEN: Final = {ord("["): "the array is not closed", ord("{"): "the object is not closed"}
_JSON_SPACE: Final = " \t\r\n"


def _json_problem(text: str, broken_off: bool = False) -> InvalidJSONError | None:
    """The first problem of `text` (the standard library's, and a lone surrogate before it), in our words; None if
    there is none. For a text that breaks off (before a byte that is no UTF-8), only a problem within it, not one
    that its end alone makes (a string or a container left open)."""
    found: InvalidJSONError | None = None
    try:
        json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        reason = exc.msg[0].lower() + exc.msg[1:]
        ends_early = exc.pos >= len(text.rstrip(_JSON_SPACE))
        if not (broken_off and (ends_early or reason.startswith("unterminated string"))):
            if ends_early:  # what the text leaves open says more than what would have come next
                reason = _left_open(text.encode()) or reason
            # "unterminated string starting at": placed where the string starts, it is an unterminated string
            found = _error(text, exc.pos, reason.removesuffix(" at").removesuffix(" starting"))
    except _NotInteroperable as exc:
        found = _error(text, _outside_strings(text, exc.token), exc.reason)
    except RecursionError:
        found = _error(text, 0, f"nested deeper than the parser's limit of {MAX_DEPTH} levels")
    except ValueError:
        digits = _LONG_NUMBER.search(text)
        found = _error(text, digits.start() if digits else 0, f"a number with more than {MAX_DIGITS} digits")
    surrogate = _LONE_SURROGATE.search(text)  # the parser takes it: it is no problem to the parser
    if surrogate is not None and (found is None or surrogate.start() < found.offset):
        reason = f"lone UTF-16 surrogate{quote(surrogate.group())} is not a character"
        return _error(text, surrogate.start(), reason)
    return found


def refused_token(token: str) -> re.Pattern[str]:
    """Strings, and `token` (a number or constant the parser refused) where it stands as a value of its own: not
    inside a string, nor the end of a longer number (1e309 in 0.1e309, which is valid)."""
    return re.compile(f"{A_STRING}|(?<![-+.0-9A-Za-z]){re.escape(token)}(?![.0-9A-Za-z])")


def _outside_strings(text: str, token: str) -> int:
    """Where `token` first stands as a value."""
    for match in refused_token(token).finditer(text):
        if not match.group().startswith('"'):
            return match.start()
    return 0


def _left_open(data: bytes) -> str | None:
    """What a JSON text that ends early leaves open, the innermost ("the array is not closed"), outside its strings;
    None when every bracket is closed."""
    opened: list[int] = []
    for match in _STRUCTURE.finditer(data):
        symbol = data[match.start()]
        if symbol in _LEFT_OPEN:
            opened.append(symbol)
        elif symbol != _QUOTE and opened:  # a closing bracket
            opened.pop()
    return _LEFT_OPEN[opened[-1]] if opened else None


def diagnose(data: bytes, cause: BaseException) -> InvalidJSONError:
    """Why msgspec refused `data`, with the position of the first problem."""
    if data.startswith(GZIP_MAGIC):  # a .gz file's bytes, posted or passed as they are
        return _error("", 0, "gzip-compressed data: decompress it first")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A problem of the text before that byte is the first problem, unless it is only that the text stops.
        prefix = data[: exc.start].decode("utf-8", errors="replace")
        return _json_problem(prefix, broken_off=True) or _error(
            prefix, len(prefix), f"invalid UTF-8 byte 0x{data[exc.start]:02x}"
        )
    if not text.strip():
        return _error(text, len(text), "empty input: expected a JSON value")
    if starts_like_transcript(data):
        start = len(text) - len(text.lstrip())
        return _error(text, start, "a Server-Sent Events transcript, not JSON: validate it as an event stream")
    if len(text) <= _LONGEST_PATH and _FILE_NAME.fullmatch(text.strip()):  # validate("steps.json"), curl -d steps.json
        return _error(text, len(text) - len(text.lstrip()), FILE_NAME_NOT_CONTENT)
    return _json_problem(text) or _error(text, 0, str(cause))
