"""The CI report formats: SARIF against the OASIS schema, JUnit XML through a JUnit reader, GitLab Code Quality by
its required members; each on valid, invalid, stream and Azure inputs, each carrying the same findings, at the
same places, as the text format. Then --quiet and --max-errors on every format."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml

from runstep_validator.cli.rules import RULES

from .support import ROOT
from .test_cli import invoke
from .test_streams import delta, events, transcript

TESTS = Path(__file__).resolve().parent
SARIF_SCHEMA = json.loads((TESTS / "formats" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
CLI = TESTS / "cases" / "cli"
AZURE = TESTS / "azure" / "real"
FORMATS = ["text", "json", "github", "sarif", "junit", "gitlab"]


def _stream(folder: Path) -> Path:
    items = events()
    items[4] = ("thread.run.step.delta", delta(0, arguments=": 'Li"))  # the deltas no longer add up
    items.insert(2, ("thread.run.step.delta", {"id": "step_x", "object": "thread.run.step.delta", "delta": 3}))
    path = folder / "run.sse"
    path.write_bytes(transcript(items))
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, tuple[list[str], int]]:
    """Each kind of input, copied under the working directory the command runs in: its arguments and exit code."""
    for name in ("valid-files", "invalid-file", "warnings", "mixed-directory", "ndjson-malformed-line"):
        shutil.copytree(CLI / name / "input", tmp_path / name)
    azure = tmp_path / "azure"
    azure.mkdir()
    for name in ("mcp-steps.json", "openapi-steps.json", "mcp-stream.sse"):
        shutil.copy(AZURE / name, azure / name)
    shutil.copy(ROOT / "examples" / "azure" / "invalid" / "mcp_call.json", azure / "invalid_mcp_call.json")
    (tmp_path / "stream").mkdir()
    _stream(tmp_path / "stream")
    return {
        "valid": (["valid-files"], 0),
        "invalid": (["invalid-file", "warnings", "mixed-directory", "ndjson-malformed-line"], 1),
        "stream": (["stream/run.sse"], 1),
        "azure": (["azure", "--dialect", "azure"], 1),
    }


KINDS = ["valid", "invalid", "stream", "azure"]
TEXT_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<warning>warning: )?(?P<message>.*)$")


def findings(tmp_path: Path, args: list[str]) -> list[tuple[str, int, int, str, str]]:
    """The text format's findings, the reference: (path, line, column, level, message)."""
    _code, out, _err = invoke(["validate", "--format", "text", *args], cwd=tmp_path)
    found = []
    for line in out.splitlines()[:-1]:
        match = TEXT_LINE.match(line)
        assert match, line
        level = "warning" if match["warning"] else "error"
        found.append((match["path"], int(match["line"]), int(match["column"]), level, match["message"]))
    return found


def run_format(tmp_path: Path, output_format: str, args: list[str], exit_code: int) -> str:
    code, out, err = invoke(["validate", "--format", output_format, *args], cwd=tmp_path)
    assert (code, err) == (exit_code, ""), out + err
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_sarif_is_valid_sarif_2_1_0_with_every_finding_placed(
    tmp_path: Path, inputs: dict[str, tuple[list[str], int]], kind: str
) -> None:
    args, exit_code = inputs[kind]
    document = json.loads(run_format(tmp_path, "sarif", args, exit_code))

    jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["version"] == "2.1.0"
    (sarif_run,) = document["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "runstep-validator"
    assert driver["version"]
    assert driver["informationUri"].startswith("https")
    rules = driver["rules"]
    assert len({rule["id"] for rule in rules}) == len(rules)
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
    placed = []
    for result in sarif_run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/"), uri  # relative to the checkout
        assert ":" not in uri, uri
        region = location["physicalLocation"]["region"]
        placed.append((uri, region["startLine"], region["startColumn"], result["level"], result["message"]["text"]))
    assert placed == findings(tmp_path, args)
    fingerprints = [result["partialFingerprints"]["runstepValidatorFinding/v1"] for result in sarif_run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)
    if kind != "valid":
        assert placed
        assert {"error"} <= {level for *_, level, _ in placed}


@pytest.mark.parametrize("output_format", ["sarif", "gitlab"])
def test_fingerprints_are_the_same_from_run_to_run_and_when_lines_are_added_above(
    tmp_path: Path, inputs: dict[str, tuple[list[str], int]], output_format: str
) -> None:
    args, _ = inputs["invalid"]

    def prints() -> list[str]:
        document = json.loads(run_format(tmp_path, output_format, args, 1))
        if output_format == "gitlab":
            return [issue["fingerprint"] for issue in document]
        return [
            result["partialFingerprints"]["runstepValidatorFinding/v1"] for result in document["runs"][0]["results"]
        ]

    first = prints()
    assert first == prints()
    source = tmp_path / "invalid-file" / "invalid_tool_calls.json"
    source.write_text("\n\n" + source.read_text())
    moved = prints()
    assert moved == first
    assert len(set(first)) == len(first)


def test_identical_errors_in_one_file_get_different_fingerprints(tmp_path: Path) -> None:
    line = (CLI / "invalid-file" / "input" / "invalid_tool_calls.json").read_text().replace("\n", "")
    (tmp_path / "twice.jsonl").write_text(line + "\n" + line + "\n")

    for output_format in ("sarif", "gitlab"):
        document = json.loads(run_format(tmp_path, output_format, ["twice.jsonl"], 1))
        issues = document if output_format == "gitlab" else document["runs"][0]["results"]
        prints = [
            issue.get("fingerprint") or issue["partialFingerprints"]["runstepValidatorFinding/v1"] for issue in issues
        ]
        assert len(prints) >= 2
        assert len(set(prints)) == len(prints)


@pytest.mark.parametrize("kind", KINDS)
def test_junit_reads_back_with_a_suite_per_file_a_case_per_record_and_every_error(
    tmp_path: Path, inputs: dict[str, tuple[list[str], int]], kind: str
) -> None:
    args, exit_code = inputs[kind]
    out = run_format(tmp_path, "junit", args, exit_code)
    (tmp_path / "report.xml").write_text(out, encoding="utf-8")
    summary = json.loads(run_format(tmp_path, "json", args, exit_code))

    xml = JUnitXml.fromfile(str(tmp_path / "report.xml"))
    suites = list(xml)
    assert [suite.name for suite in suites] == [entry["path"] for entry in summary["files"]]
    reference = findings(tmp_path, args)
    total_failures = 0
    for suite, entry in zip(suites, summary["files"], strict=True):
        cases = list(suite)
        assert suite.tests == len(cases) == len(entry["records"])
        failed = [case for case in cases if any(isinstance(result, Failure) for result in case.result)]
        assert suite.failures == len(failed) == sum(not record["valid"] for record in entry["records"])
        total_failures += len(failed)
        for case, record in zip(cases, entry["records"], strict=True):
            assert case.name.startswith(entry["path"])
            if not record["valid"]:
                (failure,) = case.result
                for error in record["errors"]:
                    assert error["error"] in failure.text
        expected = [f for f in reference if f[0] == entry["path"] and f[3] == "error"]
        assert sum(len(record["errors"]) for record in entry["records"]) == len(expected)
    assert xml.failures == total_failures == summary["summary"]["invalid"]
    assert xml.tests == sum(len(entry["records"]) for entry in summary["files"])


def test_junit_names_stream_records_by_their_event(tmp_path: Path) -> None:
    _stream(tmp_path)
    (tmp_path / "report.xml").write_text(run_format(tmp_path, "junit", ["run.sse"], 1), encoding="utf-8")

    names = [case.name for suite in JUnitXml.fromfile(str(tmp_path / "report.xml")) for case in suite]

    assert "run.sse event 4 (thread.run.step.delta)" in names
    # The deltas' sum is held to the step's final event: that event's testcase carries the error, as every
    # surface counts it.
    assert "run.sse event 8 (thread.run.step.completed)" in names
    assert "run.sse the stream" not in names


def test_junit_reports_an_unreadable_file_as_an_error(tmp_path: Path) -> None:
    shutil.copytree(CLI / "valid-files" / "input", tmp_path / "in")
    out = run_format(tmp_path, "junit", ["in", "missing.json"], 2)
    (tmp_path / "report.xml").write_text(out, encoding="utf-8")

    suites = list(JUnitXml.fromfile(str(tmp_path / "report.xml")))

    assert suites[-1].name == "missing.json"
    assert suites[-1].errors == 1
    (case,) = list(suites[-1])
    assert isinstance(case.result[0], Error)
    assert "cannot read" in (case.result[0].message or "")


GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


@pytest.mark.parametrize("kind", KINDS)
def test_gitlab_code_quality_has_every_finding_with_its_required_members(
    tmp_path: Path, inputs: dict[str, tuple[list[str], int]], kind: str
) -> None:
    args, exit_code = inputs[kind]
    issues = json.loads(run_format(tmp_path, "gitlab", args, exit_code))

    assert isinstance(issues, list)
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in GITLAB_SEVERITIES
        assert set(issue["location"]["positions"]["begin"]) == {"line", "column"}  # CodeClimate's, which GitLab reads
        assert issue["location"]["positions"]["begin"]["line"] >= 1
        assert not Path(issue["location"]["path"]).is_absolute()
    reference = findings(tmp_path, args)
    shown = [
        (issue["location"]["path"], issue["location"]["positions"]["begin"], issue["severity"], issue["description"])
        for issue in issues
    ]
    severity = {"error": "major", "warning": "minor"}
    assert shown == [
        (path, {"line": line, "column": column}, severity[level], message)
        for path, line, column, level, message in reference
    ]
    assert len({issue["fingerprint"] for issue in issues}) == len(issues)


def test_every_code_the_package_emits_has_a_rule() -> None:
    package = ROOT / "service" / "runstep_validator"
    text = "\n".join(path.read_text() for path in package.rglob("*.py"))
    emitted = set(re.findall(r'code="([a-z-]+)"', text))
    emitted |= set(re.findall(r'warning\(\s*(?:\([^()]*\)|\w+\([^()]*\)|\w+),\s*"([a-z-]+)"', text))
    emitted |= set(re.findall(r'self\._unit\(\s*\w+,\s*(?:f?"[^"]*"|\w+),\s*"([a-z-]+)"', text))
    emitted |= set(re.findall(r'Warning_\([^()]*, "([a-z-]+)"\)', text))
    schemas = "\n".join(path.read_text() for path in (ROOT / "schemas").rglob("*.json"))
    keywords = {"type", "const", "enum", "required", "additionalProperties", "maxLength", "minimum", "maximum"}
    assert {word for word in keywords if f'"{word}":' in schemas} <= set(RULES)
    assert emitted
    assert emitted <= set(RULES), emitted - set(RULES)


# --quiet and --max-errors


def _listed(output_format: str, out: str) -> tuple[int, int]:
    """How many errors and warnings an output lists."""
    if output_format in ("text", "github"):
        lines = out.splitlines()[:-1]
        warnings = sum(": warning: " in line or line.startswith("::warning") for line in lines)
        return len(lines) - warnings, warnings
    if output_format == "json":
        records = [record for entry in json.loads(out)["files"] for record in entry["records"]]
        return sum(len(r["errors"]) for r in records), sum(len(r["warnings"]) for r in records)
    if output_format == "sarif":
        levels = [result["level"] for result in json.loads(out)["runs"][0]["results"]]
        return levels.count("error"), levels.count("warning")
    if output_format == "gitlab":
        severities = [issue["severity"] for issue in json.loads(out)]
        return severities.count("major"), severities.count("minor")
    root = JUnitXml.fromstring(out)
    errors = warnings = 0
    for suite in root:
        for case in suite:
            for failure in case.result:
                errors += sum(1 for line in (failure.text or "").splitlines() if re.match(r"\d+:\d+: ", line))
            warnings += (case.system_out or "").count("warning: ")
    return errors, warnings


@pytest.mark.parametrize("output_format", FORMATS)
def test_quiet_lists_errors_only_and_still_counts_warnings(tmp_path: Path, output_format: str) -> None:
    for name in ("warnings", "invalid-file"):
        shutil.copytree(CLI / name / "input", tmp_path / name)
    args = ["warnings", "invalid-file"]
    loud = run_format(tmp_path, output_format, args, 1)
    quiet = run_format(tmp_path, output_format, [*args, "--quiet"], 1)

    errors, warnings = _listed(output_format, loud)
    assert errors > 0
    assert warnings > 0
    assert _listed(output_format, quiet) == (errors, 0)
    if output_format in ("text", "github"):
        assert quiet.splitlines()[-1] == loud.splitlines()[-1]  # the summary still counts the warnings
        assert f"{warnings} warning" in quiet.splitlines()[-1]


@pytest.mark.parametrize("output_format", FORMATS)
def test_max_errors_lists_that_many_and_says_how_many_more(tmp_path: Path, output_format: str) -> None:
    shutil.copytree(CLI / "invalid-file" / "input", tmp_path / "in")
    everything = run_format(tmp_path, output_format, ["in"], 1)
    total, _ = _listed(output_format, everything)
    assert total > 2

    code, out, err = invoke(["validate", "--format", output_format, "--max-errors", "1", "in"], cwd=tmp_path)

    assert code == 1
    assert _listed(output_format, out)[0] == 1
    said = f"{total - 1} more errors not listed (--max-errors 1)"
    if output_format == "gitlab":  # its document is a bare array: the note goes to standard error
        assert err == f"runstep-validator: {said}\n"
        return
    assert err == ""
    if output_format == "json":
        assert json.loads(out)["unlisted_errors"] == total - 1
        assert json.loads(out)["summary"] == json.loads(everything)["summary"]
    elif output_format == "junit":  # said in the failure of the record whose errors it left out
        assert f"{total - 1} more errors not listed" in out
    else:
        assert said in out


def test_max_errors_zero_lists_none_and_a_bad_count_is_a_usage_error(tmp_path: Path) -> None:
    shutil.copytree(CLI / "invalid-file" / "input", tmp_path / "in")

    code, out, _ = invoke(["validate", "--max-errors", "0", "in"], cwd=tmp_path)
    assert code == 1
    assert len(out.splitlines()) == 1
    assert "not listed (--max-errors 0)" in out

    for bad in ("-1", "many"):
        code, out, err = invoke(["validate", "--max-errors", bad, "in"], cwd=tmp_path)
        assert (code, out) == (2, "")
        assert "argument --max-errors" in err.splitlines()[0]


def test_the_readme_workflow_uploads_the_sarif_file_it_writes(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    workflow = next(block for block in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if "upload-sarif" in block)
    command = re.search(r"run: (runstep-validator validate [^\n]*?) > (\S+)\n", workflow)
    assert command
    assert re.search(r"uses: github/codeql-action/upload-sarif@v\d+\n", workflow)
    assert f"sarif_file: {command[2]}\n" in workflow
    assert "security-events: write" in workflow
    assert "if: always()" in workflow  # the findings are uploaded when validation fails
    folder = tmp_path / "fixtures" / "run_steps"
    shutil.copytree(CLI / "invalid-file" / "input", folder)

    code, out, _ = invoke(command[1].split()[1:], cwd=tmp_path)

    assert code == 1
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(out))
    assert json.loads(out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "fixtures/run_steps/invalid_tool_calls.json"
    )


@pytest.mark.parametrize(("readable", "successful"), [(True, True), (False, False)])
def test_sarif_says_the_run_failed_when_a_file_could_not_be_read(
    tmp_path: Path, readable: bool, successful: bool
) -> None:
    shutil.copy(ROOT / "examples" / "tool_calls_function.json", tmp_path / "step.json")
    if not readable:
        (tmp_path / "cut.json.gz").write_bytes(gzip.compress(b'{"object": "thread.run.step"}')[:-8])
    document = json.loads(run_format(tmp_path, "sarif", ["."], 0 if readable else 2))

    (invocation,) = document["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is successful
