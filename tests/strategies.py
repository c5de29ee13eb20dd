"""Hypothesis strategies: valid run steps for either entry schema, JSON values, and mutations of documents."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
RUN_STEP_MEMBERS = frozenset(
    {"id", "object", "created_at", "run_id", "assistant_id", "thread_id", "type", "status", "step_details"}
    | {"last_error", "expired_at", "expires_at", "cancelled_at", "failed_at", "completed_at", "metadata", "usage"}
)
STATUSES = ["in_progress", "cancelled", "failed", "completed", "expired"]
timestamps = st.integers(min_value=0, max_value=2**40) | st.integers()
nullable_timestamps = st.none() | timestamps
strings = st.text(max_size=20)
token_counts = st.integers(min_value=0, max_value=10**9)
scores = st.floats(min_value=0, max_value=1) | st.sampled_from([0, 1])


def _optional(draw: st.DrawFn, target: dict[str, Any], key: str, values: st.SearchStrategy[Any], strict: bool) -> None:
    # Strict requires every member; the tolerant schema also accepts it absent.
    if strict or draw(st.booleans()):
        target[key] = draw(values)


@st.composite
def outputs(draw: st.DrawFn, strict: bool) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"type": "logs", "logs": draw(strings)}
    return {"type": "image", "image": {"file_id": draw(strings)}}


@st.composite
def tool_calls(draw: st.DrawFn, strict: bool) -> dict[str, Any]:
    kinds = ["code_interpreter", "file_search", "function"] + ([] if strict else ["retrieval", "unknown"])
    kind = draw(st.sampled_from(kinds))
    call_id = draw(st.sampled_from(["call_1", "call_2"]) | strings)
    if kind == "code_interpreter":
        details: dict[str, Any] = {"input": draw(strings), "outputs": draw(st.lists(outputs(strict), max_size=3))}
    elif kind == "file_search":
        details = {}
        rankers = st.sampled_from(["auto", "default_2024_08_21"]) if strict else strings
        if draw(st.booleans()):
            details["ranking_options"] = {"ranker": draw(rankers), "score_threshold": draw(scores)}
        if draw(st.booleans()):
            result: dict[str, Any] = {"file_id": draw(strings), "file_name": draw(strings), "score": draw(scores)}
            if draw(st.booleans()):
                result["content"] = [{"type": "text", "text": draw(strings)}]
            if not strict and draw(st.booleans()):
                result["attributes"] = draw(st.dictionaries(strings, st.booleans() | strings | st.integers()))
            details["results"] = [result]
    elif kind == "function":
        details = {"name": draw(strings), "arguments": draw(strings)}
        _optional(draw, details, "output", st.none() | strings, strict)
    elif kind == "retrieval":
        details = {}
    else:
        kind = draw(strings.filter(lambda s: s not in {"code_interpreter", "file_search", "function", "retrieval"}))
        return {"id": call_id, "type": kind, kind: draw(JSON_VALUES)}
    return {"id": call_id, "type": kind, kind: details}


@st.composite
def run_steps(draw: st.DrawFn, strict: bool = False) -> dict[str, Any]:
    """A run step valid under `run_step.strict` (strict=True) or `run_step` (strict=False)."""
    step_type = draw(st.sampled_from(["message_creation", "tool_calls"]))
    if step_type == "message_creation":
        details: dict[str, Any] = {"type": step_type, "message_creation": {"message_id": draw(strings)}}
    else:
        details = {"type": step_type, "tool_calls": draw(st.lists(tool_calls(strict), max_size=4))}
    step: dict[str, Any] = {
        "id": draw(st.just("step_1") | strings),
        "object": "thread.run.step",
        "created_at": draw(timestamps),
        "run_id": draw(strings),
        "assistant_id": draw(strings),
        "thread_id": draw(strings),
        "type": step_type,
        "status": draw(st.sampled_from(STATUSES)),
        "step_details": details,
    }
    errors = st.fixed_dictionaries(
        {"code": st.sampled_from(["server_error", "rate_limit_exceeded"]) if strict else strings, "message": strings}
    )
    _optional(draw, step, "last_error", st.none() | errors, strict)
    for name in ("expired_at", "cancelled_at", "failed_at", "completed_at"):
        _optional(draw, step, name, nullable_timestamps, strict)
    if not strict:
        _optional(draw, step, "expires_at", nullable_timestamps, strict)
    metadata = st.dictionaries(st.text(max_size=64), st.text(max_size=512), max_size=16)
    _optional(draw, step, "metadata", st.none() | metadata, strict)
    counts: dict[str, st.SearchStrategy[Any]] = {
        "prompt_tokens": token_counts,
        "completion_tokens": token_counts,
        "total_tokens": token_counts,
    }
    details_counts = st.dictionaries(strings, token_counts, max_size=2)
    optional: dict[str, st.SearchStrategy[Any]] = (
        {} if strict else {"prompt_token_details": details_counts, "completion_tokens_details": details_counts}
    )
    usage = st.fixed_dictionaries(counts, optional=optional)
    _optional(draw, step, "usage", st.none() | usage, strict)
    if not strict and draw(st.booleans()):
        step[draw(strings.filter(lambda key: key not in RUN_STEP_MEMBERS))] = draw(JSON_VALUES)
    return step


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a document, the root included."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


def replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {**document, head: replace(document[head], rest, value)}
    copy = list(document)
    copy[head] = replace(document[head], rest, value)
    return copy


def delete(document: Any, path: tuple[Any, ...]) -> Any:
    parent_path, key = path[:-1], path[-1]
    parent = document
    for part in parent_path:
        parent = parent[part]
    if isinstance(parent, dict):
        smaller: Any = {k: v for k, v in parent.items() if k != key}
    else:
        smaller = [v for i, v in enumerate(parent) if i != key]
    return replace(document, parent_path, smaller)


NEAR_MISSES: list[Any] = [-1, 0, 1, 1.5, 2, 5.0, -0.1, "", "x" * 513, None, [], {}, True, 10**20, "thread.run.step"]
SWAPS = ["message_creation", "tool_calls", "code_interpreter", "file_search", "function", "retrieval", "logs", "image"]


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """The document with one change at one location: a new value of any type, a near-miss value, a swapped
    variant tag, a deleted member or an added one."""
    path = draw(st.sampled_from(paths(document)))
    current: Any = document
    for part in path:
        current = current[part]
    how = draw(st.sampled_from(["replace", "near-miss", "swap", "delete", "add"]))
    if how == "delete" and path:
        return delete(document, path)
    if how == "add" and isinstance(current, dict):
        return replace(document, path, {**current, draw(strings): draw(JSON_VALUES)})
    if how == "swap":
        return replace(document, path, draw(st.sampled_from(SWAPS)))
    if how == "near-miss":
        return replace(document, path, draw(st.sampled_from(NEAR_MISSES)))
    return replace(document, path, draw(JSON_VALUES))
