"""Where records come from, for every command and route: files, folders, standard input, gzip, JSON documents and
JSON Lines. One rule decides the format everywhere: a name ending in .jsonl / .ndjson is JSON Lines, .json is a
JSON document; standard input and other names are detected from their first line, and a flag can force it.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, cast

import msgspec

from ..core.errors import LimitExceeded, RunStepValidatorError
from ..core.parsing import NOT_JSON, UTF8_BOM, strip_bom
from .documents import BLOCK_BYTES, iter_document_records
from .records import Record
from .storage import expand_url, filesystem, is_url

STDIN: Final = "-"
LINES_SUFFIXES: Final = (".jsonl", ".ndjson")
DOCUMENT_SUFFIXES: Final = (".json",)
GZIP_MAGIC: Final = b"\x1f\x8b"
# Folders that hold tools' state, never run steps: a search of a repository skips them (and every hidden folder).
SKIPPED_FOLDERS: Final = frozenset({"node_modules", "__pycache__", "venv", "site-packages", "build", "dist"})
SNIFF_BYTES: Final = 1 << 20

InputFormat = Literal["auto", "json", "jsonl", "sse"]
INPUT_FORMATS: Final[tuple[InputFormat, ...]] = ("auto", "json", "jsonl", "sse")
SSE_SUFFIXES: Final = (".sse",)


class SourceError(RunStepValidatorError):
    """A source that cannot be read: missing, a folder where a file is needed, or damaged gzip. Names it."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


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
    local: bool = True  # a file on this machine's disk, which workers can read at an offset themselves

    def position(self) -> int:
        return self.raw.tell() if self.name != STDIN else 0

    @property
    def is_plain_file(self) -> bool:
        return self.name != STDIN and self.local and not self.compressed

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
        magic, stream, raw, size = opened.peek(2)[:2], opened, opened, os.fstat(opened.fileno()).st_size
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
    name: str, magic: bytes, stream: BinaryIO, raw: BinaryIO, size: int | None, *, local: bool = True
) -> Source:
    """The opened input, gunzipped when it starts as gzip does."""
    if magic == GZIP_MAGIC:
        unzipped = cast(BinaryIO, _CheckedGzip(name, stream))
        return Source(name, unzipped, size, raw, True, [unzipped, raw], local=local)
    return Source(name, stream, size, raw, False, [raw], local=local)


def is_event_stream(name: str, forced: InputFormat = "auto") -> bool:
    """Whether a source is a Server-Sent Events transcript: by --input-format sse, or a name ending in .sse."""
    return forced == "sse" or (forced == "auto" and name.removesuffix(".gz").endswith(SSE_SUFFIXES))


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
    head = strip_bom(head).lstrip()
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

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size is None or size < 0:
            head, self._head = self._head, b""
            return head + self._stream.read()
        head, self._head = self._head[:size], self._head[size:]
        return head


def iter_lines(stream: BinaryIO, block_bytes: int = BLOCK_BYTES) -> Iterator[Record]:
    """JSON Lines: one record per non-blank line, its bytes and its line ending exactly as read."""
    index = number = 0
    carry = b""
    first = True
    while True:
        piece = stream.read(block_bytes)
        data = carry + piece
        if first and (len(data) >= len(UTF8_BOM) or not piece):
            data, first = strip_bom(data), False
        if piece:
            lines = data.split(b"\n")
            carry = lines.pop()
        else:
            lines, carry = ([data] if data else []), b""
        for line in lines:
            number += 1
            raw = line[:-1] if line.endswith(b"\r") else line
            if raw.strip():
                yield Record(index, number, raw, ending=line[len(raw) :] + (b"\n" if piece else b""))
                index += 1
        if not piece:
            return


def detect(source: Source, forced: InputFormat = "auto") -> tuple[Literal["json", "jsonl"], BinaryIO]:
    """The source's format, and its content stream from the start (what was read to tell is read again)."""
    stream: BinaryIO = source.stream
    stem = source.name.removesuffix(".gz")
    named = source.name != STDIN and stem.endswith(LINES_SUFFIXES + DOCUMENT_SUFFIXES)
    head = b""
    if forced == "auto" and not named:
        head = stream.read(SNIFF_BYTES)
        stream = _Prefixed(head, stream)  # type: ignore[assignment]
    return format_of(source.name, head, forced), stream


def iter_records(source: Source, forced: InputFormat = "auto") -> Iterator[Record]:
    """Every record of a source, streamed: JSON Lines line by line, JSON documents item by item."""
    kind, stream = detect(source, forced)
    return iter_lines(stream) if kind == "jsonl" else iter_document_records(stream)


def body_records(body: bytes, lines: bool, max_records: int | None = None) -> list[Record]:
    """The records of a request body: JSON Lines, or one JSON document (a run step, an array, a list response).
    With `max_records`, `LimitExceeded` as soon as one record more is found: what follows is never read."""
    stream = io.BytesIO(body)
    records = iter_lines(stream) if lines else iter_document_records(stream)
    if max_records is None:
        return list(records)
    kept = list(itertools.islice(records, max_records + 1))
    if len(kept) > max_records:
        raise LimitExceeded("records", max_records, f"the batch has more than the limit of {max_records} records")
    return kept
