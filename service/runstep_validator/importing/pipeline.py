"""Bulk validation for import pipelines: stream run steps from files, pass the valid ones on byte for byte, set
the invalid ones aside with their reasons, and account for every record.

`iter_validate()` is the library form; `Importer` drives the command line's `import` (parallel workers, atomic
outputs, a summary).
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import glob
import io
import json
import multiprocessing
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, BinaryIO, Final

import msgspec

from ..core.errors import RunStepValidatorError
from ..core.models import RunStep
from ..core.profile import Profile, selected, shipped_profile, untimed
from ..core.report import Report
from ..core.schemas import AUTO, DEFAULT_DIALECT
from ..sources.documents import iter_document_records
from ..sources.positions import placed
from ..sources.reading import (
    InputFormat,
    Source,
    SourceError,
    as_stream,
    detect,
    iter_lines,
    open_source,
    reading_errors_named,
    whole_lines,
)
from ..sources.records import MAX_RECORD_BYTES, Record, record_report
from ..sources.storage import filesystem, is_url

BLOCK_BYTES = 1 << 20  # input travels to workers about a megabyte at a time
_INDEX = re.compile(r"/\d+(?=/|$)")
_encoder = msgspec.json.Encoder()


# The library API ---------------------------------------------------------------------------------------------


class ImportResult(msgspec.Struct, frozen=True, gc=False):
    """One record: its 0-based index, 1-based line, verdict and report; `step` is the typed run step of a valid
    record (None when it is invalid, or valid only through vocabulary this version cannot type)."""

    index: int
    line: int
    valid: bool
    report: Report
    step: RunStep | None
    raw: bytes


def iter_validate(
    source: Iterable[bytes | str] | BinaryIO,
    schema: str = AUTO,
    *,
    strict: bool = False,
    dialect: str = DEFAULT_DIALECT,
    profile: Profile | None = None,
) -> Iterator[ImportResult]:
    """Validate JSON Lines one record at a time: `source` is a binary file or any iterable of lines. Blank
    lines are skipped; memory stays that of one record. A `profile` gives the whole selection instead of
    `schema`, `strict` and `dialect`, its time limit applying to each record. Errors and warnings are placed at
    their line and column, as every surface places them. `NotJsonLines` when the first line that is not blank holds
    only `{` or `[`: a pretty-printed value, refused as every surface refuses it."""
    chosen = selected(profile, schema, strict, dialect)
    for record in iter_lines(as_stream(source, lines=True)):
        report, step = chosen.check(record.raw)
        report = placed(report, record)  # at once when there is nothing to place
        yield ImportResult(record.index, record.line, report.valid, report, step if report.valid else None, record.raw)


# Reading inputs ------------------------------------------------------------------------------------------------


class Block(msgspec.Struct, frozen=True):
    """A run of whole lines of one input. Line `first_line + i` of the input is line `i` of `data`, unless
    `lines` numbers them (the members of a JSON document, flattened one per line, starting at `columns`; a member
    spread over several lines keeps its text as written in `written`, by line of `data`, so that a rejected
    record's errors are placed where the input has them). `offset` is where `data`
    starts in a plain file, so that a worker can read it there itself; None for gzip, streams and documents.
    `shared` is the path that opens the file the parent has open, `checksum` what the worker must find there."""

    source: str
    first_line: int
    data: bytes
    lines: list[int] | None = None
    columns: list[int] | None = None
    written: dict[int, bytes] = {}
    offset: int | None = None
    length: int = 0
    shared: str | None = None
    checksum: int = 0
    unreadable: Record | None = None  # the rest of a document whose structure broke, after the lines: rejected

    def for_worker(self) -> Block:
        """What crosses to a worker: for a plain file, where to read the block rather than its bytes (sending a
        megabyte through a pipe per block cost more than the second worker gained), and its checksum: a file
        rewritten in place while the run reads it must stop the run, never put other bytes under this block's
        verdicts."""
        if self.offset is None:
            return self
        checksum = zlib.crc32(self.data)
        return msgspec.structs.replace(self, data=b"", length=len(self.data), checksum=checksum)

    def record(self, offset: int, raw: bytes) -> Record:
        """The record on line `offset` of `data`, where the input has it: its line, column and text as written."""
        if self.lines is None or self.columns is None:
            return Record(offset, self.first_line + offset, raw)
        return Record(offset, self.lines[offset], self.written.get(offset, raw), self.columns[offset])

    def content(self) -> bytes:
        if self.data or self.offset is None:
            return self.data
        # The file the parent opened, not whatever the name means now: an input replaced by a rename during the
        # run is still read as it was opened.
        with open(self.shared or self.source, "rb") as stream:
            data = os.pread(stream.fileno(), self.length, self.offset)
        if len(data) != self.length or zlib.crc32(data) != self.checksum:
            raise SourceError(self.source, "the file changed while it was being read; nothing was written")
        return data


def blocks(
    source: Source,
    forced: InputFormat = "auto",
    block_bytes: int = BLOCK_BYTES,
    max_record_bytes: int | None = MAX_RECORD_BYTES,
) -> Iterator[Block]:
    """The source in blocks of about `block_bytes`, cut at line ends: JSON Lines as read; a JSON array or list
    response streamed item by item, its members one per line (memory stays that of a block either way). A
    record longer than `max_record_bytes` stops the source with a `SourceError` naming it and the line."""
    kind, stream, skipped = detect(source, forced, max_record_bytes)
    with reading_errors_named(source.name):
        if kind == "json":
            pending: list[Record] = []
            for record in iter_document_records(stream, max_record_bytes=max_record_bytes):
                if record.unreadable is not None:  # the last record: the document broke off there
                    yield _document_block(source.name, pending, record)
                    return
                pending.append(record)
                if len(pending) == 1000:
                    yield _document_block(source.name, pending)
                    pending = []
            if pending:
                yield _document_block(source.name, pending)
            return
        plain = source.is_plain_file
        shared = source.shared_path() if plain else None
        line, start = 1, skipped  # a worker reads the file itself: past the byte order mark, if any
        for run in whole_lines(stream, block_bytes, max_record_bytes):
            yield Block(source.name, line, run, offset=start if plain else None, shared=shared)
            line += run.count(b"\n")
            start += len(run)


def _identity(source: Source) -> tuple[int, int] | None:
    """What changes when a local file is written to: its size and modification time (None for other sources). Not
    its change time, which a rename over its name changes too, though the file read stays as it was."""
    if not source.is_plain_file:
        return None
    status = os.fstat(source.raw.fileno())
    return status.st_size, status.st_mtime_ns


def _document_block(name: str, records: list[Record], unreadable: Record | None = None) -> Block:
    flattened = [_one_line(record.raw) for record in records]
    pairs = enumerate(zip(records, flattened, strict=True))
    written = {offset: record.raw for offset, (record, flat) in pairs if flat is not record.raw}
    lines, columns = [r.line for r in records], [r.column for r in records]
    return Block(name, 1, b"\n".join(flattened), lines, columns, written, unreadable=unreadable)


def _one_line(raw: bytes) -> bytes:
    # Accepted records are written one per line: a member of a pretty-printed array loses the whitespace between
    # its tokens (msgspec.json.format keeps every token as written), and nothing else.
    if b"\n" not in raw:
        return raw
    try:
        return msgspec.json.format(raw, indent=-1)
    except msgspec.DecodeError:
        return raw.replace(b"\r", b" ").replace(b"\n", b" ")


# Validating in workers -----------------------------------------------------------------------------------------


PR_SET_PDEATHSIG: Final = 1  # from <linux/prctl.h>


_worker_profile: Profile | None = None  # what a pool worker validates against, from its start


def _start_worker(parent: int | None, profile: Profile) -> None:
    """A pool worker's start: interrupts are the parent's to decide, and the worker dies with its parent (a
    parent killed with SIGKILL runs no clean-up, and orphaned workers would otherwise live on forever)."""
    global _worker_profile  # noqa: PLW0603  # one per worker process, set once as it starts
    _worker_profile = profile
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:  # pragma: no cover - Linux is what is tested; elsewhere a thread watches for the parent
        threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    if parent is not None and os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _exit_when_orphaned(parent: int) -> None:  # pragma: no cover - not Linux
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _process_in_worker(block: Block, unwrap_rejected: bool) -> BlockResult:
    if _worker_profile is None:
        raise RuntimeError("a pool worker started without its profile")
    return process_block(_worker_profile, block, unwrap_rejected)


class BlockResult(msgspec.Struct, frozen=True):
    """What a worker sends back for a block. The parent still has the block, so the accepted records travel
    back only as what to leave out (`dropped`, by line offset) and what to write differently (`replaced`):
    sending them whole doubled the traffic between processes and cancelled the second worker's gain."""

    rejected: bytes
    dropped: list[int]
    replaced: dict[int, bytes]
    tally: Tally

    def accepted(self, block: Block) -> bytes:
        if block.lines == []:  # a document that broke off before its first record
            return b""
        lines = block.data.split(b"\n")
        for offset, raw in self.replaced.items():
            lines[offset] = raw
        for offset in reversed(self.dropped):  # few: the rejected records and blank lines
            del lines[offset]
        return b"\n".join(lines) + b"\n" if lines else b""


def process_block(profile: Profile, block: Block, unwrap_rejected: bool = False) -> BlockResult:
    """Validate every record of a block, render the rejected ones, count everything; runs in a worker (which
    unpickles the same profile, and so the same validators, for every block)."""
    validator = profile.validator
    rejected: list[dict[str, Any]] = []  # encoded together at the end: one call per block, not per record
    dropped: list[int] = []
    replaced: dict[int, bytes] = {}
    tally = Tally()
    clean = 0
    lines = block.content().split(b"\n") if block.lines != [] else []
    # A pretty-printed document's members are flattened onto one line each for the accepted output, but validated
    # as written: their errors, a syntax error's place included, are then where the input has them.
    written = block.written
    for offset, line in enumerate(lines):
        raw = line[:-1] if line.endswith(b"\r") else line
        if (not raw or raw.isspace()) and block.lines is None:  # a blank line; in a document, an empty record
            dropped.append(offset)
            continue
        unwrapped = False
        if unwrap_rejected and raw.startswith(b'{"source":'):
            record = unwrap_rejection(raw)
            unwrapped, raw = record is not raw, record
        report = validator.validate(written.get(offset, raw) if written and not unwrapped else raw)
        if report.valid:  # the common case, counted without a call; its warnings are never computed
            clean += 1
            if unwrapped:  # otherwise the line is passed on as read, its line ending included
                replaced[offset] = raw
            continue
        tally.count(report)
        if not unwrap_rejected and raw.startswith(b'{"source":') and unwrap_rejection(raw) is not raw:
            tally.rejected_file_lines += 1
        dropped.append(offset)
        where = block.record(offset, raw)
        rejected.append(_rejection_entry(block.source, where.line, raw, placed(report, where)))
    if block.unreadable is not None:
        report = placed(record_report(validator, block.unreadable), block.unreadable)
        tally.count(report)
        rejected.append(_rejection_entry(block.source, block.unreadable.line, block.unreadable.raw, report))
    tally.records += clean
    tally.accepted += clean
    return BlockResult(_encoder.encode_lines(rejected) if rejected else b"", dropped, replaced, tally)


# Writing outputs -----------------------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask


class OutputError(RunStepValidatorError):
    """An output that cannot be written where it was asked for (a read-only or full disk, a missing folder or
    bucket): one line naming the option and the reason."""

    def __init__(self, option: str, target: str | Path, reason: str) -> None:
        super().__init__(f"{option} {target}: {reason}")


def _partial_prefix(target: Path) -> str:
    return f".{target.name}.runstep-"


def _owner() -> str:
    """This process as a partial file's name gives it: the host (in a shared /tmp or on a shared disk a process id
    alone names a process of any host or container) and the process id."""
    return f"{re.sub(r'[^A-Za-z0-9-]', '-', socket.gethostname())}+{os.getpid()}"


def _remove_stale_partials(folder: Path, prefix: str) -> None:
    """Partial files that a run killed with SIGKILL (which no process can clean up after) left behind: named by
    their host and process id, removed once that process of this host is gone. What cannot be removed (another
    user's file) is left."""
    host = _owner().rpartition("+")[0]
    for leftover in folder.glob(f"{glob.escape(prefix)}*.partial"):
        owner_host, _, owner = leftover.name[len(prefix) :].split(".", 1)[0].rpartition("+")
        if owner_host != host or not owner.isdigit() or int(owner) == os.getpid():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            with suppress(OSError):
                leftover.unlink(missing_ok=True)
        except PermissionError:  # another user's live process
            continue


class AtomicFile:
    """Written under a temporary name beside its target and renamed over it only by `publish()`, once `ready()`
    has flushed it to disk: an interrupted run leaves no partial output, and a write that fails (a full disk)
    fails before any output is replaced."""

    def __init__(self, target: Path) -> None:
        self.target = target
        prefix = _partial_prefix(target)
        _remove_stale_partials(target.parent, prefix)
        handle, temporary = tempfile.mkstemp(prefix=f"{prefix}{_owner()}.", suffix=".partial", dir=target.parent)
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp makes it private; the output is a file like any other
        self.temporary = Path(temporary)
        self.stream = io.BufferedWriter(io.FileIO(handle, "wb"), buffer_size=1 << 20)

    def ready(self) -> None:
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()

    def publish(self) -> None:
        os.replace(self.temporary, self.target)

    def commit(self) -> None:
        self.ready()
        self.publish()

    def discard(self) -> None:
        with contextlib.suppress(OSError):  # a full disk fails the flush that closing attempts
            self.stream.close()
        self.temporary.unlink(missing_ok=True)


UPLOAD_PREFIX: Final = "runstep-validator-"


class AtomicUpload:
    """An output at a URL (object storage): written to a local temporary file, uploaded only by `publish()`.
    An object store's upload appears whole or not at all, so readers never see a partial output either."""

    def __init__(self, target: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.target = target
        self.fs, self.path = filesystem(target, storage_options)
        _remove_stale_partials(Path(tempfile.gettempdir()), UPLOAD_PREFIX)
        handle, temporary = tempfile.mkstemp(prefix=f"{UPLOAD_PREFIX}{_owner()}.", suffix=".partial")
        self.temporary = Path(temporary)
        self.stream = io.BufferedWriter(io.FileIO(handle, "wb"), buffer_size=1 << 20)

    def ready(self) -> None:
        self.stream.close()

    def publish(self) -> None:
        try:
            self.fs.put_file(str(self.temporary), self.path)
        finally:
            self.temporary.unlink(missing_ok=True)

    def commit(self) -> None:
        self.ready()
        self.publish()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.close()
        self.temporary.unlink(missing_ok=True)


def atomic_output(target: str | Path, storage_options: Mapping[str, Any] | None = None) -> AtomicFile | AtomicUpload:
    """The atomic writer for a path or a URL."""
    if isinstance(target, str) and is_url(target):
        return AtomicUpload(target, storage_options)
    return AtomicFile(Path(target))


HELD_SIGNALS: Final = frozenset({signal.SIGINT, signal.SIGTERM})


_holding: list[list[int]] = []  # while a commit holds interrupts: those that arrived (a stack: commits nest)


@contextmanager
def held_signals() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done: a commit is never cut in half. One that arrived meanwhile
    is raised as `Interrupted` as the block ends. Python runs signal handlers in the main thread whichever thread
    the signal reached (a Dask client's or a pool's), so the `interruptible()` handler defers it; the signal mask
    holds it off where no such handler is installed."""
    arrived: list[int] = []
    _holding.append(arrived)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        _holding.pop()
    if arrived and _holding:
        _holding[-1].extend(arrived)
    elif arrived:
        raise Interrupted(arrived[0])


class PartialCommit(OSError):
    """A commit that failed after some of its outputs were published. Outputs in two places (a local file and an
    object store, two buckets) cannot be published in one atomic step: this says exactly which are new and which
    are not (each of those still holds what it held before)."""

    def __init__(self, written: list[str], not_written: list[str], reason: str) -> None:
        self.written, self.not_written, self.reason = written, not_written, reason
        were = "was" if len(written) == 1 else "were"
        were_not, they = ("was not", "it") if len(not_written) == 1 else ("were not", "they")
        super().__init__(
            f"the outputs were written only in part: {' and '.join(written)} {were} written; "
            f"{' and '.join(not_written)} {were_not} ({reason}), and what {they} held before is unchanged"
        )


def commit_together(outputs: list[AtomicFile | AtomicUpload], on_committed: Callable[[], None]) -> None:
    """Every output on disk first (where a full disk shows), then all renamed or uploaded with interrupts held:
    none replaces an earlier one until all are ready, and on one filesystem they appear together or not at all.
    Uploads go first: a store or its network is what fails in practice, and while none has succeeded nothing is
    replaced; renames on a local disk, which hardly fail, come last. A publish that fails after another succeeded
    is a `PartialCommit` naming both. `on_committed` runs inside, so that an interrupt delivered after it knows
    the outputs are whole."""
    for output in outputs:
        output.ready()
    in_order = sorted(outputs, key=lambda output: not isinstance(output, AtomicUpload))
    with held_signals():
        for done, output in enumerate(in_order):
            try:
                output.publish()
            except OSError as exc:
                if not done:
                    raise
                written = [str(each.target) for each in in_order[:done]]
                not_written = [str(each.target) for each in in_order[done:]]
                raise PartialCommit(written, not_written, exc.strerror or str(exc)) from exc
        on_committed()


def created(option: str, target: str | Path, storage_options: Mapping[str, Any]) -> AtomicFile | AtomicUpload:
    """The atomic writer for an output, created now (before anything is read): one that cannot be written there is
    an `OutputError` naming the option."""
    try:
        return atomic_output(target, storage_options)
    except OSError as exc:
        raise OutputError(option, target, exc.strerror or str(exc)) from None


def _rejection_entry(source: str, line: int, raw: bytes, report: Report) -> dict[str, Any]:
    """One line of --rejected: where the record was, its text verbatim, and why it was rejected."""
    entry: dict[str, Any] = {"source": source, "line": line}
    try:
        entry["text"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        entry["text_base64"] = base64.b64encode(raw).decode()
    entry["errors"] = report.errors
    entry["warnings"] = report.warnings
    return entry


def unwrap_rejection(raw: bytes) -> bytes:
    """A line of a --rejected file stands for its record: fixed rejected lines can be imported again."""
    if not raw.startswith(b'{"source":'):
        return raw
    try:
        entry = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw
    text = entry.get("text") if isinstance(entry, dict) else None
    if isinstance(text, str) and "errors" in entry:
        return text.encode()
    return raw


# The run -------------------------------------------------------------------------------------------------------


class Interrupted(Exception):
    """SIGINT or SIGTERM during a run. The run that catches it says whether its outputs were committed whole
    before the signal was delivered (a signal during the commit waits for its end)."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


def _raise_interrupted(signal_number: int, frame: FrameType | None) -> None:
    if _holding:  # a commit is going on: it raises this when it is done
        _holding[-1].append(signal_number)
        return
    raise Interrupted(signal_number)


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Interrupted` inside the block, so that a run cleans up what it started (its
    temporary outputs, its cluster's tasks) before the command exits; the previous handlers come back after."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# Rejected records of one archive mostly fail at the same few places: each place's pattern is made once.
_PATTERNS_KEPT: Final = 4096
_patterns: dict[str, str] = {}


def _pattern_of(location: str) -> str:
    """An instance location with its array indexes as `*`, as the summary groups errors (`/` for the root)."""
    pattern = _patterns.get(location)
    if pattern is None:
        if len(_patterns) >= _PATTERNS_KEPT:  # locations of many different shapes: start again, never grow
            _patterns.clear()
        pattern = _patterns[location] = _INDEX.sub("/*", location) or "/"
    return pattern


class Tally(msgspec.Struct):
    """Every count the summary and --report state; records == accepted + rejected is checked at the end.
    Warnings are left out: an import sorts records by validity, and computing the warnings of every accepted
    record cost a fifth of its time. The rejected file carries each rejected record's warnings."""

    records: int = 0
    accepted: int = 0
    rejected: int = 0
    locations: dict[str, int] = msgspec.field(default_factory=dict)
    kinds: dict[str, int] = msgspec.field(default_factory=dict)
    rejected_file_lines: int = 0  # rejected records that are lines of a --rejected file, not unwrapped

    def count(self, report: Report) -> None:
        self.records += 1
        if report.valid:
            self.accepted += 1
            return
        self.rejected += 1
        for unit in report.errors:
            location = _pattern_of(unit.instance_location)
            self.locations[location] = self.locations.get(location, 0) + 1
            kind = unit.code or "error"
            self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def add(self, other: Tally) -> None:
        self.records += other.records
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.rejected_file_lines += other.rejected_file_lines
        for mine, theirs in ((self.locations, other.locations), (self.kinds, other.kinds)):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count

    def report(self, inputs: list[str], top: int = 10) -> dict[str, Any]:
        def ranked(counts: dict[str, int]) -> list[dict[str, Any]]:
            ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
            return [{"name": name, "count": count} for name, count in ordered]

        return {
            "inputs": inputs,
            "records": self.records,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "accounted": self.records == self.accepted + self.rejected,
            "top_error_locations": ranked(self.locations),
            "top_error_kinds": ranked(self.kinds),
        }


@dataclass
class Importer:
    """Reads inputs, validates records (in `workers` processes when more than one) in order, writes accepted
    and rejected records atomically, and tallies everything."""

    profile: Profile = field(default_factory=shipped_profile)  # what to validate against, and how
    workers: int = 1
    on_progress: Callable[[int, int], None] | None = None  # (bytes read, records read)
    block_bytes: int = BLOCK_BYTES
    input_format: InputFormat = "auto"
    unwrap_rejected: bool = False  # a line of a --rejected file stands for the record in its `text`
    stdin: BinaryIO | None = None
    storage_options: Mapping[str, Any] = field(default_factory=dict)  # for URLs, as fsspec takes them
    max_record_bytes: int = MAX_RECORD_BYTES  # a longer record stops the run (SourceError), before memory grows
    tally: Tally = field(default_factory=Tally)
    committed: bool = False

    def __post_init__(self) -> None:
        untimed(self.profile, "the import")

    def run(
        self, inputs: list[str], accepted: str | Path, rejected: str | Path, report: str | Path | None = None
    ) -> Tally:
        """Validate `inputs` into `accepted` and `rejected`, and the summary as JSON into `report`: all created
        before anything is read (an output that cannot be written is an `OutputError` then), all committed
        together at the end, or none. `committed` says which, also after an `Interrupted`."""
        outputs: list[AtomicFile | AtomicUpload] = []
        with interruptible():
            try:
                for option, target in (("--accepted", accepted), ("--rejected", rejected), ("--report", report)):
                    if target is not None:
                        outputs.append(created(option, target, self.storage_options))
                self._run(inputs, outputs[0].stream, outputs[1].stream)
                if self.tally.records != self.tally.accepted + self.tally.rejected:  # pragma: no cover - a bug
                    raise RuntimeError("records were lost: accepted + rejected != records read")
                if report is not None:
                    outputs[2].stream.write(json.dumps(self.tally.report(inputs), indent=2).encode() + b"\n")
                commit_together(outputs, self._committed)
            except BaseException:
                for output in outputs:
                    output.discard()
                raise
        return self.tally

    def _committed(self) -> None:
        self.committed = True

    def _run(self, inputs: list[str], accepted: IO[bytes], rejected: IO[bytes]) -> None:
        done_bytes = 0
        for name in inputs:
            with open_source(name, self.stdin, self.storage_options) as source:
                opened = _identity(source)
                pieces = blocks(source, self.input_format, self.block_bytes, self.max_record_bytes)
                for block, result in self._processed(pieces):
                    accepted.write(result.accepted(block))
                    rejected.write(result.rejected)
                    self.tally.add(result.tally)
                    if self.on_progress is not None:
                        self.on_progress(done_bytes + source.position(), self.tally.records)
                # Written to while it was read (in place: the blocks' checksums catch only what workers read after
                # the parent): its outputs would mix two versions of it.
                if opened is not None and _identity(source) != opened:
                    raise SourceError(name, "the file changed while it was being read; nothing was written")
                done_bytes += source.size or 0

    def _processed(self, pieces: Iterator[Block]) -> Iterator[tuple[Block, BlockResult]]:
        if self.workers <= 1:
            for block in pieces:
                yield block, process_block(self.profile, block, self.unwrap_rejected)
            return
        # Bounded and in order: at most two blocks per worker in flight, results taken oldest first.
        # A forked worker's parent is this process; a forkserver's worker's is the server, which exits with it.
        forked = multiprocessing.get_start_method() == "fork"
        # The profile crosses once per worker, not once per block: a custom schema set is tens of kilobytes.
        initargs = (os.getpid() if forked else None, self.profile)
        pool = ProcessPoolExecutor(self.workers, initializer=_start_worker, initargs=initargs)
        pending: deque[tuple[Block, Future[BlockResult]]] = deque()
        try:
            for block in pieces:
                future = pool.submit(_process_in_worker, block.for_worker(), self.unwrap_rejected)
                pending.append((block, future))
                if len(pending) >= 2 * self.workers:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
