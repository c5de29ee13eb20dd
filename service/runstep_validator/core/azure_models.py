"""msgspec Structs for Azure AI Agents run steps and deltas (`schemas/azure_*.schema.json`): the fast path of the
`azure` dialect.

Azure's run steps are OpenAI's with more tool-call types and a preview `activities` step, so the Structs OpenAI's
entries use are shared wherever the two describe an object alike. As everywhere, a Struct may be stricter than its
schema (closed objects, known types only), never looser; what they refuse goes to the full-report engine.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec
from msgspec import UNSET, UnsetType

from .delta_models import (
    DeltaCodeInterpreterCall,
    DeltaFileSearchCall,
    DeltaFunction,
    DeltaFunctionCall,
    DeltaMessageCreationDetails,
    Index,
    RunStepDelta,
    StrictRunStepDelta,
)
from .models import (
    Closed,
    CodeInterpreterToolCall,
    FileSearchResult,
    Function,
    FunctionToolCall,
    MessageCreationStep,
    RankingOptions,
    RunStep,
)
from .strict_models import (
    StrictFileSearchResult,
    StrictFunctionToolCall,
    StrictMessageCreationStep,
    StrictRankingOptions,
    StrictRunStep,
    StrictUsage,
)

Text: TypeAlias = str | None
StringRecord: TypeAlias = dict[str, Text]  # Record<string> as the service fills it: strings, or null while pending


class Open(msgspec.Struct, kw_only=True, gc=False):
    """An object whose schema leaves it open (an MCP tool's JSON Schema, a computer action's coordinates)."""


# ---- tool calls as the service sends them


class FileSearchWithResults(Closed):
    """Azure's contract requires the results that OpenAI's leaves optional."""

    results: list[FileSearchResult]
    ranking_options: RankingOptions | UnsetType = UNSET


class AzureFileSearchToolCall(Closed, tag="file_search", tag_field="type"):
    id: str
    file_search: FileSearchWithResults


class BingSearch(Closed):
    requesturl: str
    response_metadata: Text | UnsetType = UNSET


class BingGroundingToolCall(Closed, tag="bing_grounding", tag_field="type"):
    id: str
    bing_grounding: BingSearch


class BingCustomSearchToolCall(Closed, tag="bing_custom_search", tag_field="type"):
    id: str
    bing_custom_search: StringRecord


class AzureAISearchToolCall(Closed, tag="azure_ai_search", tag_field="type"):
    id: str
    azure_ai_search: StringRecord


class InputOutput(Closed):
    input: str
    output: Text | UnsetType = UNSET


class SharepointToolCall(Closed, tag="sharepoint_grounding", tag_field="type"):
    id: str
    sharepoint_grounding: InputOutput


class FabricToolCall(Closed, tag="fabric_dataagent", tag_field="type"):
    id: str
    fabric_dataagent: InputOutput


class OpenApiToolCall(Closed, tag="openapi", tag_field="type"):
    """The operation as `function` (what the service sends) or as `openapi` (what the contract names)."""

    id: str
    function: Function | UnsetType = UNSET
    openapi: StringRecord | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.function is UNSET and self.openapi is UNSET:
            raise ValueError("an openapi call carries its operation as function or openapi")


class AzureFunction(Closed):
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET
    output: Text | UnsetType = UNSET


class AzureFunctionToolCall(Closed, tag="azure_function", tag_field="type"):
    id: str
    azure_function: AzureFunction


class ConnectedAgent(Closed):
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET
    output: Text | UnsetType = UNSET
    run_id: str | UnsetType = UNSET
    thread_id: str | UnsetType = UNSET
    assistant_id: str | UnsetType = UNSET


class ConnectedAgentToolCall(Closed, tag="connected_agent", tag_field="type"):
    id: str
    connected_agent: ConnectedAgent


class DeepResearchToolCall(Closed, tag="deep_research", tag_field="type"):
    id: str
    deep_research: InputOutput


class McpToolCall(Closed, tag="mcp", tag_field="type"):
    id: str
    name: str
    arguments: str
    server_label: str | UnsetType = UNSET
    output: Text | UnsetType = UNSET


class BrowserStep(Closed):
    last_step_result: Text | UnsetType = UNSET
    current_state: Text | UnsetType = UNSET
    next_step: Text | UnsetType = UNSET


class BrowserAutomation(Closed):
    input: str
    output: Text | UnsetType = UNSET
    steps: list[BrowserStep] | UnsetType = UNSET


class BrowserAutomationToolCall(Closed, tag="browser_automation", tag_field="type"):
    id: str
    browser_automation: BrowserAutomation


class ComputerAction(Open):
    type: Literal["click", "double_click", "drag", "keypress", "move", "screenshot", "scroll", "type", "wait"]


class SafetyCheck(Closed):
    id: str
    code: Text | UnsetType = UNSET
    message: Text | UnsetType = UNSET


class ComputerScreenshot(Closed):
    type: Literal["computer_screenshot"]
    file_id: str | UnsetType = UNSET
    image_url: str | UnsetType = UNSET


class ComputerUse(Closed):
    action: ComputerAction
    pending_safety_checks: list[SafetyCheck]
    acknowledged_safety_checks: list[SafetyCheck] | UnsetType = UNSET
    output: ComputerScreenshot | UnsetType | None = UNSET


class ComputerUseToolCall(Closed, tag="computer_use_preview", tag_field="type"):
    id: str
    computer_use_preview: ComputerUse


AzureToolCall: TypeAlias = (
    CodeInterpreterToolCall
    | AzureFileSearchToolCall
    | FunctionToolCall
    | BingGroundingToolCall
    | BingCustomSearchToolCall
    | AzureAISearchToolCall
    | SharepointToolCall
    | FabricToolCall
    | OpenApiToolCall
    | AzureFunctionToolCall
    | ConnectedAgentToolCall
    | DeepResearchToolCall
    | McpToolCall
    | BrowserAutomationToolCall
    | ComputerUseToolCall
)


class AzureToolCallsDetails(Closed):
    type: Literal["tool_calls"]
    tool_calls: list[AzureToolCall]


class ToolParameters(Open):
    type: Literal["object"]
    properties: dict[str, dict[str, Any]] | UnsetType = UNSET
    required: list[str] | UnsetType = UNSET
    additional_properties: bool | dict[str, Any] | UnsetType = msgspec.field(default=UNSET, name="additionalProperties")


class ActivityTool(Open):
    parameters: ToolParameters
    description: str | UnsetType = UNSET


class Activity(Closed):
    id: str
    type: str
    server_label: str
    tools: dict[str, ActivityTool]


class ActivitiesDetails(Closed):
    type: Literal["activities"]
    activities: list[Activity]


# The kinds of step reuse what every run step has and widen what their details may hold; msgspec decodes each
# field by the subclass's annotation, which mypy sees as an incompatible override.
class AzureToolCallsStep(RunStep, tag="tool_calls", tag_field="type"):
    step_details: AzureToolCallsDetails  # type: ignore[assignment]


class ActivitiesStep(RunStep, tag="activities", tag_field="type"):
    step_details: ActivitiesDetails  # type: ignore[assignment]


AnyAzureRunStep: TypeAlias = MessageCreationStep | AzureToolCallsStep | ActivitiesStep


# ---- the stable (v1) contract

StrictRecord: TypeAlias = dict[str, str]


class StrictAzureFileSearch(Closed):
    results: list[StrictFileSearchResult]
    ranking_options: StrictRankingOptions | UnsetType = UNSET


class StrictAzureFileSearchToolCall(Closed, tag="file_search", tag_field="type"):
    id: str
    file_search: StrictAzureFileSearch


class StrictBingGroundingToolCall(Closed, tag="bing_grounding", tag_field="type"):
    id: str
    bing_grounding: StrictRecord


class StrictAzureAISearchToolCall(Closed, tag="azure_ai_search", tag_field="type"):
    id: str
    azure_ai_search: StrictRecord


class StrictOpenApiToolCall(Closed, tag="openapi", tag_field="type"):
    id: str
    openapi: StrictRecord


StrictAzureToolCall: TypeAlias = (
    CodeInterpreterToolCall
    | StrictAzureFileSearchToolCall
    | StrictFunctionToolCall
    | StrictBingGroundingToolCall
    | StrictAzureAISearchToolCall
    | StrictOpenApiToolCall
    | AzureFunctionToolCall
)


class StrictAzureToolCallsDetails(Closed):
    type: Literal["tool_calls"]
    tool_calls: list[StrictAzureToolCall]


class StrictAzureMessageCreationStep(StrictMessageCreationStep, tag="message_creation", tag_field="type"):
    usage: StrictUsage | UnsetType | None = UNSET  # type: ignore[assignment]  # optional in Azure's contract only


class StrictAzureToolCallsStep(StrictRunStep, tag="tool_calls", tag_field="type"):
    step_details: StrictAzureToolCallsDetails  # type: ignore[assignment]
    usage: StrictUsage | UnsetType | None = UNSET  # type: ignore[assignment]


AnyStrictAzureRunStep: TypeAlias = StrictAzureMessageCreationStep | StrictAzureToolCallsStep


# ---- deltas


class DeltaBingSearch(Closed):
    requesturl: str | UnsetType = UNSET
    response_metadata: Text | UnsetType = UNSET


class DeltaInputOutput(Closed):
    input: Text | UnsetType = UNSET  # null in the first fragment of an Azure AI Search call
    output: Text | UnsetType = UNSET


class DeltaDeepResearch(Closed):
    input: str | UnsetType = UNSET
    output: Text | UnsetType = UNSET


class DeltaBingGroundingCall(Closed, tag="bing_grounding", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    bing_grounding: DeltaBingSearch | UnsetType = UNSET


class DeltaBingCustomSearchCall(Closed, tag="bing_custom_search", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    bing_custom_search: DeltaBingSearch | UnsetType = UNSET


class DeltaAzureAISearchCall(Closed, tag="azure_ai_search", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    azure_ai_search: DeltaInputOutput | UnsetType = UNSET


class DeltaSharepointCall(Closed, tag="sharepoint_grounding", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    sharepoint_grounding: DeltaInputOutput | UnsetType = UNSET


class DeltaFabricCall(Closed, tag="fabric_dataagent", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    fabric_dataagent: DeltaInputOutput | UnsetType = UNSET


class DeltaOpenApiCall(Closed, tag="openapi", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    function: DeltaFunction | UnsetType = UNSET


class DeltaAzureFunctionCall(Closed, tag="azure_function", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    azure_function: AzureFunction | UnsetType = UNSET


class DeltaConnectedAgent(Closed):
    """The service opens a connected agent call with its run, thread and agent ids null (the .NET SDK's recording)."""

    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET
    output: Text | UnsetType = UNSET
    run_id: Text | UnsetType = UNSET
    thread_id: Text | UnsetType = UNSET
    assistant_id: Text | UnsetType = UNSET


class DeltaConnectedAgentCall(Closed, tag="connected_agent", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    connected_agent: DeltaConnectedAgent | UnsetType = UNSET


class DeltaDeepResearchCall(Closed, tag="deep_research", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    deep_research: DeltaDeepResearch | UnsetType = UNSET


class DeltaMcpCall(Closed, tag="mcp", tag_field="type"):
    index: Index
    id: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET
    server_label: str | UnsetType = UNSET
    output: Text | UnsetType = UNSET


AzureDeltaToolCall: TypeAlias = (
    DeltaCodeInterpreterCall
    | DeltaFileSearchCall
    | DeltaFunctionCall
    | DeltaBingGroundingCall
    | DeltaBingCustomSearchCall
    | DeltaAzureAISearchCall
    | DeltaSharepointCall
    | DeltaFabricCall
    | DeltaOpenApiCall
    | DeltaAzureFunctionCall
    | DeltaConnectedAgentCall
    | DeltaDeepResearchCall
    | DeltaMcpCall
)


class AzureDeltaToolCallsDetails(Closed, tag="tool_calls", tag_field="type"):
    tool_calls: list[AzureDeltaToolCall] | UnsetType = UNSET


class AzureDelta(Closed):
    step_details: DeltaMessageCreationDetails | AzureDeltaToolCallsDetails | UnsetType = UNSET


class AzureRunStepDelta(RunStepDelta):
    """One fragment of a run step as Azure AI Agents streams it: OpenAI's, with Azure's fragments."""

    delta: AzureDelta  # type: ignore[assignment]  # msgspec decodes by the subclass's annotation


# The stable contract's deltas (RunStepDeltaChunk): every tool-call fragment names its index, id and type.


class StrictDeltaCodeInterpreterCall(DeltaCodeInterpreterCall, tag="code_interpreter", tag_field="type"):
    id: str


class StrictDeltaFunctionCall(DeltaFunctionCall, tag="function", tag_field="type"):
    id: str


class StrictDeltaAzureFunctionCall(Closed, tag="azure_function", tag_field="type"):
    index: Index
    id: str
    azure_function: AzureFunction | UnsetType = UNSET


StrictAzureDeltaToolCall: TypeAlias = (
    StrictDeltaCodeInterpreterCall | StrictDeltaFunctionCall | StrictDeltaAzureFunctionCall
)


class StrictAzureDeltaToolCallsDetails(Closed, tag="tool_calls", tag_field="type"):
    tool_calls: list[StrictAzureDeltaToolCall] | UnsetType = UNSET


class StrictAzureDelta(Closed):
    step_details: DeltaMessageCreationDetails | StrictAzureDeltaToolCallsDetails | UnsetType = UNSET


class StrictAzureRunStepDelta(StrictRunStepDelta):
    delta: StrictAzureDelta  # type: ignore[assignment]
