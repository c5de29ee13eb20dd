"""Typed run steps: msgspec Structs mirroring `schemas/run_step.schema.json`.

They are the fast path: a payload these Structs decode is valid under the tolerant schema. They may be stricter
than the schema (closed objects, known tool types only, no integral floats), never looser; whatever they reject goes
to jsonschema, whose verdict is final. A test compares them with the schema files so that the two cannot drift.

Optional members default to `UNSET`, which keeps "absent" apart from an explicit null.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

import msgspec
from msgspec import UNSET, Meta, UnsetType

StepType: TypeAlias = Literal["message_creation", "tool_calls"]
StepStatus: TypeAlias = Literal["in_progress", "cancelled", "failed", "completed", "expired"]
TokenCount: TypeAlias = Annotated[int, Meta(ge=0)]
Score: TypeAlias = Annotated[float, Meta(ge=0, le=1)]
Metadata: TypeAlias = Annotated[
    dict[Annotated[str, Meta(max_length=64)], Annotated[str, Meta(max_length=512)]], Meta(max_length=16)
]
Attributes: TypeAlias = dict[str, str | int | float | bool]


class Closed(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    """Base of every run-step Struct. Unknown members leave the fast path, so the slow path can warn about them;
    gc=False because decoded run steps never form reference cycles."""


class MessageCreation(Closed):
    message_id: str


# The step details carry `type` as a plain member: the run step's own tag already picks which kind is expected,
# and a tagged Struct decoded on its own (not in a union) would not insist on its tag being present.
class MessageCreationDetails(Closed):
    type: Literal["message_creation"]
    message_creation: MessageCreation


class LogsOutput(Closed, tag="logs", tag_field="type"):
    logs: str


class ImageFile(Closed):
    file_id: str


class ImageOutput(Closed, tag="image", tag_field="type"):
    image: ImageFile


CodeInterpreterOutput: TypeAlias = LogsOutput | ImageOutput


class CodeInterpreter(Closed):
    input: str
    outputs: list[CodeInterpreterOutput]


class CodeInterpreterToolCall(Closed, tag="code_interpreter", tag_field="type"):
    id: str
    code_interpreter: CodeInterpreter


class RankingOptions(Closed):
    ranker: str
    score_threshold: Score


class FileSearchContent(Closed):
    type: Literal["text"] | UnsetType = UNSET
    text: str | UnsetType = UNSET


class FileSearchResult(Closed):
    file_id: str
    file_name: str
    score: Score
    content: list[FileSearchContent] | UnsetType = UNSET
    attributes: Attributes | UnsetType | None = UNSET


class FileSearch(Closed):
    ranking_options: RankingOptions | UnsetType = UNSET
    results: list[FileSearchResult] | UnsetType = UNSET


class FileSearchToolCall(Closed, tag="file_search", tag_field="type"):
    id: str
    file_search: FileSearch


class Function(Closed):
    name: str
    arguments: str
    output: str | UnsetType | None = UNSET


class FunctionToolCall(Closed, tag="function", tag_field="type"):
    id: str
    function: Function


class Retrieval(Closed):
    """Always empty in the v1 API."""


class RetrievalToolCall(Closed, tag="retrieval", tag_field="type"):
    id: str
    retrieval: Retrieval


ToolCall: TypeAlias = CodeInterpreterToolCall | FileSearchToolCall | FunctionToolCall | RetrievalToolCall


class ToolCallsDetails(Closed):
    type: Literal["tool_calls"]
    tool_calls: list[ToolCall]


StepDetails: TypeAlias = MessageCreationDetails | ToolCallsDetails


class LastError(Closed):
    code: str
    message: str


class Usage(Closed):
    prompt_tokens: TokenCount
    completion_tokens: TokenCount
    total_tokens: TokenCount
    prompt_token_details: dict[str, TokenCount] | UnsetType = UNSET
    completion_tokens_details: dict[str, TokenCount] | UnsetType = UNSET


class RunStep(Closed):
    """One run step (`"object": "thread.run.step"`): what every run step has. Decoded run steps are one of its
    two kinds, `MessageCreationStep` or `ToolCallsStep`, told apart by `type`: making the step itself a tagged
    union lets msgspec enforce, in C, that `type` names the same variant as `step_details.type`."""

    id: str
    object: Literal["thread.run.step"]
    created_at: int
    run_id: str
    assistant_id: str
    thread_id: str
    status: StepStatus
    step_details: StepDetails
    last_error: LastError | UnsetType | None = UNSET
    expired_at: int | UnsetType | None = UNSET
    expires_at: int | UnsetType | None = UNSET
    cancelled_at: int | UnsetType | None = UNSET
    failed_at: int | UnsetType | None = UNSET
    completed_at: int | UnsetType | None = UNSET
    metadata: Metadata | UnsetType | None = UNSET
    usage: Usage | UnsetType | None = UNSET

    @property
    def type(self) -> StepType:
        """`message_creation` or `tool_calls`: the tag of this step's kind."""
        tag: StepType = self.__struct_config__.tag  # type: ignore[assignment]  # one of the two tags below
        return tag


class MessageCreationStep(RunStep, tag="message_creation", tag_field="type"):
    step_details: MessageCreationDetails


class ToolCallsStep(RunStep, tag="tool_calls", tag_field="type"):
    step_details: ToolCallsDetails


AnyRunStep: TypeAlias = MessageCreationStep | ToolCallsStep
