"""A pydantic v2 model equivalent to the tolerant run-step schema, for the peer benchmark only.

Strict types (no "5" -> 5 coercion), unknown members allowed, the known tool-call and output types as
discriminated unions. It does not do what the schema does for unknown tool types or warnings: it is the fastest
honest pydantic rendering of the same contract, not a replacement for it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Base(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class MessageCreation(_Base):
    message_id: str


class MessageCreationDetails(_Base):
    type: Literal["message_creation"]
    message_creation: MessageCreation


class LogsOutput(_Base):
    type: Literal["logs"]
    logs: str


class ImageFile(_Base):
    file_id: str


class ImageOutput(_Base):
    type: Literal["image"]
    image: ImageFile


class CodeInterpreter(_Base):
    input: str
    outputs: list[Annotated[LogsOutput | ImageOutput, Field(discriminator="type")]]


class CodeInterpreterCall(_Base):
    id: str
    type: Literal["code_interpreter"]
    code_interpreter: CodeInterpreter


class RankingOptions(_Base):
    ranker: str
    score_threshold: Annotated[float, Field(ge=0, le=1)]


class FileSearchResult(_Base):
    file_id: str
    file_name: str
    score: Annotated[float, Field(ge=0, le=1)]


class FileSearch(_Base):
    ranking_options: RankingOptions | None = None
    results: list[FileSearchResult] | None = None


class FileSearchCall(_Base):
    id: str
    type: Literal["file_search"]
    file_search: FileSearch


class Function(_Base):
    name: str
    arguments: str
    output: str | None = None


class FunctionCall(_Base):
    id: str
    type: Literal["function"]
    function: Function


class RetrievalCall(_Base):
    id: str
    type: Literal["retrieval"]
    retrieval: dict[str, object]


class ToolCallsDetails(_Base):
    type: Literal["tool_calls"]
    tool_calls: list[
        Annotated[CodeInterpreterCall | FileSearchCall | FunctionCall | RetrievalCall, Field(discriminator="type")]
    ]


class LastError(_Base):
    code: str
    message: str


class Usage(_Base):
    prompt_tokens: Annotated[int, Field(ge=0)]
    completion_tokens: Annotated[int, Field(ge=0)]
    total_tokens: Annotated[int, Field(ge=0)]


class RunStep(_Base):
    id: str
    object: Literal["thread.run.step"]
    created_at: int
    run_id: str
    assistant_id: str
    thread_id: str
    type: Literal["message_creation", "tool_calls"]
    status: Literal["in_progress", "cancelled", "failed", "completed", "expired"]
    step_details: Annotated[MessageCreationDetails | ToolCallsDetails, Field(discriminator="type")]
    last_error: LastError | None = None
    expired_at: int | None = None
    expires_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    metadata: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]] | None = None
    usage: Usage | None = None


RUN_STEP = TypeAdapter(RunStep)
