"""Checking a stream of run events as a whole: each run-step event against the entry its name implies and against
its name, the order of each step's events, and the deltas of each step added up, as the official SDKs add them up,
and held to the step's final event.

The input layer frames the transcript (`sources.sse`) and hands over `Event`s; `StreamChecker.finish()` returns the
`StreamReport`. Nothing here reads a file or knows about HTTP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from .errors import SchemaNotForStreams
from .messages import excerpt, excerpt_at, first_difference, is_redacting, redacting
from .messages import pointer as _pointer_of
from .parsing import NOT_JSON, Lines
from .profile import DELTA_EVENT, STEP_EVENTS, Profile, shipped_profile
from .report import OutputUnit
from .schemas import AUTO
from .validator import RedactingValidator

_decode = msgspec.json.Decoder().decode
TERMINAL_EVENTS: Final = frozenset(name for name, status in STEP_EVENTS.items() if status != "in_progress")
DONE_EVENT: Final = "done"
ERROR_EVENT: Final = "error"
# The events the protocol defines (OpenAI's AssistantStreamEvent; Azure AI Agents streams the same names). Any
# other name is the sender's own words: a redacted report calls it UNKNOWN_EVENT.
KNOWN_EVENTS: Final = frozenset(
    {
        "thread.created",
        *(f"thread.run.{state}" for state in ("created", "queued", "in_progress", "requires_action", "completed")),
        *(f"thread.run.{state}" for state in ("incomplete", "failed", "cancelling", "cancelled", "expired")),
        *STEP_EVENTS,
        DELTA_EVENT,
        *(f"thread.message.{state}" for state in ("created", "in_progress", "delta", "completed", "incomplete")),
        DONE_EVENT,
        ERROR_EVENT,
    }
)
UNKNOWN_EVENT: Final = "an unknown event"
# Members that name a thing: the first non-null value is kept. Members streamed as text: the pieces are joined.
# Any other member is sent whole by each fragment that has it (file_search results, say): the last one stands.
IDENTITY_KEYS: Final = frozenset({"index", "id", "type", "name", "file_id", "message_id"})
TEXT_KEYS: Final = frozenset({"arguments", "input", "logs"})


DATA_COLUMN: Final = len("data: ") + 1  # where a `data: ` line's value starts


class Event(msgspec.Struct, frozen=True, gc=False):
    """One framed event: its 1-based number, name, data (None when it had no data line), SSE id, the line it
    starts on, the line of its first data line and the column its data starts at there (after `data: `, or
    `data:`); for data written across lines, where each further data line's data starts (line, column)."""

    number: int
    name: str
    data: bytes | None
    id: str | None
    line: int
    data_line: int
    data_column: int = DATA_COLUMN
    continued: tuple[tuple[int, int], ...] = ()

    def place(self, line: int, column: int) -> tuple[int, int]:
        """The transcript's line and column of the character at `line` and `column` of the data (1-based)."""
        if line == 1:
            return self.data_line, self.data_column - 1 + column
        if line - 2 < len(self.continued):
            at, first = self.continued[line - 2]
            return at, first - 1 + column
        return self.data_line + line - 1, column  # not framed here: as if the data lines followed one another


class Warning_(msgspec.Struct, frozen=True, gc=False):  # `Warning` is a builtin
    """A framing problem found by the input layer, for the report."""

    event: int
    line: int
    message: str
    code: str


class StreamUnit(msgspec.Struct, frozen=True, gc=False, omit_defaults=True, rename="camel"):
    """One error or warning of a stream: the event it concerns (its number and name), where in the transcript,
    and, for a value, where in the event's data (a JSON Pointer)."""

    error: str
    code: str
    event: int | None = None
    event_name: str | None = None
    instance_location: str | None = None
    keyword_location: str | None = None
    line: int | None = None
    column: int | None = None
    suggestion: str | None = None  # as the report unit's: what a near miss probably meant


class EventResult(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """The verdict on one run-step event."""

    event: int
    name: str
    line: int
    valid: bool
    step: str | None = None
    errors: tuple[StreamUnit, ...] = ()
    warnings: tuple[StreamUnit, ...] = ()


class StepResult(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """One step's life in the stream: its events, how it ended, and whether its deltas add up to its end."""

    id: str
    events: int
    deltas: int
    final: str | None
    valid: bool
    errors: tuple[StreamUnit, ...] = ()


@dataclass
class _Step:
    id: str
    created: dict[str, Any] | None = None
    built: dict[str, Any] = field(default_factory=dict)  # the step_details the deltas set, added up
    sources: dict[tuple[str | int, ...], list[int]] = field(default_factory=dict)  # leaf -> [first, last] event
    events: int = 0
    deltas: int = 0
    final: dict[str, Any] | None = None
    final_event: Event | None = None
    errors: list[StreamUnit] = field(default_factory=list)
    partial: bool = False  # first seen after its creation: its deltas are not all in the transcript


@dataclass
class StreamReport:
    """The verdict on a whole stream. `to_dict()` is its JSON form; `steps()` the run steps it produced."""

    valid: bool
    events: dict[str, int]
    verdicts: dict[str, int]
    results: list[EventResult]
    step_results: list[StepResult]
    stream_errors: list[StreamUnit]  # the stream's own: order, accumulation, framing, done
    stream_warnings: list[StreamUnit]
    produced: dict[str, dict[str, Any]]
    _typed: Callable[[dict[str, Any]], Any] | None = None
    # The events not validated as run steps (thread.run.*, done, others): number, name and line, for a surface whose
    # records are every event.
    other_events: list[tuple[int, str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "summary": {"events": sum(self.events.values()), "by_kind": self.events, **self.verdicts},
            "errors": msgspec.to_builtins(self.errors),
            "warnings": msgspec.to_builtins(self.warnings),
            "events": msgspec.to_builtins(self.results),
            "steps": msgspec.to_builtins(self.step_results),
        }

    @property
    def errors(self) -> list[StreamUnit]:
        """Every error: the stream's own, then those of its events (each names its event)."""
        return self.stream_errors + [unit for result in self.results for unit in result.errors]

    @property
    def warnings(self) -> list[StreamUnit]:
        """Every warning: the stream's own, then those of its events."""
        return self.stream_warnings + [unit for result in self.results for unit in result.warnings]

    def steps(self) -> dict[str, Any]:
        """The run steps the stream produced, by id, typed (`RunStep`) where they can be: each step's final
        event where there is one, otherwise its created step with the deltas added up."""
        if self._typed is None:
            return dict(self.produced)
        return {step_id: self._typed(step) for step_id, step in self.produced.items()}


class StreamChecker:
    """Takes a stream's events in order; `finish()` gives the report. Build one per stream."""

    def __init__(
        self,
        profile: Profile | None = None,
        locate: Callable[[bytes, Sequence[str]], Sequence[int] | None] | None = None,
    ) -> None:
        """`profile` says whose stream it is (the events are named alike: its dialect, `openai` or `azure` for
        Azure AI Agents), strict or not, redacted or not, and with which schemas and depth limit; the shipped
        schemas' default when None. `locate(data, pointers)` gives the offsets of values in an event's data, all
        in one pass, for columns (the input layer knows text; without it, or where it gives None, units point at
        the data line's start)."""
        profile = shipped_profile() if profile is None else profile
        if profile.schema != AUTO:  # silently not applied, it was
            raise SchemaNotForStreams
        self._entries = profile.stream
        self._step, self._typed_step = self._entries.step, self._entries.typed_step
        self._redact = profile.redact
        self._locate = locate
        self._steps: dict[str, _Step] = {}
        self._labels: dict[str, str] = {}
        self._kinds: Counter[str] = Counter()
        self._results: list[EventResult] = []
        self._others: list[tuple[int, str, int]] = []
        self._errors: list[StreamUnit] = []
        self._warnings: list[StreamUnit] = []
        self._done = False
        self._last: Event | None = None
        self._run_created = False

    def warn(self, item: Warning_) -> None:
        self._warnings.append(StreamUnit(item.message, item.code, event=item.event, line=item.line, column=1))

    def add(self, event: Event) -> None:
        if not self._redact:
            self._add(event)
            return
        if event.name not in KNOWN_EVENTS:  # its name is the sender's: not quoted either
            event = msgspec.structs.replace(event, name=UNKNOWN_EVENT)
        with redacting():  # the stream's own messages quote values too (a context manager per event costs a µs)
            self._add(event)

    def _add(self, event: Event) -> None:
        self._kinds[event.name] += 1
        self._last = event
        if self._done:
            self._errors.append(self._unit(event, "an event after the done event", "order"))
        if event.name == DELTA_EVENT or event.name in STEP_EVENTS:
            self._run_step_event(event)
            return
        self._others.append((event.number, event.name, event.line))
        if event.name == DONE_EVENT:
            self._done = True
            if event.data is None:
                self._warnings.append(self._unit(event, "the done event has no data: [DONE]", "done"))
            elif event.data != b"[DONE]":
                self._errors.append(self._unit(event, "the done event's data is not [DONE]", "done"))
        else:
            self._other_event(event)

    def _other_event(self, event: Event) -> None:
        if event.name == "thread.run.created":
            self._run_created = True
        if event.data is None:
            self._errors.append(self._unit(event, f"{event.name} has no data", "no-data"))
            return
        try:
            data = msgspec.json.decode(event.data)
        except NOT_JSON:
            self._errors.append(self._unit(event, f"the data of {event.name} is not JSON", "invalid-json", data=True))
            return
        if event.name == ERROR_EVENT:
            said_by = data.get("error", data) if isinstance(data, dict) else None  # {"error": {...}} or flat
            message = said_by.get("message") if isinstance(said_by, dict) else None
            said = f": {excerpt(message)}" if message is not None else ""
            self._warnings.append(self._unit(event, f"the stream reports an error{said}", "error-event"))

    def _run_step_event(self, event: Event) -> None:
        validator = self._entries.for_event(event.name) or self._step
        if event.data is None:
            unit = self._unit(event, f"{event.name} has no data", "no-data")
            self._results.append(EventResult(event.number, event.name, event.line, False, errors=(unit,)))
            return
        report = validator.validate(event.data)
        if report.valid:  # the common case, kept short: a stream has a hundred thousand of these
            payload = _decode(event.data)
            step_id = payload["id"]
            found = self._follow(event, step_id, payload)
            noted = report.warnings
            placed = tuple(self._placed(event, noted)) if noted else ()
            self._results.append(
                EventResult(event.number, event.name, event.line, not found, self._id(step_id), tuple(found), placed)
            )
            return
        errors = self._placed(event, report.errors)
        warnings = self._placed(event, report.warnings)
        data: Any = None
        if report.errors and report.errors[0].code != "invalid-json":
            data = _decode(event.data)
        step_id = data.get("id") if isinstance(data, dict) else None
        if isinstance(step_id, str) and isinstance(data.get("object"), str):
            # Whatever else is wrong with it, an event whose step can be named takes part in the step's life:
            # otherwise every later event of the step is blamed for an error that is this one's.
            blamed = {unit.instance_location for unit in errors}
            errors += [unit for unit in self._follow(event, step_id, data) if unit.instance_location not in blamed]
        self._results.append(
            EventResult(
                event.number,
                event.name,
                event.line,
                not errors,
                self._id(step_id) if isinstance(step_id, str) else None,
                tuple(errors),
                tuple(warnings),
            )
        )

    def _follow(self, event: Event, step_id: str, data: dict[str, Any]) -> list[StreamUnit]:
        """The order and agreement checks of one valid run-step event; the deltas added up."""
        found: list[StreamUnit] = []
        step = self._steps.get(step_id)
        if event.name == "thread.run.step.created":
            if step is not None:
                if data == step.created:  # Azure AI Agents has been recorded re-announcing a step, word for word
                    message = f"step {self._quoted(step_id)} is announced as created again, unchanged"
                    self._warnings.append(self._unit(event, message, "repeated-event"))
                    return found
                return [self._unit(event, f"step {self._quoted(step_id)} is created a second time", "order")]
            self._steps[step_id] = step = _Step(step_id, created=data)
        elif step is None:
            if self._run_created:
                message = f"{event.name} for step {self._quoted(step_id)}, which was never created"
                return [self._unit(event, message, "order")]
            # The transcript starts in the middle of a run (after a tool-output submission, or a fragment kept as
            # a fixture): the step was created before it. Say so, follow the step, and do not hold its final
            # event to deltas that are not all here.
            message = f"step {self._quoted(step_id)} was created before this transcript starts"
            self._warnings.append(self._unit(event, message, "order"))
            self._steps[step_id] = step = _Step(step_id, partial=True)
        if step.final_event is not None:
            last = step.final_event.number
            return [self._unit(event, f"{event.name} after the step's final event (event {last})", "order")]
        step.events += 1
        if event.name in STEP_EVENTS:
            status = data.get("status")
            expected = STEP_EVENTS[event.name]
            if status != expected:
                message = f"status is {excerpt(status)}, but {event.name} says {expected!r}"
                found.append(self._unit(event, message, "status", pointer=("status",), data=True))
        if event.name == DELTA_EVENT:
            step.deltas += 1
            changed = data.get("delta")
            details = changed.get("step_details") if type(changed) is dict else None
            if type(details) is dict:
                _add_details(step.built, details, step.sources, event.number)
        elif event.name in TERMINAL_EVENTS:
            step.final, step.final_event = data, event
            if not step.partial:
                step.errors += self._compare(step, event)
        return found

    def _compare(self, step: _Step, final: Event) -> list[StreamUnit]:
        """What the deltas set, the final step must carry unchanged."""
        found: list[StreamUnit] = []
        assert step.final is not None
        for path, built in _leaves(step.built, ("step_details",)):
            have, present = _at(step.final, path)
            if built is None or (present and _same(have, built)):
                continue
            first, last = step.sources.get(path, [0, 0])
            origin = f"event {first}" if first == last else f"events {first} to {last}"
            within = None
            if not present:
                message = f"the deltas ({origin}) set {excerpt(built)} here, but {final.name} has nothing here"
            elif type(have) is str and type(built) is str:
                # Long texts share long beginnings: quote each where they part, not their identical starts.
                within = first_difference(built, have)
                message = f"the deltas ({origin}) and {final.name} differ at character {within + 1}"
                if not is_redacting():
                    message += f": the deltas add up to {excerpt_at(built, within)}, the event has "
                    message += excerpt_at(have, within)
            else:
                message = f"the deltas ({origin}) add up to {excerpt(built)}, but {final.name} has {excerpt(have)}"
            found.append(self._unit(final, message, "accumulation", pointer=path, data=True, within=within))
        return found

    def finish(self) -> StreamReport:
        if not self._done:
            where = self._last
            message = "the stream ends without the done event: it may have been cut"
            self._warnings.append(
                StreamUnit(
                    message, "no-done", event=where.number if where else None, line=where.line if where else 1, column=1
                )
            )
        step_results = []
        produced: dict[str, dict[str, Any]] = {}
        for step in self._steps.values():
            ending = step.final_event.name if step.final_event else None
            step_errors = tuple(step.errors)
            step_results.append(
                StepResult(self._id(step.id), step.events, step.deltas, ending, not step_errors, step_errors)
            )
            produced[step.id] = step.final or _snapshot(step)
        # An event is invalid when any error concerns it: its own, or a stream check that names it (an
        # accumulation error names the step's final event): every surface counts events this way.
        errors = self._errors + [unit for result in step_results for unit in result.errors]
        named = {unit.event for unit in errors if unit.event is not None}
        results = [
            msgspec.structs.replace(result, valid=False) if result.valid and result.event in named else result
            for result in self._results
        ]
        invalid_events = len({result.event for result in results if not result.valid} | named)
        valid = not errors and not invalid_events
        verdicts = {"run_step_events": len(self._results), "invalid_events": invalid_events, "steps": len(step_results)}
        return StreamReport(
            valid,
            dict(self._kinds),
            verdicts,
            results,
            step_results,
            errors,
            self._warnings,
            produced,
            self._typed,
            self._others,
        )

    def _id(self, step_id: str) -> str:
        """A step's id as a report shows it: itself, or when redacting its number in order of appearance ("#2"),
        which tells the steps apart without quoting what the sender chose."""
        if not self._redact:
            return step_id
        return self._labels.setdefault(step_id, f"#{len(self._labels) + 1}")

    def _quoted(self, step_id: str) -> str:
        return self._id(step_id) if self._redact else excerpt(step_id)

    def _typed(self, step: dict[str, Any]) -> Any:
        return self._typed_step.check(step)[1]

    def _unit(
        self,
        event: Event,
        message: str,
        code: str,
        pointer: tuple[str | int, ...] = (),
        data: bool = False,
        *,
        within: int | None = None,
    ) -> StreamUnit:
        """`within`: for a string value, the character of it to point at rather than its opening quote."""
        location = _pointer_of(pointer) if pointer or data else None
        line, column = (event.data_line, event.data_column) if data and event.data_line else (event.line, 1)
        if location and event.data is not None and self._locate is not None:
            offsets = self._locate(event.data, (location,))
            offset = offsets[0] if offsets else None
            if offset is not None and within is not None:
                offset += _literal_offset(event.data.decode("utf-8", errors="replace"), offset, within) or 0
            if offset is not None:
                line, column = _data_place(event, offset)
        if location and isinstance(self._step, RedactingValidator):  # the deltas' member names are the sender's
            location = self._step.hidden(location)
        return StreamUnit(
            message,
            code,
            event=event.number,
            event_name=event.name,
            instance_location=location,
            line=line,
            column=column,
        )

    def _placed(self, event: Event, units: Sequence[OutputUnit]) -> list[StreamUnit]:
        # A report unit's line and column are within the event's data (one line, in the common case). Units
        # without them are located together: one read of the data, however many errors it has.
        unplaced = [
            unit.instance_location
            for unit in units
            if (unit.line is None or unit.column is None) and unit.instance_location
        ]
        offsets: Iterator[int] = iter(())
        if unplaced and event.data is not None and self._locate is not None:
            offsets = iter(self._locate(event.data, unplaced) or ())
        placed = []
        for unit in units:
            line, column = event.data_line, event.data_column
            if unit.line is not None and unit.column is not None:
                line, column = event.place(unit.line, unit.column)
            elif unit.instance_location:
                line, column = _data_place(event, next(offsets, 0))
            placed.append(
                StreamUnit(
                    unit.error,
                    unit.code or "error",
                    event=event.number,
                    event_name=event.name,
                    instance_location=unit.instance_location,
                    keyword_location=unit.keyword_location or None,
                    line=line,
                    column=column,
                    suggestion=unit.suggestion,
                )
            )
        return placed


def _data_place(event: Event, offset: int) -> tuple[int, int]:
    """The transcript's line and column of the data's character at `offset` (characters from its start)."""
    if not event.continued:  # one line, the common case: no line search
        return event.data_line, event.data_column + offset
    assert event.data is not None
    return event.place(*Lines(event.data.decode("utf-8", errors="replace")).at(offset))


class _Pieces(list[str]):
    """A text member's pieces, joined when read: adding each piece to a string would copy it every time."""

    def text(self) -> str:
        return "".join(self)


def _add_up(
    built: dict[str, Any],
    fragment: dict[str, Any],
    path: tuple[str | int, ...],
    sources: dict[tuple[str | int, ...], list[int]],
    event: int,
) -> None:
    """Merge one fragment into what the deltas have built, as the SDKs do: lists of indexed items by index, text
    members concatenated, names (id, type, name, ...) kept from their first non-null value."""
    for key, value in fragment.items():
        current = built.get(key)
        if current is not None and key in IDENTITY_KEYS:
            continue  # the first value stands (the common case of every later fragment: checked first)
        kind = type(value)
        if kind is dict:
            if type(current) is not dict:
                current = built[key] = {}
            _add_up(current, value, (*path, key), sources, event)
        elif kind is list and _all_indexed(value):
            if type(current) is not list:
                current = built[key] = []
            for item in value:
                position = item["index"]
                while len(current) <= position:
                    current.append({})
                _add_up(current[position], item, (*path, key, position), sources, event)
        elif value is None:
            built.setdefault(key, None)  # null while streaming: nothing known yet
        elif current is None:
            built[key] = value
            sources[(*path, key)] = [event, event]
        elif key in TEXT_KEYS and kind is str and type(current) is _Pieces:
            current.append(value)
            sources[(*path, key)][1] = event
        else:
            if key in TEXT_KEYS and kind is str and type(current) is str:
                built[key] = _Pieces([current, value])
            elif kind is list and type(current) is list:
                built[key] = [*current, *value]  # the SDKs extend a list of items without an index
            else:
                built[key] = value
            # An invalid fragment may change a member's kind (an object, then a string): it has no span yet.
            span = sources.setdefault((*path, key), [event, event])
            span[1] = event


DETAILS_PATH: Final = ("step_details",)
CALLS_PATH: Final = ("step_details", "tool_calls")


def _add_details(
    built: dict[str, Any], details: dict[str, Any], sources: dict[tuple[str | int, ...], list[int]], event: int
) -> None:
    """`_add_up` for one delta's step_details, with the common shape (a type already known, tool calls by index)
    taken without a level of recursion: it runs once per delta, a hundred thousand times in a long stream."""
    calls = details.get("tool_calls")
    if len(details) != 2 or built.get("type") != details.get("type") or type(calls) is not list:
        _add_up(built, details, DETAILS_PATH, sources, event)
        return
    if not _all_indexed(calls):
        _add_up(built, {"tool_calls": calls}, DETAILS_PATH, sources, event)
        return
    current = built.get("tool_calls")
    if type(current) is not list:
        current = built["tool_calls"] = []
    for item in calls:
        position = item["index"]
        while len(current) <= position:
            current.append({})
        _add_up(current[position], item, (*CALLS_PATH, position), sources, event)


def _literal_offset(text: str, start: int, index: int) -> int | None:
    """How far past the opening quote at `start` the JSON string literal there has its character `index` (its
    closing quote for the string's length): escapes are longer in the text than the characters they stand for."""
    if text[start : start + 1] != '"':
        return None
    position, count = start + 1, 0
    while position < len(text):
        if count == index:
            return position - start
        character = text[position]
        if character == '"':
            return None
        if character != "\\":
            position += 1
        elif text[position + 1 : position + 2] != "u":
            position += 2
        else:
            high = int(text[position + 2 : position + 6] or "0", 16)
            position += 6
            if 0xD800 <= high < 0xDC00 and text[position : position + 2] == "\\u":
                position += 6  # a surrogate pair: one character
        count += 1
    return None


def _all_indexed(items: list[Any]) -> bool:
    for item in items:
        if type(item) is not dict or type(item.get("index")) is not int or item["index"] < 0:
            return False
    return True


def _leaves(node: Any, path: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], Any]]:
    """Every scalar the deltas set, with its path in the final step (an item's index is its position there)."""
    if isinstance(node, dict):
        found = []
        for key, value in node.items():
            if key == "index" and isinstance(value, int):
                continue
            found += _leaves(value, (*path, key))
        return found
    if isinstance(node, list) and type(node) is not _Pieces:
        return [leaf for index, item in enumerate(node) for leaf in _leaves(item, (*path, index))]
    return [(path, node.text() if type(node) is _Pieces else node)]


def _at(document: Any, path: tuple[str | int, ...]) -> tuple[Any, bool]:
    for token in path:
        if isinstance(document, dict):
            if token not in document:
                return None, False
            document = document[token]
        elif isinstance(document, list) and isinstance(token, int) and 0 <= token < len(document):
            document = document[token]
        else:
            return None, False
    return document, True


def _same(have: Any, built: Any) -> bool:
    return type(have) is type(built) and have == built


def _snapshot(step: _Step) -> dict[str, Any]:
    """A step never ended in the stream: its created form, with what the deltas added up."""
    snapshot = dict(step.created or {"id": step.id})
    details = snapshot.get("step_details")
    if step.built:
        built = _joined(step.built)
        snapshot["step_details"] = {**(details if isinstance(details, dict) else {}), **built}
    return snapshot


def _joined(node: Any) -> Any:
    """What the deltas built, with text pieces joined."""
    if type(node) is _Pieces:
        return node.text()
    if isinstance(node, dict):
        return {key: _joined(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_joined(item) for item in node]
    return node
