"""The API's routes, as a Flask blueprint: each translates a request to the `Service` the app was built with and its
answer back, nothing more. The app factory (app.py) registers it.

`POST /v1/validate` is the product's hot path: under the server, its common case is answered in front of Flask (see
`front.Handler`), through the same `Service` methods as the route below.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from .observe import draining
from .service import (
    DRAINING,
    HEALTHY,
    JSON_MEDIA_TYPE,
    JSON_TYPES,
    METRICS_OFF,
    NDJSON_TYPES,
    READY_ANSWER,
    STREAM_PARAMETERS,
    STREAM_TYPES,
    Encoded,
    Service,
    unknown_schema_file,
)

SERVICE_KEY = "runstep_validator"  # the app's extension: the Service its routes answer with

api = Blueprint("api", __name__)


def service() -> Service:
    found: Service = current_app.extensions[SERVICE_KEY]
    return found


def _query_string() -> str:
    return request.query_string.decode("latin-1")


@api.post("/v1/validate")
def validate() -> Response:
    answering = service()
    validator, output, _, _ = answering.parse_query(_query_string())
    return answering.validate(validator, output, answering.read_body(request, JSON_TYPES)).to_flask()


@api.post("/v1/validate/batch")
def validate_batch() -> Response:
    answering = service()
    validator, output, _, _ = answering.parse_query(_query_string())
    body = answering.read_body(request, NDJSON_TYPES | JSON_TYPES)
    return answering.validate_batch(validator, body, request.mimetype in NDJSON_TYPES, output).to_flask()


@api.post("/v1/validate/stream")
def validate_stream() -> Response:
    answering = service()
    query = answering.parse_query(_query_string(), STREAM_PARAMETERS)
    body = answering.read_body(request, STREAM_TYPES)
    return answering.validate_stream(body, query.strict, query.dialect).to_flask()


@api.get("/v1/schemas")
def list_schemas() -> Response:
    return Encoded.json(service().schema_index).to_flask()


@api.get("/v1/schemas/<path:name>")
def get_schema(name: str) -> Response:
    answering = service()
    if name not in answering.schema_files:
        raise unknown_schema_file(name, sorted(answering.schema_files))
    response = Response(answering.schema_files[name], mimetype="application/schema+json")
    response.set_etag(answering.schema_etags[name])
    response.make_conditional(request)
    return response


@api.get("/healthz")
def healthz() -> Response:
    return Encoded.json(HEALTHY).to_flask()


@api.get("/readyz")
def readyz() -> Response:
    # Answering at all means the validators are built: create_app built them before serving.
    if draining(service().settings.state_directory):
        raise DRAINING
    return Encoded.json(READY_ANSWER).to_flask()


@api.get("/metrics")
def metrics_text() -> Response:
    exposition = service().metrics.exposition()
    if exposition is None:
        raise METRICS_OFF
    return Response(exposition, content_type=CONTENT_TYPE_LATEST)


@api.get("/openapi.json")
def openapi() -> Response:
    return Response(service().openapi, mimetype=JSON_MEDIA_TYPE)
