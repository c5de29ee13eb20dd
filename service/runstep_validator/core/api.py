"""The core's front for callers: the shipped schemas and the shared validators (one-call validation, positions
included, is `sources.library`'s, over a `Profile`)."""

from __future__ import annotations

from functools import cache
from typing import Any, Protocol

from .auto import AutoValidator
from .errors import UnknownSchemaError
from .report import Report
from .schemas import AUTO, DEFAULT_DIALECT, SchemaSet
from .validator import DEFAULT_MAX_DEPTH, Payload, RedactingValidator, Validator


class PayloadValidator(Protocol):
    """What every validator offers, whether it validates one entry or picks the entry by `object`."""

    name: str
    schema_id: str

    def validate(self, data: Payload) -> Report: ...

    def check(self, data: Payload) -> tuple[Report, Any]: ...

    def decode(self, data: Payload) -> Any: ...

    def accepts_fast(self, data: bytes) -> bool: ...

    def fast_report(self, data: bytes) -> Report | None: ...


@cache
def default_schemas() -> SchemaSet:
    """The schemas shipped with this package, loaded and checked once per process."""
    return SchemaSet.load()


def make_validator(
    schemas: SchemaSet,
    name: str = AUTO,
    *,
    strict: bool = False,
    redact: bool = False,
    max_depth: int | None = DEFAULT_MAX_DEPTH,
    dialect: str = DEFAULT_DIALECT,
) -> PayloadValidator:
    """A validator for an entry schema by name, or for `auto` (the entry of `dialect` each payload's `object` names,
    its strict variant with `strict`). `max_depth=None` is no limit but the parser's own, as everywhere.
    `UnknownSchemaError` for a name that is neither, `UnknownDialectError` for a dialect no entry declares."""
    if name == AUTO:
        return AutoValidator(schemas, strict=strict, redact=redact, max_depth=max_depth, dialect=dialect)
    if name not in schemas.entries:
        raise UnknownSchemaError(name, (AUTO, *sorted(schemas.entries)))
    return (RedactingValidator if redact else Validator)(schemas, name, max_depth)


@cache
def get_validator(
    name: str = AUTO, redact: bool = False, strict: bool = False, dialect: str = DEFAULT_DIALECT
) -> PayloadValidator:
    """The shared validator for the shipped schemas: `auto` (the default) picks the entry by `object`. It is the
    shipped profile's own, so that `validate()`, `validate_stream()` and the import share one set of validators."""
    from .profile import shipped_profile  # noqa: PLC0415  # the profile is built on this module; once per selection

    return shipped_profile(name, strict, dialect, redact).validator
