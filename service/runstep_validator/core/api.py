"""The core's front for callers: the shipped schemas, shared validators, and one-call validation."""

from __future__ import annotations

from contextlib import nullcontext
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from .auto import AutoValidator
from .deadline import time_limit
from .delta_models import RunStepDelta
from .errors import UnknownSchemaError
from .models import RunStep
from .report import Report
from .schemas import AUTO, DEFAULT_DIALECT, SchemaSet
from .validator import DEFAULT_MAX_DEPTH, Payload, RedactingValidator, Validator

if TYPE_CHECKING:
    from .profile import Profile


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


def validate(
    data: Payload,
    schema: str = AUTO,
    *,
    redact: bool = False,
    strict: bool = False,
    dialect: str = DEFAULT_DIALECT,
    profile: Profile | None = None,
) -> Report:
    """Validate one payload (JSON bytes or text, or a parsed value): by default against the entry its `object`
    names (a run step, a run-step delta) in `dialect` (`openai`, or `azure` for Azure AI Agents), its strict
    variant with `strict`, or against the entry named; or as `profile` says (its schema set, depth and time limits
    too), instead of the other arguments.

    >>> validate(b'{"object": "thread.run.step"}').valid
    False
    """
    if profile is None:
        return get_validator(schema, redact, strict, dialect).validate(data)
    from .profile import selected  # noqa: PLC0415  # the profile is built on this module

    selected(profile, schema, strict, dialect, redact)
    with time_limit(profile.max_seconds) if profile.max_seconds is not None else nullcontext():
        return profile.validator.validate(data)


def decode(
    data: Payload,
    schema: str = AUTO,
    *,
    strict: bool = False,
    dialect: str = DEFAULT_DIALECT,
    profile: Profile | None = None,
) -> RunStep | RunStepDelta:
    """Decode and validate one payload with the same choice of schema as `validate()` (its arguments, or a
    `profile`): a typed run step (`RunStep`) or delta (`RunStepDelta`), as its `object` says (or as the entry
    named types it); raises `RunStepDecodeError` with the report when it is invalid or cannot be typed."""
    if profile is None:
        typed: RunStep | RunStepDelta = get_validator(schema, False, strict, dialect).decode(data)
        return typed
    from .profile import selected  # noqa: PLC0415  # the profile is built on this module

    selected(profile, schema, strict, dialect)
    with time_limit(profile.max_seconds) if profile.max_seconds is not None else nullcontext():
        typed = profile.validator.decode(data)
    return typed
