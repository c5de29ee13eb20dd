"""Entry schemas are data: any top-level schema file is an entry, with or without Structs, and the Structs of
those that have them keep every valid payload on the fast path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runstep_validator import SchemaError, SchemaSet, Validator, get_validator
from runstep_validator.core import entries
from runstep_validator.core.entries import Structs

from .support import EXAMPLES, SCHEMAS, Case, all_cases, corpus_files, load_json

# Valid payloads leave the fast path by design only for vocabulary the Structs do not know.
VOCABULARY_CODES = {"unknown-property", "unknown-type"}
VALID_CASES = [case for case in all_cases() if case.valid]


def off_the_fast_path_by_design(schema: str, raw: bytes) -> bool:
    return any(unit.code in VOCABULARY_CODES for unit in get_validator(schema).validate(raw).warnings)


@pytest.mark.parametrize("case", VALID_CASES, ids=[f"{case.schema}/{case.name}" for case in VALID_CASES])
def test_valid_case_is_accepted_by_its_structs(case: Case) -> None:
    raw = json.dumps(case.payload).encode()
    if case.slow_path is not None or off_the_fast_path_by_design(case.schema, raw):
        assert not get_validator(case.schema).accepts_fast(raw)
        return

    assert get_validator(case.schema).accepts_fast(raw), "a Struct is stricter than its schema"


@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: path.name)
def test_real_run_step_is_accepted_by_its_structs(path: Path) -> None:
    raw = path.read_bytes()
    # A step that uses vocabulary the Structs do not know (a tool type OpenAI never documented) is warned about.
    expected = not off_the_fast_path_by_design("run_step", raw)

    assert get_validator("run_step").accepts_fast(raw) is expected, "a Struct is stricter than its schema"


@pytest.fixture
def schemas_with_a_new_entry(tmp_path: Path) -> SchemaSet:
    """The shipped schemas plus `run_step.v2`, a new top-level file with no Structs declared for it."""
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    contents = load_json(SCHEMAS / "run_step.schema.json")
    contents["$id"] = contents["$id"].replace("run_step.schema.json", "run_step.v2.schema.json")
    (folder / "run_step.v2.schema.json").write_text(json.dumps(contents))
    return SchemaSet.load(folder)


def test_an_entry_without_structs_is_validated_by_the_engine_alone(schemas_with_a_new_entry: SchemaSet) -> None:
    assert "run_step.v2" in schemas_with_a_new_entry.entries
    new = Validator(schemas_with_a_new_entry, "run_step.v2")
    old = Validator(schemas_with_a_new_entry, "run_step")

    assert not new.has_fast_path
    for example in sorted(EXAMPLES.glob("*.json")):
        raw = example.read_bytes()
        expected, actual = old.validate(raw), new.validate(raw)
        assert actual.valid is expected.valid, example.name
        assert [unit.error for unit in actual.errors] == [unit.error for unit in expected.errors]
        assert [unit.instance_location for unit in actual.errors] == [
            unit.instance_location for unit in expected.errors
        ]
        assert actual.warnings == ()  # the warnings read typed steps, which an entry without Structs has none of
        assert new.check(raw)[1] is None


def test_structs_that_are_not_msgspec_types_are_a_schema_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries, "STRUCTS", {"run_step": Structs(object(), object())})
    monkeypatch.setattr("runstep_validator.core.validator.STRUCTS", entries.STRUCTS)

    with pytest.raises(SchemaError, match="Structs declared for entry 'run_step'"):
        Validator(SchemaSet.load(), "run_step")


def test_every_entry_with_structs_has_a_schema_file() -> None:
    assert set(entries.STRUCTS) <= set(SchemaSet.load().entries)
