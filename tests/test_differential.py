"""The product (Structs, then jsonschema-rs) and python-jsonschema, the reference, must agree on every verdict and
on every error location, for valid payloads and for their mutations."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runstep_validator import default_schemas, get_validator
from runstep_validator.core.engine import Engine

from .reference import REFERENCE, locations
from .strategies import NEAR_MISSES, SWAPS, delete, mutated, paths, replace, run_steps
from .support import EXAMPLES, Case, all_cases, azure_deltas, azure_steps, corpus_files, example, load_json

SCHEMA_NAMES = ["run_step", "run_step.strict"]
DELTA_NAMES = ["run_step_delta", "run_step_delta.strict"]
AZURE_NAMES = ["azure_run_step", "azure_run_step.strict"]
AZURE_DELTA_NAMES = ["azure_run_step_delta", "azure_run_step_delta.strict"]
DIFFERENTIAL = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENGINES = {
    name: Engine(default_schemas(), name) for name in SCHEMA_NAMES + DELTA_NAMES + AZURE_NAMES + AZURE_DELTA_NAMES
}


def assert_agree(document: Any, schema: str) -> None:
    """The product's verdict is python-jsonschema's, and so are its errors' locations and its best match."""
    expected = REFERENCE.verdict(schema, document)
    raw = json.dumps(document).encode()

    report = get_validator(schema).validate(raw)

    assert report.valid is expected.valid, report.errors
    assert bool(report.errors) is not expected.valid
    assert get_validator(schema).validate(document).valid is expected.valid
    if expected.valid:
        return
    engine = ENGINES[schema].errors(document)
    # The same set of (instance location, keyword location through $refs, absolute keyword location, keyword);
    # python-jsonschema's order is not even stable (it collects additionalProperties in a set).
    assert Counter(locations(engine)) == Counter(expected.locations)
    assert locations(engine[:1]) == [expected.best]
    assert len(report.errors) <= len(engine)


@pytest.mark.parametrize("schema", SCHEMA_NAMES)
@DIFFERENTIAL
@given(data=st.data())
def test_generated_run_steps_are_valid(schema: str, data: st.DataObject) -> None:
    document = data.draw(run_steps(strict=schema == "run_step.strict"))

    assert REFERENCE.verdict(schema, document).valid
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


CASES = all_cases()
REAL_PAYLOADS = corpus_files("thread.run.step") + corpus_files("thread.run.step.delta")


@pytest.mark.parametrize("case", CASES, ids=[f"{case.schema}/{case.name}" for case in CASES])
def test_every_case_gets_the_reference_verdict_and_locations(case: Case) -> None:
    assert_agree(case.payload, case.schema)


@pytest.mark.parametrize("schema", SCHEMA_NAMES + DELTA_NAMES)
@pytest.mark.parametrize("path", REAL_PAYLOADS, ids=lambda path: path.name)
def test_every_real_payload_gets_the_reference_verdict_and_locations(path: Path, schema: str) -> None:
    assert_agree(load_json(path), schema)


DELTA_EXAMPLES = [example for name in DELTA_NAMES for example in default_schemas().entry(name).contents["examples"]] + [
    load_json(path) for path in corpus_files("thread.run.step.delta")[::4]
]


@pytest.mark.parametrize("schema", DELTA_NAMES)
@pytest.mark.parametrize("index", range(len(DELTA_EXAMPLES)))
def test_every_single_mutation_of_deltas_gets_the_reference_verdict(schema: str, index: int) -> None:
    for document in single_mutations(DELTA_EXAMPLES[index]):
        assert_agree(document, schema)


AZURE_REAL = azure_steps()
AZURE_EXAMPLES = sorted(path.name for path in (EXAMPLES / "azure").glob("*.json"))


@pytest.mark.parametrize("schema", AZURE_NAMES)
@pytest.mark.parametrize("name", AZURE_EXAMPLES)
def test_every_single_mutation_of_the_azure_examples_gets_the_reference_verdict(schema: str, name: str) -> None:
    for document in single_mutations(example(f"azure/{name}")):
        assert_agree(document, schema)


AZURE_DELTAS = [
    example for name in AZURE_DELTA_NAMES for example in default_schemas().entry(name).contents["examples"]
] + azure_deltas()


@pytest.mark.parametrize("schema", AZURE_DELTA_NAMES)
@pytest.mark.parametrize("index", range(len(AZURE_DELTAS)))
def test_every_single_mutation_of_azure_deltas_gets_the_reference_verdict(schema: str, index: int) -> None:
    for document in single_mutations(AZURE_DELTAS[index]):
        assert_agree(document, schema)


@pytest.mark.parametrize("schema", AZURE_NAMES + AZURE_DELTA_NAMES)
@pytest.mark.parametrize("index", range(len(AZURE_REAL)), ids=[f"{path.name}-{n}" for path, n, _ in AZURE_REAL])
def test_every_real_azure_payload_gets_the_reference_verdict(schema: str, index: int) -> None:
    assert_agree(AZURE_REAL[index][2], schema)
