"""Service settings: defaults, then `RUNSTEP_VALIDATOR_*` environment variables, then explicit overrides."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..core.errors import RunStepValidatorError
from ..core.schemas import AUTO, DEFAULT_DIALECT
from ..core.suggestions import NearMisses
from ..core.validator import DEFAULT_MAX_DEPTH
from ..switches import DEBUG_VARIABLE, WORDS, yes_or_no

ENV_PREFIX = "RUNSTEP_VALIDATOR_"
# prometheus_client's documented multiprocess mode: the directory of every worker's metric files.
MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
DRAINING_FILE: Final = "draining"  # in the server's state directory: present once SIGTERM has been received


class ConfigError(RunStepValidatorError):
    """A setting that is unknown or has a value of the wrong kind."""


LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    max_body_bytes: int = 10 * 1024 * 1024
    max_batch_records: int = 10_000
    max_stream_events: int = 100_000
    max_depth: int = DEFAULT_MAX_DEPTH  # levels of nested objects and arrays; a valid run step has about ten
    max_request_seconds: float = 10.0  # a batch still validating after this is refused
    default_schema: str = AUTO  # auto: the entry each payload's object names
    default_dialect: str = DEFAULT_DIALECT  # with auto: whose entries the objects name (openai, azure)
    access_log: bool = True
    redact_values: bool = False  # reports name the kind of a payload value instead of quoting an excerpt
    share_port: bool = False  # start even if another process listens on the port (it then shares the requests)
    threads: int = 4  # per worker, waiting on the validation processes (or validating, with none)
    validate_processes: int = 1  # per worker, for large bodies the fast path does not find valid; 0: on threads
    max_header_bytes: int = 16 * 1024  # larger request headers get a 431
    header_timeout_seconds: float = 10.0  # a connection that has not sent its headers by then is closed
    body_timeout_seconds: float = 15.0  # a body still arriving after this gets a 408 and the connection is closed
    metrics: bool = True  # GET /metrics, and the counting behind it
    log_format: str = "text"  # text (one readable line) or json (one object per line, for log pipelines)
    drain_seconds: float = 5.0  # after SIGTERM: /readyz answers 503 this long, while requests are still served
    write_timeout_seconds: float = 30.0  # a client that takes none of its answer's bytes this long is disconnected
    max_pending_answer_bytes: int = 128 * 1024 * 1024  # per worker: answers handed out and not yet taken by clients
    shutdown_grace_seconds: int = 20  # then requests in flight get this long to finish; a worker still busy is killed
    state_directory: str = ""  # set by serve(): where the workers share metrics and the draining mark

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
        """Defaults, replaced by `RUNSTEP_VALIDATOR_<NAME>` variables, replaced by `overrides` (by field name)."""
        environ = os.environ if environ is None else environ
        fields = {field.name: field for field in dataclasses.fields(cls)}
        _refuse_unknown(environ, fields)
        values: dict[str, Any] = {}
        for name, field in fields.items():
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = _convert(name, raw, field.type)
        for name, value in (overrides or {}).items():
            if name not in fields:
                raise ConfigError(f"unknown setting {name!r}; known: {', '.join(fields)}")
            values[name] = value
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Every value in its range, said once before anything starts: `ConfigError` names the setting."""
        ranges: dict[str, tuple[float, float]] = {
            "port": (1, 65535),
            "workers": (1, 64),
            "max_body_bytes": (1, 2**40),
            "max_batch_records": (1, 10**9),
            "max_stream_events": (1, 10**9),
            "max_depth": (1, 10_000),
            "max_request_seconds": (1e-6, 86_400),
            "threads": (1, 256),
            "validate_processes": (0, 64),
            "max_header_bytes": (1024, 1024 * 1024),
            "header_timeout_seconds": (0.1, 3600),
            "body_timeout_seconds": (0.1, 3600),
            "drain_seconds": (0, 3600),
            "shutdown_grace_seconds": (1, 3600),
            "write_timeout_seconds": (0.1, 3600),
            "max_pending_answer_bytes": (1024 * 1024, 2**40),
        }
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"{ENV_PREFIX}LOG_FORMAT={self.log_format!r} is not a log format: give text or json")
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                given, bounds = _number(value), f"{_number(low)} to {_number(high)}"
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}={given} is out of range: give {bounds}")


def _number(value: object) -> str:
    """A bound or a value as people write it: whole numbers whole (1099511627776, not 1.09951e+12)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else repr(value)


def _refuse_unknown(environ: Mapping[str, str], fields: Mapping[str, object]) -> None:
    """A `RUNSTEP_VALIDATOR_*` variable that names no setting is a typo that would silently be ignored: refused,
    with the setting it probably meant."""
    known = [ENV_PREFIX + name.upper() for name in fields]
    unknown = sorted(name for name in environ if name.startswith(ENV_PREFIX) and name not in [*known, DEBUG_VARIABLE])
    if not unknown:
        return
    name = unknown[0]
    meant = NearMisses(known).meant(name)
    if meant is not None:
        raise ConfigError(f"unknown setting {name}: did you mean {meant}?")
    raise ConfigError(f"unknown setting {name}; the settings are {', '.join(known)}")


def _convert(name: str, raw: str, kind: object) -> Any:
    try:
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (bool, "bool"):
            said = yes_or_no(raw)
            if said is None:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid bool: {WORDS}")
            return said
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw
