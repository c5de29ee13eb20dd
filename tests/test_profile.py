"""The selection as one value: a `Profile` holds the schema set, entry, strict, dialect, redaction and limits, hands
out the validators every surface needs (each built once), crosses processes by its fields, and means one thing by
"no limit"."""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import re
from pathlib import Path

import pytest

import runstep_validator
from runstep_validator import (
    AUTO,
    AutoValidator,
    Profile,
    RunStepDelta,
    SchemaSet,
    UnknownDialectError,
    UnknownSchemaError,
    Validator,
    decode,
    default_schemas,
    make_validator,
    validate,
)
from runstep_validator.core.azure_models import AzureRunStepDelta
from runstep_validator.core.errors import LimitExceeded
from runstep_validator.importing import Importer, iter_validate
from runstep_validator.importing.distributed import Options

from .support import EXAMPLES, ROOT

STEP = (EXAMPLES / "tool_calls_function.json").read_bytes()
DELTA = json.dumps(
    {
        "id": "step_1",
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [{"index": 0, "type": "function"}]}},
    }
).encode()


def nested(levels: int) -> bytes:
    """A run step whose metadata nests `levels` deep in all: refused by the Structs, so the parser's limit decides."""
    step = json.loads(STEP)
    step["metadata"] = json.loads("[" * (levels - 1) + "]" * (levels - 1))
    return json.dumps(step).encode()


def too_deep(report: runstep_validator.Report) -> bool:
    return any("nested deeper than the limit" in unit.error for unit in report.errors)


def loose_schemas(folder: Path) -> SchemaSet:
    """A schema set of its own: a run step and a delta need only an id and their object (no Structs know these
    entries, so only the schemas decide)."""
    for name, kind in (("loose_step", "thread.run.step"), ("loose_delta", "thread.run.step.delta")):
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://example.test/{name}.schema.json",
            "type": "object",
            "required": ["id", "object"],
            "properties": {"id": {"type": "string"}, "object": {"const": kind}},
        }
        (folder / f"{name}.schema.json").write_text(json.dumps(schema))
    return SchemaSet.load(folder)


def test_no_limit_is_none_everywhere_and_the_default_is_the_documented_depth() -> None:
    deep = nested(100)
    schemas = default_schemas()

    assert too_deep(Profile().validator.validate(deep))
    assert too_deep(make_validator(schemas, AUTO).validate(deep))
    assert too_deep(Validator(schemas, "run_step").validate(deep))
    for unlimited in (
        Profile(max_depth=None).validator,
        make_validator(schemas, AUTO, max_depth=None),
        make_validator(schemas, "run_step", max_depth=None),
        AutoValidator(schemas, max_depth=None),
        Validator(schemas, "run_step", max_depth=None),
    ):
        report = unlimited.validate(deep)
        assert not report.valid
        assert not too_deep(report), f"{unlimited!r}: None must mean no limit"


def test_each_validator_is_built_once_per_profile_and_streams_reuse_the_auto_ones() -> None:
    profile = Profile(dialect="azure")

    assert profile.validator is profile.validator
    auto = profile.validator
    assert isinstance(auto, AutoValidator)
    assert profile.stream.step is auto.by_object["thread.run.step"]
    assert profile.stream.delta is auto.by_object["thread.run.step.delta"]
    assert profile.stream.typed_step is profile.stream.step  # tolerant and not redacting: the same entry
    strict = Profile(strict=True, redact=True)
    assert strict.stream.typed_step is not strict.stream.step
    assert strict.stream.typed_step.name == "run_step"
    assert strict.stream is strict.stream
    named = Profile("run_step.strict")
    assert named.stream.step.name == "run_step"  # events pick their entries by name: the named entry is not theirs
    assert named.stream is named.stream


def test_an_unknown_entry_or_dialect_is_refused_where_the_profile_is_built() -> None:
    with pytest.raises(UnknownSchemaError, match="run_stp"):
        Profile("run_stp")
    with pytest.raises(UnknownDialectError):
        Profile(dialect="bedrock")


def test_a_schema_set_without_a_delta_entry_cannot_check_streams_and_says_so(tmp_path: Path) -> None:
    loose_schemas(tmp_path)
    (tmp_path / "loose_delta.schema.json").unlink()
    profile = Profile(schemas=SchemaSet.load(tmp_path))

    with pytest.raises(runstep_validator.SchemaError, match=r"validates thread\.run\.step\.delta: streams need one"):
        runstep_validator.validate_stream(b"event: done\ndata: [DONE]\n\n", profile=profile)


def test_a_profile_crosses_processes_by_its_fields_and_is_rebuilt_once_per_process(tmp_path: Path) -> None:
    profile = Profile("run_step", redact=True, max_depth=12)
    profile.validator.validate(STEP)  # its validators are built: they must not travel
    data = pickle.dumps(profile)

    assert len(data) < 1000
    again = pickle.loads(data)
    assert again == profile
    assert pickle.loads(data) is again  # a worker meets the same spec for every block: one set of validators
    assert pickle.loads(pickle.dumps(Profile())).schemas is default_schemas()

    custom = Profile(schemas=loose_schemas(tmp_path))
    moved = pickle.loads(pickle.dumps(custom))
    assert moved.schemas.entries.keys() == custom.schemas.entries.keys()
    assert moved.validator.validate(b'{"id": "x", "object": "thread.run.step"}').valid


def test_a_custom_schema_set_is_honoured_by_validate_and_decode(tmp_path: Path) -> None:
    profile = Profile(schemas=loose_schemas(tmp_path))
    bare = b'{"id": "x", "object": "thread.run.step"}'

    assert not validate(bare).valid
    assert validate(bare, profile=profile).valid
    with pytest.raises(runstep_validator.RunStepDecodeError) as shipped:
        decode(bare)
    assert not shipped.value.report.valid
    with pytest.raises(runstep_validator.RunStepDecodeError) as custom:
        decode(bare, profile=profile)  # no Structs type these entries: valid, but there is no typed view
    assert custom.value.report.valid


def test_decode_takes_the_whole_selection_as_a_profile() -> None:
    assert isinstance(decode(DELTA, profile=Profile(dialect="azure")), AzureRunStepDelta)
    assert type(decode(DELTA, profile=Profile("run_step_delta"))) is RunStepDelta
    with pytest.raises(runstep_validator.RunStepDecodeError):
        decode(nested(100), profile=Profile(max_depth=5))
    with pytest.raises(TypeError, match="not both"):
        decode(DELTA, "run_step_delta", profile=Profile())
    with pytest.raises(TypeError, match="not both"):
        validate(DELTA, strict=True, profile=Profile())


def test_the_profile_and_the_stream_report_are_public_names() -> None:
    assert "Profile" in runstep_validator.__all__
    assert "StreamReport" in runstep_validator.__all__
    assert runstep_validator.Profile is Profile


def test_the_readme_profile_example_prints_what_it_says(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"### The selection as one value: `Profile`\n.*?```python\n(.*?)```", readme, re.DOTALL)
    assert code
    expected = [line.removeprefix("# ") for line in code.group(1).splitlines() if line.startswith("# ")]
    printed = io.StringIO()
    monkeypatch.chdir(ROOT)

    with contextlib.redirect_stdout(printed):
        exec(compile(code.group(1), "README.md", "exec"), {})

    assert printed.getvalue().splitlines() == expected


def test_every_entry_with_structs_declares_its_warnings_and_every_dialect_gets_the_same() -> None:
    from runstep_validator.core.entries import STRUCTS, no_warnings  # noqa: PLC0415

    for name in default_schemas().entries:
        assert name in STRUCTS, f"{name}: an entry without Structs has no fast path and no warnings"
        assert STRUCTS[name].warnings is not no_warnings, f"{name}: declares no warnings"
    step = json.loads(STEP)
    step["step_details"]["tool_calls"].append(dict(step["step_details"]["tool_calls"][0]))  # a repeated call id
    payload = json.dumps(step).encode()
    codes = {
        dialect: sorted(str(unit.code) for unit in validate(payload, profile=Profile(dialect=dialect)).warnings)
        for dialect in default_schemas().dialects
    }
    assert "duplicate-id" in codes["openai"]
    assert all(found == codes["openai"] for found in codes.values()), codes


def test_the_loose_arguments_share_the_shipped_profiles_validators() -> None:
    from runstep_validator import get_validator  # noqa: PLC0415
    from runstep_validator.core.profile import shipped_profile  # noqa: PLC0415

    assert get_validator() is shipped_profile().validator
    assert get_validator("run_step", True) is shipped_profile("run_step", redact=True).validator
    auto = get_validator(dialect="azure")
    assert isinstance(auto, AutoValidator)
    assert shipped_profile(dialect="azure").stream.step is auto.by_object["thread.run.step"]


def test_a_time_limit_is_kept_by_every_surface_that_takes_a_profile_or_refused() -> None:
    no_time = Profile(max_seconds=0.0)
    payload = (EXAMPLES / "invalid_tool_calls.json").read_bytes()

    with pytest.raises(LimitExceeded):
        runstep_validator.validate(payload, profile=no_time)
    with pytest.raises(LimitExceeded):
        runstep_validator.validate_document(b"[" + payload + b"]", profile=no_time)
    with pytest.raises(LimitExceeded):
        list(iter_validate([payload.replace(b"\n", b"")], profile=no_time))
    # The bulk surfaces bound a record's size, not its time: a profile that asks for a time limit is refused there.
    with pytest.raises(ValueError, match="sets no time limit per record"):
        Importer(profile=no_time)
    with pytest.raises(ValueError, match="sets no time limit per record"):
        Options(profile=no_time)
