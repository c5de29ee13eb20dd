"""The slow path's engines: what finds every error of a payload the Structs refused.

`CompiledEngine` (the default) runs the schema compiled into closures; `JSONSchemaEngine` walks it with jsonschema
and serves schemas that use keywords the compiler does not support. Both return the same units, best match first;
the tests hold them to that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from jsonschema.exceptions import best_match

from .compiled import CompiledValidator, Failure
from .locations import SchemaLocator
from .messages import describe, pointer
from .report import OutputUnit

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

    from .schemas import SchemaSet


class Engine(Protocol):
    def errors(self, document: Any) -> tuple[OutputUnit, ...]:
        """Every error of `document`, the most relevant first; empty if it is valid."""
        ...


class CompiledEngine:
    def __init__(self, schemas: SchemaSet, name: str) -> None:
        self._validator = CompiledValidator(schemas.registry, schemas.entry(name).id)

    def errors(self, document: Any) -> tuple[OutputUnit, ...]:
        failures = self._validator.failures(document)
        if not failures:
            return ()
        best = max(failures, key=Failure.relevance)
        return tuple(_unit(failure) for failure in [best, *(f for f in failures if f is not best)])


def _unit(failure: Failure) -> OutputUnit:
    return OutputUnit(
        instance_location=pointer(failure.path),
        keyword_location=failure.keyword_location,
        absolute_keyword_location=failure.absolute_location,
        error=failure.message,
        code=failure.keyword,
    )


class JSONSchemaEngine:
    def __init__(self, schemas: SchemaSet, name: str) -> None:
        self._validator = schemas.validator(name)
        self._locator = SchemaLocator(schemas.registry, schemas.entry(name).id)

    def errors(self, document: Any) -> tuple[OutputUnit, ...]:
        errors = list(self._validator.iter_errors(document))
        if not errors:
            return ()
        best = best_match(errors)  # type: ignore[no-untyped-call]  # jsonschema leaves it unannotated
        return tuple(self._unit(error) for error in [best, *(error for error in errors if error is not best)])

    def _unit(self, error: ValidationError) -> OutputUnit:
        keyword_location, absolute = self._locator.locate(list(error.absolute_schema_path))
        return OutputUnit(
            instance_location=pointer(error.absolute_path),
            keyword_location=keyword_location,
            absolute_keyword_location=absolute,
            error=describe(error),
            code=str(error.validator),
        )
