"""The data-driven cases in tests/cases/<schema>/: each payload's verdict, errors and warnings, exactly."""

from __future__ import annotations

import json

import msgspec
import pytest

from runstep_validator import OutputUnit, Report, default_schemas, validate

from .support import Case, all_cases

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{case.schema}/{case.name}" for case in CASES])
def test_case(case: Case) -> None:
    report = validate(json.dumps(case.payload).encode(), schema=case.schema)

    assert report.valid is case.valid, case.description
    assert sorted(unit.describe() for unit in report.errors) == sorted(case.errors)
    assert sorted(unit.describe() for unit in report.warnings) == sorted(case.warnings)


@pytest.mark.parametrize("case", CASES, ids=[f"{case.schema}/{case.name}" for case in CASES])
def test_parsed_value_gets_the_same_report(case: Case) -> None:
    from_bytes = validate(json.dumps(case.payload).encode(), schema=case.schema)

    # The same report, except that a parsed value has no text for its units to give a line and column in.
    assert validate(case.payload, schema=case.schema) == unplaced(from_bytes)


def unplaced(report: Report) -> Report:
    def strip(units: tuple[OutputUnit, ...]) -> tuple[OutputUnit, ...]:
        return tuple(msgspec.structs.replace(unit, line=None, column=None) for unit in units)

    return Report(report.valid, report.schema, strip(report.errors), strip(report.warnings))


def test_every_schema_has_valid_and_invalid_cases() -> None:
    kinds = {(case.schema, case.valid) for case in CASES}

    assert kinds == {(schema, valid) for schema in default_schemas().entries for valid in (True, False)}
