"""The import on Dask against the single-machine import, in one run: records/s of `runstep-validator import` on
RECORDS records (default 1,000,000: the import benchmark's records, 1.7 KB each, 1% invalid) spread over FILES
JSON Lines files, whole commands timed (a local cluster's start-up included), medians of RUNS runs.

- local disk: the single-machine import with 2 workers; the cluster import with `--dask local:1` and `local:2`;
- S3 (moto's server on a free loopback port, reached as AWS would be through AWS_ENDPOINT_URL): the same three,
  inputs and outputs in the bucket.

Targets: the cluster with 2 workers >= 0.8x the single-machine import with 2 workers (the engine's overhead), and
>= 1.5x the cluster with 1 worker, on disk and over S3. Writes bench/results/cluster.json too.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec
import s3fs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
RECORDS = int(os.environ.get("RECORDS", "1000000"))
FILES = int(os.environ.get("FILES", "16"))
RUNS = int(os.environ.get("RUNS", "3"))
SCRIPT = Path(sys.executable).with_name("runstep-validator")
BUCKET = "bench"


def generate(folder: Path) -> list[Path]:
    """The import benchmark's records (a function-calling step of 1.7 KB, 1% invalid), in FILES files."""
    valid = json.loads((ROOT / "examples" / "tool_calls_function.json").read_bytes())
    invalid = json.loads((ROOT / "examples" / "invalid_tool_calls.json").read_bytes())
    paths, per_file = [], RECORDS // FILES
    for part in range(FILES):
        path = folder / f"steps-{part:03d}.jsonl"
        with path.open("wb") as stream:
            for number in range(part * per_file, (part + 1) * per_file):
                document = invalid if number % 100 == 42 else valid
                document["id"] = f"step_{number:024}"
                stream.write(msgspec.json.encode(document) + b"\n")
        paths.append(path)
    return paths


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 1:  # 1% of the records are rejected
        raise SystemExit(f"{' '.join(command[:3])}... exited {result.returncode}: {result.stderr[-500:]}")
    return elapsed


def measure(
    label: str, inputs: list[str], outputs: str, extra: list[str], *, env: dict[str, str], clean: Callable[[str], None]
) -> float:
    times = []
    for _ in range(RUNS):
        run = f"{outputs}/{uuid.uuid4().hex[:8]}"
        cluster = "--dask" in extra
        accepted = f"{run}/accepted" if cluster else f"{run}-accepted.jsonl"
        rejected = f"{run}/rejected" if cluster else f"{run}-rejected.jsonl"
        command = [str(SCRIPT), "import", *inputs, "--accepted", accepted, "--rejected", rejected, *extra]
        times.append(timed(command, env))
        clean(run)
    rate = RECORDS / statistics.median(times)
    print(f"  {label:<44}{rate:>12,.0f} records/s   (median of {RUNS}: {statistics.median(times):.2f} s)")
    return rate


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}"


CONTENDERS = {
    "single 2 workers": ("import --workers 2", ["--workers", "2"]),
    "cluster 1 worker": ("import --dask local:1", ["--dask", "local:1"]),
    "cluster 2 workers": ("import --dask local:2", ["--dask", "local:2"]),
}
AWS_SETTINGS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")


def on_disk(paths: list[Path], scratch: Path, env: dict[str, str]) -> dict[str, float]:
    (scratch / "out").mkdir()

    def clean(run: str) -> None:
        for leftover in Path(run).parent.glob(Path(run).name + "*"):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()

    print("local disk:")
    inputs = [str(path) for path in paths]
    return {
        name: measure(label, inputs, str(scratch / "out"), extra, env=env, clean=clean)
        for name, (label, extra) in CONTENDERS.items()
    }


def on_s3(paths: list[Path], env: dict[str, str], moto: subprocess.Popen[bytes]) -> dict[str, float]:
    deadline = time.monotonic() + 30
    while True:
        try:
            store = s3fs.S3FileSystem(skip_instance_cache=True)
            store.mkdir(BUCKET)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    started = time.perf_counter()
    for path in paths:
        store.put_file(str(path), f"{BUCKET}/in/{path.name}")
    print(f"S3 (moto on {env['AWS_ENDPOINT_URL']}; inputs uploaded in {time.perf_counter() - started:.1f} s):")

    def clean(run: str) -> None:
        for leftover in store.glob(run.removeprefix("s3://") + "*"):
            store.rm(leftover, recursive=True)

    inputs, outputs = [f"s3://{BUCKET}/in/steps-*.jsonl"], f"s3://{BUCKET}/out"
    moto_before, wall_before = cpu_seconds(moto.pid), time.perf_counter()
    found = {
        name: measure(label, inputs, outputs, extra, env=env, clean=clean)
        for name, (label, extra) in CONTENDERS.items()
    }
    busy = (cpu_seconds(moto.pid) - moto_before) / (time.perf_counter() - wall_before)
    print(f"  the S3 server itself kept {busy:.2f} of the {os.cpu_count()} CPUs busy during these runs")
    return found


def report(rates: dict[str, dict[str, float]]) -> None:
    print("targets:")
    for where, found in rates.items():
        overhead = found["cluster 2 workers"] / found["single 2 workers"]
        scaling = found["cluster 2 workers"] / found["cluster 1 worker"]
        for label, value, needed in (
            (f"{where}: cluster 2 workers >= 0.8x single machine 2 workers", overhead, 0.8),
            (f"{where}: cluster 2 workers >= 1.5x cluster 1 worker", scaling, 1.5),
        ):
            print(f"  {'met ' if value >= needed else 'MISSED'}  {label} ({value:.2f} against {needed})")
    per_worker = rates["disk"]["cluster 2 workers"] / 2
    hours = 1e9 / per_worker / 3600
    print(f"per worker on disk: {per_worker:,.0f} records/s; a billion records on N such workers: {hours:.1f} h / N")


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    moto, endpoint = start_moto()
    aws = dict(zip(AWS_SETTINGS, ("bench", "bench", "us-east-1", endpoint), strict=True))
    os.environ.update(aws)  # for this process's own s3fs, and the commands it runs
    env = dict(os.environ)
    try:
        paths = generate(scratch)
        size = sum(path.stat().st_size for path in paths)
        print(f"{RECORDS:,} records in {FILES} files, {size / 1e6:,.0f} MB; {os.cpu_count()} CPUs")
        rates = {"disk": on_disk(paths, scratch, env), "s3": on_s3(paths, env, moto)}
    finally:
        moto.terminate()
        try:
            moto.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(moto.pid, 9)
        shutil.rmtree(scratch, ignore_errors=True)
    report(rates)
    RESULTS.mkdir(exist_ok=True)
    document = {"records": RECORDS, "files": FILES, "rates": rates}
    (RESULTS / "cluster.json").write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
