"""msgspec Structs mirroring `schemas/run_step.strict.schema.json`, the OpenAPI contract.

They give strict validation its fast verdict; the typed view handed to callers is always `models.RunStep`.
Objects that the contract and the tolerant schema describe alike are shared with `models`.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from msgspec import UNSET, UnsetType

from .models import (
    Closed,
    CodeInterpreterToolCall,
    FileSearchContent,
    MessageCreationDetails,
    Metadata,
    Score,
    StepStatus,
    TokenCount,
)

# The documented vocabularies. The tolerant schema accepts other values too and the linter warns about them.
KnownRanker: TypeAlias = Literal["auto", "default_2024_08_21"]
KnownErrorCode: TypeAlias = Literal["server_error", "rate_limit_exceeded"]


class StrictRankingOptions(Closed):
    ranker: KnownRanker
    score_threshold: Score


class StrictFileSearchResult(Closed):
    file_id: str
    file_name: str
    score: Score
    content: list[FileSearchContent] | UnsetType = UNSET


class StrictFileSearch(Closed):
    ranking_options: StrictRankingOptions | UnsetType = UNSET
    results: list[StrictFileSearchResult] | UnsetType = UNSET


class StrictFileSearchToolCall(Closed, tag="file_search", tag_field="type"):
    id: str
    file_search: StrictFileSearch


class StrictFunction(Closed):
    name: str
    arguments: str
    output: str | None


class StrictFunctionToolCall(Closed, tag="function", tag_field="type"):
    id: str
    function: StrictFunction


StrictToolCall: TypeAlias = CodeInterpreterToolCall | StrictFileSearchToolCall | StrictFunctionToolCall


class StrictToolCallsDetails(Closed):
    type: Literal["tool_calls"]
    tool_calls: list[StrictToolCall]


class StrictLastError(Closed):
    code: KnownErrorCode
    message: str


class StrictUsage(Closed):
    prompt_tokens: TokenCount
    completion_tokens: TokenCount
    total_tokens: TokenCount


class StrictRunStep(Closed):
    """What every run step has under the contract; decoded ones are of the two tagged kinds below."""

    id: str
    object: Literal["thread.run.step"]
    created_at: int
    run_id: str
    assistant_id: str
    thread_id: str
    status: StepStatus
    step_details: MessageCreationDetails | StrictToolCallsDetails
    last_error: StrictLastError | None
    expired_at: int | None
    cancelled_at: int | None
    failed_at: int | None
    completed_at: int | None
    metadata: Metadata | None
    usage: StrictUsage | None


class StrictMessageCreationStep(StrictRunStep, tag="message_creation", tag_field="type"):
    step_details: MessageCreationDetails


class StrictToolCallsStep(StrictRunStep, tag="tool_calls", tag_field="type"):
    step_details: StrictToolCallsDetails


AnyStrictRunStep: TypeAlias = StrictMessageCreationStep | StrictToolCallsStep
