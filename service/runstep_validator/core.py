"""The validation core: one `Validator` per entry schema, built once, used for every payload.

A payload first meets the msgspec Structs. If they decode it, it is valid (they are never looser than the schema)
and only the linter runs. If they refuse, the slow path's engine (the schema compiled into closures, or jsonschema)
gives the verdict and the full report.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from .errors import InvalidJSONError, RunStepDecodeError, SchemaError
from .lint import lint
from .messages import redacting
from .models import AnyRunStep, RunStep
from .parsing import NOT_JSON, UTF8_BOM, parse, strip_bom
from .report import Deferred, OutputUnit, Report
from .schemas import DEFAULT_SCHEMA, SchemaSet
from .strict_models import AnyStrictRunStep

if TYPE_CHECKING:
    from .engines import Engine
    from .vocabulary import VocabularyWalker

EngineName = Literal["auto", "compiled", "jsonschema"]

Payload = bytes | bytearray | memoryview | str | object

# The Structs that give each entry schema its fast verdict.
FAST_TYPES: Final[dict[str, Any]] = {
    "run_step": AnyRunStep,
    "run_step.strict": AnyStrictRunStep,
}
_NOT_DECODED = NOT_JSON  # the Structs raise the same as the parser, and ValidationError (a DecodeError)


def _as_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8", errors="surrogatepass")
    return bytes(data)


def _json_error(exc: InvalidJSONError) -> OutputUnit:
    return OutputUnit(
        instance_location="",
        keyword_location="",
        error=str(exc),
        code="invalid-json",
        line=exc.line,
        column=exc.column,
    )


class Validator:
    """Validates run steps against one entry schema of a `SchemaSet`."""

    def __init__(
        self, schemas: SchemaSet, name: str = DEFAULT_SCHEMA, engine: EngineName = "auto", max_depth: int | None = None
    ) -> None:
        """`engine` picks the slow path's engine: `compiled`, `jsonschema`, or `auto` (compiled when the schema
        compiles, jsonschema otherwise). `max_depth` refuses JSON nested deeper than that many levels (by
        default only the parser's own limit applies; a valid run step nests about ten)."""
        entry = schemas.entry(name)
        self.name = name
        self.engine = engine
        self.max_depth = max_depth
        self.schema_id = entry.id
        self._fast = msgspec.json.Decoder(FAST_TYPES[name])
        self._typed = msgspec.json.Decoder(AnyRunStep)
        self._schemas = schemas
        self._tolerant = FAST_TYPES[name] is AnyRunStep  # its fast verdict is already the typed RunStep

    def validate(self, data: Payload) -> Report:
        """The report for one payload: raw JSON (bytes or str) or an already-parsed value."""
        if type(data) is not bytes:
            if isinstance(data, bytearray | memoryview | str):
                return self.validate(_as_bytes(data))
            return self._validate_value(data)
        # The common case, spelled out in one method: at 600 B each extra call is a tenth of the cost.
        if data.startswith(UTF8_BOM):
            data = data[3:]
        try:
            decoded = self._fast.decode(data)
        except _NOT_DECODED:
            return self._judge_json(data)[0]
        return self._accepted(decoded if self._tolerant else self._typed.decode(data))

    def decode(self, data: Payload) -> RunStep:
        """The typed run step, or `RunStepDecodeError` carrying the report."""
        report, step = self.check(data)
        if step is None:
            raise RunStepDecodeError(report)
        return step

    def check(self, data: Payload) -> tuple[Report, RunStep | None]:
        """The report, and the typed run step when there is one: one pass for pipelines that validate and load."""
        if not isinstance(data, bytes | bytearray | memoryview | str):
            return self._judge(data)
        raw = strip_bom(_as_bytes(data))
        try:
            decoded = self._fast.decode(raw)
        except _NOT_DECODED:
            return self._judge_json(raw)
        step = decoded if self._tolerant else self._typed.decode(raw)
        return self._accepted(step), step

    # The fast path: the Structs accepted the payload. Strict Structs give only the verdict; the typed view, and
    # what the linter reads, is always the tolerant RunStep.

    def _accepted(self, step: RunStep) -> Report:
        return Report(True, self.schema_id, (), Deferred(lint, step))

    def _validate_value(self, value: object) -> Report:
        try:
            decoded = msgspec.convert(value, FAST_TYPES[self.name])
        except msgspec.ValidationError:
            return self._judge(value)[0]
        step = decoded if isinstance(decoded, RunStep) else msgspec.convert(value, AnyRunStep)
        return self._accepted(step)

    # The slow path: jsonschema decides and explains.

    def _judge_json(self, raw: bytes) -> tuple[Report, RunStep | None]:
        try:
            document = parse(raw, self.max_depth)
        except InvalidJSONError as exc:
            return Report(valid=False, schema=self.schema_id, errors=(_json_error(exc),)), None
        return self._judge(document)

    def _judge(self, document: Any) -> tuple[Report, RunStep | None]:
        errors = self._engine.errors(document)
        if errors:
            return Report(valid=False, schema=self.schema_id, errors=errors), None
        typable, vocabulary_warnings, dropped = self._walker.walk(document)
        step = msgspec.convert(typable, AnyRunStep, strict=False)
        report = Report(True, self.schema_id, (), vocabulary_warnings + lint(step))
        return report, None if dropped else step

    @cached_property
    def _walker(self) -> VocabularyWalker:
        from .vocabulary import VocabularyWalker

        return VocabularyWalker(AnyRunStep)

    @cached_property
    def _engine(self) -> Engine:
        # Built on first need: a run that only sees valid payloads never loads either engine.
        from .compiled import NotCompilable
        from .engines import CompiledEngine, JSONSchemaEngine

        if self.engine != "jsonschema":
            try:
                return CompiledEngine(self._schemas, self.name)
            except NotCompilable as exc:
                if self.engine == "compiled":
                    raise SchemaError(f"{self.schema_id} does not compile: {exc}") from None
        return JSONSchemaEngine(self._schemas, self.name)


class RedactingValidator(Validator):
    """A Validator whose reports quote no payload value at all, only its kind ("a string", "a number"): for
    reports that end up in logs or in front of people who must not see the data."""

    def validate(self, data: Payload) -> Report:
        with redacting():
            return self._scrubbed(super().validate(data))

    def check(self, data: Payload) -> tuple[Report, RunStep | None]:
        with redacting():
            report, step = super().check(data)
            return self._scrubbed(report), step

    @cached_property
    def _names(self) -> frozenset[str]:
        """Every member name the schemas define: a location made of these and indexes quotes no payload."""
        return frozenset(name for doc in self._schemas.documents for name in _property_names(doc.contents))

    def _scrubbed(self, report: Report) -> Report:
        # Member names the schemas do not define (metadata keys, unknown members) are payload data too.
        def scrub(unit: OutputUnit) -> OutputUnit:
            parts = unit.instance_location.split("/")[1:]
            if all(part in self._names or part.isdigit() for part in parts):
                return unit
            hidden = "".join("/" + (part if part in self._names or part.isdigit() else "*") for part in parts)
            return msgspec.structs.replace(unit, instance_location=hidden)

        errors = tuple(scrub(unit) for unit in report.errors)
        warnings = tuple(scrub(unit) for unit in report.warnings)  # computed now, while redacting
        return Report(report.valid, report.schema, errors, warnings)


def _property_names(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            if key not in {"examples", "const", "enum", "default"}:
                yield from _property_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _property_names(item)


@cache
def default_schemas() -> SchemaSet:
    """The schemas shipped with this package, loaded and checked once per process."""
    return SchemaSet.load()


@cache
def get_validator(name: str = DEFAULT_SCHEMA, redact: bool = False) -> Validator:
    """The shared validator for an entry schema of the shipped schemas; `redact` quotes no payload values."""
    return (RedactingValidator if redact else Validator)(default_schemas(), name)


def validate(data: Payload, schema: str = DEFAULT_SCHEMA, *, redact: bool = False) -> Report:
    """Validate one run step (JSON bytes or text, or a parsed value) against an entry schema.

    >>> validate(b'{"object": "thread.run.step"}').valid
    False
    """
    return get_validator(schema, redact).validate(data)


def decode(data: Payload) -> RunStep:
    """Decode and validate one run step against the default schema; raises `RunStepDecodeError` with the report."""
    return get_validator(DEFAULT_SCHEMA).decode(data)
