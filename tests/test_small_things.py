"""The small things a user trips on: versions, file modes, folders, byte order marks, what --fix did."""

from __future__ import annotations

import io
import os
import shutil
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import runstep_validator
from runstep_validator.cli import run
from runstep_validator.http.connections import TRACKED_BYTES, ConnectionWatch, PendingAnswers, peer_of

from .support import EXAMPLES, SCHEMAS

VALID = (EXAMPLES / "message_creation.json").read_bytes()
INVALID = (EXAMPLES / "invalid_tool_calls.json").read_bytes()


def invoke(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(argv, stdout, stderr, io.BytesIO(stdin))
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("argv", [["--version"], ["serve", "--version"]])
def test_version(argv: list[str]) -> None:
    assert invoke(argv) == (0, f"runstep-validator {runstep_validator.__version__}\n", "")
    assert runstep_validator.__version__ != "0+unknown"


@pytest.fixture
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("umask_027")
def test_import_outputs_follow_the_umask_like_any_file(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_bytes(VALID)
    outputs = {name: tmp_path / f"{name}.out" for name in ("accepted", "rejected", "report")}

    code, _, _ = invoke(["import", str(tmp_path / "in.json"), *[f"--{k}={v}" for k, v in outputs.items()]])

    assert code == 0
    assert {stat.S_IMODE(path.stat().st_mode) for path in outputs.values()} == {0o640}


def test_a_missing_output_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_bytes(VALID)
    accepted = tmp_path / "no" / "such" / "ok.jsonl"

    code, _, err = invoke(["import", str(tmp_path / "in.json"), "--accepted", str(accepted), "--rejected", "x"])

    assert code == 2
    assert err == f"runstep-validator: --accepted {accepted}: the folder {accepted.parent} does not exist\n"
    assert not (tmp_path / "x").exists()


def test_import_takes_folders_as_validate_does(tmp_path: Path) -> None:
    (tmp_path / "in" / "deeper").mkdir(parents=True)
    (tmp_path / "in" / "a.json").write_bytes(VALID)
    (tmp_path / "in" / "deeper" / "b.json").write_bytes(INVALID)
    argv = ["import", str(tmp_path / "in"), "--accepted", str(tmp_path / "ok"), "--rejected", str(tmp_path / "bad")]

    code, out, _ = invoke(argv)

    assert code == 1
    assert "records                2" in out


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_a_byte_order_mark_shifts_no_column(tmp_path: Path, suffix: str) -> None:
    text = b'{"id": 5, "object": "thread.run.step"}'
    (tmp_path / f"plain{suffix}").write_bytes(text)
    (tmp_path / f"marked{suffix}").write_bytes(b"\xef\xbb\xbf" + text)

    plain = invoke(["validate", str(tmp_path / f"plain{suffix}")])[1]
    marked = invoke(["validate", str(tmp_path / f"marked{suffix}")])[1]

    assert ":1:8: /id: 5 is not of type 'string'" in plain
    assert marked.replace("marked", "plain") == plain


def test_check_schemas_fix_says_what_it_rewrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    usage = tmp_path / "schemas" / "components" / "usage.schema.json"
    usage.write_text(usage.read_text().replace("\n", "\n\n", 3))
    monkeypatch.chdir(tmp_path)

    code, out, _ = invoke(["check-schemas", "schemas", "--fix"])

    assert code == 0
    assert out.splitlines()[0] == "schemas/components/usage.schema.json: rewritten in canonical format"
    assert out.splitlines()[-1].endswith("schema files: no problems, 1 rewritten")


def test_pending_answers_admit_one_answer_of_any_size_and_then_only_within_the_limit() -> None:

    pending = PendingAnswers(limit=4 * TRACKED_BYTES)
    first, second, third = peer_of("127.0.0.1:1"), peer_of("[::1]:2"), peer_of("127.0.0.1:3")

    assert second == ("::1", 2)
    assert pending.admit(first, 10 * TRACKED_BYTES)  # alone, however large
    assert pending.admit(third, TRACKED_BYTES - 1)  # small answers are not counted
    assert not pending.admit(second, TRACKED_BYTES)
    pending.release(first)
    assert pending.admit(second, 3 * TRACKED_BYTES)
    assert not pending.admit(first, 2 * TRACKED_BYTES)
    assert pending.held == 3 * TRACKED_BYTES


def test_the_connection_watch_looks_at_sockets_only_while_answers_are_pending() -> None:
    pending = PendingAnswers(limit=4 * TRACKED_BYTES)
    watch = ConnectionWatch(port=1, write_seconds=0.2, pending=pending)  # a look every 0.05 s while watching
    looks = threading.Semaphore(0)
    scans: list[float] = []

    def counted_connections() -> Iterator[tuple[socket.socket, int]]:
        scans.append(time.monotonic())
        looks.release()
        return iter(())

    idle = threading.Semaphore(0)  # released each time the watch waits with nothing pending: it blocks there
    wait_for_answers = pending.wait

    def noted_wait() -> None:
        if not pending.peers():
            idle.release()
        wait_for_answers()

    pending.wait = noted_wait  # type: ignore[method-assign]
    watch._connections = counted_connections  # type: ignore[method-assign]
    watch.start()
    try:
        assert idle.acquire(timeout=10), "the watch did not wait for an answer to be pending"
        assert scans == []
        pending.admit(peer_of("127.0.0.1:1"), TRACKED_BYTES)
        assert looks.acquire(timeout=10), "an answer is pending and the watch did not look"
        # The connection is gone (the scan finds none): its answer is released, and the watch goes idle again.
        assert idle.acquire(timeout=10), "the watch did not go idle once no answer was pending"
        assert pending.held == 0
    finally:
        watch.stop()
