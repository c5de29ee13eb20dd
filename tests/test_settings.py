"""Every setting is checked once, before any worker starts: one clear line and exit 2, never a crash loop."""

from __future__ import annotations

import io
import os
import socket

import pytest

from runstep_validator.cli import run
from runstep_validator.http.config import ConfigError, Settings


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WORKERS", "0", "RUNSTEP_VALIDATOR_WORKERS=0 is out of range: give 1 to 64"),
        ("PORT", "70000", "RUNSTEP_VALIDATOR_PORT=70000 is out of range: give 1 to 65535"),
        ("MAX_BODY_BYTES", "-1", "RUNSTEP_VALIDATOR_MAX_BODY_BYTES=-1 is out of range"),
        ("MAX_REQUEST_SECONDS", "0", "RUNSTEP_VALIDATOR_MAX_REQUEST_SECONDS=0 is out of range"),
        ("WRITE_TIMEOUT_SECONDS", "0", "RUNSTEP_VALIDATOR_WRITE_TIMEOUT_SECONDS=0 is out of range: give 0.1 to 3600"),
        ("MAX_PENDING_ANSWER_BYTES", "1000", "RUNSTEP_VALIDATOR_MAX_PENDING_ANSWER_BYTES=1000 is out of range"),
        ("SHUTDOWN_GRACE_SECONDS", "0", "RUNSTEP_VALIDATOR_SHUTDOWN_GRACE_SECONDS=0 is out of range: give 1 to 3600"),
        ("SHUTDOWN_GRACE_SECONDS", "2.5", "RUNSTEP_VALIDATOR_SHUTDOWN_GRACE_SECONDS='2.5' is not a valid"),
    ],
)
def test_a_setting_out_of_range_is_refused_by_name(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.load({f"RUNSTEP_VALIDATOR_{variable}": value})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MAX_BODY_BYTES", "-5", "RUNSTEP_VALIDATOR_MAX_BODY_BYTES=-5 is out of range: give 1 to 1099511627776"),
        ("MAX_BATCH_RECORDS", "0", "RUNSTEP_VALIDATOR_MAX_BATCH_RECORDS=0 is out of range: give 1 to 1000000000"),
        ("MAX_HEADER_BYTES", "5", "RUNSTEP_VALIDATOR_MAX_HEADER_BYTES=5 is out of range: give 1024 to 1048576"),
        (
            "MAX_REQUEST_SECONDS",
            "1e9",
            "RUNSTEP_VALIDATOR_MAX_REQUEST_SECONDS=1000000000 is out of range: give 1e-06 to 86400",
        ),
        ("HEADER_TIMEOUT_SECONDS", "0", "RUNSTEP_VALIDATOR_HEADER_TIMEOUT_SECONDS=0 is out of range: give 0.1 to 3600"),
    ],
)
def test_a_range_says_whole_numbers_as_whole_numbers(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.load({f"RUNSTEP_VALIDATOR_{variable}": value})

    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("RUNSTEP_VALIDATOR_PROT", "unknown setting RUNSTEP_VALIDATOR_PROT: did you mean RUNSTEP_VALIDATOR_PORT?"),
        ("RUNSTEP_VALIDATOR_port", "unknown setting RUNSTEP_VALIDATOR_port: did you mean RUNSTEP_VALIDATOR_PORT?"),
        (
            "RUNSTEP_VALIDATOR_MAX_BODY_BYTE",
            "unknown setting RUNSTEP_VALIDATOR_MAX_BODY_BYTE: did you mean RUNSTEP_VALIDATOR_MAX_BODY_BYTES?",
        ),
        ("RUNSTEP_VALIDATOR_TIMEOUT", "unknown setting RUNSTEP_VALIDATOR_TIMEOUT; the settings are RUNSTEP_VALIDATOR_"),
    ],
)
def test_an_unknown_setting_is_refused_with_the_nearest_known_name(variable: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.load({variable: "1", "RUNSTEP_VALIDATOR_PORT": "8000"})

    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_serve_refuses_an_unknown_setting_with_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNSTEP_VALIDATOR_PROT", "9000")
    started: list[object] = []
    monkeypatch.setattr("runstep_validator.http.server.serve", started.append)  # were it accepted: start nothing

    code, output = serve(["--port", "1"])

    assert started == []
    assert code == 2
    assert output == "runstep-validator: unknown setting RUNSTEP_VALIDATOR_PROT: did you mean RUNSTEP_VALIDATOR_PORT?\n"


def test_the_command_line_debug_switch_is_a_known_setting_for_serve_too() -> None:
    """RUNSTEP_VALIDATOR_DEBUG is read by the command line; exported in a shell, it must not stop `serve`."""
    settings = Settings.load({"RUNSTEP_VALIDATOR_DEBUG": "1", "RUNSTEP_VALIDATOR_PORT": "8001"})

    assert settings.port == 8001


def test_a_boolean_setting_says_which_words_it_takes() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.load({"RUNSTEP_VALIDATOR_METRICS": "maybe"})

    assert str(refused.value) == (
        "RUNSTEP_VALIDATOR_METRICS='maybe' is not a valid bool: give 1, true, yes or on, or 0, false, no or off"
    )


def serve(argv: list[str]) -> tuple[int, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(["serve", *argv], stdout, stderr)
    return code, stdout.getvalue() + stderr.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "argument --port: 70000 is out of range: give 1 to 65535"),
        (["--workers", "0"], "argument --workers: 0 is out of range: give 1 to 64"),
        (["--port", "eighty"], "argument --port: 'eighty' is not a whole number"),
    ],
)
def test_bad_serve_arguments_exit_2_with_one_line(argv: list[str], message: str) -> None:
    code, output = serve(argv)

    assert code == 2
    assert message in output
    assert "Traceback" not in output


def test_import_refuses_zero_workers_like_serve(tmp_path: object) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["import", "-", "--accepted", "a.jsonl", "--rejected", "b.jsonl", "--workers", "0"]

    assert run(argv, stdout, stderr, io.BytesIO(b"")) == 2
    assert "argument --workers: 0 is out of range" in stderr.getvalue()


def test_an_unknown_default_schema_is_refused_before_any_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNSTEP_VALIDATOR_DEFAULT_SCHEMA", "nope")

    code, output = serve(["--port", "1"])

    assert code == 2
    assert "RUNSTEP_VALIDATOR_DEFAULT_SCHEMA='nope' is not an entry schema: give auto, azure_run_step," in output


def test_a_port_in_use_is_refused_unless_shared_on_purpose(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]

        code, output = serve(["--host", "127.0.0.1", "--port", str(port)])

        assert code == 2
        assert f"port {port} on 127.0.0.1 is already in use by another process" in output
        # Shared on purpose, the check is skipped (and the server would start: not started here).
        monkeypatch.setattr(os, "environ", dict(os.environ))  # serve() passes its settings on through the environment
        monkeypatch.setattr("runstep_validator.http.server._Draining", lambda *args, **kwargs: _NoServer())
        assert serve(["--host", "127.0.0.1", "--port", str(port), "--share-port"])[0] == 0


class _NoServer:
    def serve(self) -> None:
        pass
