"""The HTTP service: Flask app factory, routes and RFC 9457 errors. It only translates HTTP to the core and back.

    create_app()                                  # settings from the environment
    create_app({"max_body_bytes": 1024})          # tests pass overrides by setting name

`POST /v1/validate` is the product's hot path. Its common case (a JSON body with a Content-Length within the
limit, valid query parameters) is answered by `ValidateFastLane`, a WSGI middleware in front of Flask that skips
Flask's request and response objects, which cost several times the validation itself. It calls the same
`Service` methods as the Flask route; anything unusual falls through to Flask.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from flask import Flask, Request, Response, request
from msgspec import UNSET, UnsetType
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from .config import Settings
from .core import RedactingValidator, Validator, default_schemas
from .errors import InvalidJSONError, UnknownSchemaError
from .openapi import build_openapi, serve_names
from .problems import PROBLEM_MEDIA_TYPE, Problem
from .records import Record, split_document, split_lines
from .report import INVALID_JSON, OUTPUT_FORMATS, OutputFormat, OutputUnit, Report

log = logging.getLogger(__name__)
access_log = logging.getLogger("runstep_validator.access")

JSON_MEDIA_TYPE = "application/json"
JSON_TYPES = frozenset({JSON_MEDIA_TYPE})
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


INTERNAL_ERROR = Problem(500, "internal-error", "Internal error", "the server failed; the error is logged")


def too_large(limit: int) -> Problem:
    detail = f"the body is larger than the limit of {limit} bytes"
    return Problem(413, "payload-too-large", "Payload too large", detail, limit=limit)


def not_json(reason: str, line: int | None, column: int | None) -> Problem:
    return Problem(400, "invalid-json", "Body is not JSON", reason, line=line, column=column)


def media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _http_problem(exc: HTTPException, settings: Settings) -> Problem:
    status = exc.code or 500
    if isinstance(exc, RequestEntityTooLarge):
        return too_large(settings.max_body_bytes)
    if status == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or [])
        detail = f"{request.method} is not allowed here"
        return Problem(405, "method-not-allowed", "Method not allowed", detail, allowed=allowed)
    if status == 404:
        return Problem(404, "not-found", "Not found", f"no route for {request.path[:100]}")
    return Problem(status, f"http-{status}", exc.name, exc.description or exc.name)


class Service:
    """Everything built once per process (validators, the OpenAPI document, schema files and ETags) and the
    request handling that both the Flask routes and the fast lane use."""

    def __init__(self, settings: Settings) -> None:
        schemas = default_schemas()
        self.settings = settings
        kind = RedactingValidator if settings.redact_values else Validator
        self.validators = {name: kind(schemas, name, max_depth=settings.max_depth) for name in schemas.entries}
        if settings.default_schema not in self.validators:
            raise UnknownSchemaError(settings.default_schema, tuple(self.validators))
        self.openapi = _encoder.encode(build_openapi(schemas, settings.default_schema))
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
        self._queries: dict[str, tuple[Validator, OutputFormat]] = {}

    def parse_query(self, query: str) -> tuple[Validator, OutputFormat]:
        """The validator and output format named by a query string; `Problem` if either is unknown."""
        found = self._queries.get(query)
        if found is None:
            params = dict(parse_qsl(query, keep_blank_values=True))  # `?schema=` names no schema: a 404
            found = self._validator(params.get("schema")), self._output(params.get("output"))
            if len(self._queries) < 256:  # bounded: query strings come from clients
                self._queries[query] = found
        return found

    def _validator(self, name: str | None) -> Validator:
        name = self.settings.default_schema if name is None else name
        try:
            return self.validators[name]
        except KeyError:
            detail = f"no schema named {name[:64]!r}"
            raise Problem(404, "unknown-schema", "Unknown schema", detail, known=sorted(self.validators)) from None

    @staticmethod
    def _output(name: str | None) -> OutputFormat:
        for output in OUTPUT_FORMATS:
            if name == output:
                return output
        if name is None:
            return "basic"
        detail = f"output must be one of {', '.join(OUTPUT_FORMATS)}"
        raise Problem(400, "invalid-parameter", "Invalid parameter", detail, parameter="output")

    def validate(self, validator: Validator, output: OutputFormat, body: bytes) -> Encoded:
        """The answer to `POST /v1/validate` for a non-empty body: the report, or a 400 problem if it is not JSON."""
        report = validator.validate(body)
        if not report.valid and report.errors[0].code == INVALID_JSON:
            unit = report.errors[0]
            return Encoded.problem(not_json(unit.error, unit.line, unit.column))
        return Encoded.json(report.render(output))

    def validate_batch(self, validator: Validator, body: bytes, ndjson: bool) -> Encoded:
        try:
            records = list(split_lines(body)) if ndjson else split_document(body)
        except InvalidJSONError as exc:
            return Encoded.problem(not_json(str(exc), exc.line, exc.column))
        limit = self.settings.max_batch_records
        if len(records) > limit:
            detail = f"{len(records)} records are more than the limit of {limit}"
            return Encoded.problem(Problem(413, "batch-too-large", "Batch too large", detail, limit=limit))
        deadline = time.monotonic() + self.settings.max_request_seconds
        results = []
        for record in records:
            if not record.index % 256 and time.monotonic() > deadline:
                seconds = self.settings.max_request_seconds
                detail = f"validating took longer than the limit of {seconds:g} s after {record.index} records"
                problem = Problem(413, "time-limit", "Too long to validate", detail, limit=seconds)
                return Encoded.problem(problem)
            results.append(BatchResult.of(record, validator.validate(record.raw), ndjson))
        valid = sum(result.valid for result in results)
        summary = {"total": len(results), "valid": valid, "invalid": len(results) - valid}
        return Encoded.json({"summary": summary, "results": results})

    def read_body(self, req: Request, accepted: frozenset[str]) -> bytes:
        """The body of a request to a route that takes one: of an accepted type, within the limit, not empty."""
        if req.mimetype not in accepted:
            given = req.mimetype or "no Content-Type"
            detail = f"{given[:64]} is not accepted here"
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


def read_exactly(environ: dict[str, Any], length: int) -> bytes:
    data: bytes = environ["wsgi.input"].read(length)
    if len(data) < length:
        detail = f"the body ended after {len(data)} of {length} bytes"
        raise Problem(400, "truncated-body", "Truncated body", detail, received=len(data), expected=length)
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


class BatchResult(msgspec.Struct, frozen=True, gc=False, omit_defaults=True, kw_only=True):
    """One record's verdict in a batch; `line` is its line in an NDJSON body (absent for JSON arrays)."""

    index: int
    line: int | UnsetType = UNSET
    valid: bool
    errors: tuple[OutputUnit, ...]
    warnings: tuple[OutputUnit, ...]

    @classmethod
    def of(cls, record: Record, report: Report, with_line: bool) -> BatchResult:
        line = record.line if with_line else UNSET
        return cls(index=record.index, line=line, valid=report.valid, errors=report.errors, warnings=report.warnings)


class ValidateFastLane:
    """WSGI middleware answering the common case of `POST /v1/validate` without Flask; see the module docstring."""

    def __init__(self, app: WSGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.limit = service.settings.max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/v1/validate" or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        length_header = environ.get("CONTENT_LENGTH", "")
        if not length_header.isdigit() or not 0 < int(length_header) <= self.limit:
            return self.app(environ, start_response)
        if media_type(environ.get("CONTENT_TYPE", "")) != JSON_MEDIA_TYPE:
            return self.app(environ, start_response)
        try:
            validator, output = self.service.parse_query(environ.get("QUERY_STRING", ""))
            answer = self.service.validate(validator, output, read_exactly(environ, int(length_header)))
        except Problem as problem:
            if problem.slug != "truncated-body":
                return self.app(environ, start_response)
            answer = Encoded.problem(problem)
        except Exception:  # the same answer as Flask's handler gives: logged here, a bare problem for the client
            log.exception("unexpected error on POST /v1/validate")
            answer = Encoded.problem(INTERNAL_ERROR)
        headers = [("Content-Type", answer.media_type), ("Content-Length", str(len(answer.body)))]
        start_response(f"{answer.status} {HTTP_STATUS_CODES[answer.status].upper()}", headers)  # as werkzeug does
        return [answer.body]


class AccessLog:
    """WSGI middleware logging one line per request: method, path, status, response size and latency.
    Never bodies or query strings: those carry client data."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ""

        def recording_start_response(status_line: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            nonlocal status
            status = status_line.partition(" ")[0]
            return start_response(status_line, headers, *args)

        chunks = list(self.app(environ, recording_start_response))
        access_log.info(
            "%s %s %s %d %.2fms",
            environ.get("REQUEST_METHOD", "-"),
            environ.get("PATH_INFO", "")[:200],
            status,
            sum(len(chunk) for chunk in chunks),
            (time.perf_counter() - started) * 1000,
        )
        return chunks


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The WSGI application. Settings: defaults, then RUNSTEP_VALIDATOR_* variables, then `config`."""
    settings = Settings.load(overrides=config)
    service = Service(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["runstep_validator"] = service
    app.wsgi_app = ValidateFastLane(app.wsgi_app, service)  # type: ignore[method-assign]
    if settings.access_log:
        app.wsgi_app = AccessLog(app.wsgi_app)  # type: ignore[method-assign]

    @app.errorhandler(Problem)
    def on_problem(problem: Problem) -> Response:
        response = Encoded.problem(problem).to_flask()
        if problem.status == 405:
            response.headers["Allow"] = ", ".join(problem.extensions["allowed"])
        if problem.slug == "payload-too-large":
            # The body was refused unread, so the connection cannot carry another request: say so.
            response.headers["Connection"] = "close"
        return response

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> Response:
        return on_problem(_http_problem(exc, settings))

    @app.errorhandler(Exception)
    def on_unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path[:100])
        return on_problem(INTERNAL_ERROR)

    @app.post("/v1/validate")
    def validate() -> Response:
        validator, output = service.parse_query(request.query_string.decode("latin-1"))
        return service.validate(validator, output, service.read_body(request, JSON_TYPES)).to_flask()

    @app.post("/v1/validate/batch")
    def validate_batch() -> Response:
        validator, _ = service.parse_query(request.query_string.decode("latin-1"))
        body = service.read_body(request, NDJSON_TYPES | JSON_TYPES)
        return service.validate_batch(validator, body, request.mimetype in NDJSON_TYPES).to_flask()

    @app.get("/v1/schemas")
    def list_schemas() -> Response:
        return Encoded.json(service.schema_index).to_flask()

    @app.get("/v1/schemas/<path:name>")
    def get_schema(name: str) -> Response:
        if name not in service.schema_files:
            raise Problem(404, "unknown-schema", "Unknown schema", f"no schema named {name[:64]!r}")
        response = Response(service.schema_files[name], mimetype="application/schema+json")
        response.set_etag(service.schema_etags[name])
        response.make_conditional(request)
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        return Encoded.json({"status": "ok"}).to_flask()

    @app.get("/openapi.json")
    def openapi() -> Response:
        return Response(service.openapi, mimetype=JSON_MEDIA_TYPE)

    return app
