"""Suggestions for near misses: a value one or two edits (or only case) away from an allowed enum or const value,
or a member of a closed object that close to a known one, says what was probably meant, as the unit's
`suggestion` and in its message, on every surface; with redaction, only the schema's word is quoted."""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runstep_validator import OutputUnit, default_schemas, get_validator
from runstep_validator.cli import run
from runstep_validator.core import suggestions
from runstep_validator.core.engine import MEMBERS_EXAMINED
from runstep_validator.core.suggestions import NearMisses
from runstep_validator.http.app import create_app

from .strategies import paths, replace
from .support import EXAMPLES, example
from .test_streams import events, transcript

SUGGESTING = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _allowed_places() -> list[tuple[str, tuple[str, ...]]]:
    """Every enum and const of the shipped schemas: (where, its string values)."""
    found: list[tuple[str, tuple[str, ...]]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "enum" and isinstance(value, list):
                    found.append((f"{where}/enum", tuple(v for v in value if isinstance(v, str))))
                elif key == "const" and isinstance(value, str):
                    found.append((f"{where}/const", (value,)))
                elif key not in ("examples", "default"):
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}/{index}")

    for document in default_schemas().documents:
        walk(document.contents, document.id + "#")
    return found


PLACES = _allowed_places()


def _fold(text: str) -> str:
    return "".join(char.lower() if len(char.lower()) == 1 else char for char in text)


def one_edit_apart(a: str, b: str) -> bool:
    """Whether one insertion, deletion, substitution or swap of neighbours (or only case) turns a into b: the
    definition, written out, independently of the product's distance."""
    a, b = _fold(a), _fold(b)
    if a == b:
        return True
    if len(a) == len(b):
        differ = [i for i in range(len(a)) if a[i] != b[i]]
        if len(differ) == 1:
            return True
        first = differ[0]
        return differ == [first, first + 1] and a[first] == b[first + 1] and a[first + 1] == b[first]
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return len(longer) == len(shorter) + 1 and any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


LETTERS = st.characters(categories=["Ll", "Lu", "Nd", "Pc", "Po"], codec="utf-8") | st.sampled_from("_.-")


@st.composite
def one_edit(draw: st.DrawFn, value: str) -> str:
    """`value` with one insertion, deletion, substitution (case alone included) or swap of neighbours."""
    kinds = (
        ["insert", "substitute", "case"] + (["delete"] if len(value) > 1 else []) + (["swap"] if len(value) > 1 else [])
    )
    kind = draw(st.sampled_from(kinds))
    at = draw(st.integers(0, len(value) - (0 if kind == "insert" else 1)))
    if kind == "insert":
        return value[:at] + draw(LETTERS) + value[at:]
    if kind == "delete":
        return value[:at] + value[at + 1 :]
    if kind == "case":
        return value[:at] + value[at].swapcase() + value[at + 1 :]
    if kind == "swap":
        at = min(at, len(value) - 2)
        return value[:at] + value[at + 1] + value[at] + value[at + 2 :]
    return value[:at] + draw(LETTERS) + value[at + 1 :]


def unambiguous(mutant: str, meant: str, values: tuple[str, ...]) -> bool:
    return mutant not in values and not any(one_edit_apart(mutant, other) for other in values if other != meant)


@SUGGESTING
@given(data=st.data())
def test_any_one_edit_of_any_allowed_value_suggests_that_value(data: st.DataObject) -> None:
    _, values = data.draw(st.sampled_from([place for place in PLACES if place[1]]))
    meant = data.draw(st.sampled_from(values))
    mutant = data.draw(one_edit(meant))

    suggested = NearMisses(values).meant(mutant)

    if mutant == meant:
        assert suggested is None  # allowed: nothing to suggest
    elif _fold(mutant) == _fold(meant) and all(_fold(other) != _fold(mutant) for other in values if other != meant):
        assert suggested == meant  # only case differs: nearer than any other value can be
    elif unambiguous(mutant, meant, values):
        assert suggested == meant
    else:  # another value is as near: a guess is no better than none, and never a word outside the schema
        assert suggested is None or suggested in values


@pytest.mark.parametrize(
    ("given_value", "values", "meant"),
    [
        ("complted", ("in_progress", "completed", "failed"), "completed"),
        ("COMPLETED", ("in_progress", "completed"), "completed"),
        ("compltd", ("in_progress", "completed"), "completed"),  # two edits, a long value
        ("fial", ("failed", "expired"), None),  # three edits away
        ("mpc", ("mcp", "openapi"), "mcp"),  # a swap
        ("xyz", ("mcp",), None),  # a short value is suggested one edit away only
        ("tex", ("text", "tax"), None),  # two equally near: no guess
        ("function", ("function",), None),  # allowed
    ],
)
def test_what_counts_as_a_near_miss(given_value: str, values: tuple[str, ...], meant: str | None) -> None:
    assert NearMisses(values).meant(given_value) == meant


@cache
def _constrained() -> list[tuple[str, str, tuple[Any, ...], str]]:
    """(example file, dialect, path, value) of every string in the examples whose place allows only certain values:
    found by putting a far-off word there and seeing an enum, const or object error at that place."""
    found = []
    files = [(path, "openai") for path in sorted(EXAMPLES.glob("*.json"))]
    files += [(path, "azure") for path in sorted((EXAMPLES / "azure").glob("*.json"))]
    for path, dialect in files:
        document = json.loads(path.read_text())
        if not get_validator("auto", dialect=dialect).validate(document).valid:
            continue
        for where in paths(document):
            value = _at(document, where)
            if not isinstance(value, str):
                continue
            far = replace(document, where, "~" * 30)
            report = get_validator("auto", dialect=dialect).validate(far)
            pointer = "".join(f"/{part}" for part in where)
            if any(u.instance_location == pointer and u.code in ("enum", "const", "object") for u in report.errors):
                found.append((str(path.relative_to(EXAMPLES)), dialect, where, value))
    return found


def _at(document: Any, where: tuple[Any, ...]) -> Any:
    for part in where:
        document = document[part]
    return document


def _allowed_at(absolute: str | None, code: str | None) -> tuple[str, ...]:
    if code == "object" or absolute is None:
        return ("thread.run.step", "thread.run.step.delta")
    uri, _, fragment = absolute.partition("#")
    node: Any = next(doc.contents for doc in default_schemas().documents if doc.id == uri)
    for escaped in fragment.split("/")[1:]:
        token = unquote(escaped).replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return tuple(v for v in (node if isinstance(node, list) else [node]) if isinstance(v, str))


def test_the_examples_have_constrained_strings_of_both_dialects() -> None:
    found = _constrained()
    assert {dialect for _, dialect, _, _ in found} == {"openai", "azure"}
    assert {where[-1] for _, _, where, _ in found} >= {"status", "type", "object"}


@SUGGESTING
@given(data=st.data())
def test_a_one_edit_miss_in_a_payload_is_suggested_by_the_validator(data: st.DataObject) -> None:
    name, dialect, where, meant = data.draw(st.sampled_from(_constrained()))
    mutant = data.draw(one_edit(meant))
    document = replace(example(name), where, mutant)
    pointer = "".join(f"/{part}" for part in where)

    report = get_validator("auto", dialect=dialect).validate(json.dumps(document).encode())

    units = [u for u in report.errors if u.instance_location == pointer and u.code in ("enum", "const", "object")]
    if mutant == meant or report.valid:
        return
    near = [u for u in units if meant in _allowed_at(u.absolute_keyword_location, u.code)]
    assert near or not units, [u.error for u in report.errors]
    for unit in near:
        if unambiguous(mutant, meant, _allowed_at(unit.absolute_keyword_location, unit.code)):
            assert unit.suggestion == meant, unit
            assert unit.error.endswith(f'did you mean "{meant}"?')


def _misspelt_status() -> bytes:
    document = example("tool_calls_function.json")
    document["status"] = "complted"
    return json.dumps(document, indent=2).encode()


def test_the_suggestion_is_a_field_and_in_the_message_and_redaction_quotes_only_the_schema() -> None:
    (unit,) = get_validator("auto").validate(_misspelt_status()).errors
    assert unit.suggestion == "completed"
    assert unit.error.startswith('"complted" is not one of')
    assert unit.error.endswith('; did you mean "completed"?')

    (hidden,) = get_validator("auto", redact=True).validate(_misspelt_status()).errors
    assert hidden.suggestion == "completed"
    assert "complted" not in hidden.error
    assert hidden.error.startswith("a string is not one of")


def _closed_at_top(unit: OutputUnit) -> bool:
    return unit.code == "additionalProperties" and unit.instance_location == ""


def _strict_step() -> dict[str, Any]:
    document = example("message_creation.json")
    document["expired_at"] = document.pop("expires_at")  # the strict contract's spelling
    return document


def test_a_near_miss_of_a_member_of_a_closed_object() -> None:
    document = _strict_step()
    document["statuss"] = document.pop("status")
    raw = json.dumps(document).encode()

    units = [u for u in get_validator("auto", strict=True).validate(raw).errors if _closed_at_top(u)]
    assert [u.suggestion for u in units] == ["status"]
    assert units[0].error.endswith('; did you mean "status"?')

    hidden = get_validator("auto", strict=True, redact=True).validate(raw).errors
    (unit,) = [u for u in hidden if _closed_at_top(u)]
    assert unit.suggestion == "status"
    assert "statuss" not in unit.error


def test_several_near_missed_members_are_each_named() -> None:
    document = _strict_step()
    document["statuss"] = document.pop("status")
    document["typ"] = document.pop("type")
    raw = json.dumps(document).encode()

    (unit,) = [u for u in get_validator("auto", strict=True).validate(raw).errors if _closed_at_top(u)]

    assert unit.suggestion in ("status", "type")
    assert '"status" (for "statuss")' in unit.error
    assert '"type" (for "typ")' in unit.error
    (hidden,) = [u for u in get_validator("auto", strict=True, redact=True).validate(raw).errors if _closed_at_top(u)]
    assert "statuss" not in hidden.error
    assert 'typ"' not in hidden.error


def test_a_misspelt_object_is_suggested_by_automatic_selection_and_by_a_named_entry() -> None:
    document = example("message_creation.json")
    document["object"] = "thread.run.stpe"
    raw = json.dumps(document).encode()

    for schema in ("auto", "run_step"):
        unit = get_validator(schema).validate(raw).errors[0]
        assert (unit.instance_location, unit.suggestion) == ("/object", "thread.run.step")
        assert unit.error.endswith('did you mean "thread.run.step"?')


def test_the_suggestion_reaches_every_surface(tmp_path: Path) -> None:
    path = tmp_path / "step.json"
    path.write_bytes(_misspelt_status())

    for output_format in ("text", "github", "sarif", "junit", "gitlab", "json"):
        out = io.StringIO()
        assert run(["validate", "--format", output_format, str(path)], out, io.StringIO()) == 1
        assert (
            'did you mean \\"completed\\"?' in out.getvalue()
            or 'did you mean "completed"?' in out.getvalue()
            or ("did you mean &quot;completed&quot;?" in out.getvalue())
        ), output_format
    out = io.StringIO()
    run(["validate", "--format", "json", str(path)], out, io.StringIO())
    assert json.loads(out.getvalue())["files"][0]["records"][0]["errors"][0]["suggestion"] == "completed"
    out = io.StringIO()
    run(["validate", "--format", "sarif", str(path)], out, io.StringIO())
    assert json.loads(out.getvalue())["runs"][0]["results"][0]["properties"]["suggestion"] == "completed"

    client = create_app({"access_log": False}).test_client()
    answer = client.post("/v1/validate", data=_misspelt_status(), content_type="application/json").get_json()
    assert answer["errors"][0]["suggestion"] == "completed"
    assert answer["errors"][0]["error"].endswith('did you mean "completed"?')


def test_a_suggestion_in_an_event_stream() -> None:
    items = events()
    _, step = items[-3]
    step["status"] = "Completed"
    body = transcript(items)
    client = create_app({"access_log": False}).test_client()

    answer = client.post("/v1/validate/stream", data=body, content_type="text/event-stream").get_json()

    units = [unit for event in answer["events"] for unit in event.get("errors", ())]
    assert any(unit.get("suggestion") == "completed" for unit in units), answer


def test_many_unexpected_members_cost_a_bounded_number_of_comparisons(monkeypatch: pytest.MonkeyPatch) -> None:
    compared = 0
    distance = suggestions._distance

    def counting(given: str, value: str, limit: int) -> int:
        nonlocal compared
        compared += 1
        return distance(given, value, limit)

    monkeypatch.setattr(suggestions, "_distance", counting)
    document = _strict_step()
    for number in range(10_000):
        document[f"member{number:04d}"] = 1  # as long as the known members, none near one of them
    validator = get_validator("auto", strict=True)

    units = [u for u in validator.validate(json.dumps(document).encode()).errors if _closed_at_top(u)]

    assert len(units) == 1
    known = len(default_schemas().entry("run_step.strict").contents["properties"])
    assert 0 < compared <= MEMBERS_EXAMINED * known
