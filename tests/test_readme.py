"""The README's Python example runs and prints what the README says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from runstep_validator.cli import run
from runstep_validator.http.app import create_app
from runstep_validator.http.config import ENV_PREFIX, Settings
from runstep_validator.switches import DEBUG_VARIABLE

from .support import ROOT


def test_python_example_runs_as_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.DOTALL)
    assert code
    expected = [line.removeprefix("# ") for line in code.group(1).splitlines() if line.startswith("# ")]
    printed = io.StringIO()

    with contextlib.redirect_stdout(printed):
        exec(compile(code.group(1), "README.md", "exec"), {})

    assert printed.getvalue().splitlines() == expected


def test_batch_example_answers_as_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"--data-binary @examples/steps\.jsonl [^\n]*\n```\n```json\n(.*?)\n```", readme, re.DOTALL)
    assert shown
    client = create_app({"access_log": False}).test_client()

    response = client.post(
        "/v1/validate/batch?output=flag",
        data=(ROOT / "examples" / "steps.jsonl").read_bytes(),
        content_type="application/x-ndjson",
    )

    assert response.get_data(as_text=True) == shown.group(1)


def test_every_file_the_readme_names_is_shipped() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"examples/[\w./-]+\.(?:json|jsonl|sse)\b", readme))

    assert {"examples/steps.jsonl", "examples/run.sse"} <= named
    assert [name for name in sorted(named) if not (ROOT / name).is_file()] == []


def test_the_example_stream_is_a_valid_streamed_run(monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = printed(["validate", "examples/run.sse"], monkeypatch)

    assert code == 0, output


def shown_after(command: str) -> str:
    """What the README shows a command printing: the lines after `$ command` up to the end of its block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(re.escape(f"$ {command}\n") + "(.*?)```", readme, re.DOTALL)
    assert shown, command
    return shown.group(1)


def printed(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(ROOT)
    stdout, stderr = io.StringIO(), io.StringIO()
    return run(argv, stdout, stderr), stdout.getvalue()


def test_the_ci_example_prints_what_the_readme_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    expanded = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "examples").glob("*.json"))  # as a shell would

    assert printed(["validate", *expanded], monkeypatch) == (
        1,
        shown_after("runstep-validator validate examples/*.json"),
    )


def test_the_dialect_example_prints_what_the_readme_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    command = "runstep-validator validate --dialect azure examples/azure/"

    assert printed(command.split()[1:], monkeypatch) == (1, shown_after(command))


def test_the_tour_prints_what_the_readme_shows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme[readme.index("## A tour") : readme.index("## In the browser")]
    blocks = re.findall(r"```\n(\$ .*?)```", tour, re.DOTALL)
    shown = re.findall(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", "".join(blocks), re.MULTILINE)
    assert len(shown) == 4

    for command, expected in shown:
        argv = command.split()[1:]
        if argv[0] == "import":  # its outputs go to a scratch folder, not into the checkout
            argv = [
                str(tmp_path / arg) if arg.endswith("accepted.jsonl") or arg.endswith("rejected.jsonl") else arg
                for arg in argv
            ]
        assert printed(argv, monkeypatch)[1] == expected, command


def settings_table() -> dict[str, tuple[str, str]]:
    """The README's settings table: variable -> (flag, default and notes)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = re.search(r"\| variable \| flag \| default \|\n\| --- \| --- \| --- \|\n((?:\|.*\n)+)", readme)
    assert table
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table.group(1).splitlines()]
    return {variable.strip("`"): (flag.strip("`"), default) for variable, flag, default in rows}


def test_the_settings_table_names_every_setting_and_only_settings() -> None:
    internal = {"state_directory"}  # set by serve() for its workers, never by people
    known = {ENV_PREFIX + field.upper() for field in Settings.__dataclass_fields__ if field not in internal}

    assert set(settings_table()) == known | {DEBUG_VARIABLE}


def test_the_settings_table_gives_each_server_setting_its_real_default() -> None:
    defaults = Settings()
    for variable, (_, default) in settings_table().items():
        name = variable.removeprefix(ENV_PREFIX).lower()
        if not hasattr(defaults, name):
            continue
        value = getattr(defaults, name)
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, float) and value.is_integer():
            shown = str(int(value))
        assert default.startswith(f"`{shown}`"), (variable, default, shown)


def test_the_debug_switch_is_in_the_settings_table_with_its_flag(capsys: pytest.CaptureFixture[str]) -> None:
    flag, default = settings_table()[DEBUG_VARIABLE]

    assert flag == "--debug"
    assert default.startswith("`false`")
    run(["validate", "--help"], io.StringIO(), io.StringIO())  # argparse prints help to sys.stdout
    assert "--debug" in capsys.readouterr().out


def test_the_problem_table_names_every_problem_the_service_gives() -> None:
    source = "\n".join(path.read_text() for path in (ROOT / "service" / "runstep_validator" / "http").glob("*.py"))
    given = set(re.findall(r'Problem\(\s*(\d{3}),\s*"([a-z-]+)"', source))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| status | `type`") :].split("\n\n", 1)[0]
    rows = {row.split("|")[1].strip(): row.split("|")[2] for row in table.splitlines()[2:]}

    assert len(given) > 15
    for status, slug in given:
        assert f"`{slug}`" in rows.get(status, ""), f"{status} {slug} is not in the README's problem table"
