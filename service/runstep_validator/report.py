"""Validation results in the JSON Schema 2020-12 *basic* output format, plus the schema used and warnings."""

from __future__ import annotations

from typing import Any

import msgspec


class OutputUnit(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
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

    def describe(self) -> str:
        """`pointer: message`, the way people quote an error; just the message for the document as a whole."""
        return f"{self.instance_location}: {self.error}" if self.instance_location else self.error


class Report(msgspec.Struct, frozen=True):
    """The verdict on one payload. `errors` come best match first; `warnings` never affect `valid`."""

    valid: bool
    schema: str
    errors: tuple[OutputUnit, ...] = ()
    warnings: tuple[OutputUnit, ...] = ()

    @property
    def headline(self) -> str | None:
        """The most relevant error as one line, or None for a valid payload."""
        return self.errors[0].describe() if self.errors else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: `{"valid", "schema", "headline", "errors", "warnings"}`."""
        return {
            "valid": self.valid,
            "schema": self.schema,
            "headline": self.headline,
            "errors": [msgspec.to_builtins(unit) for unit in self.errors],
            "warnings": [msgspec.to_builtins(unit) for unit in self.warnings],
        }
