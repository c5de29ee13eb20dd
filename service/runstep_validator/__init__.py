"""Validate OpenAI Assistants run steps against hand-written JSON Schemas, at the speed of JSON parsing.

>>> from runstep_validator import validate
>>> report = validate(b'{"id": "step_1", "object": "thread.run.step"}')
>>> report.valid
False
"""

from importlib.metadata import PackageNotFoundError, version

from .core.api import PayloadValidator, default_schemas, get_validator, make_validator
from .core.auto import AutoValidator
from .core.delta_models import RunStepDelta
from .core.errors import (
    InvalidJSONError,
    NotAnEventStream,
    NotJsonLines,
    RunStepDecodeError,
    RunStepValidatorError,
    SchemaError,
    SchemaNotForStreams,
    UnknownDialectError,
    UnknownSchemaError,
)
from .core.models import RunStep
from .core.profile import Profile, StreamValidators
from .core.report import OutputUnit, Report
from .core.schemas import AUTO, DEFAULT_SCHEMA, SchemaSet
from .core.streams import StreamReport
from .core.validator import RedactingValidator, Validator
from .sources.library import ItemReport, decode, validate, validate_document
from .sources.sse import validate_stream

try:
    __version__ = version("runstep-validator")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AUTO",
    "DEFAULT_SCHEMA",
    "AutoValidator",
    "InvalidJSONError",
    "ItemReport",
    "NotAnEventStream",
    "NotJsonLines",
    "OutputUnit",
    "PayloadValidator",
    "Profile",
    "RedactingValidator",
    "Report",
    "RunStep",
    "RunStepDecodeError",
    "RunStepDelta",
    "RunStepValidatorError",
    "SchemaError",
    "SchemaNotForStreams",
    "SchemaSet",
    "StreamReport",
    "StreamValidators",
    "UnknownDialectError",
    "UnknownSchemaError",
    "Validator",
    "__version__",
    "decode",
    "default_schemas",
    "get_validator",
    "make_validator",
    "validate",
    "validate_document",
    "validate_stream",
]
