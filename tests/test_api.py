"""The Python API: validate() over every input kind, decode() to typed Structs, and one exception type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runstep_validator import (
    Report,
    RunStep,
    RunStepDecodeError,
    RunStepDelta,
    RunStepValidatorError,
    SchemaSet,
    Validator,
    decode,
    validate,
)
from runstep_validator.core.models import FunctionToolCall, ToolCallsDetails
from runstep_validator.http.app import create_app

from .support import EXAMPLES, example


@pytest.mark.parametrize(
    "data",
    [
        (EXAMPLES / "tool_calls_function.json").read_bytes(),
        bytearray((EXAMPLES / "tool_calls_function.json").read_bytes()),
        memoryview((EXAMPLES / "tool_calls_function.json").read_bytes()),
        (EXAMPLES / "tool_calls_function.json").read_text(),
        example("tool_calls_function.json"),
    ],
    ids=["bytes", "bytearray", "memoryview", "str", "parsed"],
)
def test_validate_accepts_every_input_kind(data: object) -> None:
    assert validate(data) == Report(valid=True, schema="https://runstep-validator.dev/schemas/run_step.schema.json")


def test_report_to_dict_is_the_basic_output_format() -> None:
    # Given as bytes, every unit says where its value is: line and column, as the command line and HTTP say.
    report = validate((EXAMPLES / "invalid_tool_calls.json").read_bytes())

    assert report.to_dict() == {
        "valid": False,
        "schema": "https://runstep-validator.dev/schemas/run_step.schema.json",
        "headline": '/status: "requires_action" is not one of "in_progress", "cancelled", "failed", "completed", '
        '"expired"',
        "errors": [
            {
                "instanceLocation": "/status",
                "keywordLocation": "/properties/status/$ref/enum",
                "absoluteKeywordLocation": "https://runstep-validator.dev/schemas/components/common.schema.json"
                "#/$defs/step_status/enum",
                "error": '"requires_action" is not one of "in_progress", "cancelled", "failed", "completed", "expired"',
                "code": "enum",
                "line": 9,
                "column": 13,
            },
            {
                "instanceLocation": "/step_details/tool_calls/2/function/output",
                "keywordLocation": "/properties/step_details/$ref/allOf/1/then/$ref/properties/tool_calls/items/$ref"
                "/allOf/2/then/$ref/properties/function/$ref/properties/output/type",
                "absoluteKeywordLocation": "https://runstep-validator.dev/schemas/components/tool_calls.schema.json"
                "#/$defs/function/properties/output/type",
                "error": "42 is not of type 'string', 'null'",
                "code": "type",
                "line": 42,
                "column": 21,
            },
            {
                "instanceLocation": "/usage/total_tokens",
                "keywordLocation": "/properties/usage/$ref/properties/total_tokens/$ref/type",
                "absoluteKeywordLocation": "https://runstep-validator.dev/schemas/components/usage.schema.json"
                "#/$defs/token_count/type",
                "error": "\"1280\" is not of type 'integer'",
                "code": "type",
                "line": 50,
                "column": 21,
            },
        ],
        "warnings": [],
    }
    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()


def test_decode_returns_the_typed_run_step() -> None:
    step = decode((EXAMPLES / "tool_calls_function.json").read_bytes())

    assert isinstance(step, RunStep)
    assert isinstance(step.step_details, ToolCallsDetails)
    call = step.step_details.tool_calls[2]
    assert isinstance(call, FunctionToolCall)
    assert call.function.name == "create_ticket_note"


def test_decode_off_the_fast_path_still_types_the_step() -> None:
    document = example("message_creation.json") | {"created_at": 1730284800.0, "incomplete_details": None}

    step = decode(json.dumps(document))

    assert isinstance(step, RunStep)
    assert step.created_at == 1730284800
    assert isinstance(step.created_at, int)


def test_decode_raises_one_exception_type_with_the_report() -> None:
    data = (EXAMPLES / "invalid_tool_calls.json").read_bytes()

    with pytest.raises(RunStepDecodeError) as raised:
        decode(data)

    assert isinstance(raised.value, RunStepValidatorError)
    assert raised.value.report == validate(data)
    assert str(raised.value) == raised.value.report.headline


def test_decode_takes_the_same_selection_as_validate() -> None:
    delta = {"id": "step_1", "object": "thread.run.step.delta", "delta": {"step_details": {"type": "tool_calls"}}}
    azure = (EXAMPLES / "azure" / "bing_grounding.json").read_bytes()
    loose = example("message_creation.json")
    del loose["usage"]  # the live API has omitted it; the OpenAPI contract requires it

    assert isinstance(decode(json.dumps(delta)), RunStepDelta)
    assert isinstance(decode(json.dumps(delta), "run_step_delta"), RunStepDelta)
    assert isinstance(decode(azure, dialect="azure"), RunStep)
    with pytest.raises(RunStepDecodeError):
        decode(azure)  # an Azure tool call is beyond the OpenAI dialect's types
    assert isinstance(decode(json.dumps(loose)), RunStep)
    with pytest.raises(RunStepDecodeError) as raised:
        decode(json.dumps(loose), strict=True)
    assert raised.value.report == validate(json.dumps(loose), strict=True)


def test_decode_of_unknown_tool_type_explains_itself() -> None:
    document = example("tool_calls_function.json")
    document["step_details"]["tool_calls"].append({"id": "call_b", "type": "browser", "browser": {}})

    with pytest.raises(RunStepDecodeError, match="vocabulary this version cannot type") as raised:
        decode(json.dumps(document))

    assert raised.value.report.valid


def test_the_public_names_are_exported() -> None:
    import runstep_validator  # noqa: PLC0415

    assert isinstance(
        runstep_validator.validate_stream(b"event: done\ndata: [DONE]\n\n"), runstep_validator.StreamReport
    )
    assert {"RunStepDelta", "StreamReport"} <= set(runstep_validator.__all__)


def test_validators_are_reusable_and_independent() -> None:
    schemas = SchemaSet.load()
    tolerant, strict = Validator(schemas), Validator(schemas, "run_step.strict")
    data = (EXAMPLES / "message_creation.json").read_bytes()

    assert [tolerant.validate(data).valid for _ in range(3)] == [True] * 3
    assert [strict.validate(data).valid for _ in range(3)] == [False] * 3


@pytest.mark.parametrize(
    ("payload", "headline"),
    [
        (
            {"object": "thread.run.step.delta", "id": "step_1", "delta": {}},
            '/object: "thread.run.step.delta" is not "thread.run.step": a run-step delta',
        ),
        ({"object": "list", "data": []}, '/object: "list" is not "thread.run.step": a list response'),
        (
            {"object": "list", "data": None},
            '/object: "list" is not "thread.run.step": a list response without a data array: its run steps are',
        ),
        (
            {**example("message_creation.json"), "type": "tool_calls"},
            '/step_details/type: type is "tool_calls" but step_details.type is "message_creation"',
        ),
    ],
    ids=["delta", "list-response", "list-response-without-an-array", "type-mismatch"],
)
def test_headline_points_at_the_real_mistake(payload: dict[str, object], headline: str) -> None:
    report = validate(json.dumps(payload), schema="run_step")

    assert report.headline is not None
    assert report.headline.startswith(headline)


def test_v1_retrieval_is_valid_with_a_warning_that_sdks_cannot_load_it() -> None:
    report = validate((EXAMPLES / "v1_retrieval_in_progress.json").read_bytes())

    assert report.valid
    assert [unit.code for unit in report.warnings] == ["legacy-type"]


DELTA = b'{"id": "step_1", "object": "thread.run.step.delta", "delta": {}}'


def test_the_entry_is_picked_by_object_and_strict_picks_the_contract() -> None:
    step = (EXAMPLES / "message_creation.json").read_bytes()

    assert validate(step).schema.endswith("/run_step.schema.json")
    assert validate(DELTA).schema.endswith("/run_step_delta.schema.json")
    assert validate(DELTA, strict=True).schema.endswith("/run_step_delta.strict.schema.json")
    assert not validate(step, strict=True).valid  # the example omits what the contract requires
    assert validate(json.loads(DELTA)).valid  # parsed values too


@pytest.mark.parametrize(
    ("payload", "headline"),
    [
        (b'{"id": "x"}', 'no "object" member says what this is: the objects known here are thread.run.step, thread'),
        (b'{"object": "thread.message"}', '/object: "thread.message" is not an object known here (a message'),
        (b'{"object": "list", "data": []}', '/object: "list" is not an object known here (a list response'),
        (
            b'{"object": "list", "data": {"id": "step_1"}}',
            '/object: "list" is not an object known here (a list response without a data array: its run steps '
            "are the items of that array)",
        ),
    ],
    ids=["no-object", "unknown-object", "list-response", "list-response-without-an-array"],
)
def test_no_or_an_unknown_object_is_one_clear_error(payload: bytes, headline: str) -> None:
    report = validate(payload)

    assert len(report.errors) == 1
    assert report.headline is not None
    assert report.headline.startswith(headline)


def test_a_batch_validates_each_item_by_its_own_object() -> None:
    step = json.dumps(example("message_creation.json"))
    body = f'{{"object": "list", "data": [{step}, {DELTA.decode()}]}}'.encode()
    response = (
        create_app({"access_log": False})
        .test_client()
        .post("/v1/validate/batch", data=body, content_type="application/json")
    )

    assert response.get_json()["summary"] == {"total": 2, "valid": 2, "invalid": 0}


def cli_units(path: str) -> list[list[tuple[str, str, int, int]]]:
    """Each record's errors as the command line's JSON output places them: (instance, keyword, line, column)."""
    import io  # noqa: PLC0415

    from runstep_validator.cli import run  # noqa: PLC0415

    stdout, stderr = io.StringIO(), io.StringIO()
    run(["validate", "--format", "json", path], stdout, stderr)
    (found,) = json.loads(stdout.getvalue())["files"]
    return [
        [(u["instanceLocation"], u["keywordLocation"], u["line"], u["column"]) for u in record["errors"]]
        for record in found["records"]
    ]


def units(report: Report) -> list[tuple[str, str, int | None, int | None]]:
    return [(u.instance_location, u.keyword_location, u.line, u.column) for u in report.errors]


def test_reports_from_bytes_and_text_carry_line_and_column_as_the_command_line_gives_them() -> None:
    path = EXAMPLES / "invalid_tool_calls.json"

    (expected,) = cli_units(str(path))
    assert expected
    assert all(line is not None for _, _, line, _ in expected)
    assert units(validate(path.read_bytes())) == expected
    assert units(validate(path.read_text())) == expected
    assert units(validate(json.loads(path.read_bytes()))) == [(i, k, None, None) for i, k, _, _ in expected]


def test_warnings_carry_line_and_column_too_and_stay_lazy() -> None:
    step = example("tool_calls_function.json")
    step["step_details"]["tool_calls"][0]["id"] = "fn_1"  # valid, but not the call_ prefix OpenAI gives ids
    data = json.dumps(step, indent=2).encode()

    report = validate(data)

    assert report.valid
    assert report.warnings
    assert all(unit.line is not None and unit.column is not None for unit in report.warnings)
    text = data.decode()
    (warned,) = report.warnings
    line_text = text.splitlines()[warned.line - 1]  # type: ignore[operator]
    assert line_text[warned.column - 1 :].startswith('"fn_1"')  # type: ignore[operator]


@pytest.mark.parametrize("kind", ["array", "list-response", "one-step", "bytes-file"])
def test_validate_document_gives_one_placed_report_per_item_as_the_command_line_does(kind: str, tmp_path: Path) -> None:
    from runstep_validator import ItemReport, validate_document  # noqa: PLC0415

    steps = [example("tool_calls_function.json"), example("invalid_tool_calls.json"), example("message_creation.json")]
    if kind == "list-response":
        document = json.dumps({"object": "list", "data": steps, "has_more": False}, indent=2)
    elif kind == "one-step":
        steps = steps[1:2]
        document = json.dumps(steps[0], indent=2)
    else:
        document = json.dumps(steps, indent=2)
    path = tmp_path / "steps.json"
    path.write_text(document)

    if kind == "bytes-file":
        with path.open("rb") as stream:
            items = validate_document(stream)
    else:
        items = validate_document(document)

    assert all(isinstance(item, ItemReport) for item in items)
    assert [item.index for item in items] == list(range(len(steps)))
    assert [item.valid for item in items] == [validate(step).valid for step in steps]
    assert [units(item.report) for item in items] == cli_units(str(path))
    starts = [item.line for item in items]
    assert [document.splitlines()[line - 1].strip()[:1] for line in starts] == ["{"] * len(steps)


def test_validate_document_reads_a_document_that_breaks_off_as_an_invalid_last_item() -> None:
    from runstep_validator import validate_document  # noqa: PLC0415

    document = b"[" + json.dumps(example("message_creation.json")).encode() + b',\n{"id": "step_cut'

    items = validate_document(document)

    assert [item.valid for item in items] == [True, False]
    (unit,) = items[1].report.errors
    assert (unit.code, unit.line, unit.column, items[1].line, items[1].column) == ("invalid-json", 2, 8, 2, 1)
    assert unit.error == "invalid JSON: unterminated string"  # placed where it starts


def test_the_public_names_are_exported_and_typed() -> None:
    import runstep_validator  # noqa: PLC0415

    for name in ("validate_document", "ItemReport", "StreamReport", "validate", "decode"):
        assert name in runstep_validator.__all__
    assert (Path(runstep_validator.__file__).parent / "py.typed").is_file()


def test_a_list_response_given_as_one_payload_says_how_each_surface_reads_its_items() -> None:
    """'validate them as a batch' meant nothing on the command line (a list response on a line of JSON Lines) or in
    Python: each surface's way of reading a document is named."""
    listed = json.dumps({"object": "list", "data": [example("message_creation.json")]}).encode()

    headline = validate(listed).headline or ""

    assert "(a list response: its run steps are the items of its data array, which a document" in headline
    for way in (".json file", "batch route", "validate_document"):
        assert way in headline, headline
