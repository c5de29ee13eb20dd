"""What to validate against, as one value: the schema set, the entry (or `auto`), strict, dialect, redaction and
the limits. Every surface builds one `Profile` at its edge (the CLI from its flags, the service from its settings
and each query, the Python API from its arguments, the import from its options) and asks it for the validators
it needs; each is built once per profile, so that every surface validates with the same objects.

No limit is `None`, for every limit: `max_depth=None` leaves only the parser's own (about 1000 levels), and
`max_seconds=None` sets no time limit. The defaults are `DEFAULT_MAX_DEPTH` levels and no time limit.

A profile crosses to import workers and Dask tasks by its fields alone (the validators are rebuilt there, once per
process): the shipped schemas travel as a mark, a custom schema set as its documents.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from threading import Lock
from typing import Any, Final, NamedTuple, TypeVar

from .api import PayloadValidator, default_schemas, make_validator
from .auto import RUN_STEP_OBJECT, AutoValidator, entry_for_objects
from .deadline import time_limit
from .delta_models import RunStepDelta
from .errors import SchemaError, UnknownSchemaError
from .models import RunStep
from .report import Report
from .schemas import AUTO, DEFAULT_DIALECT, SchemaDocument, SchemaSet
from .validator import DEFAULT_MAX_DEPTH, Payload, Validator

DELTA_OBJECT: Final = "thread.run.step.delta"
_T = TypeVar("_T")


DELTA_EVENT: Final = "thread.run.step.delta"
# The status each step event's name implies; created and in_progress steps are still in progress.
STEP_EVENTS: Final = {
    "thread.run.step.created": "in_progress",
    "thread.run.step.in_progress": "in_progress",
    "thread.run.step.completed": "completed",
    "thread.run.step.failed": "failed",
    "thread.run.step.cancelled": "cancelled",
    "thread.run.step.expired": "expired",
}


class StreamValidators(NamedTuple):
    """What a stream's run-step events are validated with: the step and delta entries of the profile's dialect
    (strict or not, redacting or not), and the tolerant step entry that types the steps a stream produced."""

    step: Validator
    delta: Validator
    typed_step: Validator

    def for_event(self, name: str) -> Validator | None:
        """The entry an event of this name is validated against; None for the events no entry holds."""
        if name == DELTA_EVENT:
            return self.delta
        return self.step if name in STEP_EVENTS else None


@dataclass(frozen=True)
class Profile:
    """The selection: which schemas, which entry, and how. Build it once per run, request kind or call."""

    schema: str = AUTO  # an entry's name, or auto: the entry each payload's `object` names
    strict: bool = False  # with auto (and for streams): the strict variant of each entry
    dialect: str = DEFAULT_DIALECT  # with auto (and for streams): whose entries the objects name (openai, azure)
    redact: bool = False  # reports quote no payload value, only its kind
    max_depth: int | None = DEFAULT_MAX_DEPTH  # levels of nesting; None: no limit but the parser's own
    max_seconds: float | None = None  # the time one payload or one stream may take; None: no limit
    schemas: SchemaSet = field(default_factory=default_schemas, repr=False, hash=False)

    def __post_init__(self) -> None:
        # Said once, where the profile is built (a usage error before anything is read or written).
        if self.schema != AUTO and self.schema not in self.schemas.entries:
            raise UnknownSchemaError(self.schema, (AUTO, *sorted(self.schemas.entries)))
        entry_for_objects(self.schemas, self.strict, self.dialect)  # UnknownDialectError for a dialect none declares

    def replace(self, **changes: Any) -> Profile:
        """The same profile with some fields changed (a query's `strict=true`, say)."""
        return dataclasses.replace(self, **changes)

    @cached_property
    def validator(self) -> PayloadValidator:
        """The validator of single payloads: the entry named, or `auto`."""
        return make_validator(
            self.schemas,
            self.schema,
            strict=self.strict,
            redact=self.redact,
            max_depth=self.max_depth,
            dialect=self.dialect,
        )

    def limited(self) -> AbstractContextManager[None]:
        """One payload's time: within it, validation raises `LimitExceeded` once `max_seconds` have passed."""
        return time_limit(self.max_seconds) if self.max_seconds is not None else nullcontext()

    def validate(self, data: Payload) -> Report:
        """One payload's report, within `max_seconds` (`LimitExceeded` past it)."""
        return self._within_limit(self.validator.validate, data)

    def check(self, data: Payload) -> tuple[Report, Any]:
        """One payload's report and its typed value (None unless valid), within `max_seconds`."""
        return self._within_limit(self.validator.check, data)

    def decode(self, data: Payload) -> RunStep | RunStepDelta:
        """One payload typed (`RunStep` or `RunStepDelta`, as its entry types it), within `max_seconds`;
        `RunStepDecodeError` with its report when it is invalid or cannot be typed."""
        typed: RunStep | RunStepDelta = self._within_limit(self.validator.decode, data)
        return typed

    def _within_limit(self, work: Callable[[Payload], _T], data: Payload) -> _T:
        if self.max_seconds is None:  # no context to enter: a tenth of a small payload's validation
            return work(data)
        with time_limit(self.max_seconds):
            return work(data)

    @cached_property
    def stream(self) -> StreamValidators:
        """The validators of a stream's run-step events: its events pick their entries by name (a stream checked
        with a profile that names an entry is refused: `SchemaNotForStreams`); strict, dialect, redaction and depth
        apply. They are the `auto` validator's own, so a profile that validates with `auto` builds no second set."""
        picking = self if self.schema == AUTO else self._variant(schema=AUTO)
        auto = picking.validator
        assert isinstance(auto, AutoValidator)
        tolerant = picking if not (self.strict or self.redact) else picking._variant(strict=False, redact=False)
        typed = tolerant.validator
        assert isinstance(typed, AutoValidator)
        for needed in (RUN_STEP_OBJECT, DELTA_OBJECT):
            if needed not in auto.by_object:
                variant = f"{'strict' if self.strict else 'tolerant'} {self.dialect}"
                message = f"no {variant} entry of {self.schemas.directory} validates {needed}: streams need one"
                raise SchemaError(message)
        step, delta = auto.by_object[RUN_STEP_OBJECT], auto.by_object[DELTA_OBJECT]
        return StreamValidators(step, delta, typed.by_object[RUN_STEP_OBJECT])

    def _variant(self, **changes: Any) -> Profile:
        """A related profile, built once per profile and change: its validators are built once too."""
        key = tuple(sorted(changes.items()))
        with _VARIANTS_LOCK:
            variants: dict[tuple[Any, ...], Profile] = self.__dict__.setdefault("_variants", {})
            found = variants.get(key)
            if found is None:
                found = variants[key] = self.replace(**changes)
        return found

    def __reduce__(self) -> tuple[Any, ...]:
        # The fields, not the validators: a worker builds those once, from a spec it has met before.
        return (_rebuilt, (self._spec(), *self._travelling_schemas))

    @cached_property
    def _travelling_schemas(self) -> tuple[str | None, Any]:
        """A custom schema set's fingerprint and documents, worked out once per profile (it crosses per block)."""
        if self.schemas is default_schemas():
            return None, None
        documents = (str(self.schemas.directory), _documents(self.schemas))
        return hashlib.sha256(json.dumps(documents, sort_keys=True).encode()).hexdigest(), documents

    def _spec(self) -> tuple[Any, ...]:
        return (self.schema, self.strict, self.dialect, self.redact, self.max_depth, self.max_seconds)


def shipped_profile(
    schema: str = AUTO, strict: bool = False, dialect: str = DEFAULT_DIALECT, redact: bool = False
) -> Profile:
    """The profile of the shipped schemas with the default limits, one per selection and process: what the loose
    arguments of the Python API (`strict=`, `dialect=`, ...) stand for."""
    return _shipped(schema, strict, dialect, redact)  # one cache key however the arguments were given


@lru_cache(maxsize=64)
def _shipped(schema: str, strict: bool, dialect: str, redact: bool) -> Profile:
    return Profile(schema, strict, dialect, redact)


def selected(
    profile: Profile | None,
    schema: str = AUTO,
    strict: bool = False,
    dialect: str = DEFAULT_DIALECT,
    redact: bool = False,
) -> Profile:
    """`profile`, or the shipped profile that the loose arguments stand for. A profile is the whole selection: a
    loose argument given beside it would be silently ignored, so that is a `TypeError`."""
    if profile is None:
        return shipped_profile(schema, strict, dialect, redact)
    if (schema, strict, dialect, redact) != (AUTO, False, DEFAULT_DIALECT, False):
        raise TypeError("give the selection either as a profile or as schema, strict, dialect and redact, not both")
    return profile


def untimed(profile: Profile, surface: str) -> Profile:
    """`profile`, for a surface that validates records in bulk with no time limit per record (the size of a record
    is bounded instead): a `ValueError` if it asks for one, rather than a limit silently not kept."""
    if profile.max_seconds is not None:
        raise ValueError(f"{surface} sets no time limit per record: give a profile with max_seconds=None")
    return profile


_VARIANTS_LOCK: Final = Lock()
_REBUILT_LIMIT: Final = 64  # profiles met by one worker process: a run has one, a test session a few
_rebuilt_profiles: dict[tuple[Any, ...], Profile] = {}


def _documents(schemas: SchemaSet) -> tuple[tuple[str, dict[str, Any], str | None], ...]:
    return tuple((str(doc.path), doc.contents, doc.name) for doc in schemas.documents)


def _rebuilt(spec: tuple[Any, ...], fingerprint: str | None, documents: tuple[str, Any] | None) -> Profile:
    """A profile from its pickled form; the same object for the same spec within a process, with its validators."""
    key = (*spec, fingerprint)
    found = _rebuilt_profiles.get(key)
    if found is not None:
        return found
    schema, strict, dialect, redact, max_depth, max_seconds = spec
    options: dict[str, Any] = {}
    if documents is not None:
        options["schemas"] = _schema_set(*documents)
    found = Profile(schema, strict, dialect, redact, max_depth, max_seconds, **options)
    if len(_rebuilt_profiles) < _REBUILT_LIMIT:
        _rebuilt_profiles[key] = found
    return found


def _schema_set(directory: str, documents: tuple[tuple[str, dict[str, Any], str | None], ...]) -> SchemaSet:
    rebuilt = tuple(SchemaDocument(Path(path), contents, name) for path, contents, name in documents)
    return SchemaSet(Path(directory), rebuilt)
