"""Validation results in the JSON Schema 2020-12 *basic* output format, plus the schema used and warnings."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import msgspec

from .messages import one_line

OutputFormat: TypeAlias = Literal["flag", "basic", "detailed"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("flag", "basic", "detailed")
INVALID_JSON = "invalid-json"


class OutputUnit(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True, gc=False):
    """One error or warning. Locations are JSON Pointers: `instance_location` into the payload, `keyword_location`
    through the schema as evaluated (with `$ref` steps), `absolute_keyword_location` as a dereferenced URI."""

    instance_location: str
    keyword_location: str
    error: str
    absolute_keyword_location: str | None = None
    # Extension members: a stable name for the rule or keyword, and, for input that is not JSON, where it broke.
    code: str | None = None
    line: int | None = None
    column: int | None = None
    # For a near miss of an allowed value or a known member name: what was probably meant (the schema's word).
    suggestion: str | None = None

    def describe(self) -> str:
        """`pointer: message`, the way people quote an error; just the message for the document as a whole."""
        return f"{self.instance_location}: {self.error}" if self.instance_location else self.error


class Deferred(msgspec.Struct, gc=False):
    """Warnings not computed yet: `check(subject)` runs the first time anyone reads them."""

    check: Callable[[Any], tuple[OutputUnit, ...]]
    subject: Any


class Report(msgspec.Struct, eq=False, gc=False):
    """The verdict on one payload. `errors` come best match first; `warnings` never affect `valid`.

    A valid payload's warnings are computed when first read, not when it is validated: the checks cost about as
    much as decoding a small payload, and a caller that asks only for the verdict should not pay for them."""

    valid: bool
    schema: str
    errors: tuple[OutputUnit, ...] = ()
    pending_warnings: tuple[OutputUnit, ...] | Deferred = ()

    @property
    def warnings(self) -> tuple[OutputUnit, ...]:
        found = self.pending_warnings
        if isinstance(found, Deferred):
            found = self.pending_warnings = found.check(found.subject)
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Report):
            return NotImplemented
        same = (self.valid, self.schema, self.errors) == (other.valid, other.schema, other.errors)
        return same and self.warnings == other.warnings

    def __hash__(self) -> int:
        return hash((self.valid, self.schema, self.errors))

    def __repr__(self) -> str:
        return (
            f"Report(valid={self.valid!r}, schema={self.schema!r}, errors={self.errors!r}, warnings={self.warnings!r})"
        )

    @property
    def headline(self) -> str | None:
        """The most relevant error as one line, or None for a valid payload."""
        return one_line(self.errors[0].describe()) if self.errors else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: `{"valid", "schema", "headline", "errors", "warnings"}`."""
        return {
            "valid": self.valid,
            "schema": self.schema,
            "headline": self.headline,
            "errors": [msgspec.to_builtins(unit) for unit in self.errors],
            "warnings": [msgspec.to_builtins(unit) for unit in self.warnings],
        }

    def render(self, output: OutputFormat = "basic") -> dict[str, Any]:
        """The report in one of the JSON Schema 2020-12 output formats: `flag` (the verdict only), `basic` (a flat
        list, as `to_dict()`) or `detailed` (errors nested by where they sit in the schema, condensed)."""
        if output == "flag":
            return {"valid": self.valid}
        data = self.to_dict()
        if output == "detailed":
            del data["errors"]
            if self.errors:
                data.update(_nest([msgspec.to_builtins(unit) for unit in self.errors]))
            else:
                data.update(keywordLocation="", instanceLocation="")
        return data


def _split(location: str) -> list[str]:
    return location.split("/")[1:] if location else []


def _common_prefix(paths: list[list[str]]) -> list[str]:
    prefix = paths[0]
    for tokens in paths[1:]:
        prefix = [a for a, _ in itertools.takewhile(lambda pair: pair[0] == pair[1], zip(prefix, tokens, strict=False))]
    return prefix


def _nest(units: list[dict[str, Any]], depth: int = 0) -> dict[str, Any]:
    """The detailed format's hierarchy: units grouped by shared keyword-location prefixes, where a group with a
    single member collapses into that member (the standard's "condensed" rule)."""
    if len(units) == 1:
        return units[0]
    groups: dict[str, list[dict[str, Any]]] = {}
    for unit in units:
        tokens = _split(unit["keywordLocation"])
        groups.setdefault(tokens[depth] if depth < len(tokens) else "", []).append(unit)
    if len(groups) == 1 and "" not in groups:
        return _nest(units, depth + 1)
    prefix = _split(units[0]["keywordLocation"])[:depth]
    common = _common_prefix([_split(unit["instanceLocation"]) for unit in units])
    children = [child for key, members in groups.items() for child in _children(key, members, depth)]
    return {
        "valid": False,
        "keywordLocation": "".join("/" + token for token in prefix),
        "instanceLocation": "".join("/" + token for token in common),
        "errors": children,
    }


def _children(key: str, members: list[dict[str, Any]], depth: int) -> list[dict[str, Any]]:
    return members if key == "" else [_nest(members, depth + 1)]
