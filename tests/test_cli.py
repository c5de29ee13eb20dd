"""The command line: golden output for every data-driven case in tests/cases/cli/ and every format, exit codes,
and line/column correctness."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from runstep_validator import NotAnEventStream, SchemaNotForStreams, validate, validate_stream
from runstep_validator.cli import commands, run
from runstep_validator.core.profile import shipped_profile
from runstep_validator.http.app import create_app

from .support import CASES, ROOT

CLI_CASES = sorted(path for path in (CASES / "cli").iterdir() if path.is_dir())
FORMATS = ["text", "json", "github"]


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def invoke(argv: list[str], cwd: Path | None = None, stdin: bytes = b"") -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with working_directory(cwd or Path.cwd()):
        code = run(argv, stdout, stderr, io.BytesIO(stdin))
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("output_format", FORMATS)
@pytest.mark.parametrize("case", CLI_CASES, ids=lambda path: path.name)
def test_cli_case(case: Path, output_format: str, golden: Callable[[str, str], None]) -> None:
    spec = json.loads((case / "case.json").read_text())
    stdin = (case / spec["stdin"]).read_bytes() if "stdin" in spec else b""

    code, out, err = invoke(["validate", "--format", output_format, *spec["args"]], cwd=case, stdin=stdin)

    assert code == spec["exit"], out + err
    assert err == ""
    golden(f"cli/{case.name}.{output_format}.txt", out)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["validate"], "runstep-validator validate: the following arguments are required: PATH"),
        (["validate", "--fromat", "json", "x.json"], "unrecognized argument '--fromat'; did you mean --format?"),
        (["validate", "--debgu", "x.json"], "did you mean --debug?"),
        (["import", "--acepted=a", "--accepted", "b", "--rejected", "c", "x"], "did you mean --accepted?"),
        (
            ["validate", "--format", "jsno", "x.json"],
            "argument --format: invalid choice 'jsno' (choose from text, json, github, sarif, junit, gitlab); "
            'did you mean "json"?',
        ),
        (["import", "--input-format", "jsnl", "--accepted", "b", "--rejected", "c", "x"], 'did you mean "jsonl"?'),
        (
            ["validat", "x.json"],
            "unknown command 'validat' (choose from validate, check-schemas, import, serve); "
            'did you mean "validate"?',
        ),
        (["--debug", "imprt", "x"], 'did you mean "import"?'),
        (["frobnicate"], "unknown command 'frobnicate' (choose from validate, check-schemas, import, serve) ("),
        ([], "a command is required: validate, check-schemas, import, serve"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(argv: list[str], said: str) -> None:
    code, out, err = invoke(argv)

    assert (code, out) == (2, "")
    assert said in err
    assert err.count("\n") == 1, err
    assert err.rstrip().endswith("--help)")


KNOWN = (
    "auto, azure_run_step, azure_run_step.strict, azure_run_step_delta, azure_run_step_delta.strict, "
    "run_step, run_step.strict, run_step_delta, run_step_delta.strict"
)


def test_unknown_command_and_unknown_schema_are_exit_2() -> None:
    assert invoke(["frobnicate"])[0] == 2
    code, _, err = invoke(["validate", "--schema", "run_step.v9", str(ROOT / "examples")])
    assert (code, err) == (2, "runstep-validator: unknown schema 'run_step.v9'; known: " + KNOWN + "\n")
    code, _, err = invoke(["validate", "--dialect", "bedrock", str(ROOT / "examples")])
    assert (code, err) == (2, "runstep-validator: unknown dialect 'bedrock'; known: openai, azure\n")


def test_help_is_exit_0() -> None:
    assert invoke(["--help"])[0] == 0


def test_color_only_on_a_terminal(tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    (tmp_path / "bad.json").write_text('{"object": "thread.run.step"}')
    terminal = Terminal()
    with working_directory(tmp_path):
        run(["validate", "bad.json"], terminal, io.StringIO())

    assert "\033[31m" in terminal.getvalue()
    assert "\033[" not in invoke(["validate", "bad.json"], cwd=tmp_path)[1]


def test_check_schemas_passes_on_the_shipped_schemas() -> None:
    code, out, _ = invoke(["check-schemas", str(ROOT / "schemas")])

    assert (code, out.splitlines()[-1]) == (0, "18 schema files: no problems")


def test_check_schemas_reports_and_fixes(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    (schemas / "components").mkdir(parents=True)
    for path in (ROOT / "schemas").rglob("*.schema.json"):
        (schemas / path.relative_to(ROOT / "schemas")).write_text(path.read_text())
    usage = schemas / "components" / "usage.schema.json"
    contents = json.loads(usage.read_text())
    contents["examples"].append({"prompt_tokens": -5, "completion_tokens": 0, "total_tokens": 0})
    usage.write_text(json.dumps(contents))

    code, out, _ = invoke(["check-schemas", str(schemas)])

    assert code == 1
    assert out.splitlines() == [
        f"{usage.resolve()}: not canonically formatted (check-schemas --fix rewrites it)",
        f"{usage.resolve()}: #/examples/3/prompt_tokens: -5 is less than the minimum of 0",
        "18 schema files: 2 problems",
    ]
    code, out, _ = invoke(["check-schemas", "--fix", str(schemas)])
    assert (code, out.splitlines()[-1]) == (1, "18 schema files: 1 problem, 1 rewritten")


def test_check_schemas_on_a_missing_folder_is_exit_2(tmp_path: Path) -> None:
    code, _, err = invoke(["check-schemas", str(tmp_path / "nope")])

    assert (code, err) == (2, f"runstep-validator: {tmp_path / 'nope'}: not a folder\n")


@pytest.mark.parametrize(
    "layout",
    [[], ["notes.txt"], ["sub/readme.md"]],
    ids=["empty-folder", "no-run-step-files", "nested-no-run-step-files"],
)
def test_a_folder_without_run_step_files_fails_unless_allowed(tmp_path: Path, layout: list[str]) -> None:
    for name in layout:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("not a run step")

    code, _, err = invoke(["validate", str(tmp_path)])

    assert code == 2
    assert err == f"runstep-validator: no run-step files found under {tmp_path} (--allow-empty accepts that)\n"
    assert invoke(["validate", "--allow-empty", str(tmp_path)])[0] == 0


@pytest.mark.parametrize("command", ["validate", "import"])
def test_an_empty_json_file_is_not_a_run_step_in_either_command(tmp_path: Path, command: str) -> None:
    (tmp_path / "empty.json").write_bytes(b"")
    argv = [command, str(tmp_path / "empty.json")]
    if command == "import":
        argv += ["--accepted", str(tmp_path / "ok.jsonl"), "--rejected", str(tmp_path / "bad.jsonl")]

    code, out, _ = invoke(argv)

    assert code == 1
    assert re.search(r"1 invalid|rejected +1\n", out), out


def a_programming_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug inside the command (not a bad input): the checker's own code fails."""

    def broken(*_: object, **__: object) -> None:
        raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")

    monkeypatch.setattr("runstep_validator.cli.checker.Checker.check", broken)


def test_a_programming_error_is_one_line_and_exit_2_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    a_programming_error(monkeypatch)
    monkeypatch.delenv("RUNSTEP_VALIDATOR_DEBUG", raising=False)

    code, out, err = invoke(["validate", str(ROOT / "examples" / "message_creation.json")])

    assert (code, out) == (2, "")
    assert err == "runstep-validator: unsupported operand type(s) for +: 'int' and 'NoneType'\n"


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        (["--debug", "validate"], {}),
        (["validate", "--debug"], {}),
        (["validate"], {"RUNSTEP_VALIDATOR_DEBUG": "1"}),
        (["validate"], {"RUNSTEP_VALIDATOR_DEBUG": "true"}),
    ],
    ids=["flag-before-command", "flag-after-command", "variable-1", "variable-true"],
)
def test_the_debug_switch_lets_the_traceback_of_a_programming_error_through(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], environ: dict[str, str]
) -> None:
    a_programming_error(monkeypatch)
    monkeypatch.delenv("RUNSTEP_VALIDATOR_DEBUG", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    code, out, err = invoke([*argv, str(ROOT / "examples" / "message_creation.json")])

    assert (code, out) == (2, "")  # still exit 2: exit 1 only ever means rejected records
    assert err.startswith("Traceback (most recent call last):\n"), err
    assert 'in broken\n    raise TypeError("unsupported operand' in err
    assert err.endswith(
        "TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'\n"
        "runstep-validator: unsupported operand type(s) for +: 'int' and 'NoneType'\n"
    )


def test_the_debug_switch_leaves_the_errors_people_make_as_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNSTEP_VALIDATOR_DEBUG", "1")

    code, _, err = invoke(["validate", "--schema", "nope", str(ROOT / "examples" / "message_creation.json")])

    assert code == 2
    assert "Traceback" not in err
    assert err.count("\n") == 1, err


@pytest.mark.parametrize("value", ["maybe", "2", "debug"])
def test_a_debug_variable_that_is_no_yes_or_no_is_refused_before_anything_is_checked(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RUNSTEP_VALIDATOR_DEBUG", value)

    code, out, err = invoke(["validate", str(ROOT / "examples" / "invalid_tool_calls.json")])

    assert (code, out) == (2, "")
    assert err == (
        f"runstep-validator: RUNSTEP_VALIDATOR_DEBUG={value!r} is not a valid bool: give 1, true, yes or on, "
        "or 0, false, no or off\n"
    )


@pytest.mark.parametrize("value", ["0", "false", "off", ""])
def test_a_debug_variable_that_says_no_keeps_the_one_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    a_programming_error(monkeypatch)
    monkeypatch.setenv("RUNSTEP_VALIDATOR_DEBUG", value)

    code, _, err = invoke(["validate", str(ROOT / "examples" / "message_creation.json")])

    assert code == 2
    assert "Traceback" not in err


def test_validate_builds_the_selection_once_for_documents_and_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runstep_validator import Validator, get_validator  # noqa: PLC0415  # its caches are cleared below
    from runstep_validator.core.profile import _shipped  # noqa: PLC0415

    (tmp_path / "step.json").write_bytes((ROOT / "examples" / "azure" / "bing_grounding.json").read_bytes())
    (tmp_path / "run.sse").write_bytes((ROOT / "tests" / "azure" / "real" / "bing_grounding-stream.sse").read_bytes())
    get_validator.cache_clear()
    _shipped.cache_clear()
    built: list[str] = []
    real_init = Validator.__init__

    def counted(self: Validator, *args: object, **kwargs: object) -> None:
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]
        built.append(self.name)

    monkeypatch.setattr(Validator, "__init__", counted)
    code, _, stderr = invoke(["validate", "--dialect", "azure", "step.json", "run.sse"], cwd=tmp_path)

    assert code == 0, stderr
    assert sorted(built) == ["azure_run_step", "azure_run_step_delta"]  # one per entry, whatever reads them


@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "junit", "gitlab"])
def test_a_reader_that_stops_early_ends_the_run_quietly_with_the_shells_code_for_it(
    tmp_path: Path, output_format: str
) -> None:
    """`validate ... | head -1`: the closed pipe is no error of the input, and under `set -o pipefail` the same
    run must always end the same way (128 + SIGPIPE, as a shell reports a command its reader left), whatever the
    format (one document is written at once: Python drops what a closed pipe refuses of one large write)."""
    invalid = json.dumps({"object": "thread.run.step", "status": "finished"})
    (tmp_path / "many.jsonl").write_text((invalid + "\n") * 4_000)  # megabytes of text: far past a pipe's buffer
    command = [sys.executable, "-m", "runstep_validator", "validate", str(tmp_path / "many.jsonl")]
    for _ in range(2):
        process = subprocess.Popen(
            [*command, "--format", output_format],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        process.stdout.readline()
        process.stdout.close()  # what head does after its line
        _, err = process.communicate(timeout=120)
        assert (process.returncode, err) == (128 + signal.SIGPIPE, b"")


@pytest.mark.parametrize(
    ("option", "given", "meant"), [("--schema", "run_stpe", "run_step"), ("--dialect", "azur", "azure")]
)
def test_an_unknown_schema_or_dialect_is_answered_with_the_one_it_probably_meant(
    option: str, given: str, meant: str
) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run(["validate", option, given, str(ROOT / "examples" / "steps.jsonl")], stdout, stderr) == 2
    assert f'(did you mean "{meant}"?)' in stderr.getvalue()
    assert stderr.getvalue().count("\n") == 1


@pytest.mark.parametrize("compress", [False, True])
def test_a_transcript_on_standard_input_is_checked_as_a_stream(compress: bool) -> None:
    transcript = (ROOT / "examples" / "run.sse").read_bytes()
    given = io.BytesIO(gzip.compress(transcript) if compress else transcript)
    as_file, on_stdin = io.StringIO(), io.StringIO()

    assert run(["validate", str(ROOT / "examples" / "run.sse")], as_file, io.StringIO()) == 0
    assert run(["validate", "-"], on_stdin, io.StringIO(), given) == 0
    assert on_stdin.getvalue() == as_file.getvalue()
    assert "20 records" in on_stdin.getvalue()


def test_a_transcript_on_standard_input_is_refused_by_import_as_a_named_one_is(tmp_path: Path) -> None:
    argv = ["import", "-", "--accepted", str(tmp_path / "ok.jsonl"), "--rejected", str(tmp_path / "bad.jsonl")]
    stderr = io.StringIO()

    assert run(argv, io.StringIO(), stderr, io.BytesIO((ROOT / "examples" / "run.sse").read_bytes())) == 2
    assert stderr.getvalue() == (
        "runstep-validator: - is an event stream: import loads run steps from JSON and JSON Lines; check a stream "
        "with runstep-validator validate\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_broken_pipe_that_is_not_standard_output_is_a_failure_of_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def store_socket_closed(*args: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(commands, "_validate", store_socket_closed)
    stdout, stderr = io.StringIO(), io.StringIO()

    assert run(["validate", "x.json"], stdout, stderr) == 2
    assert stderr.getvalue() == "runstep-validator: [Errno 32] Broken pipe\n"


@pytest.mark.parametrize("text", [b"", b"hello world\n", b'{"object": "thread.run.step"}\n'])
def test_a_transcript_without_an_event_is_refused_as_the_stream_route_refuses_it(tmp_path: Path, text: bytes) -> None:
    (tmp_path / "run.sse").write_bytes(text)
    stdout, stderr = io.StringIO(), io.StringIO()

    assert run(["validate", str(tmp_path / "run.sse")], stdout, stderr) == 2
    assert "not an event stream: it holds no event" in stdout.getvalue()
    answer = (
        create_app({"access_log": False})
        .test_client()
        .post("/v1/validate/stream", data=text or b"\n", content_type="text/event-stream")
    )
    assert answer.status_code == 400
    assert "holds no event" in answer.get_json()["detail"]
    with pytest.raises(NotAnEventStream, match="holds no event"):  # Python's refusal, in the same words
        validate_stream(text)


@pytest.mark.parametrize("output_format", ["json", "junit"])
def test_a_streams_listed_records_are_every_event_it_counts(output_format: str) -> None:
    """The command line's records of a stream are its events: each one listed, the thread.run.* and done events too,
    as many as the summary counts (the run-step events alone were listed, 15 of 20)."""
    stdout = io.StringIO()
    assert run(["validate", str(ROOT / "examples" / "run.sse"), "--format", "json"], stdout, io.StringIO()) == 0
    answer = json.loads(stdout.getvalue())
    records = answer["files"][0]["records"]

    assert len(records) == answer["summary"]["records"] == 20
    assert [record["index"] for record in records] == list(range(1, 21))
    assert all(record["valid"] for record in records)
    if output_format == "junit":
        junit = io.StringIO()
        run(["validate", str(ROOT / "examples" / "run.sse"), "--format", "junit"], junit, io.StringIO())
        assert junit.getvalue().count("<testcase ") == 20


@pytest.mark.parametrize(
    "name",
    [
        "x\nevil.json:1:1: forged error",
        "\x1b[2J\x1b[31mred",
        "tab\there",
        "\r\x00",
        "a\u2028b",
        "\u202egnp.exe",
        "\x9b31m",
    ],
)
def test_a_finding_is_one_line_whatever_the_names_in_its_pointer(tmp_path: Path, name: str) -> None:
    """A member's name is the payload's to choose: in the text format it cannot start a line that looks like a
    finding of its own, nor move the terminal's cursor or colour its output; it is shown as its message quotes it."""
    step = json.loads((ROOT / "examples" / "message_creation.json").read_bytes())
    path = tmp_path / "step.json"
    path.write_text(json.dumps({**step, name: 1}))
    stdout = io.StringIO()

    assert run(["validate", str(path)], stdout, io.StringIO()) == 0
    finding, summary = stdout.getvalue().splitlines()

    assert finding.isprintable(), finding
    shown = json.dumps(name)[1:-1]  # as JSON writes it (ensure_ascii), and so the message
    assert finding.endswith(f'warning: /{shown}: unknown property "{shown}"'), finding
    assert summary.startswith("1 file, 1 record: 1 valid")


def test_a_file_name_with_a_newline_keeps_each_finding_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "forged\nother.json:1:1: error.json"
    path.write_bytes(b'{"object": "thread.run.step"')
    stdout = io.StringIO()

    assert run(["validate", str(path)], stdout, io.StringIO()) == 1
    finding, _summary = stdout.getvalue().splitlines()

    assert finding.startswith(f"{tmp_path}/forged\\nother.json:1:1: error.json:1:29: invalid JSON"), finding


@pytest.mark.parametrize("schema", ["run_step.strict", "run_step_delta", "azure_run_step"])
def test_a_schema_named_for_a_stream_is_refused_as_the_stream_route_refuses_it(tmp_path: Path, schema: str) -> None:
    """A stream's events name their own entries: a schema forced on it was silently not applied (strict entries
    named, its events were held to the tolerant ones). The JSON files of the same run are still checked."""
    (tmp_path / "run.sse").write_bytes((ROOT / "examples" / "run.sse").read_bytes())
    (tmp_path / "step.json").write_bytes((ROOT / "examples" / "message_creation.json").read_bytes())
    stdout = io.StringIO()

    assert run(["validate", str(tmp_path), "--schema", schema], stdout, io.StringIO()) == 2
    refused = f"{tmp_path / 'run.sse'}: cannot read: --schema {schema}: a schema does not apply to an event stream"
    assert refused in stdout.getvalue()
    assert "2 files, 1 record: " in stdout.getvalue()
    answer = (
        create_app({"access_log": False})
        .test_client()
        .post(f"/v1/validate/stream?schema={schema}", data=b"event: done\ndata: [DONE]\n\n")
    )
    assert answer.status_code == 400
    assert answer.get_json()["detail"] == str(SchemaNotForStreams())
    with pytest.raises(SchemaNotForStreams):  # Python's refusal, in the same words
        validate_stream((ROOT / "examples" / "run.sse").read_bytes(), profile=shipped_profile(schema))


@pytest.mark.parametrize(
    ("options", "delta", "step"),
    [
        ((), "run_step_delta", "run_step"),
        (("--strict",), "run_step_delta.strict", "run_step.strict"),
        (("--dialect", "azure"), "azure_run_step_delta", "azure_run_step"),
    ],
)
def test_a_streams_records_name_the_entry_their_event_was_held_to(
    options: tuple[str, ...], delta: str, step: str
) -> None:
    """A delta event's record named the run step's entry, as every event's did."""
    stdout = io.StringIO()
    run(["validate", str(ROOT / "examples" / "run.sse"), "--format", "json", *options], stdout, io.StringIO())
    records = json.loads(stdout.getvalue())["files"][0]["records"]

    named = {record["eventName"]: record["schema"].rpartition("/")[2] for record in records}
    assert named["thread.run.step.delta"] == f"{delta}.schema.json"
    assert named["thread.run.step.created"] == named["thread.run.step.in_progress"] == f"{step}.schema.json"


def test_an_event_name_reaches_no_terminal_raw(tmp_path: Path) -> None:
    """A transcript's event names are the sender's too: quoted before each of its findings, and in their messages."""
    path = tmp_path / "run.sse"
    path.write_bytes(b'event: thread.run.step.created\x1b[31mRED\ndata: {"id": 1,}\n\nevent: done\ndata: [DONE]\n\n')
    for output_format in ("text", "github"):
        stdout = io.StringIO()
        run(["validate", str(path), "--format", output_format], stdout, io.StringIO())

        assert "\x1b" not in stdout.getvalue()
        assert "thread.run.step.created\\u001b[31mRED" in stdout.getvalue()


@pytest.mark.parametrize(
    ("tail", "line"),
    [(b"data: " + b"x" * 10_000 + b"\n\n", 2), (b"data: x\n" * 3_000 + b"\n", 1), (b"data: " + b"x" * 3_000_000, 2)],
    ids=["a long data line (its line)", "an event of many data lines (where it starts)", "a line that does not end"],
)
def test_the_record_limit_stops_an_event_stream_too(tmp_path: Path, tail: bytes, line: int) -> None:
    """An endless line read as a transcript (--input-format sse /dev/zero, a gzip bomb) grew without bound."""
    path = tmp_path / "run.sse"
    path.write_bytes(b"event: thread.run.step.created\n" + tail)
    stdout = io.StringIO()

    assert run(["validate", str(path), "--max-record-bytes", "4096"], stdout, io.StringIO()) == 2
    assert f"cannot read: line {line}: a record longer than 4,096 bytes (--max-record-bytes)" in stdout.getvalue()


def test_a_headline_and_a_junit_failure_are_one_line_whatever_the_names(tmp_path: Path) -> None:
    step = json.loads((ROOT / "examples" / "message_creation.json").read_bytes())
    body = json.dumps({**step, "metadata": {"a\nb.json:1:1: forged": 5}}).encode()
    path = tmp_path / "step.json"
    path.write_bytes(body)
    stdout = io.StringIO()
    run(["validate", str(path), "--format", "junit"], stdout, io.StringIO())

    assert (validate(body).headline or "").isprintable()
    assert "\nb.json:1:1: forged" not in stdout.getvalue()
    assert "/metadata/a\\nb.json:1:1: forged" in stdout.getvalue()
