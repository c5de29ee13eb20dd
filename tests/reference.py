"""python-jsonschema as the reference the product is held to: its verdict, and its errors as report locations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

from runstep_validator import OutputUnit, default_schemas
from runstep_validator.core.messages import pointer

from .locations import SchemaLocator

Location = tuple[str, str, str | None, str | None]


def locations(units: Iterable[OutputUnit]) -> list[Location]:
    return [
        (unit.instance_location, unit.keyword_location, unit.absolute_keyword_location, unit.code) for unit in units
    ]


@dataclass(frozen=True)
class Verdict:
    valid: bool
    locations: list[Location]
    best: Location | None


class Reference:
    @cache  # noqa: B019  # one per entry, for the whole session
    def _validator(self, name: str) -> tuple[Validator, SchemaLocator]:
        schemas = default_schemas()
        validator: Validator = Draft202012Validator(schemas.entry(name).contents, registry=schemas.registry)
        return validator, SchemaLocator(schemas.registry, schemas.entry(name).id)

    def is_valid(self, name: str, document: Any) -> bool:
        return bool(self._validator(name)[0].is_valid(document))

    def verdict(self, name: str, document: Any) -> Verdict:
        validator, locator = self._validator(name)
        errors = list(validator.iter_errors(document))
        found: list[Location] = []
        for error in errors:
            keyword_location, absolute = locator.locate(list(error.absolute_schema_path))
            found.append((pointer(error.absolute_path), keyword_location, absolute, str(error.validator)))
        best = best_match(errors)  # type: ignore[no-untyped-call]
        best_location = None if best is None else found[errors.index(best)]
        return Verdict(not errors, found, best_location)


REFERENCE = Reference()
