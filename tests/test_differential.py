"""The fast path and plain jsonschema must agree on every verdict, for valid payloads and for their mutations."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from runstep_validator import Validator, default_schemas, get_validator
from runstep_validator.core import EngineName

from .strategies import NEAR_MISSES, SWAPS, delete, mutated, paths, replace, run_steps
from .support import EXAMPLES, example

SCHEMA_NAMES = ["run_step", "run_step.strict"]
REFERENCE = {
    name: Draft202012Validator(default_schemas().entry(name).contents, registry=default_schemas().registry)
    for name in SCHEMA_NAMES
}
DIFFERENTIAL = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


ENGINE_NAMES: tuple[EngineName, ...] = ("compiled", "jsonschema")
ENGINES = {
    (name, engine): Validator(default_schemas(), name, engine=engine)
    for name in SCHEMA_NAMES
    for engine in ENGINE_NAMES
}


def assert_agree(document: Any, schema: str) -> None:
    """The product's verdict is plain jsonschema's, and both slow-path engines give the very same report."""
    expected = REFERENCE[schema].is_valid(document)
    raw = json.dumps(document).encode()

    report = get_validator(schema).validate(raw)

    assert report.valid is expected, report.errors
    assert bool(report.errors) is not expected
    assert get_validator(schema).validate(document).valid is expected
    compiled = ENGINES[schema, "compiled"].validate(document)
    walked = ENGINES[schema, "jsonschema"].validate(document)
    # Same units and the same best match; beyond that jsonschema's order is not even stable (it collects
    # additionalProperties in a set), so the compiled engine keeps the instance's order instead.
    assert sorted(compiled.errors, key=repr) == sorted(walked.errors, key=repr)
    assert compiled.headline == walked.headline
    assert compiled.warnings == walked.warnings


@pytest.mark.parametrize("schema", SCHEMA_NAMES)
@DIFFERENTIAL
@given(data=st.data())
def test_generated_run_steps_are_valid(schema: str, data: st.DataObject) -> None:
    document = data.draw(run_steps(strict=schema == "run_step.strict"))

    assert REFERENCE[schema].is_valid(document), list(REFERENCE[schema].iter_errors(document))
    assert_agree(document, schema)


@pytest.mark.parametrize("schema", SCHEMA_NAMES)
@DIFFERENTIAL
@given(data=st.data())
def test_mutated_run_steps_get_the_reference_verdict(schema: str, data: st.DataObject) -> None:
    document = data.draw(run_steps(strict=data.draw(st.booleans())))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        document = data.draw(mutated(document))

    assert_agree(document, schema)


@DIFFERENTIAL
@given(document=run_steps(strict=True))
def test_strict_valid_is_tolerant_valid(document: dict[str, Any]) -> None:
    assert get_validator("run_step").validate(json.dumps(document)).valid


def single_mutations(document: Any) -> list[Any]:
    """Every document one step away: each location replaced by each near-miss value and each variant tag,
    each member deleted, and an unknown member added to each object."""
    found: list[Any] = []
    for path in paths(document):
        found += [replace(document, path, value) for value in [*NEAR_MISSES, *SWAPS]]
        if path:
            found.append(delete(document, path))
        target = document
        for part in path:
            target = target[part]
        if isinstance(target, dict):
            found.append(replace(document, path, {**target, "unexpected": 1}))
    return found


@pytest.mark.parametrize("schema", SCHEMA_NAMES)
@pytest.mark.parametrize("name", sorted(path.name for path in EXAMPLES.glob("*.json")))
def test_every_single_mutation_of_the_examples_gets_the_reference_verdict(schema: str, name: str) -> None:
    for document in single_mutations(example(name)):
        assert_agree(document, schema)
