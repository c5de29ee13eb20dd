"""Error messages people understand, quoting no more than a short excerpt of any payload value.

Payloads carry user data (prompts, file contents, function outputs), so a message never pastes a value whole;
inside `redacting()` it quotes none at all, only what kind of value it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

import msgspec

EXCERPT_CHARS = 40
_redacting: ContextVar[bool] = ContextVar("runstep_validator_redacting", default=False)


@contextmanager
def redacting(enabled: bool = True) -> Iterator[None]:
    """Within this block, messages name the kind of a payload value instead of quoting it."""
    token = _redacting.set(enabled)
    try:
        yield
    finally:
        _redacting.reset(token)


def is_redacting() -> bool:
    """Whether messages made now may quote the payload at all."""
    return _redacting.get()


def kind(value: object) -> str:
    """What sort of JSON value this is, in words: all that a redacted message says of it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an object" if isinstance(value, dict) else "an array"


def token(text: str) -> str:
    """A piece of raw input to quote after a word in a message: " " and the piece cut short, or nothing at all
    when redacting."""
    return "" if _redacting.get() else " " + text[:20]


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A JSON rendering of `value`, cut to about `limit` characters (its kind alone when redacting)."""
    if _redacting.get():
        return kind(value)
    if isinstance(value, dict):
        return "{}" if not value else f"an object with {len(value)} member{'s' if len(value) != 1 else ''}"
    if isinstance(value, list):
        return "[]" if not value else f"an array of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, int) and value.bit_length() > 4096:
        return "a very large integer"  # converting it to digits could exceed Python's limit
    try:
        text = msgspec.json.encode(value).decode()
    except (TypeError, ValueError, OverflowError):
        text = f"a {type(value).__name__}"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def excerpt_at(text: str, position: int, limit: int = EXCERPT_CHARS) -> str:
    """A JSON rendering of the part of `text` around `position` (a quarter of `limit` before it), with … where it
    is cut; its kind alone when redacting. For showing where two long texts part."""
    if _redacting.get():
        return kind(text)
    start = max(0, position - limit // 4)
    stop = start + limit
    piece = msgspec.json.encode(text[start:stop]).decode()
    return ("…" if start else "") + piece + ("…" if stop < len(text) else "")


def first_difference(first: str, second: str) -> int:
    """The index of the first character where two different texts differ (the shorter one's length when it is
    the start of the other)."""
    common = min(len(first), len(second))
    low, high = 0, common
    while low < high:  # the longest common prefix by halving: slices compare in C
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def dialect_hint(dialects: Iterable[str]) -> str:
    """What to add to a message about a type this dialect does not know but others do: which, and how to choose
    one on each surface."""
    names = sorted(dialects)
    if not names:
        return ""
    first = names[0]
    return f'; the {" or ".join(names)} dialect knows it (--dialect {first}, ?dialect={first}, dialect="{first}")'


# What a terminal or a log viewer acts on rather than shows: control characters (C0, DEL, C1), the line and paragraph
# separators that editors and str.splitlines() break lines at, and the marks that reorder text (Trojan Source).
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SHORT_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _escaped(found: re.Match[str]) -> str:
    character = found.group()
    return _SHORT_ESCAPES.get(character) or f"\\u{ord(character):04x}"


def one_line(text: str) -> str:
    """`text` with what a terminal would act on written as JSON escapes it (\\n, \\u001b): a line of output that
    holds names from a payload (a member's, an event's, a file's) stays one line and moves no cursor."""
    return text if text.isprintable() or not _UNSHOWABLE.search(text) else _UNSHOWABLE.sub(_escaped, text)


def pointer(path: Iterable[object]) -> str:
    """A JSON Pointer (RFC 6901) for a path of keys and indexes."""
    parts = list(map(str, path))
    if not parts:
        return ""
    joined = "/".join(parts)
    if "~" not in joined and joined.count("/") == len(parts) - 1:  # nothing to escape, the usual case: one join
        return "/" + joined
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def tokens(pointer_: str) -> list[str]:
    """The reference tokens of a JSON Pointer (RFC 6901), unescaped: `pointer()` read back."""
    if "~" not in pointer_:  # nothing escaped, the usual case
        return pointer_.split("/")[1:]
    return [escaped.replace("~1", "/").replace("~0", "~") for escaped in pointer_.split("/")[1:]]


def _names(values: Iterable[Any]) -> str:
    return ", ".join(excerpt(value) for value in values)


def _literals(values: Iterable[Any]) -> str:
    # Values written in the schema, not taken from the payload: quoted even when redacting.
    return ", ".join(msgspec.json.encode(value).decode() for value in values)


def failure_suffix(keyword: str, expected: Any) -> str | None:
    """What follows the failing value's excerpt in the message for `keyword` with its schema value `expected`, for
    the keywords whose message is that excerpt and words of the schema alone; None for the others. It depends only
    on the schema, so callers may make it once per place in a schema."""
    match keyword:
        case "type":
            types = [expected] if isinstance(expected, str) else expected
            return f" is not of type {', '.join(repr(t) for t in types)}"
        case "const":
            return f" is not {_literals([expected])}"
        case "enum":
            return f" is not one of {_literals(expected)}"
        case "minimum":
            return f" is less than the minimum of {expected}"
        case "maximum":
            return f" is greater than the maximum of {expected}"
        case "exclusiveMinimum":
            return f" is not greater than {expected}"
        case "exclusiveMaximum":
            return f" is not less than {expected}"
        case "multipleOf":
            return f" is not a multiple of {expected}"
        case "pattern":
            return f" does not match the pattern {_literals([expected])}"
        case "false":
            return " is not allowed here"
    return None


def describe_failure(
    keyword: str, instance: Any, expected: Any, schema: dict[str, Any], *, in_property_names: bool, fallback: str
) -> str:
    """The message for a keyword that failed on `instance`, quoting at most short excerpts of it."""
    if in_property_names and keyword == "maxLength":
        return f"property name {excerpt(instance)} is longer than {expected} characters"
    suffix = failure_suffix(keyword, expected)
    if suffix is not None:
        return excerpt(instance) + suffix
    match keyword:
        case "required":
            return fallback
        case "maxLength":
            return f"a string of {len(instance)} characters is longer than the maximum of {expected}"
        case "maxProperties":
            return f"{len(instance)} members are more than the maximum of {expected}"
        case "additionalProperties" | "unevaluatedProperties":
            known = schema.get("properties", {})
            extra = [key for key in instance if key not in known]
            return f"unexpected propert{'y' if len(extra) == 1 else 'ies'} {_names(extra)}"
        case "minLength":
            return f"a string of {len(instance)} characters is shorter than the minimum of {expected}"
        case "minItems" | "maxItems":
            bound = "fewer" if keyword == "minItems" else "more"
            return f"an array of {len(instance)} items has {bound} than the {keyword[:3]}imum of {expected}"
        case "minProperties":
            return f"{len(instance)} members are fewer than the minimum of {expected}"
    if _redacting.get():  # the engine's own words may quote the payload
        return f"{kind(instance)} fails the {keyword} keyword"
    return fallback if len(fallback) <= 2 * EXCERPT_CHARS else fallback[: 2 * EXCERPT_CHARS - 1] + "…"
