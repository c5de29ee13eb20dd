"""The core's front for callers: the shipped schemas, shared validators, and one-call validation."""

from __future__ import annotations

from functools import cache
from typing import Any, Protocol

from .auto import AutoValidator
from .delta_models import RunStepDelta
from .errors import UnknownSchemaError
from .models import RunStep
from .report import Report
from .schemas import AUTO, DEFAULT_DIALECT, SchemaSet
from .validator import Payload, RedactingValidator, Validator


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
    max_depth: int | None = None,
    dialect: str = DEFAULT_DIALECT,
) -> PayloadValidator:
    """A validator for an entry schema by name, or for `auto` (the entry of `dialect` each payload's `object` names,
    its strict variant with `strict`). `UnknownSchemaError` for a name that is neither, `UnknownDialectError` for a
    dialect no entry declares."""
    if name == AUTO:
        return AutoValidator(schemas, strict=strict, redact=redact, max_depth=max_depth, dialect=dialect)
    if name not in schemas.entries:
        raise UnknownSchemaError(name, (AUTO, *sorted(schemas.entries)))
    options = {} if max_depth is None else {"max_depth": max_depth}
    return (RedactingValidator if redact else Validator)(schemas, name, **options)


@cache
def get_validator(
    name: str = AUTO, redact: bool = False, strict: bool = False, dialect: str = DEFAULT_DIALECT
) -> PayloadValidator:
    """The shared validator for the shipped schemas: `auto` (the default) picks the entry by `object`."""
    return make_validator(default_schemas(), name, strict=strict, redact=redact, dialect=dialect)


def validate(
    data: Payload, schema: str = AUTO, *, redact: bool = False, strict: bool = False, dialect: str = DEFAULT_DIALECT
) -> Report:
    """Validate one payload (JSON bytes or text, or a parsed value): by default against the entry its `object`
    names (a run step, a run-step delta) in `dialect` (`openai`, or `azure` for Azure AI Agents), its strict
    variant with `strict`, or against the entry named.

    >>> validate(b'{"object": "thread.run.step"}').valid
    False
    """
    return get_validator(schema, redact, strict, dialect).validate(data)


def decode(
    data: Payload, schema: str = AUTO, *, strict: bool = False, dialect: str = DEFAULT_DIALECT
) -> RunStep | RunStepDelta:
    """Decode and validate one payload with the same choice of schema as `validate()`: a typed run step
    (`RunStep`) or delta (`RunStepDelta`), as its `object` says (or as the entry named types it); raises
    `RunStepDecodeError` with the report when it is invalid or cannot be typed."""
    typed: RunStep | RunStepDelta = get_validator(schema, False, strict, dialect).decode(data)
    return typed
