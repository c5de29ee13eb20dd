"""What the page is made of, checked without a browser: its example menu (as its tool writes it, each example's
verdict as the API gives it), its screenshot in the README, its assets' policy, and how its browser tests wait."""

from __future__ import annotations

import ast
import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import pytest

from runstep_validator.http.app import create_app

from .server import RunningServer, running_server
from .support import ROOT

PAGE_EXAMPLES = ROOT / "service" / "runstep_validator" / "http" / "page" / "examples.json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("page-files"), workers=1) as running:
        yield running


def menu_examples() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(PAGE_EXAMPLES.read_text(encoding="utf-8"))
    return loaded


def test_the_example_menu_is_what_its_tool_writes_from_the_shipped_examples() -> None:
    spec = importlib.util.spec_from_file_location("page_examples", ROOT / "tools" / "page_examples.py")
    assert spec is not None
    assert spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    assert PAGE_EXAMPLES.read_text(encoding="utf-8") == tool.render(), "run: python tools/page_examples.py"


ROUTES = {
    "auto": "/v1/validate",
    "batch": "/v1/validate/batch",
    "lines": "/v1/validate/batch",
    "stream": "/v1/validate/stream",
}
TYPES = {
    "auto": "application/json",
    "batch": "application/x-ndjson",
    "lines": "application/x-ndjson",
    "stream": "text/event-stream",
}


@pytest.mark.parametrize("shown", menu_examples(), ids=lambda shown: str(shown["title"]))
def test_each_menu_example_gets_the_verdict_its_group_promises(shown: dict[str, Any]) -> None:
    client = create_app({"access_log": False}).test_client()
    content_type = TYPES[shown["mode"]]
    if shown["mode"] == "batch" and shown["text"].lstrip().startswith("{\n"):
        content_type = "application/json"  # a list response, as the page sends it

    answer = client.post(
        f"{ROUTES[shown['mode']]}?dialect={shown['dialect']}", data=shown["text"], content_type=content_type
    )

    body = answer.get_json()
    if answer.content_type == "application/problem+json":  # broken JSON: refused, at its line
        verdict = False
        assert body["line"] >= 1, body
    else:
        assert answer.status_code == 200, body
        verdict = body["summary"]["invalid"] == 0 if ROUTES[shown["mode"]].endswith("batch") else body["valid"]
    assert verdict is shown["valid"], body


def test_the_readme_screenshot_is_of_this_page() -> None:
    assert (ROOT / "docs" / "page.png").is_file()
    assert "docs/page.png" in (ROOT / "README.md").read_text()


def test_assets_are_served_with_a_policy_that_allows_this_origin_only(server: RunningServer) -> None:
    status, content_type, _ = server.request("GET", "/page/app.js")
    assert (status, content_type) == (200, "text/javascript; charset=utf-8")
    connection = server.connection()
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        policy = response.getheader("Content-Security-Policy", "")
    finally:
        connection.close()
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy


def test_no_page_test_waits_on_a_string_evaluated_in_the_page() -> None:
    """wait_for_function evaluates its string with eval in the page's main world, which the policy without
    'unsafe-eval' may refuse (the flaky failure of issue 23): the page tests wait with locator assertions."""
    tree = ast.parse((ROOT / "tests" / "test_page.py").read_text(encoding="utf-8"))
    calls = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "wait_for_function"
    ]
    assert calls == []
