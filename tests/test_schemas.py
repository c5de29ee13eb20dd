"""The schema files themselves: well-formed, documented, self-consistent, and resolved offline only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from runstep_validator import SchemaError, SchemaSet, UnknownSchemaError, default_schemas, validate
from runstep_validator.cli import schema_checks

from .support import SCHEMAS


def schema_nodes(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every named schema in a document: the root and each entry of $defs."""
    found = [(path or "#", node)]
    for name, sub in node.get("$defs", {}).items():
        found += schema_nodes(sub, f"{path or '#'}/$defs/{name}")
    return found


DOCUMENTS = default_schemas().documents


def test_entry_schemas() -> None:
    assert set(default_schemas().entries) == {
        "run_step",
        "run_step.strict",
        "run_step_delta",
        "run_step_delta.strict",
        "azure_run_step",
        "azure_run_step.strict",
        "azure_run_step_delta",
        "azure_run_step_delta.strict",
    }
    assert default_schemas().dialects == ("openai", "azure")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda doc: doc.path.name)
def test_document_is_a_described_2020_12_schema(document: Any) -> None:
    Draft202012Validator.check_schema(document.contents)

    assert document.contents["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document.id.startswith("https://runstep-validator.dev/schemas/")
    assert document.id.endswith(document.path.relative_to(SCHEMAS).as_posix())
    assert document.contents["title"]
    assert document.contents["description"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda doc: doc.path.name)
def test_examples_are_valid_against_their_schema(document: Any) -> None:
    registry = default_schemas().registry
    checked = 0
    for where, node in schema_nodes(document.contents):
        for example in node.get("examples", []):
            schema = {"$ref": document.id if where == "#" else document.id + where}
            errors = list(Draft202012Validator(schema, registry=registry).iter_errors(example))
            assert not errors, f"{where}: {example}: {errors[0].message}"
            checked += 1
    assert checked


def test_entry_examples_pass_the_product_too() -> None:
    for name, document in default_schemas().entries.items():
        for example in document.contents["examples"]:
            assert validate(json.dumps(example), schema=name).valid


def test_unknown_schema_name() -> None:
    with pytest.raises(
        UnknownSchemaError,
        match=r"unknown schema 'run_step\.v3'; known: auto, azure_run_step, .*, run_step, run_step\.strict",
    ):
        validate(b"{}", schema="run_step.v3")


def copy_schemas(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, target)
    return target


def test_remote_ref_is_an_error_at_load_not_a_fetch(tmp_path: Path) -> None:
    target = copy_schemas(tmp_path)
    usage = target / "components" / "usage.schema.json"
    contents = json.loads(usage.read_text())
    contents["$defs"]["token_count"] = {"$ref": "https://example.com/schemas/count.json"}
    usage.write_text(json.dumps(contents))

    with pytest.raises(SchemaError, match=r"\$ref 'https://example.com/schemas/count.json' does not resolve offline"):
        SchemaSet.load(target)


def test_metaschema_violation_is_reported_by_check_schemas(tmp_path: Path) -> None:
    target = copy_schemas(tmp_path)
    metadata = target / "components" / "metadata.schema.json"
    contents = json.loads(metadata.read_text())
    contents["maxProperties"] = "sixteen"
    metadata.write_text(schema_checks.canonical_text(contents))

    problems = schema_checks.check_schemas(target)

    assert [(problem.path.name, problem.message) for problem in problems] == [
        (
            "metadata.schema.json",
            "not a valid draft 2020-12 schema at /maxProperties: 'sixteen' is not of type 'integer'",
        )
    ]


def test_duplicate_id_is_reported(tmp_path: Path) -> None:
    target = copy_schemas(tmp_path)
    shutil.copy(target / "components" / "usage.schema.json", target / "components" / "usage_copy.schema.json")

    with pytest.raises(SchemaError, match="is already used by"):
        SchemaSet.load(target)


def test_unreadable_schema_is_reported(tmp_path: Path) -> None:
    target = copy_schemas(tmp_path)
    (target / "components" / "broken.schema.json").write_text("{not json")

    with pytest.raises(SchemaError, match=r"broken\.schema\.json: cannot be read as JSON"):
        SchemaSet.load(target)
