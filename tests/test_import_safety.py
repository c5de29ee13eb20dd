"""The command line's input and the import under attack: oversized records, endless and compressed-bomb inputs,
inputs that change or are streams, colliding outputs, interrupted commits, leftovers and failures that are not
"records rejected" (issue 21). Every process a test starts is bounded in time and memory and stopped whole."""

from __future__ import annotations

import gzip
import io
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runstep_validator.cli import run
from runstep_validator.importing import Importer, pipeline
from runstep_validator.sources.reading import SourceError, iter_lines

from .support import EXAMPLES

VALID = json.dumps(json.loads((EXAMPLES / "tool_calls_function.json").read_bytes())).encode()
INVALID = json.dumps(json.loads((EXAMPLES / "invalid_tool_calls.json").read_bytes())).encode()
MEMORY_CAP = 1 << 30  # a child that buffers without bound dies of this instead of taking the machine


def numbered(count: int) -> list[bytes]:
    """Valid records, each with its own id so that order and identity are visible."""
    return [VALID.replace(b'"id": "', f'"id": "n{number:06}_'.encode(), 1) for number in range(count)]


def cli(*argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(list(argv), stdout, stderr, io.BytesIO(stdin))
    return code, stdout.getvalue(), stderr.getvalue()


def outputs(folder: Path) -> list[str]:
    return ["--accepted", str(folder / "ok.jsonl"), "--rejected", str(folder / "bad.jsonl")]


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def command(*argv: str, timeout: float = 60, pass_fds: tuple[int, ...] = ()) -> tuple[int, str, str]:
    """The real command in its own process group, capped in memory and time, stopped whole whatever happens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "runstep_validator", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_capped,  # noqa: PLW1509  # the child runs no threads before exec
        pass_fds=pass_fds,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        with _quietly():
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


class _quietly:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *rest: object) -> bool:
        return kind is ProcessLookupError or kind is PermissionError


# Finding 5: a record-size limit and linear buffering ----------------------------------------------------------


@pytest.mark.parametrize("name", ["big.jsonl", "big.json"])
def test_validate_refuses_a_record_over_the_limit_with_one_line_and_exit_2(tmp_path: Path, name: str) -> None:
    big = b'{"id": "' + b"x" * 5000 + b'"}'
    body = VALID + b"\n" + big + b"\n" if name.endswith("l") else b"[" + VALID + b",\n" + big + b"]"
    (tmp_path / name).write_bytes(body)

    code, out, _ = cli("validate", str(tmp_path / name), "--max-record-bytes", "4096")

    assert code == 2
    assert f"{tmp_path / name}: cannot read: line 2: a record longer than 4,096 bytes" in out
    assert "--max-record-bytes" in out


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("name", ["big.jsonl", "big.json"])
def test_import_refuses_a_record_over_the_limit_and_writes_nothing(tmp_path: Path, name: str, workers: str) -> None:
    big = b'{"id": "' + b"x" * 5000 + b'"}'
    body = VALID + b"\n" + big + b"\n" if name.endswith("l") else b"[" + VALID + b",\n" + big + b"]"
    (tmp_path / name).write_bytes(body)

    limit = ("--max-record-bytes", "4096", "--workers", workers)
    code, _, err = cli("import", str(tmp_path / name), *outputs(tmp_path), *limit)

    assert code == 2
    assert err.count("\n") == 1
    assert f"{tmp_path / name}: line 2: a record longer than 4,096 bytes" in err
    assert sorted(path.name for path in tmp_path.iterdir()) == [name]


def test_the_record_limit_is_a_setting_checked_before_anything_runs(tmp_path: Path) -> None:
    code, _, err = cli("validate", str(tmp_path), "--max-record-bytes", "0")
    assert code == 2
    assert "argument --max-record-bytes: 0 is out of range" in err


@pytest.mark.parametrize("argv", [["validate", "/dev/zero"], ["import", "/dev/zero", "--workers", "2"]])
def test_dev_zero_stops_at_the_default_limit(tmp_path: Path, argv: list[str]) -> None:
    extra = outputs(tmp_path) if argv[0] == "import" else []

    code, out, err = command(*argv, *extra)

    assert code == 2, err
    assert "a record longer than 67,108,864 bytes" in out + err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command_name", ["validate", "import"])
def test_a_gzip_bomb_stops_at_the_limit(tmp_path: Path, command_name: str) -> None:
    bomb = tmp_path / "zeros.jsonl.gz"
    member = gzip.compress(bytes(64 << 20), compresslevel=9)  # 64 KB for 64 MiB of zeros
    bomb.write_bytes(member * 24)  # gzip members one after another: 1.5 GB of zeros, past the child's memory cap
    extra = outputs(tmp_path) if command_name == "import" else []

    code, out, err = command(command_name, str(bomb), *extra)

    assert code == 2, err
    assert "zeros.jsonl.gz: " in out + err
    assert "line 1: a record longer than 67,108,864 bytes" in out + err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["zeros.jsonl.gz"]


class _Pieces(io.RawIOBase):
    """One long line, handed out a small piece at a time, as a pipe or a gzip stream hands it out."""

    def __init__(self, size: int, piece: int) -> None:
        self.left, self.piece = size, piece

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        count = min(self.piece, self.left)
        self.left -= count
        return b"x" * count


def _seconds_for_a_line(size: int) -> float:
    best = float("inf")
    for _ in range(5):
        stream = _Pieces(size, 32 * 1024)
        started = time.process_time()
        (record,) = iter_lines(stream)  # type: ignore[arg-type]
        best = min(best, time.process_time() - started)
        assert len(record.raw) == size
    return best


def test_a_long_line_is_buffered_in_linear_time() -> None:
    # Eight times the line must cost about eight times the CPU time (the best of five runs each, a margin of three
    # for a busy machine); joining the carry piece by piece cost sixty-four times. Both sizes stay under glibc's
    # largest mmap threshold (32 MiB), so that both are served alike from the heap.
    ratio = _seconds_for_a_line(16 << 20) / _seconds_for_a_line(2 << 20)

    assert ratio < 24, ratio


# Finding 12: streams are read in the parent ---------------------------------------------------------------------


def _feed(path: str | int, data: bytes) -> threading.Thread:
    def write() -> None:
        with open(path, "wb") as stream:  # blocks until the reader opens a FIFO
            stream.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


def test_a_fifo_is_imported_under_the_default_worker_count(tmp_path: Path) -> None:
    records = numbered(3000)
    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    writer = _feed(str(fifo), b"\n".join(records) + b"\n")

    code, out, err = command("import", str(fifo), *outputs(tmp_path), "--workers", "2")

    writer.join(timeout=10)
    assert (code, err) == (0, "")
    assert "records            3,000" in out
    assert (tmp_path / "ok.jsonl").read_bytes() == b"\n".join(records) + b"\n"


def test_a_process_substitution_is_imported_under_the_default_worker_count(tmp_path: Path) -> None:
    records = numbered(3000)
    reading, writing = os.pipe()
    try:
        writer = _feed(writing, b"\n".join(records) + b"\n")  # closes the write end when done
        code, _, err = command(
            "import", f"/dev/fd/{reading}", *outputs(tmp_path), "--workers", "2", pass_fds=(reading,)
        )
    finally:
        os.close(reading)
    writer.join(timeout=10)

    assert (code, err) == (0, "")
    assert (tmp_path / "ok.jsonl").read_bytes() == b"\n".join(records) + b"\n"


# Finding 7: workers read the file the parent opened -------------------------------------------------------------


def test_an_input_replaced_during_the_run_is_read_as_it_was_opened(tmp_path: Path) -> None:
    records = numbered(2000)
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(records) + b"\n")
    # The same lengths, every record invalid: read by path, they would pass as the accepted ones.
    spoiled = source.read_bytes().replace(b'"thread.run.step"', b'"thread.run.stex"')
    replaced: list[bool] = []

    def replace_once(done_bytes: int, records_read: int) -> None:
        if not replaced:
            (tmp_path / "new.jsonl").write_bytes(spoiled)
            os.replace(tmp_path / "new.jsonl", source)
            replaced.append(True)

    tally = Importer(workers=2, block_bytes=8192, on_progress=replace_once).run(
        [str(source)], tmp_path / "ok", tmp_path / "bad"
    )

    assert replaced
    assert (tally.records, tally.accepted, tally.rejected) == (2000, 2000, 0)
    assert (tmp_path / "ok").read_bytes() == b"\n".join(records) + b"\n"


@pytest.mark.parametrize("lengths", ["same", "different"])
def test_an_input_rewritten_in_place_is_refused_not_half_accepted(tmp_path: Path, lengths: str) -> None:
    records = numbered(2000)
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(records) + b"\n")
    if lengths == "same":
        spoiled = source.read_bytes().replace(b'"thread.run.step"', b'"thread.run.stex"')
    else:
        spoiled = source.read_bytes().replace(b'"thread.run.step"', b'"x"')
    rewritten: list[bool] = []

    def rewrite_once(done_bytes: int, records_read: int) -> None:
        if not rewritten:
            with source.open("r+b") as stream:  # the same file: its inode stays, its bytes change
                stream.write(spoiled)
                stream.truncate()
            rewritten.append(True)

    with pytest.raises(SourceError, match="changed while it was being read"):
        Importer(workers=2, block_bytes=8192, on_progress=rewrite_once).run(
            [str(source)], tmp_path / "ok", tmp_path / "bad"
        )

    assert rewritten
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


# Finding 9: both outputs and the report, or none -----------------------------------------------------------------


def test_a_signal_during_the_commit_is_held_until_every_output_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "in.jsonl").write_bytes(VALID + b"\n" + INVALID + b"\n")
    real_replace = os.replace
    renamed: list[str] = []

    def replace_then_terminate(source: str | Path, target: str | Path) -> None:
        real_replace(source, target)
        renamed.append(Path(target).name)
        if len(renamed) == 1:  # the moment the first output appears, as an operator's SIGTERM might land
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(os, "replace", replace_then_terminate)
    report = tmp_path / "report.json"

    code, _, err = cli("import", str(tmp_path / "in.jsonl"), *outputs(tmp_path), "--report", str(report))

    assert code == 128 + signal.SIGTERM
    assert sorted(renamed) == ["bad.jsonl", "ok.jsonl", "report.json"]
    assert "no output was written" not in err
    assert "interrupted by SIGTERM after the outputs were written whole" in err
    assert (tmp_path / "ok.jsonl").read_bytes() == VALID + b"\n"
    assert json.loads((tmp_path / "bad.jsonl").read_bytes())["line"] == 2
    assert json.loads(report.read_bytes())["records"] == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.jsonl", "in.jsonl", "ok.jsonl", "report.json"]


def _no_bigger_files_than(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_while_writing_never_replaces_the_previous_outputs(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(VALID + b"\n" + (INVALID + b"\n") * 300)
    (tmp_path / "ok.jsonl").write_bytes(b"previous accepted\n")
    argv = [sys.executable, "-m", "runstep_validator", "import", str(tmp_path / "in.jsonl"), *outputs(tmp_path)]
    # The accepted output fits; the rejected one (about 600 KB, less than a write buffer) does not.
    process = subprocess.run(
        [*argv, "--workers", "1"],
        capture_output=True,
        timeout=60,
        preexec_fn=lambda: _no_bigger_files_than(100_000),  # no threads in the child yet
        check=False,
    )

    assert process.returncode == 2, process.stderr
    assert process.stderr.decode().count("\n") == 1
    assert (tmp_path / "ok.jsonl").read_bytes() == b"previous accepted\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl", "ok.jsonl"]  # no partial left


@pytest.mark.skipif(subprocess.run(["unshare", "-m", "true"], check=False).returncode != 0, reason="no unshare")
def test_a_report_on_a_read_only_filesystem_is_exit_2_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(VALID + b"\n" + INVALID + b"\n")
    read_only = tmp_path / "ro"
    read_only.mkdir()
    argv = [sys.executable, "-m", "runstep_validator", "import", str(tmp_path / "in.jsonl"), *outputs(tmp_path)]
    # In a mount namespace of its own, the folder is a read-only filesystem for the command alone.
    script = f'mount --bind "{read_only}" "{read_only}" && mount -o remount,bind,ro "{read_only}" && exec "$@"'
    process = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            *argv,
            "--report",
            f"{read_only}/r.json",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert process.returncode == 2, process.stderr
    assert process.stderr.decode() == f"runstep-validator: --report {read_only}/r.json: Read-only file system\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl", "ro"]


# Finding 8: one same-file check for every spelling ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_spelling", "extra"),
    [
        ("file://{d}/in.jsonl", ["--accepted", "{d}/in.jsonl", "--rejected", "{d}/bad.jsonl"]),
        ("{d}/in.jsonl", ["--accepted", "file://{d}/in.jsonl", "--rejected", "{d}/bad.jsonl"]),
        (
            "file://{d}/in.jsonl",
            ["--accepted", "{d}/ok.jsonl", "--rejected", "{d}/bad.jsonl", "--report", "{d}/in.jsonl"],
        ),
        (
            "{d}/in.jsonl",
            ["--accepted", "{d}/ok", "--rejected", "{d}/bad", "--report", "{d}/in.jsonl", "--dask", "local:1"],
        ),
        (
            "{d}/in.jsonl",
            [
                "--accepted",
                "{d}/ok",
                "--rejected",
                "{d}/bad",
                "--report",
                "{d}/ok/part-00000.jsonl",
                "--dask",
                "local:1",
            ],
        ),
        ("{d}/in.jsonl", ["--accepted", "{d}/ok", "--rejected", "file://{d}/ok/", "--dask", "local:1"]),
    ],
    ids=[
        "file-url-input",
        "file-url-output",
        "report-is-input",
        "dask-report-is-input",
        "dask-report-in-parts",
        "dask-url",
    ],
)
def test_every_spelling_of_one_file_is_refused_before_anything_is_touched(
    tmp_path: Path, input_spelling: str, extra: list[str]
) -> None:
    original = VALID + b"\n" + INVALID + b"\n"
    (tmp_path / "in.jsonl").write_bytes(original)
    (tmp_path / "ok").mkdir()

    code, _, err = cli("import", input_spelling.format(d=tmp_path), *[arg.format(d=tmp_path) for arg in extra])

    assert code == 2
    assert err.count("\n") == 1
    assert "nothing was read or written" in err
    assert (tmp_path / "in.jsonl").read_bytes() == original
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl", "ok"]
    assert list((tmp_path / "ok").iterdir()) == []


# Finding 13: exit 1 means only "some records rejected" --------------------------------------------------------------


def test_outputs_inside_a_folder_read_recursively_are_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.jsonl").write_bytes(VALID + b"\n")

    code, _, err = cli(
        "import",
        str(tmp_path / "data"),
        "--accepted",
        str(tmp_path / "data" / "ok.jsonl"),
        "--rejected",
        str(tmp_path / "bad.jsonl"),
    )

    assert code == 2
    assert "is inside the input folder" in err
    assert sorted(path.name for path in (tmp_path / "data").iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize("argv", [["validate", "--format", "json"], ["validate"], ["import"]])
def test_a_file_name_that_is_not_utf8_is_one_line_and_exit_2(tmp_path: Path, argv: list[str]) -> None:
    name = os.fsdecode(b"bad-\xff.jsonl")
    (tmp_path / name).write_bytes(INVALID + b"\n")
    extra = outputs(tmp_path) if argv[0] == "import" else []

    code, out, err = cli(*argv, str(tmp_path / name), *extra)

    assert code == 2
    assert err.count("\n") == 1, err
    assert "not UTF-8" in err
    assert out == ""
    assert sorted(os.listdir(tmp_path)) == [name]


# Finding 11: nothing left behind --------------------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def test_a_killed_import_takes_its_workers_along_and_its_partials_go_with_the_next_run(tmp_path: Path) -> None:
    source = tmp_path / "big.jsonl"
    source.write_bytes((b"\n".join(numbered(1000)) + b"\n") * 40)
    argv = [sys.executable, "-m", "runstep_validator", "import", str(source), *outputs(tmp_path), "--workers", "2"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(_children(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _children(process.pid)
        assert len(workers) == 2
        assert list(tmp_path.glob(".ok.jsonl.*.partial"))
        process.kill()
        process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(worker) for worker in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(worker) for worker in workers)
    finally:
        with _quietly():
            os.killpg(process.pid, signal.SIGKILL)
    assert list(tmp_path.glob(".ok.jsonl.*.partial"))  # what SIGKILL leaves: no process can clean up after it

    (tmp_path / "small.jsonl").write_bytes(VALID + b"\n")
    code, _, err = cli("import", str(tmp_path / "small.jsonl"), *outputs(tmp_path), "--workers", "1")

    assert (code, err) == (0, "")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.jsonl", "big.jsonl", "ok.jsonl", "small.jsonl"]


def test_a_symlink_loop_in_an_input_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").symlink_to("b.jsonl")
    (tmp_path / "data" / "b.jsonl").symlink_to("a.jsonl")

    code, _, err = cli("import", str(tmp_path / "data"), *outputs(tmp_path))

    assert code == 2
    assert err == f"runstep-validator: {tmp_path}/data/a.jsonl: Too many levels of symbolic links\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


def test_a_partial_of_another_host_is_never_taken_for_a_dead_run(tmp_path: Path) -> None:
    """A shared disk or /tmp holds other hosts' and containers' runs, whose process ids mean nothing here."""
    theirs = tmp_path / ".ok.jsonl.runstep-999999.abc.partial"  # no host in its name: it may be any host's
    theirs.write_bytes(b"")
    (tmp_path / "small.jsonl").write_bytes(VALID + b"\n")

    code, _, err = cli("import", str(tmp_path / "small.jsonl"), *outputs(tmp_path), "--workers", "1")

    assert (code, err) == (0, "")
    assert theirs.exists()


def test_a_commit_that_fails_at_the_second_output_says_the_first_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.jsonl"
    valid = (EXAMPLES / "message_creation.json").read_bytes().replace(b"\n", b"")
    source.write_bytes(valid + b"\n{}\n")
    accepted, rejected = tmp_path / "ok.jsonl", tmp_path / "bad.jsonl"
    rejected.write_text("the rejected records of an earlier run\n")
    real_publish = pipeline.AtomicFile.publish

    def second_fails(self: pipeline.AtomicFile) -> None:
        if self.target == rejected:
            raise OSError(5, "Input/output error")
        real_publish(self)

    monkeypatch.setattr(pipeline.AtomicFile, "publish", second_fails)
    code, _, err = cli(
        "import", str(source), "--accepted", str(accepted), "--rejected", str(rejected), "--workers", "1"
    )

    assert code == 2
    assert err == (
        f"runstep-validator: the outputs were written only in part: {accepted} was written; {rejected} was not "
        "(Input/output error), and what it held before is unchanged\n"
    )
    assert accepted.read_bytes() == valid + b"\n"
    assert rejected.read_text() == "the rejected records of an earlier run\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.jsonl", "in.jsonl", "ok.jsonl"]
