"""Typed run-step deltas: msgspec Structs mirroring `schemas/run_step_delta.schema.json` (tolerant) and
`schemas/run_step_delta.strict.schema.json` (the OpenAPI contract).

As for full steps, the Structs may be stricter than the schemas (closed objects, known types only), never looser;
what they refuse goes to the full-report engine, whose verdict is final. Every member of a fragment is optional
except where the schema says otherwise: `UNSET` keeps "absent" apart from an explicit null.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from msgspec import UNSET, UnsetType

from .models import Closed, FileSearch

Index: TypeAlias = int  # the contract sets no bound; the linter warns about a negative one


class DeltaFunction(Closed):
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET
    output: str | UnsetType | None = UNSET


class DeltaImageFile(Closed):
    file_id: str | UnsetType = UNSET


class DeltaLogsOutput(Closed, tag="logs", tag_field="type"):
    index: Index
    logs: str | UnsetType = UNSET


class DeltaImageOutput(Closed, tag="image", tag_field="type"):
    index: Index
    image: DeltaImageFile | UnsetType = UNSET


DeltaOutput: TypeAlias = DeltaLogsOutput | DeltaImageOutput


class DeltaCodeInterpreter(Closed):
    input: str | UnsetType = UNSET
    outputs: list[DeltaOutput] | UnsetType = UNSET


class DeltaCodeInterpreterCall(Closed, tag="code_interpreter", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    code_interpreter: DeltaCodeInterpreter | UnsetType = UNSET


class DeltaFileSearchCall(Closed, tag="file_search", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    file_search: FileSearch | UnsetType = UNSET


class DeltaFunctionCall(Closed, tag="function", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    function: DeltaFunction | UnsetType = UNSET


DeltaToolCall: TypeAlias = DeltaCodeInterpreterCall | DeltaFileSearchCall | DeltaFunctionCall


class DeltaMessageCreation(Closed):
    message_id: str | UnsetType = UNSET


class DeltaMessageCreationDetails(Closed, tag="message_creation", tag_field="type"):
    message_creation: DeltaMessageCreation | UnsetType = UNSET


class DeltaToolCallsDetails(Closed, tag="tool_calls", tag_field="type"):
    tool_calls: list[DeltaToolCall] | UnsetType = UNSET


DeltaStepDetails: TypeAlias = DeltaMessageCreationDetails | DeltaToolCallsDetails


class Delta(Closed):
    step_details: DeltaStepDetails | UnsetType = UNSET


class RunStepDelta(Closed):
    """One fragment of a streamed run step (`"object": "thread.run.step.delta"`)."""

    id: str
    object: Literal["thread.run.step.delta"]
    delta: Delta


# The OpenAPI contract (RunStepDeltaObject). The code interpreter and function fragments are the tolerant Structs
# themselves (closed, like the contract); only file_search (a required map) and what holds it differ.


class StrictDeltaFileSearchCall(Closed, tag="file_search", tag_field="type"):
    index: int
    file_search: dict[str, Any]  # "a map": the contract says it is empty for now
    id: str | UnsetType = UNSET


StrictDeltaToolCall: TypeAlias = DeltaCodeInterpreterCall | StrictDeltaFileSearchCall | DeltaFunctionCall


class StrictDeltaToolCallsDetails(Closed, tag="tool_calls", tag_field="type"):
    tool_calls: list[StrictDeltaToolCall] | UnsetType = UNSET


class StrictDelta(Closed):
    step_details: DeltaMessageCreationDetails | StrictDeltaToolCallsDetails | UnsetType = UNSET


class StrictRunStepDelta(Closed):
    id: str
    object: Literal["thread.run.step.delta"]
    delta: StrictDelta
