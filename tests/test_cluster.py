"""The import on a real Dask `LocalCluster` of two worker processes, reading and writing a real S3 endpoint (moto's
server, its own process on a free loopback port, used through s3fs exactly as AWS would be: only the endpoint
differs, given the way AWS's own tools take it, `AWS_ENDPOINT_URL`)."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("distributed")
s3fs = pytest.importorskip("s3fs")

from distributed import Client, LocalCluster  # noqa: E402

from runstep_validator import NotJsonLines  # noqa: E402
from runstep_validator.cli import run  # noqa: E402
from runstep_validator.importing import Importer  # noqa: E402
from runstep_validator.importing.distributed import (  # noqa: E402
    SUCCESS,
    TEMPORARY,
    ClusterImport,
    OutputExists,
    RecordCrash,
)
from runstep_validator.importing.frames import validate_bag, validate_dataframe, validate_partition  # noqa: E402
from runstep_validator.importing.pipeline import AtomicFile  # noqa: E402

from .server import STARTED_GROUPS, free_port, kill_group  # noqa: E402
from .support import EXAMPLES  # noqa: E402

BUCKET = "archive"
VALID = json.dumps(json.loads((EXAMPLES / "message_creation.json").read_bytes()))
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """moto's S3 server on a free loopback port, and the environment that points AWS clients at it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, stopped whole
    )
    STARTED_GROUPS.add(process.pid)
    endpoint = f"http://127.0.0.1:{port}"
    saved = {name: os.environ.get(name) for name in [*AWS, "AWS_ENDPOINT_URL"]}
    os.environ.update(AWS, AWS_ENDPOINT_URL=endpoint)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                s3fs.S3FileSystem(skip_instance_cache=True).mkdir(BUCKET)
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        process.terminate()
        try:
            process.wait(timeout=10)
        finally:
            kill_group(process.pid)


@pytest.fixture(scope="module")
def client(s3: str) -> Iterator[Client]:
    """Two worker processes, started after the S3 environment is set so that they inherit it."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


def fs() -> Any:
    return s3fs.S3FileSystem(skip_instance_cache=True)


def put(key: str, lines: list[str], gzipped: bool = False) -> str:
    data = "".join(lines).encode()
    with fs().open(f"{BUCKET}/{key}", "wb") as target:
        target.write(gzip.compress(data) if gzipped else data)
    return f"s3://{BUCKET}/{key}"


def concatenated(prefix: str) -> bytes:
    store = fs()
    parts = sorted(path for path in store.ls(prefix, detail=False) if path.rsplit("/", 1)[1].startswith("part-"))
    return b"".join(store.cat_file(path) for path in parts)


def single_machine(inputs: list[str], tmp_path: Path) -> tuple[Any, bytes, bytes]:
    accepted, rejected = tmp_path / f"{uuid.uuid4().hex}.ok", tmp_path / f"{uuid.uuid4().hex}.bad"
    tally = Importer(workers=1).run(inputs, accepted, rejected)
    return tally, accepted.read_bytes(), rejected.read_bytes()


def record(kind: str, number: int) -> str:
    if kind == "valid":
        return VALID.replace('"step_', f'"step_{number}_', 1) + "\n"
    if kind == "invalid":
        return VALID.replace('"completed"', '"finished"', 1) + "\n"
    if kind == "blank":
        return "\n"
    return '{"id": "step_broken", ' + "\n"


LINES = st.lists(st.sampled_from(["valid", "valid", "valid", "invalid", "broken", "blank"]), max_size=40)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.tuples(LINES, st.booleans()), min_size=1, max_size=4))
def test_the_cluster_import_gives_the_single_machine_outputs(
    client: Client, tmp_path: Path, files: list[tuple[list[str], bool]]
) -> None:
    run_id = uuid.uuid4().hex[:8]
    inputs = [
        put(
            f"{run_id}/in/day-{n}/steps.jsonl" + (".gz" if gzipped else ""),
            [record(k, i) for i, k in enumerate(kinds)],
            gzipped,
        )
        for n, (kinds, gzipped) in enumerate(files)
    ]
    expected_tally, expected_accepted, expected_rejected = single_machine(inputs, tmp_path)
    accepted, rejected = f"s3://{BUCKET}/{run_id}/accepted", f"s3://{BUCKET}/{run_id}/rejected"

    tally = ClusterImport(client).run(inputs, [None] * len(inputs), accepted, rejected)

    assert (tally.records, tally.accepted, tally.rejected) == (
        expected_tally.records,
        expected_tally.accepted,
        expected_tally.rejected,
    )
    assert tally.kinds == expected_tally.kinds
    assert tally.locations == expected_tally.locations
    assert concatenated(f"{BUCKET}/{run_id}/accepted") == expected_accepted
    assert concatenated(f"{BUCKET}/{run_id}/rejected") == expected_rejected
    listed = fs().ls(f"{BUCKET}/{run_id}/accepted", detail=False)
    assert f"{BUCKET}/{run_id}/accepted/{SUCCESS}" in listed
    assert not [path for path in listed if TEMPORARY in path]
    summary = json.loads(fs().cat_file(f"{BUCKET}/{run_id}/accepted/{SUCCESS}"))
    assert (summary["parts"], summary["records"], summary["accounted"]) == (len(inputs), tally.records, True)


def many_inputs(run_id: str, files: int, records: int) -> list[str]:
    body = [record("valid", i) if i % 50 else record("invalid", i) for i in range(records)]
    return [put(f"{run_id}/in/part-{n:03d}.jsonl", body) for n in range(files)]


def test_a_worker_killed_mid_run_costs_nothing(client: Client, tmp_path: Path) -> None:
    run_id = uuid.uuid4().hex[:8]
    inputs = many_inputs(run_id, files=12, records=4000)
    expected_tally, expected_accepted, expected_rejected = single_machine(inputs, tmp_path)
    killed: list[int] = []

    def kill_one_worker(done_bytes: int, records: int, parts: int) -> None:
        if not killed:  # the first part is in: the others are queued or running on both workers
            pids = client.run(os.getpid)
            killed.append(next(iter(pids.values())))
            os.kill(killed[0], signal.SIGKILL)

    tally = ClusterImport(client, on_progress=kill_one_worker).run(
        inputs, [None] * len(inputs), f"s3://{BUCKET}/{run_id}/ok", f"s3://{BUCKET}/{run_id}/bad"
    )

    assert killed
    assert (tally.records, tally.accepted, tally.rejected) == (
        expected_tally.records,
        expected_tally.accepted,
        expected_tally.rejected,
    )
    assert concatenated(f"{BUCKET}/{run_id}/ok") == expected_accepted
    assert concatenated(f"{BUCKET}/{run_id}/bad") == expected_rejected
    client.wait_for_workers(2, timeout=60)  # the nanny brings the worker back for the next tests


def test_a_record_that_crashes_its_task_fails_the_run_naming_it(client: Client) -> None:
    run_id = uuid.uuid4().hex[:8]
    lines = [record("valid", 0), record("valid", 1), VALID.replace("step_", "step_CRASH_", 1) + "\n"]
    inputs = [put(f"{run_id}/in/a.jsonl", lines[:2]), put(f"{run_id}/in/b.jsonl", lines)]

    def crash_on_marker() -> None:
        from runstep_validator.importing import distributed  # noqa: PLC0415  # inside each worker

        real = getattr(distributed, "process_block")  # noqa: B009  # the name the task calls, for its blocks and to locate a crash

        def crashing(profile: Any, block: Any, *args: Any) -> Any:
            if b"CRASH" in block.content():
                raise ZeroDivisionError("a bug")
            return real(profile, block, *args)

        setattr(distributed, "process_block", crashing)  # noqa: B010
        distributed.__dict__["_real_process_block"] = real

    def restore() -> None:
        from runstep_validator.importing import distributed  # noqa: PLC0415

        setattr(distributed, "process_block", distributed.__dict__.pop("_real_process_block"))  # noqa: B010

    client.run(crash_on_marker)
    try:
        with pytest.raises(RecordCrash, match=rf"s3://{BUCKET}/{run_id}/in/b.jsonl:3: .*ZeroDivisionError: a bug"):
            ClusterImport(client).run(inputs, [None, None], f"s3://{BUCKET}/{run_id}/ok", f"s3://{BUCKET}/{run_id}/bad")
    finally:
        client.run(restore)
    assert not fs().exists(f"{BUCKET}/{run_id}/ok")  # no final output, and no temporary part left
    assert not fs().exists(f"{BUCKET}/{run_id}/bad")


def test_an_output_that_holds_files_is_never_written_to(client: Client) -> None:
    run_id = uuid.uuid4().hex[:8]
    inputs = [put(f"{run_id}/in/a.jsonl", [record("valid", 0)])]
    put(f"{run_id}/ok/earlier.jsonl", ["kept\n"])

    with pytest.raises(OutputExists, match="already holds files"):
        ClusterImport(client).run(inputs, [None], f"s3://{BUCKET}/{run_id}/ok", f"s3://{BUCKET}/{run_id}/bad")
    assert fs().cat_file(f"{BUCKET}/{run_id}/ok/earlier.jsonl") == b"kept\n"


def cli(argv: list[str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(argv, stdout, stderr, io.BytesIO())
    return code, stdout.getvalue(), stderr.getvalue()


def test_the_command_line_on_the_cluster_with_an_s3_glob(client: Client) -> None:
    run_id = uuid.uuid4().hex[:8]
    put(f"{run_id}/2026/01/steps-a.jsonl.gz", [record("valid", 0), record("invalid", 1)], gzipped=True)
    put(f"{run_id}/2026/02/steps-b.jsonl", [record("valid", 2)])
    put(f"{run_id}/2026/02/other.txt", ["not matched\n"])
    address: str = client.scheduler_info()["address"]

    code, out, err = cli(
        [
            "import",
            f"s3://{BUCKET}/{run_id}/2026/*/steps-*.jsonl*",
            "--accepted",
            f"s3://{BUCKET}/{run_id}/ok",
            "--rejected",
            f"s3://{BUCKET}/{run_id}/bad",
            "--dask",
            address,
        ]
    )

    assert code == 1, err  # one record rejected
    assert out.splitlines()[:3] == ["records                3", "accepted               2", "rejected               1"]
    assert "2/2 parts, 3 records" in err
    assert sorted(path.rsplit("/", 1)[1] for path in fs().ls(f"{BUCKET}/{run_id}/ok", detail=False)) == [
        SUCCESS,
        "part-00000.jsonl",
        "part-00001.jsonl",
    ]
    rejected = json.loads(concatenated(f"{BUCKET}/{run_id}/bad"))
    assert (rejected["source"], rejected["line"]) == (f"s3://{BUCKET}/{run_id}/2026/01/steps-a.jsonl.gz", 2)


def test_a_pretty_printed_input_given_as_json_lines_is_refused_on_the_cluster_as_on_one_machine(
    client: Client, tmp_path: Path
) -> None:
    """A .jsonl object holding a value written across lines: one line and exit 2 naming it, nothing written, as the
    single-machine import (test_surfaces holds every other surface to the same sentence)."""
    run_id = uuid.uuid4().hex[:8]
    source = put(f"{run_id}/in/steps.jsonl", [json.dumps(json.loads(VALID), indent=2) + "\n"])
    address: str = client.scheduler_info()["address"]
    targets = ["--accepted", f"s3://{BUCKET}/{run_id}/ok", "--rejected", f"s3://{BUCKET}/{run_id}/bad"]
    local = ["--accepted", str(tmp_path / "ok.jsonl"), "--rejected", str(tmp_path / "bad.jsonl"), "--workers", "1"]

    on_cluster = cli(["import", source, *targets, "--dask", address])
    on_one_machine = cli(["import", source, *local])

    assert on_cluster[0] == on_one_machine[0] == 2
    assert on_cluster[2].splitlines()[-1] == on_one_machine[2].splitlines()[-1]
    assert on_one_machine[2] == f"runstep-validator: {source}: {NotJsonLines(1, '{')}\n"
    assert fs().find(f"{BUCKET}/{run_id}/ok") == fs().find(f"{BUCKET}/{run_id}/bad") == []
    assert list(tmp_path.iterdir()) == []


def test_single_machine_import_reads_and_writes_urls_too(s3: str, tmp_path: Path) -> None:
    run_id = uuid.uuid4().hex[:8]
    put(f"{run_id}/in/a.jsonl", [record("valid", 0), record("invalid", 1)])
    code, _, err = cli(
        [
            "import",
            f"s3://{BUCKET}/{run_id}/in/*.jsonl",
            "--accepted",
            f"s3://{BUCKET}/{run_id}/ok.jsonl",
            "--rejected",
            str(tmp_path / "bad.jsonl"),
            "--workers",
            "1",
        ]
    )
    assert code == 1, err
    assert fs().cat_file(f"{BUCKET}/{run_id}/ok.jsonl") == record("valid", 0).encode()
    assert json.loads((tmp_path / "bad.jsonl").read_text())["line"] == 2


def test_bad_storage_options_and_unmatched_globs_are_one_line_and_exit_2(s3: str) -> None:
    code, _, err = cli(["import", f"s3://{BUCKET}/nothing/*.jsonl", "--accepted", "a", "--rejected", "b"])
    assert (code, err) == (2, f"runstep-validator: s3://{BUCKET}/nothing/*.jsonl: no file matches\n")
    code, _, err = cli(["import", "x.jsonl", "--accepted", "a", "--rejected", "b", "--storage-option", "anon"])
    assert (code, err) == (2, "runstep-validator: --storage-option 'anon': give it as key=value\n")


def test_an_interrupted_run_leaves_no_output_in_s3(s3: str, tmp_path: Path) -> None:
    run_id = uuid.uuid4().hex[:8]
    body = "".join(record("valid", i) for i in range(60_000)).encode()
    inputs = []
    for n in range(8):  # local inputs, S3 outputs: the run lasts seconds without a slow upload first
        path = tmp_path / f"in-{n}.jsonl"
        path.write_bytes(body)
        inputs.append(str(path))
    command = [sys.executable, "-m", "runstep_validator", "import", *inputs, "--dask", "local:2"]
    command += ["--accepted", f"s3://{BUCKET}/{run_id}/ok", "--rejected", f"s3://{BUCKET}/{run_id}/bad"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    STARTED_GROUPS.add(process.pid)
    try:
        assert process.stderr is not None
        first = process.stderr.readline()  # the cluster is up and the tasks are going in
        assert "8 tasks on a Dask cluster of 2 workers" in first, first
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        kill_group(process.pid)

    assert process.returncode == 128 + signal.SIGINT, err
    assert "interrupted by SIGINT; no output was written" in err
    assert fs().find(f"{BUCKET}/{run_id}") == []


def test_the_partition_function_takes_pandas_and_arrow() -> None:
    pandas = pytest.importorskip("pandas")
    pyarrow = pytest.importorskip("pyarrow")
    records = [record("valid", 0).strip(), record("invalid", 1).strip(), "{"]

    frame = validate_partition(pandas.DataFrame({"record": records, "day": [1, 2, 3]}))
    table = validate_partition(pyarrow.table({"record": records}))

    assert list(frame["valid"]) == [True, False, False]
    assert list(frame["day"]) == [1, 2, 3]
    assert (
        frame["headline"][1]
        == '/status: "finished" is not one of "in_progress", "cancelled", "failed", "completed", "expired"'
    )
    assert json.loads(frame["errors"][2])[0]["code"] == "invalid-json"
    assert table.column("valid").to_pylist() == [True, False, False]
    assert table.column("headline").to_pylist()[0] is None


def test_bag_and_dataframe_on_the_cluster(client: Client, tmp_path: Path) -> None:
    import dask.bag as db  # noqa: PLC0415
    import dask.dataframe as dd  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    path = tmp_path / "steps.jsonl"
    path.write_text(record("valid", 0) + "\n" + record("invalid", 1) + record("broken", 2))

    results = validate_bag(db.read_text(str(path))).compute()
    frame = dd.from_pandas(pd.DataFrame({"record": [record("valid", 0).strip(), "[]"]}), npartitions=2)
    validated = validate_dataframe(frame).compute()

    assert [result["valid"] for result in results] == [True, False, False]
    assert list(validated["valid"]) == [True, False]


def test_an_interrupt_during_the_commit_waits_for_a_whole_output(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runstep_validator.importing import distributed  # noqa: PLC0415
    from runstep_validator.importing.pipeline import Interrupted, interruptible  # noqa: PLC0415

    inputs = []
    for n in range(3):
        (tmp_path / f"in-{n}.jsonl").write_text(record("valid", n) + record("invalid", n))
        inputs.append(str(tmp_path / f"in-{n}.jsonl"))
    real_filesystem = distributed.filesystem  # type: ignore[attr-defined]  # the name the module calls
    moved: list[str] = []

    def interrupting_filesystem(url: str, options: Any = None) -> Any:
        fs, path = real_filesystem(url, options)
        real_mv = fs.mv

        def mv(source: str, target: str, *args: Any, **kwargs: Any) -> None:
            real_mv(source, target, *args, **kwargs)
            moved.append(target)
            if len(moved) == 1:  # the first final part is in place: Ctrl-C now
                os.kill(os.getpid(), signal.SIGINT)

        monkeypatch.setattr(fs, "mv", mv)
        return fs, path

    monkeypatch.setattr(distributed, "filesystem", interrupting_filesystem)
    runner = ClusterImport(client)

    with pytest.raises(Interrupted), interruptible():
        runner.run(inputs, [None] * 3, str(tmp_path / "ok"), str(tmp_path / "bad"))

    assert runner.committed
    for output in ("ok", "bad"):
        assert sorted(path.name for path in (tmp_path / output).iterdir()) == [
            SUCCESS,
            "part-00000.jsonl",
            "part-00001.jsonl",
            "part-00002.jsonl",
        ]


def test_a_temporary_folder_left_by_a_killed_driver_does_not_stop_the_next_run(client: Client, tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text(record("valid", 0))
    (tmp_path / "ok" / TEMPORARY / "20260101T000000-dead").mkdir(parents=True)
    (tmp_path / "ok" / TEMPORARY / "20260101T000000-dead" / "part-00000.x.jsonl").write_text("left\n")

    tally = ClusterImport(client).run([str(tmp_path / "in.jsonl")], [None], str(tmp_path / "ok"), str(tmp_path / "bad"))

    assert tally.accepted == 1
    assert (tmp_path / "ok" / "part-00000.jsonl").read_text() == record("valid", 0)


@pytest.mark.parametrize("where", ["input", "output"])
def test_a_missing_bucket_is_one_line_and_exit_2_before_anything_is_written(
    s3: str, tmp_path: Path, where: str
) -> None:
    (tmp_path / "in.jsonl").write_text(record("valid", 0))
    source = "s3://no-such-bucket/in.jsonl" if where == "input" else str(tmp_path / "in.jsonl")
    accepted = "s3://no-such-bucket/ok.jsonl" if where == "output" else str(tmp_path / "ok.jsonl")

    code, _, err = cli(["import", source, "--accepted", accepted, "--rejected", str(tmp_path / "bad.jsonl")])

    assert code == 2, err
    assert err.count("\n") == 1, err
    assert "no-such-bucket" in err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_store_that_dies_mid_run_is_one_line_and_exit_2(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runstep_validator.importing.pipeline import AtomicUpload  # noqa: PLC0415

    port = free_port()
    store = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    STARTED_GROUPS.add(store.pid)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                s3fs.S3FileSystem(skip_instance_cache=True, endpoint_url=endpoint).mkdir("dying")
                break
            except Exception:
                if time.monotonic() > deadline or store.poll() is not None:
                    raise
                time.sleep(0.2)
        real_publish = AtomicUpload.publish

        def die_then_publish(self: AtomicUpload) -> None:
            kill_group(store.pid)  # the store goes away after the run checked it and read everything
            store.wait(timeout=10)
            real_publish(self)

        monkeypatch.setattr(AtomicUpload, "publish", die_then_publish)
        (tmp_path / "in.jsonl").write_text(record("valid", 0) + record("invalid", 1))
        argv = ["import", str(tmp_path / "in.jsonl"), "--accepted", "s3://dying/ok.jsonl"]
        argv += ["--rejected", str(tmp_path / "bad.jsonl"), "--storage-option", f"endpoint_url={endpoint}"]
        argv += ["--storage-option", "skip_instance_cache=true", "--storage-option", "retries=1"]

        code, _, err = cli(argv)
    finally:
        kill_group(store.pid)
        store.wait(timeout=10)

    assert code == 2, err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_store_that_stalls_times_out_with_one_line_and_exit_2(tmp_path: Path) -> None:
    import socket  # noqa: PLC0415
    import threading  # noqa: PLC0415

    held: list[socket.socket] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept_and_never_answer() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept_and_never_answer, daemon=True)
    acceptor.start()
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
    environment = {**os.environ, **AWS, "AWS_ENDPOINT_URL": endpoint}
    argv = [sys.executable, "-m", "runstep_validator", "import", "s3://stalled/in.jsonl"]
    argv += ["--accepted", str(tmp_path / "ok.jsonl"), "--rejected", str(tmp_path / "bad.jsonl")]
    try:
        process = subprocess.run(
            [*argv, "--storage-timeout", "1"], capture_output=True, timeout=90, env=environment, check=False
        )
    finally:
        stop.set()
        acceptor.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()

    assert process.returncode == 2, process.stderr
    assert process.stderr.decode().count("\n") == 1, process.stderr
    assert b"s3://stalled/in.jsonl: Read timeout" in process.stderr
    assert b"Traceback" not in process.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_run_in_progress_stops_another_run_into_the_same_output(tmp_path: Path) -> None:
    """Two runs writing one output would mix their parts: a _temporary folder whose driver may be running stops the
    second; one whose driver (a process of this host) is gone does not."""
    from runstep_validator.importing.distributed import DRIVER_FILE, OutputExists, refuse_existing  # noqa: PLC0415

    running = tmp_path / "ok" / TEMPORARY / "20260101T000000-live"
    running.mkdir(parents=True)
    (running / DRIVER_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    with pytest.raises(OutputExists, match="another import is writing here"):
        refuse_existing("accepted", str(tmp_path / "ok"), {})

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    (running / DRIVER_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    refuse_existing("accepted", str(tmp_path / "ok"), {})
    (running / DRIVER_FILE).write_text(json.dumps({"host": "another-host", "pid": int(dead.stdout)}))
    with pytest.raises(OutputExists):
        refuse_existing("accepted", str(tmp_path / "ok"), {})


def test_a_commit_that_fails_part_way_says_what_was_written(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two stores cannot be published atomically together: the run says exactly which output is new and which is
    # not, and the local file the user had stays until its replacement is ready.
    run_id = uuid.uuid4().hex[:8]
    source = tmp_path / "in.jsonl"
    source.write_text(record("valid", 0) + record("invalid", 1))
    accepted, rejected = tmp_path / "ok.jsonl", f"s3://{BUCKET}/{run_id}/bad.jsonl"
    accepted.write_text("what the user had\n")

    def fails(self: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(AtomicFile, "publish", fails)  # the local rename, after the upload
    code, _, err = cli(["import", str(source), "--accepted", str(accepted), "--rejected", rejected, "--workers", "1"])

    assert code == 2
    assert err == (
        f"runstep-validator: the outputs were written only in part: {rejected} was written; {accepted} was not "
        "(No space left on device), and what it held before is unchanged\n"
    )
    assert accepted.read_text() == "what the user had\n"
    assert json.loads(fs().cat_file(f"{BUCKET}/{run_id}/bad.jsonl"))["line"] == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl", "ok.jsonl"]  # no partial left


def test_an_s3_url_gives_the_records_every_other_way_gives(s3: str, tmp_path: Path) -> None:
    from .test_sources import WAYS_BODY, gave_input, imported, validated_records  # noqa: PLC0415

    key = f"{uuid.uuid4().hex[:8]}/steps.jsonl"
    with fs().open(f"{BUCKET}/{key}", "wb") as target:
        target.write(WAYS_BODY)
    url = f"s3://{BUCKET}/{key}"
    name, stdin = gave_input("file", tmp_path)

    assert validated_records(url, None) == validated_records(name, stdin())
    assert imported(url, None, tmp_path) == imported(name, stdin(), tmp_path)


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("bogus", "not a scheduler address"),
        ("tcp://127.0.0.1:x", "not a scheduler address"),
        ("unreachable", "no scheduler answered within 1 s (--dask-timeout)"),
    ],
)
def test_a_bad_or_unreachable_scheduler_is_one_line_and_exit_2_before_anything_is_written(
    tmp_path: Path, address: str, said: str
) -> None:
    if address == "unreachable":
        address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there: connecting is refused, again and again
    (tmp_path / "in.jsonl").write_text(record("valid", 0))
    argv = ["import", str(tmp_path / "in.jsonl"), "--accepted", str(tmp_path / "ok"), "--rejected"]
    argv += [str(tmp_path / "bad"), "--report", str(tmp_path / "r.json"), "--dask", address, "--dask-timeout", "1"]

    started = time.monotonic()
    code, out, err = cli(argv)

    assert (code, out) == (2, ""), err
    assert err.startswith(f"runstep-validator: --dask {address}: {said}"), err
    assert err.count("\n") == 1, err
    assert time.monotonic() - started < 20  # the stated timeout, not distributed's own 30 s
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


def test_the_scheduler_timeout_has_a_short_stated_default(capsys: pytest.CaptureFixture[str]) -> None:
    run(["import", "--help"], io.StringIO(), io.StringIO())  # argparse prints its help itself
    shown = " ".join(capsys.readouterr().out.split())
    assert "--dask-timeout SECONDS" in shown
    assert "before anything is written (default: 10)" in shown
    from runstep_validator.cli import commands  # noqa: PLC0415
    from runstep_validator.importing import distributed  # noqa: PLC0415

    assert commands.DASK_TIMEOUT_SECONDS == distributed.DASK_TIMEOUT_SECONDS  # the flag's default is the library's


@pytest.mark.parametrize("dask", [None, "local:1"])
def test_a_report_at_an_s3_url_is_written_there(s3: str, tmp_path: Path, dask: str | None) -> None:
    run_id = uuid.uuid4().hex[:8]
    (tmp_path / "in.jsonl").write_text(record("valid", 0) + record("invalid", 1))
    outputs = (
        [str(tmp_path / "ok"), str(tmp_path / "bad")] if dask else [str(tmp_path / "ok.jsonl"), str(tmp_path / "b")]
    )
    argv = ["import", str(tmp_path / "in.jsonl"), "--accepted", outputs[0], "--rejected", outputs[1]]
    argv += ["--report", f"s3://{BUCKET}/{run_id}/2026/report.json", "--workers", "1"]
    if dask:
        argv += ["--dask", dask]

    code, _, err = cli(argv)

    assert code == 1, err
    report = json.loads(fs().cat_file(f"{BUCKET}/{run_id}/2026/report.json"))
    assert (report["records"], report["accepted"], report["rejected"]) == (2, 1, 1)


def test_an_interrupted_cluster_run_leaves_no_folder_it_made(client: Client, tmp_path: Path) -> None:
    from runstep_validator.importing.pipeline import Interrupted, interruptible  # noqa: PLC0415

    inputs = []
    for n in range(4):
        path = tmp_path / f"in-{n}.jsonl"
        path.write_text("".join(record("valid", i) for i in range(2000)))
        inputs.append(str(path))
    runner = ClusterImport(client)

    def interrupt(done_bytes: int, records: int, parts: int) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as the terminal sends it, once the first part is done

    runner.on_progress = interrupt
    with pytest.raises(Interrupted), interruptible():
        runner.run(inputs, [None] * len(inputs), str(tmp_path / "out" / "ok"), str(tmp_path / "out" / "bad"))

    assert not runner.committed
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(Path(name).name for name in inputs)


@pytest.mark.parametrize("where", ["unwritable", "missing-bucket"])
def test_a_cluster_output_that_cannot_be_written_is_one_line_before_the_cluster_starts(
    s3: str, tmp_path: Path, where: str
) -> None:
    (tmp_path / "in.jsonl").write_text(record("valid", 0))
    accepted = "/proc/runstep-ok" if where == "unwritable" else "s3://no-such-bucket/ok"
    argv = ["import", str(tmp_path / "in.jsonl"), "--accepted", accepted, "--rejected", str(tmp_path / "bad")]

    code, out, err = cli([*argv, "--dask", "local:1"])

    assert (code, out) == (2, ""), err
    assert err.startswith(f"runstep-validator: --accepted {accepted}: "), err
    assert err.count("\n") == 1, err  # not even the line that says the cluster is up
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_truncated_document_is_a_rejected_record_on_the_cluster_as_on_one_machine(
    client: Client, tmp_path: Path
) -> None:
    good = tmp_path / "a.jsonl"
    good.write_text(record("valid", 0) + record("invalid", 1))
    cut = tmp_path / "b.json"
    cut.write_text("[" + record("valid", 2).strip() + ',\n{"id": "step_cut')
    inputs = [str(good), str(cut)]

    tally = ClusterImport(client).run(inputs, [None, None], str(tmp_path / "ok"), str(tmp_path / "bad"))

    expected, accepted, rejected = single_machine(inputs, tmp_path)
    assert (tally.records, tally.accepted, tally.rejected) == (expected.records, expected.accepted, expected.rejected)
    assert (tally.records, tally.rejected) == (4, 2)
    parts = [tmp_path / folder / f"part-0000{n}.jsonl" for folder in ("ok", "bad") for n in (0, 1)]
    assert b"".join(path.read_bytes() for path in parts[:2]) == accepted
    assert b"".join(path.read_bytes() for path in parts[2:]) == rejected
    assert json.loads(rejected.splitlines()[-1])["source"] == str(cut)
