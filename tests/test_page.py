"""The page at `/`, in a real browser: Debian's headless Chromium driven by Playwright, against the real server on a
free loopback port. Each state is saved as a screenshot under build/screenshots/ (a test artifact)."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

from runstep_validator import validate_stream  # noqa: E402
from runstep_validator.cli import run as cli_run  # noqa: E402

from .server import RunningServer, running_server  # noqa: E402
from .support import EXAMPLES, ROOT  # noqa: E402
from .test_page_files import menu_examples  # noqa: E402
from .test_streams import (  # noqa: E402
    cut_inside_the_last_event,
    delta,
    events,
    stream_whose_final_text_differs,
    transcript,
)
from .test_surfaces import broken_streams, cli_stream_counts  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (.ci/run installs Debian's)")
SHOTS = ROOT / "build" / "screenshots"
LIMIT = 16 * 1024
FLAGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # no calls home: the only traffic is to the server under test
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("page"), workers=1, max_body_bytes=str(LIMIT)) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


ANSWERED = "#status:has-text('Checked '), #status:has-text('Refused: ')"  # checked, or a problem shown


class Page:
    """One browser page on the server, recording console errors, failed requests and every URL requested."""

    def __init__(self, browser: Any, server: RunningServer, **context: Any) -> None:
        self.base = f"http://127.0.0.1:{server.port}"
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.requested: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        self.page.on("request", lambda sent: self.requested.append(sent.url))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def open(self, path: str = "/") -> Any:
        self.page.goto(self.base + path)
        self.page.wait_for_selector("body[data-ready]", state="attached")  # the choices are in
        return self.page

    def validate(self, text: str) -> None:
        self.page.fill("#text", text)
        self.page.locator("#validate").scroll_into_view_if_needed()  # a phone keeps the caret in view otherwise
        self.page.click("#validate")
        self.page.wait_for_selector(ANSWERED)

    def units(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.page.eval_on_selector_all(
            "#units .unit",
            "buttons => buttons.map(b => ({kind: b.classList.contains('error') ? 'error' : 'warning', "
            "line: Number(b.dataset.line), column: Number(b.dataset.column), text: b.textContent}))",
        )
        return found

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser: Any, server: RunningServer) -> Iterator[Page]:
    opened = Page(browser, server, viewport={"width": 1280, "height": 860})
    yield opened
    opened.close()
    assert opened.console_errors == []
    assert [url for url in opened.requested if not url.startswith(opened.base)] == []


def test_the_page_loads_with_no_errors_and_talks_to_its_own_origin_only(page: Page) -> None:
    loaded = page.open()

    assert loaded.title() == "runstep-validator"
    assert loaded.locator("#schema option").count() >= 5  # auto, auto strict, and every entry
    assert "azure" in loaded.locator("#dialect").inner_text()
    page.shot("01-empty")


def test_pasting_the_invalid_example_shows_its_three_errors_at_their_lines(page: Page) -> None:
    page.open()
    page.validate((EXAMPLES / "invalid_tool_calls.json").read_text())

    assert [(unit["kind"], unit["line"], unit["column"]) for unit in page.units()] == [
        ("error", 9, 13),
        ("error", 42, 21),
        ("error", 50, 21),
    ]
    assert page.page.inner_text("#summary .headline").startswith('/status: "requires_action" is not one of')
    marked = page.page.eval_on_selector_all("#gutter .error", "marks => marks.map(m => Number(m.textContent))")
    assert marked == [9, 42, 50]
    page.shot("02-invalid-example")


def test_selecting_an_error_puts_the_caret_on_its_value(page: Page) -> None:
    page.open()
    text = (EXAMPLES / "invalid_tool_calls.json").read_text()
    page.validate(text)

    page.page.locator("#units .unit").nth(1).focus()
    page.page.keyboard.press("Enter")  # usable without a mouse

    start, end = page.page.eval_on_selector("#text", "t => [t.selectionStart, t.selectionEnd]")
    line_start = sum(len(line) + 1 for line in text.split("\n")[:41])
    assert (start, text[start:end]) == (line_start + 20, "42")
    sync_api.expect(page.page.locator("#text")).to_be_focused()
    page.shot("03-caret-on-error")


def test_the_caret_lands_on_its_value_after_characters_beyond_the_bmp(page: Page) -> None:
    """Columns count characters, as every surface and SARIF's unicodeCodePoints do; the text box counts UTF-16 units,
    two for an emoji: one line of JSON with emoji before its errors still selects each error's value."""
    page.open()
    document = json.loads((EXAMPLES / "invalid_tool_calls.json").read_text())
    document["id"] = "step_\U0001f600\U0001d11e\U0001f600"
    text = json.dumps(document, ensure_ascii=False)
    page.validate(text)

    page.page.locator("#units .unit").nth(1).focus()
    page.page.keyboard.press("Enter")

    start, end = page.page.eval_on_selector("#text", "t => [t.selectionStart, t.selectionEnd]")
    utf16 = text.encode("utf-16-le")
    assert utf16[2 * start : 2 * end].decode("utf-16-le") == "42"


def test_a_dropped_json_lines_file_with_one_bad_line(page: Page) -> None:
    page.open()
    good = json.dumps(json.loads((EXAMPLES / "message_creation.json").read_text()))
    bad = good.replace('"completed"', '"finished"')
    lines = "\n".join([good, bad, good]) + "\n"
    dropped = page.page.evaluate_handle(
        "text => { const data = new DataTransfer();"
        " data.items.add(new File([text], 'steps.jsonl', {type: 'application/x-ndjson'})); return data; }",
        lines,
    )
    page.page.dispatch_event("#editor", "drop", {"dataTransfer": dropped})
    # A locator assertion, not a string wait_for_function: Playwright evaluates that string with eval in the page,
    # which the page's policy (script-src 'self', no 'unsafe-eval') may refuse.
    sync_api.expect(page.page.locator("#text")).not_to_have_value("")
    page.page.click("#validate")
    page.page.wait_for_selector("#status:has-text('Checked a batch of records')")

    assert page.page.inner_text("#summary .headline") == "1 of 3 records invalid"
    (unit,) = page.units()
    assert (unit["kind"], unit["line"]) == ("error", 2)
    assert "record 2 (line 2)" in unit["text"]
    page.shot("04-dropped-json-lines")


def drop(page: Page, name: str, content: str) -> None:
    dropped = page.page.evaluate_handle(
        "([name, text]) => { const data = new DataTransfer();"
        " data.items.add(new File([text], name, {type: 'application/octet-stream'})); return data; }",
        [name, content],
    )
    page.page.dispatch_event("#editor", "drop", {"dataTransfer": dropped})
    sync_api.expect(page.page.locator("#text")).to_have_value(content)


def test_a_schema_chosen_for_a_stream_is_refused_as_every_surface_refuses_it(page: Page) -> None:
    """A stream's events name their own entries: the entry chosen was silently dropped from the request, and the
    status said the stream was checked against it (a strict entry chosen, the events were held to tolerant ones)."""
    page.open()
    page.page.select_option("#schema", "run_step.strict")
    page.validate((EXAMPLES / "run.sse").read_text())

    assert (
        page.page.inner_text("#status") == "Refused: the service did not check an event stream; the message says why."
    )
    assert page.page.inner_text("#summary .headline") == "Invalid parameter"
    detail = page.page.inner_text("#summary .detail")
    assert detail.startswith("a schema does not apply to an event stream: its events name their own entries")
    assert page.console_errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    page.console_errors.clear()


@pytest.mark.parametrize("shape", ["one value", "an array"])
def test_a_dropped_json_lines_file_written_across_lines_is_refused_in_one_sentence(page: Page, shape: str) -> None:
    """A .jsonl file pretty-printed (jq without -c): the batch route's 400, shown as the command line says it, its
    line a button to the place, not an error on every line; an array too, though its content alone would be read
    as a document (the command line goes by the name, and so does the page)."""
    page.open()
    step = json.loads((EXAMPLES / "message_creation.json").read_text())
    pretty = json.dumps(step if shape == "one value" else [step, step], indent=2) + "\n"
    drop(page, "steps.jsonl", pretty)
    assert page.page.input_value("#mode") == "lines"
    page.page.click("#validate")
    page.page.wait_for_selector("#status:has-text('Refused: the service did not check a batch of records')")

    assert page.page.inner_text("#summary .headline") == "Not JSON Lines"
    (unit,) = page.units()
    assert (unit["kind"], unit["line"], unit["column"]) == ("error", 1, 1)
    assert f"line 1 holds only '{pretty[0]}', as pretty-printed JSON starts" in unit["text"]
    refused = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert page.console_errors == [refused]
    page.console_errors.clear()
    page.shot(f"04b-json-lines-written-across-lines-{shape.replace(' ', '-')}")


STEP_LINE = json.dumps(json.loads((EXAMPLES / "message_creation.json").read_text()))
DOCUMENTS_AS_FILES = {
    "json lines named .json": STEP_LINE + "\n" + STEP_LINE + "\n",  # one document with extra data, not two records
    "an array cut short": "[\n" + STEP_LINE + ",\n" + STEP_LINE[:40] + "\n",
}


@pytest.mark.parametrize("name", DOCUMENTS_AS_FILES)
def test_a_dropped_json_file_is_read_as_the_command_line_reads_it(page: Page, name: str, tmp_path: Path) -> None:
    """By its name, one JSON document: the same records, verdicts and first error as `validate` gives the file."""
    content = DOCUMENTS_AS_FILES[name]
    (tmp_path / "steps.json").write_text(content)
    stdout = io.StringIO()
    cli_run(["validate", str(tmp_path / "steps.json"), "--format", "json"], stdout, io.StringIO())
    records = json.loads(stdout.getvalue())["files"][0]["records"]
    page.open()
    drop(page, "steps.json", content)
    assert page.page.input_value("#mode") == "json"
    page.page.click("#validate")
    page.page.wait_for_selector("#status:has-text('Checked a batch of records')")

    invalid = sum(not record["valid"] for record in records)
    counted = f"{len(records)} record{'' if len(records) == 1 else 's'}"
    assert page.page.inner_text("#summary .headline") == f"{invalid} of {counted} invalid"
    first = next(error for record in records for error in record["errors"] if error["code"] == "invalid-json")
    shown = [unit for unit in page.units() if unit["kind"] == "error"]
    assert (shown[-1]["line"], shown[-1]["column"]) == (first["line"], first["column"])
    assert first["error"] in shown[-1]["text"]


def test_the_same_array_dropped_as_a_json_file_is_checked_as_a_batch(page: Page) -> None:
    page.open()
    step = json.loads((EXAMPLES / "message_creation.json").read_text())
    drop(page, "steps.json", json.dumps([step, step], indent=2) + "\n")
    page.page.click("#validate")
    page.page.wait_for_selector("#status:has-text('Checked a batch of records')")

    assert page.page.inner_text("#summary .headline") == "All 2 records valid"


@pytest.mark.parametrize("wrapper", [{}, {"object": None}, {"has_more": False, "object": "list"}])
def test_a_list_response_is_checked_as_its_items_however_it_declares_itself(
    page: Page, wrapper: dict[str, Any]
) -> None:
    """As the command line reads it: a data array with no object member (or a null one) was checked as one payload
    ('no "object" member says what this is') where every other surface read its items."""
    step = json.loads((EXAMPLES / "message_creation.json").read_text())
    page.open()
    page.validate(json.dumps({"data": [step, {**step, "status": "bogus"}], **wrapper}, indent=2))

    assert page.page.inner_text("#status").startswith("Checked a batch of records")
    assert page.page.inner_text("#summary .headline") == "1 of 2 records invalid"


def test_one_record_is_counted_in_the_singular(page: Page) -> None:
    page.open()
    step = json.loads((EXAMPLES / "message_creation.json").read_text())
    drop(page, "steps.json", json.dumps([step]) + "\n")
    page.page.click("#validate")
    page.page.wait_for_selector("#status:has-text('Checked a batch of records')")

    assert page.page.inner_text("#summary .headline") == "The record is valid"
    assert page.page.inner_text("#summary .detail").startswith("1 record: 1 valid, 0 invalid")


def test_a_gzipped_file_is_refused_with_a_clear_message(page: Page) -> None:
    page.open()
    page.page.set_input_files(
        "#file", files=[{"name": "steps.jsonl.gz", "mimeType": "application/gzip", "buffer": b"\x1f\x8b\x08\x00"}]
    )
    page.page.wait_for_selector("#status:has-text('is gzipped')")


def test_an_sse_transcript_shows_results_per_event(page: Page) -> None:
    page.open()
    broken = events()
    broken.insert(3, ("thread.run.step.delta", {**delta(0, arguments="{"), "object": "thread.run.step.deltaa"}))
    page.validate(transcript(broken).decode())

    assert page.page.inner_text("#summary .headline").startswith("Invalid stream")
    texts = [unit["text"] for unit in page.units() if unit["kind"] == "error"]
    assert any("event 4 (thread.run.step.delta)" in text for text in texts), texts
    assert "events:" in page.page.inner_text("#summary .detail")
    page.shot("05-sse-transcript")


@pytest.mark.parametrize("number", range(len(broken_streams())))
def test_the_page_counts_a_stream_as_the_command_line_does(page: Page, number: int, tmp_path: Path) -> None:
    """Issue 22: the page said "10 events: 10 valid, 0 invalid" where the command line said "10 records: 9 valid,
    1 invalid". Both count every event a record (thread.run.created and done too), an event invalid when any error
    concerns it, and the same errors and warnings, in the same words."""
    body = broken_streams()[number]
    events, valid, invalid, errors, warnings = cli_stream_counts(body, tmp_path)
    page.open()
    page.validate(body.decode())

    detail = page.page.inner_text("#summary .detail")
    found = f"({counted(errors, 'error')}, {counted(warnings, 'warning')})"
    assert detail == f"{events} events: {valid} valid, {invalid} invalid {found}"
    shown_errors = [unit for unit in page.units() if unit["kind"] == "error"]
    assert len(shown_errors) == errors
    # In the transcript's order: the first listed (and scrolled to) is the first in the text.
    places = [(unit["line"], unit["column"]) for unit in shown_errors]
    assert places == sorted(places)
    headline = page.page.inner_text("#summary .headline")
    assert headline == (
        f"Invalid stream: {invalid} of {events} events invalid" if invalid else f"Valid stream of {events} events"
    )


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def test_a_cut_transcript_and_a_differing_text_show_where_they_are(page: Page) -> None:
    body, line = cut_inside_the_last_event()
    page.open()
    page.validate(body.decode())

    cut = [unit for unit in page.units() if "was cut" in unit["text"]]
    assert [(unit["kind"], unit["line"]) for unit in cut] == [("warning", line)]
    assert "invalid JSON" not in page.page.inner_text("#units")

    items = stream_whose_final_text_differs('{"city": "Limo"}', ['{"city": ', '"Lima"}', ""])
    text = transcript(items).decode()
    page.validate(text)
    (unit,) = [unit for unit in page.units() if unit["kind"] == "error"]
    assert "differ at character 14" in unit["text"]
    assert text.splitlines()[unit["line"] - 1][unit["column"] - 1] == "o"
    page.shot("06-stream-cut-and-difference")


def test_an_event_warning_of_a_stream_is_shown_once(page: Page) -> None:
    items = events()
    odd = delta(1, arguments="")
    odd["delta"]["step_details"]["tool_calls"][0].update(type="bing_grounding", id="call_2")
    items.insert(3, ("thread.run.step.delta", odd))
    answer_warnings = [unit for unit in validate_stream(transcript(items)).warnings if unit.code == "unknown-type"]
    assert len(answer_warnings) == 1
    page.open()
    page.validate(transcript(items).decode())

    shown = [unit for unit in page.units() if "unknown tool call type" in unit["text"]]
    assert len(shown) == 1, shown


def test_a_shared_link_restores_the_state_and_sends_nothing_until_asked(browser: Any, server: RunningServer) -> None:
    first = Page(browser, server)
    first.open()
    first.page.fill("#text", '{"object": "thread.run.step.delta"}')
    first.page.select_option("#schema", "run_step.strict")
    first.page.click("#share")
    link = first.page.input_value("#share-link")
    first.close()
    assert "#state=" in link

    second = Page(browser, server)
    second.page.goto(link)
    second.page.wait_for_selector("body[data-ready]", state="attached")
    assert "Restored from the link" in second.page.inner_text("#status")

    assert second.page.input_value("#text") == '{"object": "thread.run.step.delta"}'
    assert second.page.input_value("#schema") == "run_step.strict"
    assert not [url for url in second.requested if "/v1/validate" in url]  # nothing sent until Validate
    second.shot("06-shared-link")
    second.close()


def test_an_oversized_body_shows_the_413_message(page: Page) -> None:
    page.open()
    page.validate(json.dumps({"object": "thread.run.step", "padding": "x" * LIMIT}))

    assert page.page.inner_text("#summary .headline") == "Payload too large"
    assert str(LIMIT) in page.page.inner_text("#summary .detail")
    # Chromium logs every 4xx answer to fetch() in the console; the page itself reported no error.
    refused = "Failed to load resource: the server responded with a status of 413 (Payload Too Large)"
    assert page.console_errors == [refused]
    page.console_errors.clear()
    page.shot("07-too-large")


def test_ctrl_enter_validates_from_the_editor(page: Page) -> None:
    page.open()
    page.page.fill("#text", (EXAMPLES / "message_creation.json").read_text())
    page.page.focus("#text")
    page.page.keyboard.press("Control+Enter")
    page.page.wait_for_selector("#summary.valid")
    assert page.page.inner_text("#summary .headline") == "Valid"


def test_dark_scheme_on_a_phone_and_the_api_docs(browser: Any, server: RunningServer) -> None:
    phone = Page(browser, server, viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True)
    phone.open()
    phone.validate((EXAMPLES / "invalid_tool_calls.json").read_text())
    background = phone.page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(21, 22, 24)"
    assert phone.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # no sideways scroll
    phone.shot("08-phone-dark")

    phone.page.goto(phone.base + "/docs")
    phone.page.wait_for_selector("main section h3")
    assert "/v1/validate/stream" in phone.page.inner_text("main")
    phone.shot("09-docs")
    assert phone.console_errors == []
    phone.close()


def luminance(css: str) -> float:
    """WCAG relative luminance of an `rgb(r, g, b)` colour."""
    channels = [int(part) / 255 for part in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_gutter_markers_are_legible_in_both_colour_schemes(browser: Any, server: RunningServer, scheme: str) -> None:
    shown = Page(browser, server, viewport={"width": 1280, "height": 860}, color_scheme=scheme)
    shown.open()
    shown.validate((EXAMPLES / "invalid_tool_calls.json").read_text())
    marker = shown.page.locator(".gutter .error").first
    colours = marker.evaluate("m => [getComputedStyle(m).color, getComputedStyle(m).backgroundColor]")
    shown.close()

    assert contrast(*colours) >= 4.5, colours


def test_on_a_phone_every_result_fits_the_screen_and_the_pickers_show_their_text(
    browser: Any, server: RunningServer
) -> None:
    phone = Page(browser, server, viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True)
    phone.open()
    phone.validate((EXAMPLES / "invalid_tool_calls.json").read_text())
    overflowing = phone.page.evaluate(
        "[...document.querySelectorAll('#summary, #summary *, .unit')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.id || e.className)"
    )
    clipped = phone.page.evaluate(
        "[...document.querySelectorAll('select')].filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.id)"
    )
    page_width = phone.page.evaluate("document.documentElement.scrollWidth")
    phone.shot("10-phone-results")
    phone.close()

    assert overflowing == []
    assert clipped == []
    assert page_width <= 390  # nothing wider than the phone: no sideways scrolling


DEVICES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 860}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", sorted(DEVICES))
def test_each_state_in_each_scheme_and_size(browser: Any, server: RunningServer, device: str, scheme: str) -> None:
    """Issue 25's list, in both colour schemes at both sizes, with a screenshot of each state: legible gutter
    markers, nothing wider than its card or clipped in its picker, a status in words, stale results cleared."""
    shown = Page(browser, server, color_scheme=scheme, **DEVICES[device])
    page = shown.open()
    width = DEVICES[device]["viewport"]["width"]
    name = f"12-{device}-{scheme}"
    page.select_option("#example", label="Three mistakes: a run's status, a number as output, tokens as text")
    page.locator("#validate").scroll_into_view_if_needed()
    page.click("#validate")
    page.wait_for_selector(ANSWERED)
    shown.shot(f"{name}-1-invalid")

    marker = page.locator(".gutter .error").first
    colours = marker.evaluate("m => [getComputedStyle(m).color, getComputedStyle(m).backgroundColor]")
    assert contrast(*colours) >= 4.5, colours
    overflowing = page.evaluate(
        "[...document.querySelectorAll('#summary, #summary *, .unit, .unit *, #status')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.id || e.className)"
    )
    assert overflowing == []
    clipped = page.evaluate(
        "[...document.querySelectorAll('select')].filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.id)"
    )
    assert clipped == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    said = page.inner_text("#status")
    assert said.startswith("Checked one payload against"), said
    assert "HTTP" not in said
    assert "/v1/" not in said

    page.set_input_files(
        "#file", files=[{"name": "steps.jsonl.gz", "mimeType": "application/gzip", "buffer": b"\x1f\x8b\x08\x00"}]
    )
    page.wait_for_selector("#status:has-text('is gzipped')")
    assert page.inner_text("#summary") == "Nothing validated yet."
    assert page.locator("#gutter .error").count() == 0
    shown.shot(f"{name}-2-refused-file")

    page.select_option("#example", label="A misspelled status (with a suggestion)")
    page.locator("#validate").scroll_into_view_if_needed()
    page.click("#validate")
    page.wait_for_selector("#summary.invalid")
    page.fill("#text", "")
    page.click("#validate")
    sync_api.expect(page.locator("#summary")).to_have_text("Nothing validated yet.")
    assert shown.units() == []
    shown.shot(f"{name}-3-empty-input")
    shown.close()
    assert shown.console_errors == []


def test_the_schema_is_named_by_its_title_and_linked_not_spelled_out_as_a_url(page: Page) -> None:
    """A schema's $id is a long URL that wrapped mid-word on a phone; its title says the same to a person, and the
    link opens the schema from this service."""
    page.open()
    page.validate((EXAMPLES / "invalid_tool_calls.json").read_text())

    detail = page.page.locator("#summary .detail")
    assert "https://" not in detail.inner_text()
    link = detail.locator("a")
    assert link.inner_text() == "OpenAI Assistants run step"
    assert link.get_attribute("href") == "/v1/schemas/run_step"
    assert link.get_attribute("title") == "https://runstep-validator.dev/schemas/run_step.schema.json"


def test_on_a_phone_the_empty_editor_shows_its_whole_hint(browser: Any, server: RunningServer) -> None:
    phone = Page(browser, server, **DEVICES["phone"])
    page = phone.open()
    hint_fits = page.eval_on_selector("#text", "t => t.value === '' && t.scrollWidth <= t.clientWidth")
    phone.shot("13-phone-empty-editor")
    page.fill("#text", '{"object": "thread.run.step", "a_long_member_name_that_does_not_fit_on_a_phone": true}')
    text_scrolls = page.eval_on_selector("#text", "t => t.scrollWidth > t.clientWidth")  # text never wraps
    phone.close()

    assert hint_fits
    assert text_scrolls


def test_a_refused_file_can_be_chosen_again_once_fixed(page: Page) -> None:
    page.open()
    gzipped = {"name": "steps.jsonl.gz", "mimeType": "application/gzip", "buffer": b"\x1f\x8b\x08\x00"}
    page.page.set_input_files("#file", files=[gzipped])
    page.page.wait_for_selector("#status:has-text('is gzipped')")

    assert page.page.input_value("#file") == ""  # the picker does not go on naming the refused file


def test_the_status_says_what_was_checked_and_the_first_error_is_in_view(page: Page) -> None:
    page.open()
    page.validate((EXAMPLES / "invalid_tool_calls.json").read_text())

    said = page.page.inner_text("#status")
    assert said.startswith("Checked one payload against Automatic"), said
    assert "run_step.schema.json" in said
    top = page.page.evaluate("document.getElementById('text').scrollTop")
    assert top < 20 * 9  # the first error (line 9) is in view, not the end of the text


def test_the_first_error_far_along_a_long_line_is_scrolled_into_view(page: Page) -> None:
    page.open()
    page.validate((EXAMPLES / "steps.jsonl").read_text())
    first = page.units()[0]
    assert first["column"] > 200  # far past the editor's width: JSON Lines put a whole record on one line

    left, width, scroll_width = page.page.eval_on_selector("#text", "t => [t.scrollLeft, t.clientWidth, t.scrollWidth]")
    character = page.page.evaluate(
        "(() => { const c = document.createElement('canvas').getContext('2d');"
        " c.font = getComputedStyle(document.getElementById('text')).font; return c.measureText('0').width; })()"
    )
    padding = 8
    x = padding + (first["column"] - 1) * character
    assert scroll_width > width
    assert left <= x <= left + width - 4 * character, (left, x, width)


def test_results_are_cleared_or_marked_stale_when_they_no_longer_describe_the_text(page: Page) -> None:
    page.open()
    page.validate((EXAMPLES / "invalid_tool_calls.json").read_text())
    page.page.locator("#text").press("End")
    page.page.keyboard.type(" ")

    sync_api.expect(page.page.locator("#summary")).to_have_class(re.compile(r"\bstale\b"))
    page.page.fill("#text", "")
    page.page.click("#validate")
    sync_api.expect(page.page.locator("#summary")).to_have_text("Nothing validated yet.")
    assert page.units() == []


def test_the_example_menu_speaks_in_titles(page: Page) -> None:
    page.open()
    labels = page.page.eval_on_selector_all("#example option", "options => options.map(o => o.textContent)")

    assert len(labels) > 3
    assert not [label for label in labels if " example " in label or ".strict" in label or "_" in label]


def test_the_example_menu_offers_examples_with_mistakes_and_each_shows_its_errors(page: Page) -> None:
    page.open()
    groups = page.page.eval_on_selector_all(
        "#example optgroup", "groups => groups.map(g => [g.label, [...g.children].map(o => o.textContent)])"
    )
    assert [label for label, _ in groups] == ["Valid", "With mistakes"]
    with_mistakes = dict(groups)["With mistakes"]
    assert with_mistakes == [shown["title"] for shown in menu_examples() if not shown["valid"]]
    assert len(with_mistakes) >= 5

    for number, title in enumerate(with_mistakes):
        page.page.select_option("#example", label=title)
        sync_api.expect(page.page.locator("#status")).to_have_text(f"Loaded {title}.")
        page.page.click("#validate")
        page.page.wait_for_selector(ANSWERED)
        assert page.page.locator("#summary.invalid, #summary.problem").count() == 1, title
        assert [unit for unit in page.units() if unit["kind"] == "error" and unit["line"] >= 1], title
        page.shot(f"11-example-with-mistakes-{number + 1}")
    # Chromium logs the 400 answer to the broken JSON in the console; the page itself reported no error.
    refused = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert page.console_errors == [refused]
    page.console_errors.clear()


def test_an_azure_example_switches_the_dialect_and_a_stream_the_input(page: Page) -> None:
    page.open()
    page.page.select_option("#example", label="An Azure AI Agents step (Bing grounding)")
    assert page.page.input_value("#dialect") == "azure"
    page.page.select_option("#example", label="An event stream of a function call")
    assert (page.page.input_value("#dialect"), page.page.input_value("#mode")) == ("openai", "stream")


def test_the_api_docs_tell_path_parameters_from_query_parameters(page: Page) -> None:
    docs = page.page
    docs.goto(page.base + "/docs")
    docs.wait_for_selector("main section h3")
    section = docs.locator("main section", has_text="/v1/schemas/{name}")

    assert section.locator("h4", has_text="Path parameters").count() == 1
    assert section.locator("h4", has_text="Query parameters").count() == 0
    headings = docs.locator("main section h3").all_inner_texts()
    assert any("/readyz" in heading for heading in headings)
    assert any("/metrics" in heading for heading in headings)
