"""Headlines that point at the real mistake.

The engine's best match is the deepest error, which is right for a payload of the right kind with a fault inside.
It is wrong when the payload is another kind of object altogether (a delta, a list response): then thirty missing
members are noise and the one fact worth saying is what the object is and what to validate it with. Likewise when a
step's `type` and `step_details.type` disagree, the headline names both values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from .messages import excerpt
from .report import OutputUnit
from .schemas import SchemaSet
from .suggestions import NearMisses, did_you_mean

# Objects of the Assistants API that people send here by mistake, in words; entries add their own objects.
KNOWN_OBJECTS: Final = {
    "list": (
        "a list response: its run steps are the items of its data array, which a document is read for: a .json file,"
        " the batch route's application/json, validate_document"
    ),
    "thread.run.step.delta": "a run-step delta (one fragment of a streamed step), not a whole run step",
    "thread.run": "a run, not one of its steps",
    "thread.message": "a message, not a run step",
}
LIST_WITHOUT_ITEMS: Final = "a list response without a data array: its run steps are the items of that array"


def what_object_is(given: str, document: Any) -> str | None:
    """In words, what a payload whose `object` is `given` is, when it is one of the objects people send here by
    mistake; a list response's words depend on whether its data is the array its run steps should be in."""
    if given == "list" and not (isinstance(document, dict) and isinstance(document.get("data"), list)):
        return LIST_WITHOUT_ITEMS
    return KNOWN_OBJECTS.get(given)


# The `$defs` that tie a step's `type` to its details' `type` (see components/common.schema.json).
AGREEMENT_DEF: Final = "/$defs/type_agreement/"


def object_constants(schemas: SchemaSet) -> dict[str, list[str]]:
    """Which entries validate each `object` value: read from each entry's `properties.object.const`."""
    found: dict[str, list[str]] = {}
    for name, document in schemas.entries.items():
        properties = document.contents.get("properties", {})
        constant = properties.get("object", {}).get("const") if isinstance(properties, dict) else None
        if isinstance(constant, str):
            found.setdefault(constant, []).append(name)
    return found


class Headlines:
    """Puts the error that explains a payload first, rewording it where the engine's words would mislead."""

    def __init__(self, schemas: SchemaSet, name: str) -> None:
        dialect = schemas.entry(name).dialect  # advice names entries of the same family as the one used
        self._entries_by_object: Mapping[str, list[str]] = {
            value: kept
            for value, names in object_constants(schemas).items()
            if (kept := [n for n in names if schemas.entries[n].dialect == dialect])
        }
        expected = [value for value, names in self._entries_by_object.items() if name in names]
        self._expected = expected[0] if expected else None
        self._location = f"{schemas.entry(name).id}#/properties/object/const"
        self._objects = NearMisses(sorted(self._entries_by_object))

    def first(self, document: Any, errors: tuple[OutputUnit, ...]) -> tuple[OutputUnit, ...]:
        if self._expected is not None and isinstance(document, dict):
            given = document.get("object")
            if isinstance(given, str) and given != self._expected:
                wrong = self._wrong_object(given, document)
                return (wrong, *(unit for unit in errors if unit.instance_location != "/object"))
        for index, unit in enumerate(errors):
            if AGREEMENT_DEF in (unit.absolute_keyword_location or "") and isinstance(document, dict):
                details = document.get("step_details")
                inner = details.get("type") if isinstance(details, dict) else None
                message = (
                    f"type is {excerpt(document.get('type'))} but step_details.type is {excerpt(inner)}: "
                    "both must name the same kind of step"
                )
                if unit.suggestion is not None:
                    message += f"; {did_you_mean(unit.suggestion)}"
                agreed = msgspec.structs.replace(unit, error=message)
                return (agreed, *errors[:index], *errors[index + 1 :])
        return errors

    def _wrong_object(self, given: str, document: Any) -> OutputUnit:
        expected = msgspec.json.encode(self._expected).decode()
        meant = self._objects.meant(given)
        explained = what_object_is(given, document)
        advice = [explained] if explained is not None else []
        if given in self._entries_by_object:
            advice.append(f"validate it against the {' or '.join(self._entries_by_object[given])} schema")
        if not advice:
            advice.append(f"the objects known here are {', '.join(sorted(self._entries_by_object))}")
        if meant is not None:
            advice.append(did_you_mean(meant))
        advice_text = "; ".join(advice)
        return OutputUnit(
            instance_location="/object",
            keyword_location="/properties/object/const",
            absolute_keyword_location=self._location,
            error=f"{excerpt(given)} is not {expected}: {advice_text}",
            code="const",
            suggestion=meant,
        )
