"""Which msgspec Structs give an entry schema its fast verdict: the one place that names them.

An entry schema is any top-level `*.schema.json` in `schemas/`. One listed here gets the fast path: a payload its
`accept` types decode is valid (they are never looser than the schema); `typed` is the tolerant typed view handed
to callers and read for warnings. An entry that is not listed is validated by the full-report engine alone,
correctly, only slower. Adding an entry is a schema file, a line here when it has Structs, and its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .azure_models import AnyAzureRunStep, AnyStrictAzureRunStep, AzureRunStepDelta, StrictAzureRunStepDelta
from .delta_models import RunStepDelta, StrictRunStepDelta
from .lint import lint, lint_delta
from .models import AnyRunStep
from .report import OutputUnit
from .strict_models import AnyStrictRunStep


def no_warnings(_: Any) -> tuple[OutputUnit, ...]:
    return ()


@dataclass(frozen=True)
class Structs:
    """The fast path of one entry schema."""

    accept: Any  # a type for msgspec: what the Structs decode is valid under the entry
    typed: Any  # the typed view of a valid payload, which may be looser than `accept` (never looser than the schema)
    warnings: Callable[[Any], tuple[OutputUnit, ...]] = no_warnings  # reads a `typed` value


STRUCTS: Final[Mapping[str, Structs]] = {
    "run_step": Structs(AnyRunStep, AnyRunStep, lint),
    "run_step.strict": Structs(AnyStrictRunStep, AnyRunStep, lint),
    "run_step_delta": Structs(RunStepDelta, RunStepDelta, lint_delta),
    "run_step_delta.strict": Structs(StrictRunStepDelta, RunStepDelta, lint_delta),
    "azure_run_step": Structs(AnyAzureRunStep, AnyAzureRunStep, lint),
    "azure_run_step.strict": Structs(AnyStrictAzureRunStep, AnyAzureRunStep, lint),
    "azure_run_step_delta": Structs(AzureRunStepDelta, AzureRunStepDelta, lint_delta),
    "azure_run_step_delta.strict": Structs(StrictAzureRunStepDelta, AzureRunStepDelta, lint_delta),
}
