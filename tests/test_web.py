"""The Flask app through its test client: every route, output format and error status, with exact bodies."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, TestResponse

from runstep_validator.http.app import create_app
from runstep_validator.http.config import ConfigError, Settings
from runstep_validator.http.front import Handler, RequestHead, RequestHeaders

from .support import EXAMPLES, ROOT

VALID = (EXAMPLES / "tool_calls_function.json").read_bytes()
INVALID = (EXAMPLES / "invalid_tool_calls.json").read_bytes()
JSON = "application/json"
NDJSON = "application/x-ndjson"


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app({"max_body_bytes": 64 * 1024, "max_batch_records": 5, "access_log": False})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def exchange(response: TestResponse) -> str:
    """Status, media type and pretty body: what a golden file records."""
    body: Any = response.get_json(force=True, silent=True)
    shown = json.dumps(body, indent=2, ensure_ascii=False) if body is not None else response.get_data(as_text=True)
    return f"{response.status}\n{response.mimetype}\n{shown}\n"


REQUESTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("validate-valid", "POST", "/v1/validate", {"data": VALID, "content_type": JSON}),
    ("validate-invalid", "POST", "/v1/validate", {"data": INVALID, "content_type": JSON}),
    ("validate-flag", "POST", "/v1/validate?output=flag", {"data": INVALID, "content_type": JSON}),
    ("validate-detailed", "POST", "/v1/validate?output=detailed", {"data": INVALID, "content_type": JSON}),
    ("validate-strict", "POST", "/v1/validate?schema=run_step.strict", {"data": VALID, "content_type": JSON}),
    ("validate-charset", "POST", "/v1/validate", {"data": VALID, "content_type": JSON + "; charset=utf-8"}),
    ("error-not-json", "POST", "/v1/validate", {"data": b'{"id": "step_1",\n "object": }', "content_type": JSON}),
    ("error-empty-body", "POST", "/v1/validate", {"data": b"", "content_type": JSON}),
    ("error-too-large", "POST", "/v1/validate", {"data": b" " * (64 * 1024 + 1), "content_type": JSON}),
    ("error-media-type", "POST", "/v1/validate", {"data": VALID, "content_type": "text/plain"}),
    ("error-no-media-type", "POST", "/v1/validate", {"data": VALID}),
    ("error-unknown-schema", "POST", "/v1/validate?schema=run_step.v9", {"data": VALID, "content_type": JSON}),
    ("error-unknown-output", "POST", "/v1/validate?output=verbose", {"data": VALID, "content_type": JSON}),
    ("error-method", "GET", "/v1/validate", {}),
    ("error-route", "GET", "/v2/validate", {}),
    (
        "batch-ndjson",
        "POST",
        "/v1/validate/batch",
        {
            "data": VALID.replace(b"\n", b"") + b"\r\n\n{not json}\r\n" + INVALID.replace(b"\n", b""),
            "content_type": NDJSON,
        },
    ),
    ("batch-array", "POST", "/v1/validate/batch", {"data": b"[" + VALID + b", 7]", "content_type": JSON}),
    (
        "batch-list-response",
        "POST",
        "/v1/validate/batch",
        {"data": b'{"object": "list", "data": [' + VALID + b'], "has_more": false}', "content_type": JSON},
    ),
    ("batch-not-json", "POST", "/v1/validate/batch", {"data": b"[1, 2,", "content_type": JSON}),
    ("batch-too-many", "POST", "/v1/validate/batch", {"data": b"{}\n" * 6, "content_type": NDJSON}),
    ("batch-media-type", "POST", "/v1/validate/batch", {"data": b"{}", "content_type": "text/csv"}),
    ("schemas", "GET", "/v1/schemas", {}),
    ("schema-unknown", "GET", "/v1/schemas/nope", {}),
    ("healthz", "GET", "/healthz", {}),
]


@pytest.mark.parametrize("sent", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_exchange(client: FlaskClient, golden: Callable[[str, str], None], sent: tuple[str, str, str, Any]) -> None:
    name, method, url, options = sent
    golden(f"http/{name}.txt", exchange(client.open(url, method=method, **options)))


def through_front_door(app: Flask, method: str, url: str, options: dict[str, Any]) -> tuple[int, str, bytes]:
    """Status, media type and body of the front door's answer (its fast lane, or the app behind it), as the server
    gives it for the same request."""
    environ = EnvironBuilder(url, method=method, **options).get_environ()
    headers = [(name.lower(), value) for name, value in EnvironBuilder(url, method=method, **options).headers]
    body = environ["wsgi.input"].read()
    head = RequestHead(
        method, environ["PATH_INFO"], environ["QUERY_STRING"], RequestHeaders(headers), "127.0.0.1:1", "localhost:80",
        "http", "1.1",
    )  # fmt: skip
    answer = Handler(app).answer(head, body, "rid")
    media_type = {name.lower(): value for name, value in answer.headers}["content-type"].partition(";")[0]
    return answer.status, media_type, answer.content


# The size limit is the front door's own, applied before any handler sees the body (test_e2e holds it on a server).
HANDLED = [request for request in REQUESTS if request[0] != "error-too-large"]


@pytest.mark.parametrize(("name", "method", "url", "options"), HANDLED, ids=[r[0] for r in HANDLED])
def test_the_front_door_answers_like_flask(
    app: Flask, name: str, method: str, url: str, options: dict[str, Any]
) -> None:
    through_flask = app.test_client().open(url, method=method, **options)

    assert through_front_door(app, method, url, options) == (
        through_flask.status_code,
        through_flask.mimetype,
        through_flask.data,
    )


def test_every_error_is_a_problem_document(client: FlaskClient) -> None:
    for name, method, url, options in REQUESTS:
        response = client.open(url, method=method, **options)
        if response.status_code >= 400:
            body = response.get_json(force=True)
            assert response.mimetype == "application/problem+json", name
            assert set(body) >= {"type", "title", "status", "detail"}, name
            assert body["status"] == response.status_code, name


def test_method_not_allowed_says_what_is(client: FlaskClient) -> None:
    assert client.get("/v1/validate").headers["Allow"] == "OPTIONS, POST"


def test_schema_is_served_verbatim_with_an_etag(client: FlaskClient) -> None:
    response = client.get("/v1/schemas/run_step")

    assert response.mimetype == "application/schema+json"
    assert response.data == (ROOT / "schemas" / "run_step.schema.json").read_bytes()
    assert (
        client.get("/v1/schemas/components/usage").data == (ROOT / "schemas/components/usage.schema.json").read_bytes()
    )
    etag = response.headers["ETag"]
    assert client.get("/v1/schemas/run_step", headers={"If-None-Match": etag}).status_code == 304


def test_schema_index_lists_every_served_document(client: FlaskClient) -> None:
    index = client.get("/v1/schemas").get_json()

    for entry in index:
        assert client.get(entry["url"]).get_json()["$id"] == entry["$id"]


def test_chunked_body_over_the_limit_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/v1/validate",
        input_stream=io.BytesIO(b" " * 100 * 1024),
        content_type=JSON,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 413
    assert response.get_json()["limit"] == 64 * 1024


def test_unexpected_failure_is_a_500_problem_without_details(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("secret internals")

    service = app.extensions["runstep_validator"]
    monkeypatch.setattr(service, "validate_batch", explode)

    response = app.test_client().post("/v1/validate/batch", data=b"{}", content_type=NDJSON)

    assert response.status_code == 500
    assert response.get_json() == {
        "type": "https://runstep-validator.dev/problems/internal-error",
        "title": "Internal error",
        "status": 500,
        "detail": "the server failed; the error is logged",
    }


def test_responses_never_echo_the_payload(client: FlaskClient) -> None:
    secret = "TOP-SECRET-" + "x" * 200
    document = json.loads(VALID)
    document["status"] = secret
    body = client.post("/v1/validate", data=json.dumps(document), content_type=JSON).get_data(as_text=True)

    assert secret not in body
    assert "TOP-SECRET-xxxxxxxxxxxxxxxxxxxxxxxxxxx" in body


def test_openapi_document_is_self_contained(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()

    assert document["openapi"] == "3.1.0"
    refs = [value for value in _walk(document) if isinstance(value, str) and value.startswith(("#", "http"))]
    assert refs
    assert all(ref.startswith("#/components/schemas/") for ref in refs)
    for ref in refs:
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            elif key not in {"examples", "const", "enum", "default"}:
                yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def test_settings_come_from_defaults_environment_then_overrides() -> None:
    environ = {"RUNSTEP_VALIDATOR_PORT": "9000", "RUNSTEP_VALIDATOR_ACCESS_LOG": "off", "OTHER": "x"}

    settings = Settings.load(environ, {"port": 9100, "workers": 4})

    assert (settings.port, settings.workers, settings.access_log, settings.host) == (9100, 4, False, "127.0.0.1")
    with pytest.raises(ConfigError, match="RUNSTEP_VALIDATOR_PORT='eighty' is not a valid"):
        Settings.load({"RUNSTEP_VALIDATOR_PORT": "eighty"})
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        Settings.load({}, {"prot": 1})


def test_detailed_output_of_a_valid_payload(client: FlaskClient) -> None:
    response = client.post("/v1/validate?output=detailed", data=VALID, content_type=JSON)

    assert response.get_json() == {
        "valid": True,
        "schema": "https://runstep-validator.dev/schemas/run_step.schema.json",
        "headline": None,
        "warnings": [],
        "keywordLocation": "",
        "instanceLocation": "",
    }


def test_blank_query_parameters_name_nothing(client: FlaskClient) -> None:
    assert client.post("/v1/validate?schema=", data=VALID, content_type=JSON).status_code == 404
    assert client.post("/v1/validate?output=", data=VALID, content_type=JSON).status_code == 400


def test_a_bug_in_the_fast_lane_is_a_500_problem(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.extensions["runstep_validator"], "validate", explode)

    status, media_type, body = through_front_door(app, "POST", "/v1/validate", {"data": VALID, "content_type": JSON})

    assert (status, media_type) == (500, "application/problem+json")
    assert b"secret" not in body


@pytest.mark.parametrize("output", ["flag", "basic", "detailed"])
def test_batch_results_follow_the_output_parameter(client: FlaskClient, output: str) -> None:
    valid = (EXAMPLES / "message_creation.json").read_bytes()
    invalid = (EXAMPLES / "invalid_tool_calls.json").read_bytes()
    body = json.dumps(json.loads(valid)).encode() + b"\n" + json.dumps(json.loads(invalid)).encode() + b"\n"

    response = client.post(f"/v1/validate/batch?output={output}", data=body, content_type="application/x-ndjson")

    results = response.get_json()["results"]
    assert [(result["index"], result["line"], result["valid"]) for result in results] == [(0, 1, True), (1, 2, False)]
    single = client.post(f"/v1/validate?output={output}", data=invalid, content_type="application/json").get_json()
    for key in ("schema", "headline"):
        single.pop(key, None)
    in_batch = {key: value for key, value in results[1].items() if key not in {"index", "line"}}
    assert unplaced(in_batch) == unplaced(single)  # the same units; each placed where its value is in its body
    if output != "flag":
        assert {unit["line"] for unit in in_batch["errors"]} == {2}  # the record is line 2 of the batch body


def unplaced(answer: Any) -> Any:
    if isinstance(answer, dict):
        return {key: unplaced(value) for key, value in answer.items() if key not in {"line", "column"}}
    if isinstance(answer, list):
        return [unplaced(item) for item in answer]
    return answer


ROUTES = ["/v1/validate", "/v1/validate/batch", "/v1/schemas", "/v1/schemas/run_step", "/healthz", "/openapi.json"]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.mark.parametrize("route", [*ROUTES, "/nope"])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_on_every_route_is_a_problem_or_a_documented_answer(
    client: FlaskClient, route: str, method: str
) -> None:
    response = client.open(route, method=method)

    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json", (method, route)
        if method != "HEAD":
            assert response.get_json()["status"] == response.status_code
    elif method == "OPTIONS":
        assert response.status_code == 204
        assert response.data == b""
        assert "OPTIONS" in response.headers["Allow"]
    else:
        assert response.mimetype in {"application/json", "application/schema+json"}, (method, route)


def test_an_unknown_schema_lists_the_known_ones(client: FlaskClient) -> None:
    body = client.get("/v1/schemas/nope").get_json()

    assert body["status"] == 404
    assert "run_step" in body["known"]
    assert "components/usage" in body["known"]


def test_the_api_routes_live_in_a_blueprint_and_the_factory_only_assembles(app: Flask) -> None:
    """The factory registers blueprints; the routes are declared once, at import, as Flask's tutorial does."""
    endpoints = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    api = ["/v1/validate", "/v1/validate/batch", "/v1/validate/stream", "/v1/schemas", "/v1/schemas/<path:name>"]
    for path in [*api, "/healthz", "/readyz", "/metrics", "/openapi.json"]:
        assert endpoints[path].startswith("api."), (path, endpoints[path])
    assert set(app.blueprints) == {"api", "pages"}
    assert [endpoint for endpoint in endpoints.values() if "." not in endpoint] == ["static"]


@pytest.mark.parametrize(
    ("query", "parameter", "meant"),
    [("schem=run_step", "schem", "schema"), ("Strict=true", "Strict", "strict"), ("verbose=1", "verbose", None)],
)
def test_an_unknown_query_parameter_is_refused_with_the_one_it_probably_meant(
    client: FlaskClient, query: str, parameter: str, meant: str | None
) -> None:
    for route in ("/v1/validate", "/v1/validate/batch"):
        response = client.post(f"{route}?{query}", data=VALID.replace(b"\n", b""), content_type=JSON)
        problem = response.get_json()
        assert (response.status_code, problem["type"].rpartition("/")[2]) == (400, "invalid-parameter"), problem
        assert problem["parameter"] == parameter
        assert (f'did you mean "{meant}"?' in problem["detail"]) is (meant is not None), problem["detail"]


@pytest.mark.parametrize(
    ("route", "query"),
    [
        ("/v1/validate", "schema=run_step&schema=run_step_delta"),
        ("/v1/validate/batch", "output=basic&output=flag"),
        ("/v1/validate/stream", "strict=yes&strict=no"),
        ("/v1/validate", "strict&strict"),
    ],
)
def test_a_query_parameter_given_twice_is_refused_not_taken_last(client: FlaskClient, route: str, query: str) -> None:
    """Which of two values was meant cannot be known: the last one silently won."""
    parameter = query.partition("=")[0].partition("&")[0]
    response = client.post(f"{route}?{query}", data=VALID.replace(b"\n", b""), content_type=JSON)
    problem = response.get_json()

    assert (response.status_code, problem["type"].rpartition("/")[2]) == (400, "invalid-parameter"), problem
    assert problem["parameter"] == parameter
    assert problem["detail"] == f"query parameter {parameter!r} is given more than once: give it once"


@pytest.mark.parametrize(("given", "strict"), [("yes", True), ("on", True), ("", True), ("no", False), ("0", False)])
def test_a_query_flag_takes_the_words_a_setting_takes(client: FlaskClient, given: str, strict: bool) -> None:
    answer = client.post(f"/v1/validate?strict={given}", data=VALID, content_type=JSON).get_json()
    assert answer["schema"].endswith("run_step.strict.schema.json" if strict else "run_step.schema.json"), answer


def test_an_unknown_schema_name_is_answered_with_the_one_it_probably_meant(client: FlaskClient) -> None:
    problem = client.post("/v1/validate?schema=run_stpe", data=VALID, content_type=JSON).get_json()
    assert 'did you mean "run_step"?' in problem["detail"], problem
    problem = client.post("/v1/validate?dialect=azur", data=VALID, content_type=JSON).get_json()
    assert 'did you mean "azure"?' in problem["detail"], problem


@pytest.mark.parametrize("route", ["/v1/validate", "/v1/validate/batch"])
def test_a_compressed_body_is_refused_as_such_not_read_as_broken_json(app: Flask, route: str) -> None:
    options = {"data": gzip.compress(VALID), "content_type": JSON, "headers": {"Content-Encoding": "gzip"}}
    through_flask = app.test_client().post(route, **options)
    problem = through_flask.get_json()

    assert (through_flask.status_code, problem["type"].rpartition("/")[2]) == (415, "unsupported-content-encoding")
    assert "gzip" in problem["detail"]
    assert through_front_door(app, "POST", route, options)[:2] == (415, "application/problem+json")


def test_the_stream_route_refuses_the_parameters_it_would_ignore(client: FlaskClient) -> None:
    body = (ROOT / "examples" / "run.sse").read_bytes()
    for query, parameter in (("schema=run_step", "schema"), ("output=flag", "output"), ("stict=true", "stict")):
        response = client.post(f"/v1/validate/stream?{query}", data=body, content_type="text/event-stream")
        assert (response.status_code, response.get_json()["parameter"]) == (400, parameter)
    accepted = client.post("/v1/validate/stream?strict=on&dialect=openai", data=body, content_type="text/event-stream")
    assert accepted.status_code == 200
