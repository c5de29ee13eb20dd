"""The one exception vocabulary of runstep-validator: every error it raises derives from `RunStepValidatorError`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .suggestions import NearMisses, did_you_mean

if TYPE_CHECKING:
    from .report import Report


HOLDS_NO_EVENT: Final = "holds no event: a transcript has event: and data: lines, events ending at blank lines"


class RunStepValidatorError(Exception):
    """Base class of every error this package raises on purpose."""


class SchemaError(RunStepValidatorError):
    """The schemas in `schemas/` are broken: unreadable, not draft 2020-12, or with a `$ref` that does not resolve
    offline. Raised at start-up, never while validating a payload."""


class UnknownSchemaError(RunStepValidatorError):
    """A schema name that is not one of the entry schemas."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(_unknown("schema", name, known))
        self.name = name
        self.known = known


class UnknownDialectError(UnknownSchemaError):
    """A dialect that no entry schema declares (`x-dialect`): the family of entries automatic selection picks from."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(name, known)
        self.args = (_unknown("dialect", name, known),)


class RunStepDecodeError(RunStepValidatorError):
    """`decode()` could not produce a typed `RunStep`. `report` says why: either the payload is invalid, or it is
    valid only through vocabulary this version cannot type (a tool-call or output type it does not know)."""

    def __init__(self, report: Report) -> None:
        headline = report.headline or "payload uses vocabulary this version cannot type"
        super().__init__(headline)
        self.report = report


class LimitExceeded(RunStepValidatorError):
    """Input larger or slower than a configured limit: `kind` says which (events, seconds), `limit` its value."""

    def __init__(self, kind: str, limit: float, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.limit = limit
        self.detail = detail


class NotAnEventStream(RunStepValidatorError):
    """What was given as a Server-Sent Events transcript holds no event at all (an empty body, JSON, any other
    text): refused by every surface (the stream route's 400, the command line's unreadable file), not judged."""

    def __init__(self) -> None:
        super().__init__(f"not an event stream: it {HOLDS_NO_EVENT}")


class SchemaNotForStreams(RunStepValidatorError):
    """A schema named for an event stream, whose events name their own entries: refused by every surface (the
    stream route's 400, the command line's unreadable file, `validate_stream` with a profile that names one),
    where it was silently not applied."""

    def __init__(self) -> None:
        super().__init__(
            "a schema does not apply to an event stream: its events name their own entries; strict and dialect"
            " choose among them"
        )


class NotJsonLines(RunStepValidatorError):
    """What was given as JSON Lines starts with a value written across lines, as pretty printers write it (a line
    holding only its opening bracket: json.dumps(indent=n), JSON.stringify(v, null, n), jq without -c). Refused by
    every surface (the batch route's 400, the command line's unreadable file, the import's exit 2), not judged a
    line at a time, which made every line of it an error. `line` is that line, in the whole input."""

    def __init__(self, line: int, bracket: str) -> None:
        self.line = line
        self.bracket = bracket
        self.reason = (
            f"line {line} holds only '{bracket}', as pretty-printed JSON starts, where JSON Lines has each value whole "
            "on one line: convert it with jq -c ., or give a single value or an array as JSON"
        )
        super().__init__(f"not JSON Lines: {self.reason}")

    def __reduce__(self) -> tuple[Any, ...]:  # pickled whole: an exception crosses from a worker process so
        return (type(self), (self.line, self.bracket))


class InvalidJSONError(RunStepValidatorError):
    """Input that is not JSON: a syntax error, invalid UTF-8, NaN or Infinity, trailing data, empty input.

    `line` and `column` are 1-based and count characters; `offset` counts characters from the start. The exception
    says where; `message` is what a report's unit says, whose line and column say where."""

    def __init__(self, reason: str, line: int, column: int, offset: int) -> None:
        super().__init__(f"{invalid_json(reason)} at line {line}, column {column}")
        self.reason = reason
        self.line = line
        self.column = column
        self.offset = offset

    @property
    def message(self) -> str:
        return invalid_json(self.reason)


def invalid_json(reason: str) -> str:
    """What an invalid-JSON unit says, on every surface: why, not where (its line and column say that)."""
    return f"invalid JSON: {reason}"


def _unknown(kind: str, name: str, known: tuple[str, ...]) -> str:
    meant = NearMisses(known).meant(name)
    hint = f" ({did_you_mean(meant)})" if meant else ""
    return f"unknown {kind} {name!r}{hint}; known: {', '.join(known)}"
