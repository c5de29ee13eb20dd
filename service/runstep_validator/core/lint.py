"""Warnings: things a schema allows but that are probably wrong. They never change a verdict.

`lint()` reads a typed `RunStep` for suspicious facts: timestamps out of order, a status without its timestamp,
token sums that do not add up, unknown rankers and error codes, odd or repeated ids. (Unknown members and tool
types are named by `vocabulary.VocabularyWalker`, on the slow path.)
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Final, get_args

import msgspec
from msgspec import UNSET

from .delta_models import RunStepDelta
from .messages import excerpt, pointer
from .models import RunStep
from .report import OutputUnit
from .strict_models import KnownErrorCode, KnownRanker

KNOWN_RANKERS: Final = frozenset(get_args(KnownRanker))
KNOWN_ERROR_CODES: Final = frozenset(get_args(KnownErrorCode))
ID_PREFIXES: Final = (("id", "step_"), ("run_id", "run_"), ("assistant_id", "asst_"), ("thread_id", "thread_"))
ENDING_TIMESTAMPS: Final = ("completed_at", "cancelled_at", "failed_at", "expired_at", "expires_at")
STATUS_TIMESTAMPS: Final = {
    "completed": ("completed_at",),
    "cancelled": ("cancelled_at",),
    "failed": ("failed_at",),
    "expired": ("expired_at", "expires_at"),
}


def warning(path: tuple[str | int, ...], code: str, message: str) -> OutputUnit:
    return OutputUnit(instance_location=pointer(path), keyword_location="", error=message, code=code)


def lint(step: RunStep) -> tuple[OutputUnit, ...]:
    """Everything suspicious about a valid run step.

    This runs on every valid payload, so the common case (nothing to report) is a handful of C-level calls:
    attrgetter and map rather than Python loops, and nothing built until there is something to report."""
    found: list[OutputUnit] = []
    if not all(map(str.startswith, _identifiers(step), _ID_PREFIX_VALUES)):
        _lint_identifiers(step, found)
    _lint_lifecycle(step, found)
    usage = step.usage
    if usage is not None and usage is not UNSET and usage.total_tokens != usage.prompt_tokens + usage.completion_tokens:
        message = (
            f"total_tokens {excerpt(usage.total_tokens)} is not prompt_tokens + completion_tokens "
            f"({excerpt(usage.prompt_tokens)} + {excerpt(usage.completion_tokens)})"
        )
        found.append(warning(("usage", "total_tokens"), "token-sum", message))
    details = step.step_details
    if details.type == "tool_calls" and details.tool_calls:
        _lint_tool_calls(details.tool_calls, found)
    return tuple(found)


_identifiers = operator.attrgetter(*(name for name, _ in ID_PREFIXES))
_ID_PREFIX_VALUES: Final = tuple(prefix for _, prefix in ID_PREFIXES)
_ending_timestamps = operator.attrgetter(*ENDING_TIMESTAMPS)


def _lint_identifiers(step: RunStep, found: list[OutputUnit]) -> None:
    for name, prefix in ID_PREFIXES:
        value: str = getattr(step, name)
        if not value.startswith(prefix):
            found.append(warning((name,), "id-prefix", f"{excerpt(value)} does not start with {prefix!r}"))


def _lint_lifecycle(step: RunStep, found: list[OutputUnit]) -> None:
    created = step.created_at
    early = [value for value in _ending_timestamps(step) if type(value) is int and value < created]
    if early:
        for name in ENDING_TIMESTAMPS:
            value = getattr(step, name)
            if type(value) is int and value < created:
                found.append(
                    warning(
                        (name,), "timestamp-order", f"{name} {excerpt(value)} is before created_at {excerpt(created)}"
                    )
                )
    status = step.status
    error = step.last_error
    if error is not None and error is not UNSET and error.code not in KNOWN_ERROR_CODES:
        found.append(warning(("last_error", "code"), "unknown-value", f"unknown error code {excerpt(error.code)}"))
    if status == "in_progress":
        return
    expected = STATUS_TIMESTAMPS[status]
    for name in expected:
        value = getattr(step, name)
        if value is not None and value is not UNSET:
            break
    else:
        found.append(warning((expected[0],), "status-timestamp", f"status is {status!r} but {expected[0]} is not set"))
    if status == "failed" and (error is None or error is UNSET):
        found.append(warning(("last_error",), "status-error", "status is 'failed' but last_error is not set"))


def kind_of(struct: msgspec.Struct) -> object:
    """The protocol's name for a tagged Struct (its `type`), whatever dialect's class it is: the lint reads the
    protocol's words, so that each dialect's Structs get the same warnings."""
    return type(struct).__struct_config__.tag


def _lint_tool_calls(calls: Sequence[Any], found: list[OutputUnit]) -> None:
    seen: set[str] = set()
    for index, call in enumerate(calls):
        call_id = call.id
        if call_id in seen:
            found.append(
                warning(_call_path(index, "id"), "duplicate-id", f"tool call id {excerpt(call_id)} is repeated")
            )
        seen.add(call_id)
        if not call_id.startswith("call_"):
            found.append(
                warning(_call_path(index, "id"), "id-prefix", f"{excerpt(call_id)} does not start with 'call_'")
            )
        kind = kind_of(call)
        if kind == "retrieval":
            message = "retrieval is the v1 API's tool call, replaced by file_search: current SDKs cannot load it"
            found.append(warning(_call_path(index, "type"), "legacy-type", message))
        elif kind == "file_search":
            options = call.file_search.ranking_options
            if options is not UNSET and options.ranker not in KNOWN_RANKERS:
                where = _call_path(index, "file_search", "ranking_options", "ranker")
                found.append(warning(where, "unknown-value", f"unknown ranker {excerpt(options.ranker)}"))


def _call_path(index: int, *rest: str) -> tuple[str | int, ...]:
    return ("step_details", "tool_calls", index, *rest)


def lint_delta(delta: RunStepDelta) -> tuple[OutputUnit, ...]:
    """Everything suspicious about a valid delta: an odd step id, odd or repeated tool-call ids."""
    found: list[OutputUnit] = []
    if not delta.id.startswith("step_"):
        found.append(warning(("id",), "id-prefix", f"{excerpt(delta.id)} does not start with 'step_'"))
    calls: Sequence[Any] = getattr(delta.delta.step_details, "tool_calls", None) or ()  # tool-call details, any dialect
    if calls:
        for position, call in enumerate(calls):
            where = ("delta", "step_details", "tool_calls", position)
            if call.id is not UNSET and not call.id.startswith("call_"):
                found.append(warning((*where, "id"), "id-prefix", f"{excerpt(call.id)} does not start with 'call_'"))
            if call.index < 0:
                message = f"index {excerpt(call.index)} is negative: no fragment can be placed there"
                found.append(warning((*where, "index"), "negative-index", message))
    return tuple(found)
