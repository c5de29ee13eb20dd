"""The right schema without being told: the entry is picked by the payload's `object`.

Which entry validates which object is read from the schema files themselves (each entry's `properties.object.const`),
so a new entry for a new object is picked up without code. Of the entries for one object, the tolerant one is the
entry without `.strict` in its name (the shortest, if there are several) and the strict one is its `.strict` twin.
Implementations of the protocol share `object` values, so the choice is made within one dialect (an entry's
`x-dialect`, OpenAI's by default), which the caller names.
A run step, the common case, costs nothing extra: the run-step Structs are tried first, and only a payload they
refuse has its `object` looked at.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from .errors import InvalidJSONError, SchemaError, UnknownDialectError
from .headlines import object_constants, what_object_is
from .messages import excerpt, redacting
from .parsing import NOT_JSON, parse, strip_bom
from .report import OutputUnit, Report
from .schemas import AUTO, DEFAULT_DIALECT, SchemaSet
from .suggestions import NearMisses, did_you_mean
from .validator import DEFAULT_MAX_DEPTH, Payload, RedactingValidator, Validator

STRICT_SUFFIX: Final = ".strict"
RUN_STEP_OBJECT: Final = "thread.run.step"


class _ObjectOnly(msgspec.Struct):
    object: Any = None


_object_of = msgspec.json.Decoder(_ObjectOnly)


def entry_for_objects(schemas: SchemaSet, strict: bool, dialect: str = DEFAULT_DIALECT) -> dict[str, str]:
    """The entry of `dialect` that validates each known `object`, tolerant or strict."""
    if dialect not in schemas.dialects:
        raise UnknownDialectError(dialect, schemas.dialects)
    chosen: dict[str, str] = {}
    for value, names in object_constants(schemas).items():
        fitting = sorted(
            (n for n in names if n.endswith(STRICT_SUFFIX) is strict and schemas.entries[n].dialect == dialect),
            key=lambda n: (len(n), n),
        )
        if fitting:
            chosen[value] = fitting[0]
    return chosen


class AutoValidator:
    """Validates each payload against the entry its `object` names; quacks like a `Validator`."""

    name = AUTO

    def __init__(
        self,
        schemas: SchemaSet,
        strict: bool = False,
        redact: bool = False,
        max_depth: int | None = DEFAULT_MAX_DEPTH,
        dialect: str = DEFAULT_DIALECT,
    ) -> None:
        """`max_depth=None`: no limit but the parser's own, as for `Validator`."""
        kind = RedactingValidator if redact else Validator
        entries = entry_for_objects(schemas, strict, dialect)
        if not entries:
            raise SchemaError("no entry schema names its object (properties.object.const): nothing to pick from")
        self.by_object = {value: kind(schemas, name, max_depth) for value, name in entries.items()}
        # Run steps are the common case, so their entry is tried first and reports what is not JSON at all.
        self.primary = self.by_object.get(RUN_STEP_OBJECT) or next(iter(self.by_object.values()))
        self.schema_id = self.primary.schema_id
        self.strict = strict
        self.dialect = dialect
        self.redact = redact
        self._known = ", ".join(sorted(self.by_object))
        self.objects = NearMisses(sorted(self.by_object))  # what a misspelt object probably meant
        others = [(value, v) for value, v in self.by_object.items() if v is not self.primary]
        self._markers = [(msgspec.json.encode(value), v) for value, v in sorted(others, key=lambda item: -len(item[0]))]

    def validate(self, data: Payload) -> Report:
        if type(data) is bytes:
            accepted, refused_by = self._fast(data)
            if accepted is not None:
                return accepted
            # The full report needs the payload parsed: parsed once, it also says which entry its `object` names.
            try:
                document = parse(strip_bom(data), self.primary.max_depth)
            except InvalidJSONError:
                chosen = self.pick(data)
                return chosen.full_report(data) if chosen in refused_by else chosen.validate(data)
            chosen = self.pick(document)
            # Structs that refused the payload would only refuse it again: straight to the full report.
            if chosen in refused_by and isinstance(chosen, Validator):
                return chosen.judged(document)
            return chosen.validate(data)
        return self.pick(data).validate(data)

    def fast_report(self, data: bytes) -> Report | None:
        """The report of a payload the Structs of its entry accept, or None (then `validate` has more to do)."""
        return self._fast(data)[0]

    def _fast(self, data: bytes) -> tuple[Report | None, tuple[Validator, ...]]:
        """The fast report if there is one, and the validators whose Structs refused the payload."""
        accepted = self.primary.fast_report(data)
        if accepted is not None:
            return accepted, ()
        # Before reading `object` properly, try the entry whose object the bytes name (longest first, since one
        # object can be the prefix of another): a delta costs one more fast decode, not a parse.
        for marker, validator in self._markers:
            if marker in data:
                return validator.fast_report(data), (self.primary, validator)
        return None, (self.primary,)

    def check(self, data: Payload) -> tuple[Report, Any]:
        return self.pick(data).check(data)

    def decode(self, data: Payload) -> Any:
        return self.pick(data).decode(data)

    def accepts_fast(self, data: bytes) -> bool:
        chosen = self.pick(data)
        return isinstance(chosen, Validator) and chosen.accepts_fast(data)

    def pick(self, data: Payload) -> Validator | _Unknown:
        """The validator for this payload's `object`; the run-step one when there is no telling (not JSON, not an
        object), so that its report says what is wrong; `_Unknown` for a missing or unknown `object`."""
        if isinstance(data, bytes | bytearray | memoryview | str):
            raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else strip_bom(bytes(data))
            try:
                given = _object_of.decode(raw).object
            except NOT_JSON:  # not JSON, or JSON that is not an object: the primary entry reports it
                return self.primary
        elif isinstance(data, dict):
            given, raw = data.get("object"), None
        else:
            return self.primary
        found = self.by_object.get(given) if isinstance(given, str) else None
        if found is not None:
            return found
        document = data
        if raw is not None:
            try:  # finding `object` skipped the rest without checking it: is the rest JSON at all?
                document = msgspec.json.decode(raw)
            except NOT_JSON:
                return self.primary
        return _Unknown(self, given, document)


class _Unknown:
    """A payload whose `object` names nothing known: one error that says which objects are."""

    def __init__(self, auto: AutoValidator, given: Any, document: Any) -> None:
        self._auto = auto
        self._given = given
        self._document = document  # what `what_object_is` reads (a list response's data)

    def report(self) -> Report:
        if not self._auto.redact:
            return self._report()
        with redacting():  # the object given is the client's word: quoted only as its kind
            return self._report()

    def _report(self) -> Report:
        known = self._auto._known
        if self._given is None:
            unit = OutputUnit(
                "", "", f'no "object" member says what this is: the objects known here are {known}', code="object"
            )
        else:
            explained = what_object_is(self._given, self._document) if isinstance(self._given, str) else None
            about = f" ({explained})" if explained else ""
            meant = self._auto.objects.meant(self._given)
            guess = f"; {did_you_mean(meant)}" if meant is not None else ""
            message = f"{excerpt(self._given)} is not an object known here{about}: the objects known here are {known}"
            message += guess
            unit = OutputUnit("/object", "", message, code="object", suggestion=meant)
        return Report(False, self._auto.schema_id, (unit,))

    def validate(self, data: Payload) -> Report:
        return self.report()

    def check(self, data: Payload) -> tuple[Report, Any]:
        return self.report(), None

    def decode(self, data: Payload) -> Any:
        from .errors import RunStepDecodeError  # noqa: PLC0415  # the rare path

        raise RunStepDecodeError(self.report())
