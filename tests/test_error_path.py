"""The error path's work, counted rather than timed: what an invalid payload costs beyond the engine itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runstep_validator import validate
from runstep_validator.core import auto, parsing
from runstep_validator.core.errors import InvalidJSONError

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
def test_the_depth_limit_counts_brackets_of_both_kinds(opener: bytes) -> None:
    def nested(depth: int) -> bytes:
        inner = b'[{"b":' * (depth // 2) + b"1" + b"}]" * (depth // 2)
        return opener + inner + (b"]" if opener == b"[" else b"}")

    assert parsing.parse(nested(64 - 1), 64) is not None  # 63 + 1 levels: at the limit
    with pytest.raises(InvalidJSONError, match="nested deeper than the limit of 64 levels"):
        parsing.parse(nested(64 + 1), 64)
