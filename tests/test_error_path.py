"""The error path's work, counted rather than timed: what an invalid payload costs beyond the engine itself."""

from __future__ import annotations

import collections
import enum
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from runstep_validator import validate as placed_where_given
from runstep_validator.core import auto, engine, parsing
from runstep_validator.core.errors import InvalidJSONError
from runstep_validator.core.profile import shipped_profile
from runstep_validator.importing import pipeline
from runstep_validator.importing.pipeline import Block, process_block

validate = shipped_profile().validate  # the report alone, unplaced

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class Counting:
    """A decoder that counts its calls."""

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.calls = 0

    def decode(self, data: Any) -> Any:
        self.calls += 1
        return self.decoder.decode(data)


def test_an_invalid_run_step_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = Counting(parsing._decoder)
    objects_read = Counting(auto._object_of)
    monkeypatch.setattr(parsing, "_decoder", parsed)
    monkeypatch.setattr(auto, "_object_of", objects_read)

    report = validate((EXAMPLES / "invalid_tool_calls.json").read_bytes())

    assert not report.valid
    assert (parsed.calls, objects_read.calls) == (1, 0)  # its `object` is read from the parsed value


@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
@pytest.mark.parametrize("padding", [0, 10_000], ids=["small", "large"])  # counted, or searched for
def test_the_depth_limit_counts_brackets_of_both_kinds(opener: bytes, padding: int) -> None:
    def nested(depth: int) -> bytes:
        inner = b'[{"b":' * (depth // 2) + b'"' + b"x" * padding + b'"' + b"}]" * (depth // 2)
        return opener + inner + (b"]" if opener == b"[" else b"}")

    assert parsing.parse(nested(64 - 1), 64) is not None  # 63 + 1 levels: at the limit
    with pytest.raises(InvalidJSONError, match="nested deeper than the limit of 64 levels"):
        parsing.parse(nested(64 + 1), 64)


class CountingEncoder:
    """An encoder that counts its calls, whole or by lines."""

    def __init__(self, encoder: msgspec.json.Encoder) -> None:
        self.encoder = encoder
        self.calls = 0

    def encode(self, value: Any) -> bytes:
        self.calls += 1
        return self.encoder.encode(value)

    def encode_lines(self, values: Any) -> bytes:
        self.calls += 1
        return self.encoder.encode_lines(values)


def test_a_block_of_rejected_records_is_encoded_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    invalid = msgspec.json.encode(msgspec.json.decode((EXAMPLES / "invalid_tool_calls.json").read_bytes()))
    valid = msgspec.json.encode(msgspec.json.decode((EXAMPLES / "tool_calls_function.json").read_bytes()))
    block = Block("steps.jsonl", 1, b"\n".join([invalid, valid, invalid, b"[]", invalid]) + b"\n")
    encoder = CountingEncoder(pipeline._encoder)
    monkeypatch.setattr(pipeline, "_encoder", encoder)

    result = process_block(shipped_profile(), block)

    assert encoder.calls == 1
    lines = result.rejected.splitlines()
    assert [msgspec.json.decode(line)["line"] for line in lines] == [1, 3, 4, 5]
    assert lines[0] == msgspec.json.encode(
        {
            "source": "steps.jsonl",
            "line": 1,
            "text": invalid.decode(),
            "errors": placed_where_given(invalid).errors,  # line 1 of the block: placed as the record alone is
            "warnings": placed_where_given(invalid).warnings,
        }
    )
    assert (result.tally.rejected, result.tally.accepted, result.dropped) == (4, 1, [0, 2, 3, 4, 5])


class _Level(enum.IntEnum):
    LOW = 1


class _Word(enum.StrEnum):
    HELLO = "hello"


@pytest.mark.parametrize(
    "value",
    [
        collections.OrderedDict(a=1),
        collections.defaultdict(list, a=[1]),
        _Level.LOW,
        _Word.HELLO,
        True,
        5.0,
        2.5,
        None,
        [1],
    ],
    ids=repr,
)
def test_an_already_parsed_value_has_the_json_types_of_its_json(value: Any) -> None:
    """The best match weighs an error by whether its schema accepts the value's type: a value handed over parsed
    (an OrderedDict, an IntEnum) must count as the JSON it stands for, or the same payload gets another headline."""
    assert engine.json_types(value) == engine.json_types(json.loads(json.dumps(value)))
