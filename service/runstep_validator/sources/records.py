"""Splitting a body or a file into run-step records without parsing them: NDJSON lines, or the members of a JSON
array or of an API list response. Each record keeps its raw bytes and where it came from."""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import msgspec

from ..core.parsing import NOT_JSON, parse, strip_bom


class Record(msgspec.Struct, frozen=True, gc=False):
    """One payload: its 0-based `index` among the records, its 1-based `line` (and character `column`) in the
    input, its raw bytes exactly as read, and the line ending that followed it in JSON Lines (b"" for none)."""

    index: int
    line: int
    raw: bytes
    column: int = 1
    ending: bytes = b""


def split_lines(data: bytes) -> Iterator[Record]:
    """NDJSON / JSON Lines: one record per non-blank line; CRLF and a missing final newline are fine."""
    index = 0
    for number, line in enumerate(strip_bom(data).split(b"\n"), start=1):
        raw = line.rstrip(b"\r")
        if raw and not raw.isspace():
            yield Record(index, number, raw)
            index += 1


class _ListResponse(msgspec.Struct):
    data: list[msgspec.Raw]


_array = msgspec.json.Decoder(list[msgspec.Raw])
_list_response = msgspec.json.Decoder(_ListResponse)


def split_document(data: bytes) -> list[Record]:
    """The records of one JSON document: an array of run steps, an API list response `{"object": "list",
    "data": [...]}`, or a single run step. Raises `InvalidJSONError` if the document is not JSON."""
    data = strip_bom(data)
    start = data.lstrip()[:1]
    try:
        if start == b"[":
            raws = _array.decode(data)
        elif start == b"{" and b'"data"' in data:
            raws = _list_response.decode(data).data
        else:  # one run step, or something the validator will report as not JSON
            return [Record(0, 1, data)]
    except NOT_JSON:
        if start == b"[":
            parse(data)  # raises with the position of the syntax error
        return [Record(0, 1, data)]
    return list(_locate(data, [bytes(raw) for raw in raws]))


def _line_starts(data: bytes) -> list[int]:
    starts, at = [0], data.find(b"\n")
    while at != -1:
        starts.append(at + 1)
        at = data.find(b"\n", at + 1)
    return starts


def _locate(data: bytes, raws: list[bytes]) -> Iterator[Record]:
    # Records appear in order, so each is found after the previous one: identical records get their own lines.
    line_starts = _line_starts(data)
    position = 0
    for index, raw in enumerate(raws):
        found = data.find(raw, position)
        position = found + len(raw) if found >= 0 else position
        yield Record(index, bisect.bisect_right(line_starts, max(found, 0)), raw)
