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
        ("MAX_REQUEST_SECONDS", "0", "RUNSTEP_VALIDATOR_MAX_REQUEST_SECONDS=0.0 is out of range"),
        ("WRITE_TIMEOUT_SECONDS", "0", "RUNSTEP_VALIDATOR_WRITE_TIMEOUT_SECONDS=0.0 is out of range: give 0.1 to 3600"),
        ("MAX_PENDING_ANSWER_BYTES", "1000", "RUNSTEP_VALIDATOR_MAX_PENDING_ANSWER_BYTES=1000 is out of range"),
        ("SHUTDOWN_GRACE_SECONDS", "0", "RUNSTEP_VALIDATOR_SHUTDOWN_GRACE_SECONDS=0 is out of range: give 1 to 3600"),
        ("SHUTDOWN_GRACE_SECONDS", "2.5", "RUNSTEP_VALIDATOR_SHUTDOWN_GRACE_SECONDS='2.5' is not a valid"),
    ],
)
def test_a_setting_out_of_range_is_refused_by_name(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.load({f"RUNSTEP_VALIDATOR_{variable}": value})


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
