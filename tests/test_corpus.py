"""Real recorded payloads (../shared/corpus/real): every full run step is accepted, and the fast path agrees
with plain jsonschema on each. Skipped where the corpus is absent, as in a user's clone."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from runstep_validator import RunStep, RunStepDecodeError, decode, default_schemas, validate

from .support import corpus_files, load_json

RUN_STEPS = corpus_files("thread.run.step")
DELTAS = corpus_files("thread.run.step.delta")
needs_corpus = pytest.mark.skipif(not RUN_STEPS, reason="shared/corpus/real is not beside this clone")


@needs_corpus
def test_corpus_has_the_documented_size() -> None:
    assert len(RUN_STEPS) == 64
    assert len(DELTAS) == 29


@needs_corpus
@pytest.mark.parametrize("path", RUN_STEPS, ids=lambda path: path.name)
def test_real_run_step_is_valid(path: Path) -> None:
    report = validate(path.read_bytes())

    assert report.valid, report.errors
    assert Draft202012Validator(
        default_schemas().entry("run_step").contents, registry=default_schemas().registry
    ).is_valid(load_json(path))


@needs_corpus
@pytest.mark.parametrize("path", RUN_STEPS, ids=lambda path: path.name)
def test_real_run_step_decodes_unless_its_vocabulary_is_unknown(path: Path) -> None:
    report = validate(path.read_bytes())
    if any(unit.code == "unknown-type" for unit in report.warnings):
        with pytest.raises(RunStepDecodeError) as raised:
            decode(path.read_bytes())
        assert raised.value.report == report
    else:
        step = decode(path.read_bytes())
        assert isinstance(step, RunStep)
        assert step.id == load_json(path)["id"]


@needs_corpus
def test_real_oddities_are_warned_about() -> None:
    warnings = {
        path.name: [unit.describe() for unit in validate(path.read_bytes()).warnings]
        for path in RUN_STEPS
        if validate(path.read_bytes()).warnings
    }

    assert warnings == {
        "063-tool_calls-file_search-completed.json": [
            '/step_details/tool_calls/0/file_search/ranking_options/ranker: unknown ranker "default-2024-08-21"'
        ],
        "064-tool_calls-function-browser-in_progress.json": [
            '/step_details/tool_calls/1/type: unknown tool call type "browser": '
            "accepted, but only its required members were checked"
        ],
    }


@needs_corpus
def test_no_real_payload_meets_the_strict_contract() -> None:
    # Live responses say expires_at and omit metadata, so none of them is the OpenAPI contract to the letter.
    assert not any(validate(path.read_bytes(), schema="run_step.strict").valid for path in RUN_STEPS)


@needs_corpus
@pytest.mark.parametrize("path", DELTAS, ids=lambda path: path.name)
def test_real_delta_is_valid_by_default_and_not_a_run_step(path: Path) -> None:
    raw = path.read_bytes()
    report = validate(raw)

    assert report.valid, report.errors
    assert report.schema.endswith("/run_step_delta.schema.json")
    forced = validate(raw, schema="run_step")
    assert forced.headline is not None
    assert forced.headline.startswith('/object: "thread.run.step.delta" is not "thread.run.step": a run-step delta')
