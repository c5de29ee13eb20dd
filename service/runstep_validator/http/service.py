"""What the service does for a request, apart from HTTP's own machinery: validators, schema files and the
OpenAPI document built once per process, and the handling that both the Flask routes and the fast lane use."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Final, NamedTuple, Protocol
from urllib.parse import parse_qsl

import msgspec
from flask import Request, Response

from ..core.api import PayloadValidator
from ..core.deadline import check_time, over_time, time_limit
from ..core.errors import HOLDS_NO_EVENT, LimitExceeded, NotAnEventStream, NotJsonLines, SchemaNotForStreams
from ..core.parsing import TOO_DEEP
from ..core.profile import Profile
from ..core.report import INVALID_JSON, OUTPUT_FORMATS, OutputFormat, OutputUnit, Report
from ..core.schemas import AUTO, DEFAULT_DIALECT
from ..core.suggestions import NearMisses, did_you_mean
from ..sources.positions import placed
from ..sources.reading import body_records
from ..sources.records import Record, record_report
from ..sources.sse import validate_stream
from ..switches import WORDS, yes_or_no
from .config import Settings
from .observe import Metrics, NoMetrics, metrics, verdict
from .openapi import REQUEST_EXAMPLES, Answers, Example, build_openapi, example_body, serve_names
from .problems import PROBLEM_MEDIA_TYPE, Problem

JSON_MEDIA_TYPE = "application/json"
JSON_TYPES = frozenset({JSON_MEDIA_TYPE})
STREAM_TYPES = frozenset({"text/event-stream"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines"})
_encoder = msgspec.json.Encoder()

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Encoded(msgspec.Struct, frozen=True):
    """A response ready to send: status, media type and body bytes."""

    status: int
    media_type: str
    body: bytes

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Encoded:
        return cls(status, JSON_MEDIA_TYPE, _encoder.encode(data))

    @classmethod
    def problem(cls, problem: Problem) -> Encoded:
        return cls(problem.status, PROBLEM_MEDIA_TYPE, _encoder.encode(problem.body()))

    def to_flask(self) -> Response:
        return Response(self.body, status=self.status, mimetype=self.media_type)


HEALTHY: Final = {"status": "ok"}
READY_ANSWER: Final = {"status": "ready"}


class Headers(Protocol):
    """A request's headers as granian's scope and the front door's RequestHeaders give them: by lowercase name."""

    def get(self, name: str, default: str, /) -> str: ...


# The query parameters the validation routes take: a stream's events pick their entries by name, and its answer
# has one shape, so the stream route takes no schema and no output.
QUERY_PARAMETERS: Final = ("schema", "strict", "dialect", "output")
STREAM_PARAMETERS: Final = ("strict", "dialect")
INTERNAL_ERROR = Problem(500, "internal-error", "Internal error", "the server failed; the error is logged")
DRAINING = Problem(
    503, "draining", "Stopping", "the server is stopping: it finishes the requests it has and takes no new ones"
)
METRICS_OFF = Problem(404, "not-found", "Not found", "metrics are turned off (RUNSTEP_VALIDATOR_METRICS=false)")


def unknown_schema_file(name: str, known: list[str]) -> Problem:
    meant = NearMisses(known).meant(name)
    detail = f"no schema named {name[:64]!r}" + (f"; {did_you_mean(meant)}" if meant else "")
    return Problem(404, "unknown-schema", "Unknown schema", detail, known=known)


def too_large(limit: int) -> Problem:
    detail = f"the body is larger than the limit of {limit} bytes"
    return Problem(413, "payload-too-large", "Payload too large", detail, limit=limit)


def time_limit_problem(exc: LimitExceeded) -> Encoded:
    return Encoded.problem(Problem(413, "time-limit", "Too long to validate", exc.detail, limit=exc.limit))


def not_json(reason: str, line: int | None, column: int | None) -> Problem:
    return Problem(400, "invalid-json", "Body is not JSON", reason, line=line, column=column)


def media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


class Query(NamedTuple):
    """What a request's query string asks for."""

    validator: PayloadValidator
    output: OutputFormat
    strict: bool
    dialect: str


class Service:
    """Everything built once per process (validators, the OpenAPI document, schema files and ETags) and the
    request handling that both the Flask routes and the fast lane use."""

    def __init__(self, settings: Settings) -> None:
        # The settings' selection, and its variants a query can ask for: (name, strict, dialect), every entry by
        # name and auto in both variants of every dialect. Strict and dialect change nothing for a named entry.
        self.profile = Profile(
            settings.default_schema,
            dialect=settings.default_dialect,
            redact=settings.redact_values,
            max_depth=settings.max_depth,
            max_seconds=settings.max_request_seconds,
        )
        schemas = self.profile.schemas
        self.settings = settings
        self.dialects = schemas.dialects
        self.profiles: dict[tuple[str, bool, str], Profile] = {}
        for dialect in self.dialects:
            for strict in (False, True):
                self.profiles[AUTO, strict, dialect] = self.profile.replace(schema=AUTO, strict=strict, dialect=dialect)
        for name in schemas.entries:
            named = self.profile.replace(schema=name, strict=False, dialect=DEFAULT_DIALECT)
            for dialect in self.dialects:
                self.profiles[name, False, dialect] = self.profiles[name, True, dialect] = named
        # Built now, not by the first request.
        self.validators = {key: profile.validator for key, profile in self.profiles.items()}
        self.metrics: Metrics | NoMetrics = metrics(schemas.entries) if settings.metrics else NoMetrics()
        self.metrics.name_ids({document.id: name for name, document in schemas.entries.items()})
        self.known = [AUTO, *sorted(schemas.entries)]
        served = sorted(serve_names(schemas).items())
        self.schema_files = {name: doc.path.read_bytes() for name, doc in served}
        self.schema_etags = {name: hashlib.sha256(data).hexdigest()[:32] for name, data in self.schema_files.items()}
        self.schema_index = [
            {
                "name": name,
                "$id": doc.id,
                "title": doc.title,
                "entry": doc.name is not None,
                "url": f"/v1/schemas/{name}",
            }
            for name, doc in served
        ]
        self._queries: dict[tuple[str, tuple[str, ...]], Query] = {}
        self.openapi = _encoder.encode(build_openapi(schemas, settings.default_schema, self._documented_answers()))

    def _documented_answers(self) -> Answers:
        """This service's own answers to the OpenAPI document's request examples and to a few bad requests: the
        examples it shows are what a client gets. They are not counted in the metrics."""
        answers: Answers = {}

        def add(path: str, name: str, summary: str, encoded: Encoded) -> None:
            shown = Example(summary, msgspec.json.decode(encoded.body))
            answers.setdefault(path, {}).setdefault(str(encoded.status), {})[name] = shown

        counting, self.metrics = self.metrics, NoMetrics()
        try:
            query = self.parse_query("")
            for path, by_type in REQUEST_EXAMPLES.items():
                for media_type, examples in by_type.items():
                    for name, example in examples.items():
                        body = example_body(example.value)
                        if path == "/v1/validate":
                            answer = self.validate(query.validator, query.output, body)
                        elif path == "/v1/validate/batch":
                            answer = self.validate_batch(query.validator, body, media_type in NDJSON_TYPES)
                        else:
                            answer = self.validate_stream(body, query.strict, query.dialect)
                        add(path, name, f"The answer to: {example.summary}", answer)
            broken = b'{"id": "step_1", "object": '
            add(
                "/v1/validate",
                "not-json",
                f"A body that is not JSON: {broken.decode()}",
                self.validate(*query[:2], broken),
            )
            broken_array = b'[{"id": "step_1"} {"id": "step_2"}]'
            add(
                "/v1/validate/batch",
                "not-json",
                f"An array that is not JSON: {broken_array.decode()}",
                self.validate_batch(query.validator, broken_array, False),
            )
            pretty = b'{\n  "id": "step_1"\n}\n'
            add(
                "/v1/validate/batch",
                "not-json-lines",
                'NDJSON written across lines (pretty-printed): {\\n  "id": "step_1"\\n}',
                self.validate_batch(query.validator, pretty, True),
            )
            add(
                "/v1/validate/stream",
                "not-an-event-stream",
                "A body without an event: hello",
                self.validate_stream(b"hello", query.strict, query.dialect),
            )
            for path in ("/v1/validate", "/v1/validate/batch"):
                try:
                    self.parse_query("schema=run_stp")
                except Problem as problem:
                    add(
                        path,
                        "unknown-schema",
                        "The query names no entry schema: ?schema=run_stp",
                        Encoded.problem(problem),
                    )
            unknown = unknown_schema_file("run_stp", sorted(self.schema_files))
            add("/v1/schemas/{name}", "unknown-schema", "No schema is served as run_stp", Encoded.problem(unknown))
            add("/v1/schemas", "schemas", "The schema documents served", Encoded.json(self.schema_index))
            add("/healthz", "up", "The service is up", Encoded.json(HEALTHY))
            add("/readyz", "ready", "Ready for requests", Encoded.json(READY_ANSWER))
            add("/readyz", "draining", "After SIGTERM, while the requests in flight finish", Encoded.problem(DRAINING))
            add("/metrics", "off", "Metrics are turned off", Encoded.problem(METRICS_OFF))
        finally:
            self.metrics = counting
        return answers

    def parse_query(self, query: str, taken: tuple[str, ...] = QUERY_PARAMETERS) -> Query:
        """The validator, output format and strictness a query string asks for; `Problem` if any is unknown, or
        is a parameter the route does not take."""
        found = self._queries.get((query, taken))
        if found is None:
            pairs = parse_qsl(query, keep_blank_values=True)
            params = dict(pairs)  # `?schema=` names no schema: a 404
            self._refuse_unknown(params, taken)
            if len(params) < len(pairs):  # which of two values was meant cannot be known
                given = Counter(name for name, _ in pairs)
                name = next(name for name, _ in pairs if given[name] > 1)
                detail = f"query parameter {name[:64]!r} is given more than once: give it once"
                raise Problem(400, "invalid-parameter", "Invalid parameter", detail, parameter=name[:64])
            strict = self._flag("strict", params.get("strict"))
            dialect = self._dialect(params.get("dialect"))
            validator = self._validator(params.get("schema"), strict, dialect)
            found = Query(validator, self._output(params.get("output")), strict, dialect)
            if len(self._queries) < 256:  # bounded: query strings come from clients
                self._queries[query, taken] = found
        return found

    @staticmethod
    def _refuse_unknown(params: dict[str, str], taken: tuple[str, ...]) -> None:
        """A parameter the route does not take is a typo that would silently be ignored (`?schem=run_step`
        validating against the default schema): refused, with the one it probably meant."""
        for name in params:
            if name == "schema" and name not in taken:  # the stream route's, refused in the core's words
                detail = str(SchemaNotForStreams())
                raise Problem(400, "invalid-parameter", "Invalid parameter", detail, parameter=name)
            if name not in taken:
                meant = NearMisses(taken).meant(name)
                hint = f"; {did_you_mean(meant)}" if meant else f"; this route takes {', '.join(taken)}"
                detail = f"unknown query parameter {name[:64]!r}{hint}"
                raise Problem(400, "invalid-parameter", "Invalid parameter", detail, parameter=name[:64])

    def _dialect(self, name: str | None) -> str:
        if name is None:
            return self.settings.default_dialect
        if name in self.dialects:
            return name
        meant = NearMisses(self.dialects).meant(name)
        detail = f"dialect must be one of {', '.join(self.dialects)}" + (f"; {did_you_mean(meant)}" if meant else "")
        raise Problem(400, "invalid-parameter", "Invalid parameter", detail, parameter="dialect")

    def _validator(self, name: str | None, strict: bool, dialect: str) -> PayloadValidator:
        name = self.settings.default_schema if name is None else name
        try:
            return self.validators[name, strict, dialect]
        except KeyError:
            raise unknown_schema_file(name, self.known) from None

    @staticmethod
    def _flag(parameter: str, value: str | None) -> bool:
        """A query's yes or no, in the words a setting takes (`?strict` alone is yes)."""
        if value is None:
            return False
        said = yes_or_no(value) if value else True
        if said is None:
            detail = f"{parameter} must be a yes or a no: {WORDS}"
            raise Problem(400, "invalid-parameter", "Invalid parameter", detail, parameter=parameter)
        return said

    @staticmethod
    def _output(name: str | None) -> OutputFormat:
        for output in OUTPUT_FORMATS:
            if name == output:
                return output
        if name is None:
            return "basic"
        detail = f"output must be one of {', '.join(OUTPUT_FORMATS)}"
        raise Problem(400, "invalid-parameter", "Invalid parameter", detail, parameter="output")

    def _usual_request(self, query: str, headers: Headers, body: bytes) -> tuple[PayloadValidator, OutputFormat] | None:
        """The validator and output a `POST /v1/validate` asks for, or None when anything about it is unusual (no
        body, another media type, an encoded body, a query Flask must refuse)."""
        if not body or headers.get("content-encoding", ""):  # an encoded body: Flask refuses it (or takes identity)
            return None
        if media_type(headers.get("content-type", "")) != JSON_MEDIA_TYPE:
            return None
        try:
            validator, output, _, _ = self.parse_query(query)
        except Problem:
            return None
        return validator, output

    def validate(self, validator: PayloadValidator, output: OutputFormat, body: bytes) -> Encoded:
        """The answer to `POST /v1/validate` for a non-empty body: the report, a 400 problem if it is not JSON, or
        a 413 problem when validating it passes the time limit (the work stops there)."""
        return self._answer_within_limit(validator.validate, output, body)

    def _answer_within_limit(self, judge: Callable[[bytes], Report], output: OutputFormat, body: bytes) -> Encoded:
        try:
            with time_limit(self.settings.max_request_seconds):
                report = judge(body)
                check_time()  # before its errors are placed in the body
                return self._answer(report, output, body)
        except LimitExceeded as exc:
            return time_limit_problem(exc)

    def _answer(self, report: Report, output: OutputFormat, body: bytes) -> Encoded:
        if not report.valid and report.errors[0].code == INVALID_JSON:
            unit = report.errors[0]
            if TOO_DEEP in unit.error:
                self.metrics.limit_hit("depth")
            return Encoded.problem(not_json(unit.error, unit.line, unit.column))
        self.metrics.validated(report)
        verdict.set((report.valid, len(report.errors)))
        if output != "flag":  # only a verdict: its units (and a valid payload's warnings) are never computed
            report = self._shown(report, Record(0, 1, body))
        return Encoded.json(report.render(output))

    def _shown(self, report: Report, record: Record) -> Report:
        """A report about to be shown: its units placed at their line and column in the body, its warnings
        counted (they are computed here, for the answer, and only here)."""
        if report.warnings:
            self.metrics.warned(report)
        elif report.valid:
            return report  # nothing to place
        return placed(report, record)

    def answer_fast(self, query: str, headers: Headers, body: bytes) -> Encoded | None:
        """The answer to the common `POST /v1/validate` (a JSON body, known parameters) without Flask, or None when
        anything about it is unusual: then Flask answers, with the same methods, and its error handling."""
        usual = self._usual_request(query, headers, body)
        if usual is None:
            return None
        validator, output = usual
        return self.validate(validator, output, body)

    def answer_accepted(self, query: str, headers: Headers, body: bytes) -> Encoded | None:
        """`answer_fast`'s answer when the fast path alone finds the payload valid (it stops at the first error, so
        its cost is bounded by the size of the body); None when the payload needs the full report, or Flask."""
        usual = self._usual_request(query, headers, body)
        if usual is None:
            return None
        validator, output = usual
        report = validator.fast_report(body)
        if report is None:
            return None
        return self._answer_within_limit(lambda _: report, output, body)

    def validate_stream(self, body: bytes, strict: bool, dialect: str = DEFAULT_DIALECT) -> Encoded:
        """The answer to `POST /v1/validate/stream`: the stream report, or a 413 problem past a limit."""
        try:
            report = validate_stream(  # its time limit holds inside each event's validation too
                body, profile=self.profiles[AUTO, strict, dialect], max_events=self.settings.max_stream_events
            )
        except LimitExceeded as exc:
            if exc.kind == "events":
                problem = Problem(413, "stream-too-long", "Stream too long", exc.detail, limit=exc.limit)
                return Encoded.problem(problem)
            return time_limit_problem(exc)
        except NotAnEventStream:
            detail = f"the body {HOLDS_NO_EVENT}"
            return Encoded.problem(Problem(400, "not-an-event-stream", "Not an event stream", detail))
        self.metrics.counted("/v1/validate/stream", len(report.results))
        self.metrics.stream_errors(report.errors)  # the stream's own and every event's, as the answer lists them
        verdict.set((report.valid, len(report.errors)))
        return Encoded.json(report.to_dict())

    def validate_batch(
        self, validator: PayloadValidator, body: bytes, ndjson: bool, output: OutputFormat = "basic"
    ) -> Encoded:
        limit = self.settings.max_batch_records
        try:
            records = body_records(body, ndjson, max_records=limit)
        except LimitExceeded as exc:
            return Encoded.problem(Problem(413, "batch-too-large", "Batch too large", exc.detail, limit=limit))
        except NotJsonLines as exc:
            return Encoded.problem(Problem(400, "not-json-lines", "Not JSON Lines", exc.reason, line=exc.line))
        results: list[Any] = []
        valid = errors = 0
        with time_limit(self.settings.max_request_seconds):
            for record in records:
                try:
                    check_time()
                    report = record_report(validator, record)
                    check_time()  # before its errors are placed
                except LimitExceeded:
                    seconds = self.settings.max_request_seconds
                    return time_limit_problem(over_time(seconds, f"{record.index} records"))
                self.metrics.validated(report)
                if output != "flag":
                    report = self._shown(report, record)
                valid += report.valid
                errors += len(report.errors)
                results.append(batch_result(record, report, output))
        self.metrics.counted("/v1/validate/batch", len(results))
        verdict.set((valid == len(results), errors))
        summary = {"total": len(results), "valid": valid, "invalid": len(results) - valid}
        return Encoded.json({"summary": summary, "results": results})

    def read_body(self, req: Request, accepted: frozenset[str]) -> bytes:
        """The body of a request to a route that takes one: of an accepted type, within the limit, not empty."""
        encoding = req.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding != "identity":
            detail = f"the body is encoded ({encoding[:32]}): send it as it is, uncompressed"
            title = "Unsupported content encoding"
            raise Problem(415, "unsupported-content-encoding", title, detail, accepted=["identity"])
        if req.mimetype not in accepted:
            kinds = " or ".join(sorted(accepted))
            if req.mimetype:
                detail = f"{req.mimetype[:64]} is not accepted here: send {kinds}"
            else:
                detail = f"the request has no Content-Type: send {kinds}"
            raise Problem(415, "unsupported-media-type", "Unsupported media type", detail, accepted=sorted(accepted))
        length = req.content_length
        if length is None:
            data = read_chunked(req.environ, self.settings.max_body_bytes)
        elif length > self.settings.max_body_bytes:
            raise too_large(self.settings.max_body_bytes)
        else:
            data = read_exactly(req.environ, length)
        if not data:
            raise Problem(400, "empty-body", "Empty body", "the request has no body")
        return data


def truncated_body(detail: str, **extensions: int) -> Problem:
    return Problem(400, "truncated-body", "Truncated body", detail, **extensions)


def read_exactly(environ: dict[str, Any], length: int) -> bytes:
    data: bytes = environ["wsgi.input"].read(length)
    if len(data) < length:
        raise truncated_body(f"the body ended after {len(data)} of {length} bytes", received=len(data), expected=length)
    return data


def read_chunked(environ: dict[str, Any], limit: int) -> bytes:
    """A body without Content-Length, read piece by piece so that an oversized one is refused at the limit,
    never held whole. Without the server's word that the stream ends (wsgi.input_terminated), there is none."""
    if not environ.get("wsgi.input_terminated"):
        return b""
    stream, pieces, size = environ["wsgi.input"], [], 0
    while piece := stream.read(min(65536, limit + 1 - size)):
        pieces.append(piece)
        size += len(piece)
        if size > limit:
            raise too_large(limit)
    return b"".join(pieces)


def batch_result(record: Record, report: Report, output: OutputFormat) -> Any:
    """One record's result in the requested output format, with its index and line."""
    if output == "basic":
        return BatchResult.of(record, report)
    rendered = report.render(output)
    rendered.pop("schema", None)
    rendered.pop("headline", None)
    return {"index": record.index, "line": record.line, **rendered}


class BatchResult(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One record's verdict in a batch; `line` is where the record starts in the body (for every kind of body)."""

    index: int
    line: int
    valid: bool
    errors: tuple[OutputUnit, ...]
    warnings: tuple[OutputUnit, ...]

    @classmethod
    def of(cls, record: Record, report: Report) -> BatchResult:
        return cls(
            index=record.index, line=record.line, valid=report.valid, errors=report.errors, warnings=report.warnings
        )
