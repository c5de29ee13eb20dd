"""Where records come from, for every command and route: files, folders, standard input, gzip, JSON documents and
JSON Lines. One rule decides the format everywhere: a name ending in .jsonl / .ndjson is JSON Lines, .json is a
JSON document; standard input and other names are detected from their first line, and a flag can force it.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, cast

import msgspec

from ..core.errors import LimitExceeded, NotJsonLines, RunStepValidatorError
from ..core.parsing import GZIP_MAGIC, NOT_JSON, UTF8_BOM, starts_like_transcript, strip_bom
from .documents import BLOCK_BYTES, iter_document_records
from .records import MAX_RECORD_BYTES, Record, RecordTooLarge
from .storage import expand_url, filesystem, is_url

STDIN: Final = "-"
LINES_SUFFIXES: Final = (".jsonl", ".ndjson")
DOCUMENT_SUFFIXES: Final = (".json",)
# Folders that hold tools' state, never run steps: a search of a repository skips them (and every hidden folder).
SKIPPED_FOLDERS: Final = frozenset({"node_modules", "__pycache__", "venv", "site-packages", "build", "dist"})
SNIFF_BYTES: Final = 1 << 20
TRANSCRIPT_HEAD_BYTES: Final = 64  # enough to see a transcript's first field past blank lines and a mark

InputFormat = Literal["auto", "json", "jsonl", "sse"]
INPUT_FORMATS: Final[tuple[InputFormat, ...]] = ("auto", "json", "jsonl", "sse")
SSE_SUFFIXES: Final = (".sse",)


class SourceError(RunStepValidatorError):
    """A source that cannot be read: missing, a folder where a file is needed, or damaged gzip. Names it."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:  # it crosses from an import's worker to the parent
        return (type(self), (self.name, self.reason))


def is_checkable(path: Path) -> bool:
    name = path.name.removesuffix(".gz")
    return name.endswith(DOCUMENT_SUFFIXES + LINES_SUFFIXES + SSE_SUFFIXES)


def _skipped(folder: str) -> bool:
    return folder.startswith(".") or folder in SKIPPED_FOLDERS


def expand(paths: Iterable[str], options: Mapping[str, Any] | None = None) -> Iterator[str]:
    """Files as given, the checkable files below each folder (sorted; hidden and tool folders skipped), and the
    files a URL's glob matches (sorted)."""
    for given in paths:
        if is_url(given):
            yield from expand_url(given, options)
        elif given != STDIN and Path(given).is_dir():
            found: list[str] = []
            for root, folders, files in os.walk(given):
                folders[:] = [folder for folder in folders if not _skipped(folder)]
                found += [os.path.join(root, name) for name in files if is_checkable(Path(name))]
            yield from sorted(found)
        else:
            yield given


class _CheckedGzip(gzip.GzipFile):
    """A GzipFile whose damage (truncation, corrupt deflate data, a wrong checksum) is one `SourceError`."""

    def __init__(self, name: str, fileobj: BinaryIO) -> None:
        super().__init__(fileobj=fileobj, mode="rb")
        self.source_name = name

    def read(self, size: int | None = -1) -> bytes:
        try:
            return super().read(size)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            reason = "the gzip data ends early" if isinstance(exc, EOFError) else f"damaged gzip data ({exc})"
            raise SourceError(self.source_name, reason) from None


@dataclass
class Source:
    """One opened input: its content as a binary stream (gunzipped), and how far into the file reading has got."""

    name: str
    stream: BinaryIO
    size: int | None
    raw: BinaryIO
    compressed: bool
    closers: list[BinaryIO] = field(default_factory=list)
    local: bool = True  # on this machine, not behind a URL
    regular: bool = False  # a regular file (seekable), not a pipe, FIFO, terminal or standard input

    def position(self) -> int:
        return self.raw.tell() if self.regular or not self.local else 0

    @property
    def is_plain_file(self) -> bool:
        """A regular local file, not gzipped: workers can read a block of it at its offset themselves. A FIFO or
        a process substitution (`<(...)`) cannot be read twice, so it is read here, in the parent, only."""
        return self.regular and self.local and not self.compressed

    def shared_path(self) -> str:
        """A path that opens the very file this process has open, even after its name was given to another
        file (replaced by a rename) or removed: /proc/<pid>/fd/<fd> on Linux; elsewhere its name."""
        fd = self.raw.fileno()
        return f"/proc/{os.getpid()}/fd/{fd}" if os.path.isdir("/proc/self/fd") else self.name

    def close(self) -> None:
        for closer in self.closers:
            closer.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_source(name: str, stdin: BinaryIO | None = None, options: Mapping[str, Any] | None = None) -> Source:
    """The named file, a URL (read through fsspec with `options`), or standard input for `-`; gunzipped when it
    starts as gzip does. `SourceError` if it cannot be read."""
    if is_url(name):
        return _open_url(name, options)
    if name == STDIN:
        raw = stdin if stdin is not None else os.fdopen(os.dup(0), "rb")
        magic = raw.read(len(GZIP_MAGIC))
        stream, size = cast(BinaryIO, _Prefixed(magic, raw)), None
    else:
        path = Path(name)
        if path.is_dir():
            raise SourceError(name, "is a folder; name the files in it")
        try:
            opened = open(path, "rb")  # noqa: SIM115  # closed by Source.close
        except OSError as exc:
            raise SourceError(name, exc.strerror or str(exc)) from None
        status = os.fstat(opened.fileno())
        regular = stat.S_ISREG(status.st_mode)
        magic, stream, raw = opened.peek(2)[:2], opened, opened
        return _source(name, magic, stream, raw, status.st_size if regular else None, regular=regular)
    return _source(name, magic, stream, raw, size)


def _open_url(name: str, options: Mapping[str, Any] | None) -> Source:
    fs, path = filesystem(name, options)
    try:
        size = fs.size(path)
        opened = cast(BinaryIO, fs.open(path, "rb", block_size=1 << 22))
    except (OSError, ValueError) as exc:
        raise SourceError(name, str(exc) or type(exc).__name__) from None
    magic = opened.read(len(GZIP_MAGIC))
    return _source(name, magic, cast(BinaryIO, _Prefixed(magic, opened)), opened, size, local=False)


def _source(
    name: str,
    magic: bytes,
    stream: BinaryIO,
    raw: BinaryIO,
    size: int | None,
    *,
    local: bool = True,
    regular: bool = False,
) -> Source:
    """The opened input, gunzipped when it starts as gzip does."""
    if magic == GZIP_MAGIC:
        unzipped = cast(BinaryIO, _CheckedGzip(name, stream))
        return Source(name, unzipped, size, raw, True, [unzipped, raw], local=local, regular=regular)
    return Source(name, stream, size, raw, False, [raw], local=local, regular=regular)


def is_event_stream(name: str, forced: InputFormat = "auto") -> bool:
    """Whether a source is a Server-Sent Events transcript: by --input-format sse, or a name ending in .sse."""
    return forced == "sse" or (forced == "auto" and name.removesuffix(".gz").endswith(SSE_SUFFIXES))


def told_by_content(name: str, forced: InputFormat = "auto") -> bool:
    """Whether only its content can tell what an input is: standard input, or a name with no known suffix, and no
    --input-format."""
    stem = name.removesuffix(".gz")
    return forced == "auto" and (name == STDIN or not stem.endswith(LINES_SUFFIXES + DOCUMENT_SUFFIXES + SSE_SUFFIXES))


def as_event_stream(name: str, forced: InputFormat, stream: BinaryIO) -> tuple[bool, BinaryIO]:
    """Whether an input is a Server-Sent Events transcript: by `is_event_stream`, or, when only its content can
    tell, by its first line (an SSE field or comment, as no JSON text starts); and the stream to read from then on,
    from its content's start again."""
    if is_event_stream(name, forced):
        return True, stream
    if not told_by_content(name, forced):
        return False, stream
    again, head, _ = content(stream, TRANSCRIPT_HEAD_BYTES)
    return starts_like_transcript(head), again


def format_of(name: str, head: bytes, forced: InputFormat = "auto") -> Literal["json", "jsonl"]:
    """JSON Lines or one JSON document. By the name's suffix; for standard input and other names by the content:
    JSON Lines when the first line is a whole JSON value and more follows it."""
    if forced in ("json", "jsonl"):
        return forced
    stem = name.removesuffix(".gz")
    if name != STDIN and stem.endswith(LINES_SUFFIXES):
        return "jsonl"
    if name != STDIN and stem.endswith(DOCUMENT_SUFFIXES):
        return "json"
    head = head.lstrip()
    first, newline, rest = head.partition(b"\n")
    if not newline or not rest.strip():
        return "json"
    try:
        msgspec.json.decode(first)
    except NOT_JSON:
        return "json"
    return "jsonl"


class _Prefixed:
    """A stream whose first bytes were already read (to detect its format): they come first again."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def close(self) -> None:
        self._stream.close()

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size is None or size < 0:
            head, self._head = self._head, b""
            return head + self._stream.read()
        head, self._head = self._head[:size], self._head[size:]
        if len(head) < size:  # the bytes already read are fewer than asked for: the rest comes from the stream
            head += self._stream.read(size - len(head))
        return head


def whole_lines(
    stream: BinaryIO, block_bytes: int = BLOCK_BYTES, max_record_bytes: int | None = None
) -> Iterator[bytes]:
    """The stream in runs of whole lines of about `block_bytes` (each ends with a newline; the last run is what
    follows the last newline, if anything). A line that is not ended yet is kept as a list of pieces and joined
    once, so every byte is copied a bounded number of times however long the line; past `max_record_bytes` it
    raises `RecordTooLarge` before reading on (an endless line, a gzip bomb, stop there). `NotJsonLines` when the
    first line that is not blank holds only an opening bracket: a pretty-printed value, not JSON Lines."""
    pending: list[bytes] = []  # the pieces of a line that has not ended yet
    pending_bytes = 0
    line = 1  # where the first line of the next run starts
    first_seen = False  # whether the first line that is not blank was looked at
    while piece := stream.read(block_bytes):
        cut = piece.rfind(b"\n") + 1
        if not cut:
            pending.append(piece)
            pending_bytes += len(piece)
            if max_record_bytes is not None and pending_bytes > max_record_bytes:
                raise RecordTooLarge(line, max_record_bytes)
            continue
        run = b"".join([*pending, piece[:cut]]) if pending else piece[:cut]
        first_seen = first_seen or _refuse_pretty_first_line(run, line)
        yield from _within_limit(run, line, max_record_bytes)
        rest = piece[cut:]
        pending, pending_bytes = ([rest], len(rest)) if rest else ([], 0)
        line += run.count(b"\n")
    if pending:
        run = b"".join(pending)
        first_seen = first_seen or _refuse_pretty_first_line(run, line)
        yield from _within_limit(run, line, max_record_bytes)


_LONE_BRACKETS: Final = (b"{", b"[")


def _refuse_pretty_first_line(run: bytes, line: int) -> bool:
    """Whether the run (of whole lines, from `line`) holds a line that is not blank, after refusing the first such
    line when it holds only an opening bracket: a line no JSON Lines record can be, and the first line of every
    pretty printer's output. Judged a line at a time, such input made every line an error. Blank is what
    `iter_lines` skips."""
    position = 0
    while position < len(run):
        end = run.find(b"\n", position)
        end = len(run) if end < 0 else end
        first = run[position:end].strip()
        if first:
            if first in _LONE_BRACKETS:
                raise NotJsonLines(line, first.decode())
            return True
        position, line = end + 1, line + 1
    return False


def _within_limit(run: bytes, line: int, max_record_bytes: int | None) -> Iterator[bytes]:
    """The run (of whole lines, from `line`); where a line is longer than the limit, the lines before it, then
    `RecordTooLarge`: the records before it are read, as a document's items before one too large are."""
    if max_record_bytes is None or len(run) <= max_record_bytes:  # the common case: no line can be too long
        yield run
        return
    start = 0
    while start < len(run):
        end = run.find(b"\n", start)
        end = len(run) if end == -1 else end
        if end - start > max_record_bytes:
            if start:
                yield run[:start]
            raise RecordTooLarge(line + run.count(b"\n", 0, start), max_record_bytes)
        start = end + 1
    yield run


def iter_lines(
    stream: BinaryIO, block_bytes: int = BLOCK_BYTES, max_record_bytes: int | None = None
) -> Iterator[Record]:
    """JSON Lines: one record per non-blank line, its bytes and its line ending exactly as read."""
    index = number = 0
    for run in whole_lines(stream, block_bytes, max_record_bytes):
        lines = run.split(b"\n")
        last = lines.pop()  # b"" after a final newline; otherwise the input's last line, which has none
        ended = [(line, b"\n") for line in lines]
        if last:
            ended.append((last, b""))
        for line, newline in ended:
            number += 1
            raw = line[:-1] if line.endswith(b"\r") else line
            if raw.strip():
                yield Record(index, number, raw, ending=line[len(raw) :] + newline)
                index += 1


def read_fully(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, or fewer only at the end: a pipe's or a raw file's read may give fewer than asked for."""
    pieces: list[bytes] = []
    wanted = size
    while wanted > 0 and (piece := stream.read(wanted)):
        pieces.append(piece)
        wanted -= len(piece)
    return b"".join(pieces)


def content(
    stream: BinaryIO, head_bytes: int = len(UTF8_BOM), first_line_within: int = 0
) -> tuple[BinaryIO, bytes, int]:
    """The input's content from its start, its first `head_bytes` (fewer at its end; what decides its format) and
    how many bytes came before it; with `first_line_within`, the head holds at least the first line when it is no
    longer than that. The one rule for byte order marks: RFC 8259 lets a reader ignore one at the start, and
    editors on Windows write one, so it is left out here, for every input, and nowhere else."""
    head = read_fully(stream, max(head_bytes, len(UTF8_BOM)))
    while len(head) < first_line_within and b"\n" not in head.lstrip():  # a first record longer than one read
        more = read_fully(stream, len(head))  # doubling: every byte is copied a bounded number of times
        if not more:
            break
        head += more
    stripped = strip_bom(head)
    return cast(BinaryIO, _Prefixed(stripped, stream)), stripped, len(head) - len(stripped)


class _Pieces:
    """Bytes or text handed over piece by piece, read as a binary stream: chunks cut anywhere, or lines (each a
    line whether or not it ends with a newline)."""

    def __init__(self, pieces: Iterable[bytes | str], lines: bool) -> None:
        self._pieces = iter(pieces)
        self._lines = lines
        self._held = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._held) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            raw = piece.encode() if isinstance(piece, str) else bytes(piece)
            self._held += raw + b"\n" if self._lines and not raw.endswith(b"\n") else raw
        taken = bytes(self._held if size < 0 else self._held[:size])
        del self._held[: len(taken)]
        return taken


def as_stream(source: bytes | BinaryIO | Iterable[bytes | str], lines: bool = False) -> BinaryIO:
    """What a library caller hands over (bytes, a binary file, an iterable of chunks or, with `lines`, of lines)
    as the binary stream every reader here takes, from its content's start (see `content`)."""
    if isinstance(source, bytes | bytearray | memoryview):
        stream: BinaryIO = io.BytesIO(source)
    elif hasattr(source, "read") and not isinstance(source, io.TextIOBase):  # a text file is an iterable of lines
        stream = cast(BinaryIO, source)
    else:
        stream = cast(BinaryIO, _Pieces(source, lines))
    return content(stream)[0]


def detect(
    source: Source, forced: InputFormat = "auto", max_record_bytes: int | None = MAX_RECORD_BYTES
) -> tuple[Literal["json", "jsonl"], BinaryIO, int]:
    """The source's format, its content stream from the start (what was read to tell is read again) and the bytes
    before its content (a byte order mark), to be skipped. Content is told by its first line, read whole."""
    sniffing = told_by_content(source.name, forced)
    within = max_record_bytes if max_record_bytes is not None else MAX_RECORD_BYTES
    stream, head, skipped = content(source.stream, SNIFF_BYTES, within) if sniffing else content(source.stream)
    return format_of(source.name, head, forced), stream, skipped


def iter_records(source: Source, forced: InputFormat = "auto", max_record_bytes: int | None = None) -> Iterator[Record]:
    """Every record of a source, streamed: JSON Lines line by line, JSON documents item by item. A record longer
    than `max_record_bytes` stops the source with a `SourceError` naming it and the record's line."""
    kind, stream, _ = detect(source, forced, max_record_bytes)
    with reading_errors_named(source.name):
        if kind == "jsonl":
            yield from iter_lines(stream, max_record_bytes=max_record_bytes)
        else:
            yield from iter_document_records(stream, max_record_bytes=max_record_bytes)


@contextmanager
def reading_errors_named(name: str) -> Iterator[None]:
    """A `RecordTooLarge` or `NotJsonLines` from reading `name` as the `SourceError` that names it."""
    try:
        yield
    except (RecordTooLarge, NotJsonLines) as exc:
        raise SourceError(name, str(exc)) from None


def body_records(body: bytes, lines: bool, max_records: int | None = None) -> list[Record]:
    """The records of a request body: JSON Lines, or one JSON document (a run step, an array, a list response),
    read as the command line reads a file: a document whose structure breaks ends with an unreadable record holding
    the rest. With `max_records`, `LimitExceeded` as soon as one record more is found: what follows is never read."""
    stream, _, _ = content(io.BytesIO(body))
    records = iter_lines(stream) if lines else iter_document_records(stream)
    kept = list(records if max_records is None else itertools.islice(records, max_records + 1))
    if max_records is not None and len(kept) > max_records:
        raise LimitExceeded("records", max_records, f"the batch has more than the limit of {max_records} records")
    return kept
