"""The import on a Dask cluster: one task per input file, outputs committed the way engines on object stores
commit them.

Each task reads one input (any fsspec URL, gzip or not), validates it with the single-machine import's own block
function, and writes its accepted and rejected records as a part under `<output>/_temporary/<run>/`, named by the
input's position and the attempt, so a task that Dask reruns after losing a worker never writes over another
attempt's part. Only when every task has succeeded and every record is accounted for does the driver move the parts
to `<output>/part-00000.jsonl`, … in input order and write `<output>/_SUCCESS`; a failed or interrupted run deletes
its temporary parts and leaves no final output. Reading the parts in name order gives the single-machine import's
output for the same inputs in the same order, byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ..core.errors import RunStepValidatorError
from ..core.profile import Profile, shipped_profile, untimed
from ..sources.reading import InputFormat, open_source
from ..sources.records import MAX_RECORD_BYTES
from ..sources.storage import StorageError, filesystem, is_local, is_url
from .pipeline import AtomicFile, AtomicUpload, Block, Tally, blocks, held_signals, process_block

if TYPE_CHECKING:
    from distributed import Client

TEMPORARY: Final = "_temporary"
SUCCESS: Final = "_SUCCESS"
PART_DIGITS: Final = 5
# Blocks small enough for the C heap. Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which also
# fixes glibc's mmap threshold at 128 KiB: every buffer of a megabyte block was then mapped and unmapped anew, and
# a task took 1.3-2x as long as the same work in a plain process. Nothing crosses processes here, so small blocks
# cost nothing (the single-machine import's blocks are large because each one is sent to a worker).
TASK_BLOCK_BYTES: Final = 64 * 1024
ABORT_CHECK_SECONDS: Final = 0.25


class RecordCrash(RunStepValidatorError):
    """Validating a record raised instead of giving a verdict (a bug): the run fails and names the record."""

    def __init__(self, source: str, line: int, detail: str) -> None:
        super().__init__(f"{source}:{line}: validating this record failed: {detail}")
        self.source, self.line, self.detail = source, line, detail

    def __reduce__(self) -> tuple[Any, ...]:  # it crosses from a worker to the driver
        return (RecordCrash, (self.source, self.line, self.detail))


class OutputExists(RunStepValidatorError):
    """An output prefix that already holds files: nothing is read, nothing is overwritten."""


class ClusterError(RunStepValidatorError):
    """A `--dask` address that names no scheduler, or a scheduler that does not answer in time: one line naming the
    address, before anything is read or written."""


DASK_TIMEOUT_SECONDS: Final = 10  # a scheduler answers within a second or two; distributed's own default waits 30


@dataclass(frozen=True)
class Options:
    """How every task validates and where it reads and writes: the same for the whole run."""

    profile: Profile = field(default_factory=shipped_profile)  # pickled by its fields: each worker builds it once
    input_format: InputFormat = "auto"
    unwrap_rejected: bool = False
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    max_record_bytes: int = MAX_RECORD_BYTES

    def __post_init__(self) -> None:
        untimed(self.profile, "the Dask import")


def locate(name: str) -> str:
    """Where a task finds an input: a URL as given, a local path made absolute (the workers of a local cluster
    share this machine's disk; a remote cluster needs URLs)."""
    return name if is_url(name) else str(Path(name).resolve())


class PartResult(msgspec.Struct, frozen=True):
    part: int
    source: str
    bytes_read: int
    accepted_path: str
    rejected_path: str
    tally: Tally


class Aborted(RunStepValidatorError):
    """The run this task belongs to is being abandoned: its part was discarded, not written."""


def validate_input(
    part: int, source: str, options: Options, *, accepted_dir: str, rejected_dir: str, abort: str | None = None
) -> PartResult | None:
    """One task: validate one input, write its accepted and rejected records as this attempt's part files.
    Rejected records name `source` as the user gave it, as the single-machine import does. Between blocks it
    looks at the run's `abort` event: once the driver has given up, the task discards what it wrote (an object
    store's unfinished upload is aborted, never completed) and returns None, so that no part appears after the
    driver has cleaned up."""
    if _aborted(abort):
        return None
    attempt = uuid.uuid4().hex[:12]
    name = f"part-{part:0{PART_DIGITS}d}.{attempt}.jsonl"
    accepted_fs, accepted_root = filesystem(accepted_dir, options.storage_options)
    rejected_fs, rejected_root = filesystem(rejected_dir, options.storage_options)
    accepted_path, rejected_path = f"{accepted_root}/{name}", f"{rejected_root}/{name}"
    accepted_fs.makedirs(accepted_root, exist_ok=True)  # a folder on a disk; nothing on an object store
    rejected_fs.makedirs(rejected_root, exist_ok=True)
    tally = Tally()
    with (
        open_source(locate(source), options=options.storage_options) as opened,
        accepted_fs.open(accepted_path, "wb") as accepted,
        rejected_fs.open(rejected_path, "wb") as rejected,
    ):
        opened.name = source
        next_look = time.monotonic() + ABORT_CHECK_SECONDS
        for block in blocks(opened, options.input_format, TASK_BLOCK_BYTES, options.max_record_bytes):
            try:
                result = process_block(options.profile, block, options.unwrap_rejected)
            except Exception as exc:
                raise _locate_crash(block, options, exc) from exc
            accepted.write(result.accepted(block))
            rejected.write(result.rejected)
            tally.add(result.tally)
            if time.monotonic() >= next_look:  # asking the scheduler takes a round trip
                next_look = time.monotonic() + ABORT_CHECK_SECONDS
                if _aborted(abort):
                    for written in (accepted, rejected):
                        _discard(written)
                    return None
        size = opened.size or 0
    return PartResult(part, source, size, accepted_path, rejected_path, tally)


def _aborted(abort: str | None) -> bool:
    if abort is None:
        return False
    from distributed import Event  # noqa: PLC0415  # inside a task, on a worker

    return bool(Event(abort).is_set())


def _discard(written: Any) -> None:
    """Give up a file being written: an object store's multipart upload is aborted, a local file emptied (the
    driver removes the temporary folder it is in)."""
    discard = getattr(written, "discard", None)
    if callable(discard):
        discard()
        return
    written.truncate(0)


def _locate_crash(block: Block, options: Options, exc: Exception) -> RecordCrash:
    """Find the record of a block whose validation raised, by validating its records one at a time."""
    for offset, line in enumerate(block.content().split(b"\n")):
        number = block.record(offset, line).line
        try:
            process_block(options.profile, Block(block.source, number, line), options.unwrap_rejected)
        except Exception as inner:  # any exception is the crash being located
            return RecordCrash(block.source, number, f"{type(inner).__name__}: {inner}")
    return RecordCrash(block.source, block.first_line, f"{type(exc).__name__}: {exc}")


@dataclass
class ClusterImport:
    """Drives one import on a Dask cluster: submits a task per input, reports progress, commits or cleans up."""

    client: Client
    options: Options = field(default_factory=Options)
    on_progress: Callable[[int, int, int], None] | None = None  # (bytes done, records done, parts done)
    tally: Tally = field(default_factory=Tally)
    committed: bool = False  # the final parts, _SUCCESS and the report are in place (also after an interrupt)

    def run(
        self,
        inputs: list[str],
        sizes: list[int | None],
        accepted: str,
        rejected: str,
        report: AtomicFile | AtomicUpload | None = None,
    ) -> Tally:
        from distributed import as_completed  # noqa: PLC0415  # the optional extra

        run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        targets = {"accepted": accepted.rstrip("/"), "rejected": rejected.rstrip("/")}
        for role, target in targets.items():
            refuse_existing(role, target, self.options.storage_options)
        temporary = {role: f"{target}/{TEMPORARY}/{run_id}" for role, target in targets.items()}
        made = [folder for folder in map(self._first_missing, targets.values()) if folder is not None]
        for folder in temporary.values():
            _claim(folder, self.options.storage_options)
        abort = f"runstep-abort-{run_id}"
        futures = [
            self.client.submit(
                validate_input,
                part,
                source,
                self.options,
                accepted_dir=temporary["accepted"],
                rejected_dir=temporary["rejected"],
                abort=abort,
                key=f"runstep-validate-{run_id}-{part}",
                pure=False,
                retries=0,
            )
            for part, source in enumerate(inputs)
        ]
        results: dict[int, PartResult] = {}
        try:
            done_bytes = 0
            for future in as_completed(futures):
                result: PartResult | None = future.result()
                if result is None:  # pragma: no cover - only after the abort event, which ends this loop first
                    raise RuntimeError("a task was aborted while the run was going on")
                results[result.part] = result
                self.tally.add(result.tally)
                done_bytes += result.bytes_read
                if self.on_progress is not None:
                    self.on_progress(done_bytes, self.tally.records, len(results))
            if self.tally.records != self.tally.accepted + self.tally.rejected:  # pragma: no cover - a bug
                raise RuntimeError("records were lost: accepted + rejected != records read")
            parts = [results[part] for part in range(len(inputs))]
            if report is not None:
                summary = self.tally.report([result.source for result in parts])
                report.stream.write(json.dumps(summary, indent=2).encode() + b"\n")
                report.ready()
            # Interrupts wait for the commit and the removal of the temporary parts: an interrupted commit left
            # half of the parts without _SUCCESS, or a _temporary folder beside a complete output.
            with held_signals():
                self._commit(parts, targets)
                if report is not None:
                    report.publish()
                self.committed = True
                self._remove_temporary(targets, temporary)
        except BaseException:
            if not self.committed:
                self._abandon(abort, futures)
            raise
        finally:
            self._remove_temporary(targets, temporary)
            if not self.committed:  # a failed or interrupted run leaves no folder it made, not even an empty one
                for folder in made:
                    _remove_empty_folders(folder)
        return self.tally

    def _first_missing(self, target: str) -> str | None:
        """The outermost folder on a local output's path that does not exist yet (the run makes it), or None."""
        fs, root = filesystem(target, self.options.storage_options)
        if not is_local(fs):
            return None  # an object store has no folders, only the objects the run removes
        missing = None
        path = Path(root)
        while not path.exists() and path != path.parent:
            missing, path = path, path.parent
        return str(missing) if missing is not None else None

    def _remove_temporary(self, targets: dict[str, str], temporary: dict[str, str]) -> None:
        for role, target in targets.items():
            _remove(temporary[role], self.options.storage_options)
            _remove(f"{target}/{TEMPORARY}", self.options.storage_options, only_if_empty=True)

    def _abandon(self, abort: str, futures: list[Any], patience: float = 120) -> None:
        """Stop every task of a failed or interrupted run and wait until none can write any more: a task that is
        running sees the abort event at its next block and discards its part; one not yet started returns at
        once. Only then are the temporary parts removed, so none can appear afterwards."""
        from distributed import Event, wait  # noqa: PLC0415

        Event(abort, client=self.client).set()
        with contextlib.suppress(Exception):  # a timeout or a failed task: cancel what is left, clean up
            wait(futures, timeout=patience)
        self.client.cancel(futures, force=True)

    def _commit(self, parts: list[PartResult], targets: dict[str, str]) -> None:
        """Move each part to its final name in input order, then mark success: a reader that waits for `_SUCCESS`
        never sees a partial output."""
        placed: list[tuple[Any, str]] = []  # what this commit has put in place, removed if it cannot finish
        try:
            for role, target in targets.items():
                fs, root = filesystem(target, self.options.storage_options)
                moves = {
                    result.accepted_path if role == "accepted" else result.rejected_path: (
                        f"{root}/part-{result.part:0{PART_DIGITS}d}.jsonl"
                    )
                    for result in parts
                }
                placed += [(fs, final) for final in moves.values()]
                if getattr(fs, "async_impl", False):
                    # An object store has no rename: each move is a server-side copy, and one call makes them all
                    # at once instead of one after another.
                    fs.mv(list(moves), list(moves.values()))
                else:
                    for moved, final in moves.items():
                        fs.mv(moved, final)
                summary = self.tally.report([result.source for result in parts])
                placed.append((fs, f"{root}/{SUCCESS}"))
                with fs.open(f"{root}/{SUCCESS}", "wb") as marker:
                    marker.write(json.dumps({"parts": len(parts), **summary}, indent=2).encode() + b"\n")
        except BaseException:
            for fs, final in placed:
                with contextlib.suppress(Exception):
                    if fs.exists(final):
                        fs.rm(final)
            raise


def refuse_existing(role: str, target: str, storage_options: Mapping[str, Any]) -> None:
    """An output prefix must be empty or absent: a run never overwrites or mixes with earlier output."""
    fs, root = filesystem(target, storage_options)
    try:
        present = fs.exists(root) and fs.ls(root, detail=False)
    except FileNotFoundError:
        present = []
    present = [path for path in present or [] if path.rstrip("/").rsplit("/", 1)[-1] != TEMPORARY]
    if present:
        raise OutputExists(f"--{role} {target} already holds files; choose an empty or new location")
    # A _temporary folder is another run's: one whose driver is gone (killed with SIGKILL) is ignored, as nothing
    # of it is ever read; one whose driver may still be running stops this run, which would mix with it.
    try:
        runs = fs.ls(f"{root}/{TEMPORARY}", detail=False)
    except FileNotFoundError:
        runs = []
    for run in runs:
        driver = _driver_of(fs, run)
        if driver is not None and _may_be_running(driver):
            raise OutputExists(
                f"--{role} {target}: another import is writing here ({run.rstrip('/').rsplit('/', 1)[-1]}, driven by "
                f"process {driver.get('pid')} on {driver.get('host')}); wait for it, or remove {TEMPORARY} if it died"
            )


DRIVER_FILE: Final = "_DRIVER"


def _claim(folder: str, storage_options: Mapping[str, Any]) -> None:
    """Mark a run's temporary folder with its driver (host and process), so that another run can tell a folder in
    use from one a killed driver left."""
    fs, root = filesystem(folder, storage_options)
    fs.makedirs(root, exist_ok=True)
    fs.pipe_file(f"{root}/{DRIVER_FILE}", json.dumps({"host": socket.gethostname(), "pid": os.getpid()}).encode())


def _driver_of(fs: Any, run: str) -> dict[str, Any] | None:
    try:
        found = json.loads(fs.cat_file(f"{run.rstrip('/')}/{DRIVER_FILE}"))
    except (FileNotFoundError, ValueError):  # a driver killed before it marked its folder
        return None
    return found if isinstance(found, dict) else None


def _may_be_running(driver: dict[str, Any]) -> bool:
    """Whether the run's driver may still be running: surely not only when it was a process of this host that
    is gone."""
    pid = driver.get("pid")
    if driver.get("host") != socket.gethostname() or not isinstance(pid, int):
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove_empty_folders(top: str) -> None:
    """`top` and the folders below it, as long as they hold nothing else: what a run made and left empty."""
    for folder, _, _ in sorted(os.walk(top, topdown=False), key=lambda entry: -len(entry[0])):
        with contextlib.suppress(OSError):  # not empty (someone else's file) or gone: left as it is
            os.rmdir(folder)


def _remove(url: str, storage_options: Mapping[str, Any], only_if_empty: bool = False) -> None:
    try:
        fs, root = filesystem(url, storage_options)
        if fs.exists(root) and not (only_if_empty and fs.ls(root, detail=False)):
            fs.rm(root, recursive=True)
    except (FileNotFoundError, StorageError):
        pass


def start_client(address: str, timeout: float = DASK_TIMEOUT_SECONDS) -> tuple[Client, Callable[[], None]]:
    """A client for `--dask`: `local[:N]` starts a local cluster of N worker processes (default: one per CPU) on
    the loopback interface; anything else is a scheduler address, which must answer within `timeout` seconds
    (`ClusterError` otherwise, as for an address that names no scheduler). Returns it and what closes what was
    started."""
    try:
        from distributed import Client, LocalCluster  # noqa: PLC0415  # the optional extra
    except ImportError:  # pragma: no cover - the dev install has it
        raise StorageError("--dask needs dask.distributed: pip install 'runstep-validator[cluster]'") from None
    if address == "local" or address.startswith("local:"):
        count_text = address.partition(":")[2]
        if count_text and not (count_text.isdigit() and int(count_text) > 0):
            raise StorageError(f"--dask {address}: give local or local:N with N a positive number of workers")
        count = int(count_text) if count_text else None
        cluster = LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.CRITICAL,  # a failed task is reported once, by the driver, naming its record
        )
        client = Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()

        return client, close
    from distributed.comm.addressing import get_address_host_port  # noqa: PLC0415

    try:
        # Parsed first: Client itself, given an address it cannot parse, raised ValueError or (with another client
        # in the process) an AssertionError of its own, depending on its state.
        get_address_host_port(address)
    except ValueError as exc:  # a missing port, a port that is no number, an unknown scheme
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if reason.startswith("invalid literal for int()"):  # the port, read as a number
            reason = "its port is not a number"
        raise ClusterError(
            f"--dask {address}: not a scheduler address ({reason}); give tcp://HOST:PORT, or local or local:N"
        ) from None
    try:
        client = Client(address, timeout=timeout)
    except OSError:  # TimeoutError included: refused, unreachable, or silent until the timeout
        raise ClusterError(
            f"--dask {address}: no scheduler answered within {timeout:g} s (--dask-timeout); is it running?"
        ) from None
    return client, client.close
