"""`/docs` in a real browser (headless Chromium, as tests/test_page.py drives it): which version is which, and every
route's request and answer examples shown as the OpenAPI document has them. Screenshots go to build/screenshots/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import runstep_validator

from . import test_page
from .server import RunningServer
from .test_page import CHROMIUM, Page

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (.ci/run installs Debian's)")


# The page tests' server and browser, one of each for this module too.
server = test_page.server
browser = test_page.browser


@pytest.fixture
def docs(browser: Any, server: RunningServer) -> Iterator[Page]:
    opened = Page(browser, server, viewport={"width": 1280, "height": 900})
    opened.page.goto(opened.base + "/docs")
    opened.page.wait_for_selector("main section h3")
    yield opened
    opened.close()
    assert opened.console_errors == []
    assert [url for url in opened.requested if not url.startswith(opened.base)] == []


def openapi(server: RunningServer) -> dict[str, Any]:
    status, _, body = server.request("GET", "/openapi.json")
    assert status == 200
    found: dict[str, Any] = json.loads(body)
    return found


def test_the_docs_say_which_version_is_the_apis_and_which_the_packages(docs: Page) -> None:
    intro = docs.page.locator("main section").first.inner_text()
    assert f"package version {runstep_validator.__version__}" in intro
    assert "API version 1" in intro
    assert f"runstep-validator {runstep_validator.__version__}" not in docs.page.locator("h2").first.inner_text()


def test_every_route_shows_its_request_and_answer_examples(docs: Page, server: RunningServer) -> None:
    document = openapi(server)
    page = docs.page
    validate = page.locator("main section", has=page.locator("h3", has_text="/v1/validate")).first
    validate.locator("details").first.wait_for()
    requests = validate.locator(".request-examples details")
    answers = validate.locator(".answer-examples details")
    assert requests.count() == 2
    assert answers.locator("summary", has_text="200").count() == 2
    assert answers.locator("summary", has_text="400").count() == 1

    shown = json.loads(requests.first.locator("pre").inner_text())
    content = document["paths"]["/v1/validate"]["post"]["requestBody"]["content"]["application/json"]
    assert shown == content["examples"]["valid"]["value"]
    invalid = answers.filter(has_text="invalid").first
    invalid.locator("summary").click()
    answer = json.loads(invalid.locator("pre").inner_text())
    assert answer["valid"] is False
    assert any(unit.get("suggestion") == "completed" for unit in answer["errors"])

    for path, methods in document["paths"].items():
        for operation in methods.values():
            section = page.locator("main section", has=page.locator("h3", has_text=path)).last
            if "requestBody" in operation:
                assert section.locator(".request-examples details").count() >= 1, path
            if path != "/openapi.json":
                assert section.locator(".answer-examples details").count() >= 1, path

    for details in page.locator("details").all()[:8]:
        details.locator("summary").click() if not details.get_attribute("open") else None
    docs.shot("10-docs-examples")


def test_the_docs_fit_a_phone(browser: Any, server: RunningServer) -> None:
    phone = Page(browser, server, viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True)
    phone.page.goto(phone.base + "/docs")
    phone.page.wait_for_selector("main section h3")
    phone.page.locator(".answer-examples details summary").nth(1).click()

    assert phone.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]") == [390, 390]
    phone.shot("11-docs-phone-dark")
    assert phone.console_errors == []
    phone.close()
