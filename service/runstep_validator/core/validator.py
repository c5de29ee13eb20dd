"""The validation core: one `Validator` per entry schema, built once, used for every payload.

A payload first meets the entry's msgspec Structs (`entries.STRUCTS`). If they decode it, it is valid (they are
never looser than the schema) and only the warnings remain to compute, when someone reads them. If they refuse,
or the entry has no Structs, jsonschema-rs gives the verdict and the full report.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

import msgspec

from .entries import STRUCTS, Structs
from .errors import InvalidJSONError, RunStepDecodeError, SchemaError
from .headlines import Headlines
from .messages import dialect_hint, redacting, tokens
from .parsing import NOT_JSON, UTF8_BOM, parse, strip_bom
from .report import Deferred, OutputUnit, Report
from .schemas import DEFAULT_SCHEMA, SchemaSet

if TYPE_CHECKING:
    from .engine import Engine
    from .vocabulary import VocabularyWalker

Payload = bytes | bytearray | memoryview | str | object

DEFAULT_MAX_DEPTH: Final = 64
_NOT_DECODED = NOT_JSON  # the Structs raise the same as the parser, and ValidationError (a DecodeError)


def _as_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8", errors="surrogatepass")
    return bytes(data)


def _json_error(exc: InvalidJSONError) -> OutputUnit:
    return OutputUnit(
        instance_location="",
        keyword_location="",
        error=exc.message,
        code="invalid-json",
        line=exc.line,
        column=exc.column,
    )


class Validator:
    """Validates payloads against one entry schema of a `SchemaSet`."""

    def __init__(
        self, schemas: SchemaSet, name: str = DEFAULT_SCHEMA, max_depth: int | None = DEFAULT_MAX_DEPTH
    ) -> None:
        """`max_depth` refuses JSON nested deeper than that many levels, with the position where it passes the
        limit (a valid run step nests about ten; None leaves only the parser's own limit of about 1000)."""
        entry = schemas.entry(name)
        self.name = name
        self.max_depth = max_depth
        self.schema_id = entry.id
        self._schemas = schemas
        self._structs: Structs | None = STRUCTS.get(name)
        self._fast: msgspec.json.Decoder[Any] | None = None
        self._typed: msgspec.json.Decoder[Any] | None = None
        if self._structs is not None:
            try:
                self._fast = msgspec.json.Decoder(self._structs.accept)
                self._typed = msgspec.json.Decoder(self._structs.typed)
            except TypeError as exc:
                raise SchemaError(f"the Structs declared for entry {name!r} are not msgspec types: {exc}") from None
        # When the fast verdict's types are the typed view themselves, no second decode is needed.
        self._tolerant = self._structs is not None and self._structs.accept is self._structs.typed
        self._headlines = Headlines(schemas, name)

    @property
    def has_fast_path(self) -> bool:
        """Whether Structs give this entry its fast verdict (otherwise every payload takes the full engine)."""
        return self._fast is not None

    def validate(self, data: Payload) -> Report:
        """The report for one payload: raw JSON (bytes or str) or an already-parsed value."""
        if type(data) is not bytes:
            if isinstance(data, bytearray | memoryview | str):
                return self.validate(_as_bytes(data))
            return self._validate_value(data)
        # The common case, spelled out in one method: at 600 B each extra call is a tenth of the cost.
        if data.startswith(UTF8_BOM):
            data = data[3:]
        fast = self._fast
        if fast is None:
            return self._judge_json(data)[0]
        try:
            decoded = fast.decode(data)
        except _NOT_DECODED:
            return self._judge_json(data)[0]
        return self._accepted(decoded) if self._tolerant else self._typed_report(data)

    def fast_report(self, data: bytes) -> Report | None:
        """The report of a payload the Structs accept, or None (then `validate` has more to do)."""
        fast = self._fast
        if fast is None:
            return None
        if data.startswith(UTF8_BOM):
            data = data[3:]
        try:
            decoded = fast.decode(data)
        except _NOT_DECODED:
            return None
        return self._accepted(decoded) if self._tolerant else self._typed_report(data)

    def full_report(self, data: bytes) -> Report:
        """The report of the full engine, for a payload the Structs have already refused."""
        return self._judge_json(strip_bom(data))[0]

    def judged(self, document: Any) -> Report:
        """The report of the full engine on a payload already parsed (by `parsing.parse`, with this validator's
        depth limit) that the Structs have refused."""
        return self._judge(document)[0]

    def decode(self, data: Payload) -> Any:
        """The typed value (a `RunStep` for the run-step entries), or `RunStepDecodeError` carrying the report."""
        report, step = self.check(data)
        if step is None:
            raise RunStepDecodeError(report)
        return step

    def check(self, data: Payload) -> tuple[Report, Any]:
        """The report, and the typed value when there is one: one pass for pipelines that validate and load."""
        if not isinstance(data, bytes | bytearray | memoryview | str):
            return self._judge(data)
        raw = strip_bom(_as_bytes(data))
        if self._fast is None or self._typed is None:
            return self._judge_json(raw)
        try:
            decoded = self._fast.decode(raw)
        except _NOT_DECODED:
            return self._judge_json(raw)
        if self._tolerant:
            return self._accepted(decoded), decoded
        try:
            step = self._typed.decode(raw)
        except _NOT_DECODED:
            return self._judge_json(raw)
        return self._accepted(step), step

    def accepts_fast(self, data: bytes) -> bool:
        """Whether the Structs alone accept `data`: what keeps valid payloads off the slow path (tests use it)."""
        return self.fast_report(data) is not None

    def _typed_report(self, data: bytes) -> Report:
        # Strict Structs accepted it, which is the verdict. The warnings read the tolerant typed view, decoded only
        # when someone reads them (a second decode would cost as much as the first).
        return Report(True, self.schema_id, (), Deferred(self._warnings_of_accepted, data))

    def _warnings_of_accepted(self, data: bytes) -> tuple[OutputUnit, ...]:
        # The tolerant Structs may refuse what a contract leaves open (a map): then the slow path types it, naming
        # what it had to leave out.
        assert self._structs is not None
        assert self._typed is not None
        try:
            typed = self._typed.decode(data)
        except _NOT_DECODED:
            return self._judge_json(data)[0].warnings
        return self._structs.warnings(typed)

    # The fast path: the Structs accepted the payload. Strict Structs give only the verdict; the typed view, and
    # what the warnings read, is the entry's tolerant type.

    def _accepted(self, step: Any) -> Report:
        assert self._structs is not None  # only the fast path gets here
        return Report(True, self.schema_id, (), Deferred(self._structs.warnings, step))

    def _validate_value(self, value: object) -> Report:
        structs = self._structs
        if structs is None:
            return self._judge(value)[0]
        try:
            decoded = msgspec.convert(value, structs.accept)
        except msgspec.ValidationError:
            return self._judge(value)[0]
        if self._tolerant:
            return self._accepted(decoded)
        try:
            return self._accepted(msgspec.convert(value, structs.typed))
        except msgspec.ValidationError:
            return self._judge(value)[0]

    # The slow path: jsonschema-rs decides and explains.

    def _judge_json(self, raw: bytes) -> tuple[Report, Any]:
        try:
            document = parse(raw, self.max_depth)
        except InvalidJSONError as exc:
            return Report(valid=False, schema=self.schema_id, errors=(_json_error(exc),)), None
        return self._judge(document)

    def _judge(self, document: Any) -> tuple[Report, Any]:
        errors = self._engine.errors(document)
        if errors:
            units = tuple(self._hinted(document, unit) for unit in self._headlines.first(document, errors))
            return Report(valid=False, schema=self.schema_id, errors=units), None
        structs = self._structs
        if structs is None:
            return Report(True, self.schema_id), None
        typable, vocabulary_warnings, dropped = self._walker.walk(document)
        try:
            step = msgspec.convert(typable, structs.typed, strict=False)
        except msgspec.ValidationError as exc:
            # Valid under a contract that leaves something open (a map) that the typed view closes.
            unit = OutputUnit("", "", f"valid, but the typed view cannot hold it: {exc}", code="untyped")
            return Report(True, self.schema_id, (), (*vocabulary_warnings, unit)), None
        report = Report(True, self.schema_id, (), vocabulary_warnings + structs.warnings(step))
        return report, None if dropped else step

    @cached_property
    def _walker(self) -> VocabularyWalker:
        from .vocabulary import VocabularyWalker

        assert self._structs is not None
        return VocabularyWalker(self._structs.typed, self._elsewhere)

    @cached_property
    def _elsewhere(self) -> dict[str, tuple[str, ...]]:
        """The types (run step, tool call, ...) only other dialects know, with those dialects: an Azure tool call
        met under OpenAI's entries is better explained by naming the dialect that knows it."""
        from .vocabulary import union_tags

        mine = self._schemas.entry(self.name).dialect
        own = union_tags(self._structs.typed) if self._structs is not None else frozenset()
        known: dict[str, set[str]] = {}
        for name, entry in self._schemas.entries.items():
            structs = STRUCTS.get(name)
            if entry.dialect != mine and structs is not None:
                for tag in union_tags(structs.typed) - own:
                    known.setdefault(tag, set()).add(entry.dialect)
        return {tag: tuple(sorted(dialects)) for tag, dialects in known.items()}

    def _hinted(self, document: Any, unit: OutputUnit) -> OutputUnit:
        """A type error about a value another dialect knows ("activities" under OpenAI's entries) names it."""
        if unit.code not in {"enum", "const"} or not unit.instance_location.endswith("/type"):
            return unit
        value: Any = document
        for token in tokens(unit.instance_location):
            if isinstance(value, dict):
                value = value.get(token)
            elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
                value = value[int(token)]
            else:
                return unit
        dialects = self._elsewhere.get(value, ()) if isinstance(value, str) else ()
        return msgspec.structs.replace(unit, error=unit.error + dialect_hint(dialects)) if dialects else unit

    @cached_property
    def _engine(self) -> Engine:
        # Built on first need: a run that only sees valid payloads never loads it.
        from .engine import Engine

        return Engine(self._schemas, self.name)


class RedactingValidator(Validator):
    """A Validator whose reports quote no payload value at all, only its kind ("a string", "a number"): for
    reports that end up in logs or in front of people who must not see the data."""

    def validate(self, data: Payload) -> Report:
        with redacting():
            return self._scrubbed(super().validate(data))

    def full_report(self, data: bytes) -> Report:
        with redacting():
            return self._scrubbed(super().full_report(data))

    def judged(self, document: Any) -> Report:
        with redacting():
            return self._scrubbed(super().judged(document))

    def fast_report(self, data: bytes) -> Report | None:
        with redacting():
            report = super().fast_report(data)
            return None if report is None else self._scrubbed(report)

    def check(self, data: Payload) -> tuple[Report, Any]:
        with redacting():
            report, step = super().check(data)
            return self._scrubbed(report), step

    @cached_property
    def _names(self) -> frozenset[str]:
        """Every member name the schemas define: a location made of these and indexes quotes no payload."""
        return frozenset(name for doc in self._schemas.documents for name in _property_names(doc.contents))

    def hidden(self, location: str) -> str:
        """A JSON Pointer with every member name the schemas do not define (metadata keys, unknown members: the
        payload's own words) replaced by `*`."""
        parts = location.split("/")[1:]
        if all(part in self._names or part.isdigit() for part in parts):
            return location
        return "".join("/" + (part if part in self._names or part.isdigit() else "*") for part in parts)

    def _scrubbed(self, report: Report) -> Report:
        def scrub(unit: OutputUnit) -> OutputUnit:
            hidden = self.hidden(unit.instance_location)
            return unit if hidden is unit.instance_location else msgspec.structs.replace(unit, instance_location=hidden)

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
