"""Line and column of a JSON Pointer's value: for any document, pretty-printed or on one line, the offset found
for every location is where that location's value starts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runstep_validator.core.messages import pointer
from runstep_validator.sources.positions import line_and_column, value_offset

from .strategies import JSON_VALUES, paths

DOCUMENTS = st.recursive(
    JSON_VALUES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=30,
)


def value_at(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


@settings(max_examples=300, deadline=None)
@given(document=DOCUMENTS, indent=st.sampled_from([None, 2, "\t"]))
def test_every_location_is_found(document: Any, indent: int | str | None) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=indent is None)
    decoder = json.JSONDecoder()

    for path in paths(document):
        offset = value_offset(text, pointer(path))
        assert decoder.raw_decode(text, offset)[0] == value_at(document, path)


def test_deep_inside_nested_arrays() -> None:
    document = {"a": [[0, [1, 2, {"b": [3, {"c": "here"}]}]]]}
    pretty = json.dumps(document, indent=2)
    single = json.dumps(document)

    assert line_and_column(pretty, value_offset(pretty, "/a/0/1/2/b/1/c")) == (12, 20)
    assert line_and_column(single, value_offset(single, "/a/0/1/2/b/1/c")) == (1, 35)


def test_last_duplicate_key_counts_as_in_parsing() -> None:
    text = '{"a": 1,\n "a": 2}'

    assert line_and_column(text, value_offset(text, "/a")) == (2, 7)


def test_missing_location_falls_back_to_its_deepest_existing_parent() -> None:
    text = '{"a": {"b": 1}}'

    assert value_offset(text, "/a/zzz") == text.index('{"b"')
