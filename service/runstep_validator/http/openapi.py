"""The OpenAPI 3.1 description of the HTTP service, built once from the schema files.

The run-step schemas are bundled into `components/schemas` with their `$ref`s rewritten to local pointers, so a
generated client or a schema-driven fuzzer finds everything in one document and never fetches a `$id`.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple
from urllib.parse import urljoin

import msgspec

from .. import __version__
from ..core.report import OUTPUT_FORMATS, OutputUnit
from ..core.schemas import AUTO, DATA_KEYWORDS, DEFAULT_DIALECT, SCHEMA_SUFFIX, SchemaDocument, SchemaSet
from ..core.streams import EventResult, StepResult, StreamUnit
from ..switches import NO, YES

COMPONENTS = "#/components/schemas/"


def component_name(document: SchemaDocument) -> str:
    return document.name or document.path.name.removesuffix(SCHEMA_SUFFIX)


def _bundle(node: Any, base: str, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        bundled: dict[str, Any] = {}
        for key, value in node.items():
            if key in {"$id", "$schema"}:
                continue
            if key == "$ref" and isinstance(value, str):
                uri, _, fragment = urljoin(base, value).partition("#")
                bundled[key] = COMPONENTS + names[uri] + fragment
            elif key in DATA_KEYWORDS:
                bundled[key] = value
            else:
                bundled[key] = _bundle(value, base, names)
        return bundled
    if isinstance(node, list):
        return [_bundle(item, base, names) for item in node]
    return node


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENTS + name}


def _any_payload(schema_names: list[str]) -> dict[str, Any]:
    # Any JSON value is a legal request: a payload that is not a run step is answered with a negative report,
    # not refused. The entry schemas are named so that clients and fuzzers know what a valid one looks like.
    return {"anyOf": [*(_ref(name) for name in schema_names), {}]}


class Example(NamedTuple):
    """An example of a body: what it shows, and its value (JSON, or the text of a body that is not JSON)."""

    summary: str
    value: Any


# Where a route's answers are documented by example: path -> status -> example name -> the answer.
Answers = dict[str, dict[str, dict[str, Example]]]


def example_body(value: Any) -> bytes:
    """The bytes of a request example, as the docs page shows it (JSON indented by two spaces, as JavaScript's
    `JSON.stringify(value, null, 2)` writes it): the lines and columns of its answer are those a reader sees."""
    return value.encode() if isinstance(value, str) else json.dumps(value, indent=2).encode()


def _examples(examples: dict[str, Example]) -> dict[str, Any]:
    return {"examples": {name: {"summary": found.summary, "value": found.value} for name, found in examples.items()}}


def _json(schema: dict[str, Any], description: str, examples: dict[str, Example] | None = None) -> dict[str, Any]:
    content = {"schema": schema, **(_examples(examples) if examples else {})}
    return {"description": description, "content": {"application/json": content}}


def _query_param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _problems(answers: dict[str, dict[str, Example]], *statuses: int) -> dict[str, Any]:
    documented = {}
    for status in statuses:
        content = {"schema": _ref("Problem"), **(_examples(answers[str(status)]) if str(status) in answers else {})}
        documented[str(status)] = {
            "description": "An RFC 9457 problem",
            "content": {"application/problem+json": content},
        }
    return documented


def service_components() -> dict[str, Any]:
    """The schemas of the service's answers that are msgspec Structs, generated from them."""
    from .service import BatchResult  # noqa: PLC0415  # service.py builds this document: imported once it is loaded

    _, components = msgspec.json.schema_components(
        [OutputUnit, BatchResult, EventResult, StepResult, StreamUnit], ref_template=COMPONENTS + "{name}"
    )
    return components


# A valid run step (shaped from a recorded message-creation step), and the same step with two mistakes.
EXAMPLE_STEP: dict[str, Any] = {
    "id": "step_8cVbZ3mQ2rTn5yWk1LdPx4Ha",
    "object": "thread.run.step",
    "created_at": 1730284800,
    "run_id": "run_Qm4tX9bL2vRz7sWc5NfKj1Ye",
    "assistant_id": "asst_Hy6pW2nC8kTq3vLz9RbMx5Ud",
    "thread_id": "thread_Zr7kQ1mV4xNc8tBw2LpHs6Gf",
    "type": "message_creation",
    "status": "completed",
    "cancelled_at": None,
    "completed_at": 1730284806,
    "expires_at": None,
    "failed_at": None,
    "last_error": None,
    "step_details": {"type": "message_creation", "message_creation": {"message_id": "msg_Tp3wK8nQ1vZx6rLc4BmHy9Js"}},
    "usage": {"prompt_tokens": 1184, "completion_tokens": 96, "total_tokens": 1280},
}
EXAMPLE_INVALID_STEP: dict[str, Any] = {
    **{key: value for key, value in EXAMPLE_STEP.items() if key != "thread_id"},
    "status": "complted",
}


# A real transcript's shape (one step of a recorded function-calling run), shortened to its run-step events.
STREAM_EXAMPLE = (
    "event: thread.run.step.created\n"
    'data: {"id":"step_1","object":"thread.run.step","created_at":1712000000,"run_id":"run_1",'
    '"assistant_id":"asst_1","thread_id":"thread_1","type":"tool_calls","status":"in_progress",'
    '"step_details":{"type":"tool_calls","tool_calls":[]}}\n\n'
    "event: thread.run.step.delta\n"
    'data: {"id":"step_1","object":"thread.run.step.delta","delta":{"step_details":{"type":"tool_calls",'
    '"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"product","arguments":"",'
    '"output":null}}]}}}\n\n'
    "event: done\ndata: [DONE]\n\n"
)

# The shapes of the service's own answers that are msgspec Structs: generated from them (`service_components`).
# What is built from dictionaries (the report in its output formats, the stream report, problems) is described here.
# The same stream with a misspelt status in the step's created event.
INVALID_STREAM_EXAMPLE = STREAM_EXAMPLE.replace('"status":"in_progress"', '"status":"in_progres"', 1)

REQUEST_EXAMPLES: Answers = {  # path -> media type -> name -> the request body
    "/v1/validate": {
        "application/json": {
            "valid": Example("A completed message-creation step", EXAMPLE_STEP),
            "invalid": Example("The same step with a misspelt status and no thread_id", EXAMPLE_INVALID_STEP),
        }
    },
    "/v1/validate/batch": {
        "application/json": {
            "valid": Example("An array of run steps, all valid", [EXAMPLE_STEP]),
            "invalid": Example("An array of a valid and an invalid run step", [EXAMPLE_STEP, EXAMPLE_INVALID_STEP]),
        },
        "application/x-ndjson": {
            "valid-lines": Example("JSON Lines, all valid", json.dumps(EXAMPLE_STEP) + "\n"),
            "invalid-lines": Example(
                "JSON Lines: a valid and an invalid run step",
                json.dumps(EXAMPLE_STEP) + "\n" + json.dumps(EXAMPLE_INVALID_STEP) + "\n",
            ),
        },
    },
    "/v1/validate/stream": {
        "text/event-stream": {
            "valid": Example("A step's events, as a streamed run sends them", STREAM_EXAMPLE),
            "invalid": Example("The same events, the step's status misspelt", INVALID_STREAM_EXAMPLE),
        }
    },
}

SERVICE_SCHEMAS: dict[str, Any] = {
    "StreamReport": {
        "description": "The verdict on a stream: summary of events by kind, per-event results of the run-step events, "
        "per-step results (its events, deltas, final event, whether the deltas add up), and every error and warning: "
        "the stream's own (order, framing, a missing done event), then each event's (also listed under its event). "
        "Every unit names its event and its line and column.",
        "type": "object",
        "required": ["valid", "summary", "errors", "warnings", "events", "steps"],
        "properties": {
            "valid": {"type": "boolean"},
            "summary": {"type": "object"},
            "errors": {"type": "array", "items": _ref("StreamUnit")},
            "warnings": {"type": "array", "items": _ref("StreamUnit")},
            "events": {"type": "array", "items": _ref("EventResult")},
            "steps": {"type": "array", "items": _ref("StepResult")},
        },
    },
    "Report": {
        "description": "The verdict. flag: valid only; basic: errors as a flat list; detailed: errors nested.",
        "type": "object",
        "required": ["valid"],
        "properties": {
            "valid": {"type": "boolean"},
            "schema": {"type": "string"},
            "headline": {"type": ["string", "null"]},
            "errors": {"type": "array", "items": {}},
            "warnings": {"type": "array", "items": _ref("OutputUnit")},
        },
    },
    "BatchReport": {
        "type": "object",
        "required": ["summary", "results"],
        "properties": {
            "summary": {
                "type": "object",
                "required": ["total", "valid", "invalid"],
                "properties": {name: {"type": "integer", "minimum": 0} for name in ("total", "valid", "invalid")},
            },
            "results": {
                "type": "array",
                "items": {
                    "anyOf": [
                        _ref("BatchResult"),
                        {
                            "description": "A record's result in the flag output (index, line and valid only) or "
                            "the detailed one (errors nested)",
                            "type": "object",
                            "required": ["index", "line", "valid"],
                            "properties": {
                                "index": {"type": "integer", "minimum": 0},
                                "line": {"type": "integer", "minimum": 1},
                                "valid": {"type": "boolean"},
                            },
                        },
                    ]
                },
            },
        },
    },
    "Problem": {
        "description": "RFC 9457 problem details",
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
        },
    },
    "SchemaSummary": {
        "type": "object",
        "required": ["name", "$id", "title", "entry", "url"],
        "properties": {
            "name": {"type": "string"},
            "$id": {"type": "string"},
            "title": {"type": "string"},
            "entry": {"type": "boolean"},
            "url": {"type": "string"},
        },
    },
}


def build_openapi(schemas: SchemaSet, default_schema: str, answers: Answers | None = None) -> dict[str, Any]:
    """The document; `answers` are the service's own answers to its request examples and to a few bad requests,
    shown as the examples of each route's answers."""
    answers = answers or {}

    def request_examples(path: str, media_type: str) -> dict[str, Any]:
        return _examples(REQUEST_EXAMPLES[path][media_type])

    def answered(path: str) -> dict[str, Example]:
        return answers.get(path, {}).get("200", {})

    def problems(path: str, *statuses: int) -> dict[str, Any]:
        return _problems(answers.get(path, {}), *statuses)

    names = {document.id: component_name(document) for document in schemas.documents}
    bundled = {names[doc.id]: _bundle(doc.contents, doc.id, names) for doc in schemas.documents}
    entries = sorted(schemas.entries)
    payloads = [default_schema] if default_schema != AUTO else [name for name in entries if "." not in name]
    schema_param = _query_param(
        "schema",
        "The entry schema to validate against, or auto: the entry each payload's object names.",
        {"type": "string", "enum": [AUTO, *entries], "default": default_schema},
    )
    strict_param = _query_param(
        "strict",
        "With auto: the strict (OpenAPI contract) variant of the entry each object names. A yes or a no in the "
        "words a setting takes, in any case; the parameter alone is a yes.",
        {"type": "string", "enum": ["", *YES, *NO], "default": "false"},
    )
    dialect_param = _query_param(
        "dialect",
        "With auto: whose run steps these are (Azure AI Agents shares OpenAI's objects), which decides the entry "
        "each object picks.",
        {"type": "string", "enum": list(schemas.dialects), "default": DEFAULT_DIALECT},
    )
    output_param = _query_param(
        "output",
        "JSON Schema 2020-12 output format of the report.",
        {"type": "string", "enum": list(OUTPUT_FORMATS), "default": "basic"},
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "runstep-validator",
            # The version of what serves this document; the API's own version is the /v1/ of its paths.
            "version": __version__,
            "summary": f"API version 1 (the /v1/ of the paths that validate, whose meaning it keeps), served by "
            f"the runstep-validator package version {__version__}.",
            "description": "Validates OpenAI Assistants run steps against JSON Schemas and returns standard reports.",
        },
        "paths": {
            "/v1/validate": {
                "post": {
                    "operationId": "validate",
                    "summary": "Validate one run step",
                    "parameters": [schema_param, strict_param, dialect_param, output_param],
                    "requestBody": {
                        "required": True,
                        "description": "A run step. Any JSON is accepted: an invalid run step gets a negative report.",
                        "content": {
                            "application/json": {
                                "schema": _any_payload(payloads),
                                **request_examples("/v1/validate", "application/json"),
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            _ref("Report"), "The report, for valid and invalid payloads alike", answered("/v1/validate")
                        ),
                        **problems("/v1/validate", 400, 404, 408, 413, 415, 431, 503),
                    },
                }
            },
            "/v1/validate/batch": {
                "post": {
                    "operationId": "validateBatch",
                    "summary": "Validate many run steps: NDJSON lines or a JSON array",
                    "parameters": [schema_param, strict_param, dialect_param, output_param],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-ndjson": {
                                "schema": {"type": "string"},
                                **request_examples("/v1/validate/batch", "application/x-ndjson"),
                            },
                            "application/json": {
                                "schema": {
                                    "description": "An array of run steps or an API list response; any other JSON "
                                    "value is validated as a single record.",
                                    "anyOf": [{"type": "array", "items": _any_payload(payloads)}, {}],
                                },
                                **request_examples("/v1/validate/batch", "application/json"),
                            },
                        },
                    },
                    "responses": {
                        "200": _json(
                            _ref("BatchReport"), "One result per record, in input order", answered("/v1/validate/batch")
                        ),
                        **problems("/v1/validate/batch", 400, 404, 408, 413, 415, 431, 503),
                    },
                }
            },
            "/v1/validate/stream": {
                "post": {
                    "operationId": "validateStream",
                    "summary": "Validate a saved Server-Sent Events transcript of a streamed run",
                    "description": "Frames the transcript, validates every thread.run.step.* event against the "
                    "entry its name implies, checks each step's events in order, and holds each step's final event "
                    "to what its deltas add up to.",
                    "parameters": [strict_param, dialect_param],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "text/event-stream": {
                                # At least one event: a line that is an event or a data field.
                                "schema": {"type": "string", "pattern": "(^|[\\r\\n])(event|data)(:|[\\r\\n]|$)"},
                                **request_examples("/v1/validate/stream", "text/event-stream"),
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            _ref("StreamReport"),
                            "The stream report, for valid and invalid streams alike",
                            answered("/v1/validate/stream"),
                        ),
                        **problems("/v1/validate/stream", 400, 408, 413, 415, 431, 503),
                    },
                }
            },
            "/v1/schemas": {
                "get": {
                    "operationId": "listSchemas",
                    "summary": "The schema documents served",
                    "responses": {
                        "200": _json(
                            {"type": "array", "items": _ref("SchemaSummary")}, "The schemas", answered("/v1/schemas")
                        )
                    },
                }
            },
            "/v1/schemas/{name}": {
                "get": {
                    "operationId": "getSchema",
                    "summary": "One schema document, exactly as in schemas/",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": sorted(serve_names(schemas))},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The schema document",
                            "content": {"application/schema+json": {"schema": {"type": "object"}}},
                        },
                        "304": {"description": "Not modified (If-None-Match)"},
                        **problems("/v1/schemas/{name}", 404),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness",
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
                            "The service is up",
                            answered("/healthz"),
                        )
                    },
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "ready",
                    "summary": "Readiness",
                    "description": "Ready to take requests; 503 while the server drains before it stops",
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["status"], "properties": {"status": {"const": "ready"}}},
                            "Ready",
                            answered("/readyz"),
                        ),
                        **problems("/readyz", 503),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics",
                    "description": "The text exposition format, every worker's counts added up; 404 when turned off",
                    "responses": {
                        "200": {
                            "description": "The metrics",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **problems("/metrics", 404),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }
            },
        },
        "components": {"schemas": {**bundled, **service_components(), **SERVICE_SCHEMAS}},
    }


def serve_names(schemas: SchemaSet) -> dict[str, SchemaDocument]:
    """The names under which `/v1/schemas/<name>` serves each document: `run_step`, `components/usage`, ..."""
    return {
        document.path.relative_to(schemas.directory).as_posix().removesuffix(SCHEMA_SUFFIX): document
        for document in schemas.documents
    }
