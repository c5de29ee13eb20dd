"""The OpenAPI document: the service's own response shapes generated from its msgspec Structs, every route with
examples of its request and of its answers (valid, invalid, a problem) that are the service's real answers, both
versions told apart, and the operational routes described too."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from flask import Flask
from flask.testing import FlaskClient

import runstep_validator
from runstep_validator.core.report import OutputUnit
from runstep_validator.core.streams import EventResult, StepResult, StreamUnit
from runstep_validator.http.app import create_app
from runstep_validator.http.openapi import example_body
from runstep_validator.http.service import BatchResult

REF = "#/components/schemas/{name}"
STRUCTS = [OutputUnit, BatchResult, EventResult, StepResult, StreamUnit]
# Each route that validates answers 200 for a valid and an invalid input alike: both are shown.
VALIDATING = ["/v1/validate", "/v1/validate/batch", "/v1/validate/stream"]


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app({"access_log": False, "metrics": False})


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    found: dict[str, Any] = app.test_client().get("/openapi.json").get_json()
    return found


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name=name)}


def test_the_service_shapes_are_generated_from_its_structs(document: dict[str, Any]) -> None:
    _, generated = msgspec.json.schema_components(STRUCTS, ref_template=REF)
    components = document["components"]["schemas"]
    for name, schema in msgspec.json.decode(msgspec.json.encode(generated)).items():  # as JSON has it: () is []
        assert components[name] == schema, name
    stream = components["StreamReport"]["properties"]
    assert stream["events"]["items"] == ref("EventResult")
    assert stream["steps"]["items"] == ref("StepResult")
    assert stream["errors"]["items"] == stream["warnings"]["items"] == ref("StreamUnit")
    assert components["Report"]["properties"]["warnings"]["items"] == ref("OutputUnit")
    assert ref("BatchResult") in components["BatchReport"]["properties"]["results"]["items"]["anyOf"]


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_body_and_every_answer_has_an_example(document: dict[str, Any]) -> None:
    """Every request body, every JSON answer but this document itself, and for each route that documents
    problems, at least one problem."""
    for path, method, operation in operations(document):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            assert content.get("examples"), (path, method, media_type)
        problems = {}
        for status, answer in operation["responses"].items():
            for media_type, content in answer.get("content", {}).items():
                if media_type == "application/json" and path != "/openapi.json":
                    assert content.get("examples"), (path, method, status, media_type)
                if media_type == "application/problem+json":
                    problems[status] = content.get("examples", {})
        if problems:
            assert any(problems.values()), (path, method)
        for status, examples in problems.items():
            for example in examples.values():
                assert example["value"]["status"] == int(status)
                assert {"type", "title", "detail"} <= example["value"].keys()
    for path in VALIDATING:
        answers = document["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["examples"]
        assert {"valid", "invalid"} <= answers.keys(), path
        for name, valid in [("valid", True), ("invalid", False)]:
            answer = answers[name]["value"]
            assert answer.get("valid", answer.get("summary", {}).get("invalid") == 0) is valid, (path, name)


def test_the_examples_are_the_services_real_answers(app: Flask, document: dict[str, Any]) -> None:
    """Each request example, sent: its answer is the documented example of that status with the same name."""
    client: FlaskClient = app.test_client()
    sent = 0
    for path, method, operation in operations(document):
        if method != "post":
            continue
        for media_type, content in operation["requestBody"]["content"].items():
            for name, example in content["examples"].items():
                response = client.post(path, data=example_body(example["value"]), content_type=media_type)
                answers = operation["responses"][str(response.status_code)]["content"]
                (answer_type,) = answers
                assert response.get_json(force=True) == answers[answer_type]["examples"][name]["value"], (path, name)
                sent += 1
    assert sent >= 8


def test_the_package_version_and_the_api_version_are_told_apart(document: dict[str, Any]) -> None:
    info = document["info"]
    assert info["version"] == runstep_validator.__version__
    assert "API version 1" in info["summary"]
    assert "/v1/" in info["summary"]


def test_the_operational_routes_are_described(document: dict[str, Any]) -> None:
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"]:
        assert "get" in document["paths"][path], path
    assert "503" in document["paths"]["/readyz"]["get"]["responses"]
