"""The Structs mirror the schema files: same members, same required ones, same tags and closed vocabularies.

The differential tests catch a Struct that accepts something the schema rejects; this catches the quieter drift of
a member added to one side only, and names the object where it happened.
"""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from referencing import Registry

from runstep_validator import default_schemas
from runstep_validator.core import azure_models as az
from runstep_validator.core import delta_models as dm
from runstep_validator.core import models as m
from runstep_validator.core import strict_models as s

BASE = "https://runstep-validator.dev/schemas/"
STEP = "components/step_details.schema.json"
TOOLS = "components/tool_calls.schema.json"
OUTPUTS = "components/code_interpreter_outputs.schema.json"
SEARCH = "components/file_search.schema.json"

MIRRORS: list[tuple[type[msgspec.Struct], str]] = [
    (m.MessageCreationStep, "run_step.schema.json#"),
    (m.ToolCallsStep, "run_step.schema.json#"),
    (m.MessageCreationDetails, f"{STEP}#/$defs/message_creation_details"),
    (m.MessageCreation, f"{STEP}#/$defs/message_creation"),
    (m.ToolCallsDetails, f"{STEP}#/$defs/tool_calls_details"),
    (m.CodeInterpreterToolCall, f"{TOOLS}#/$defs/code_interpreter_call"),
    (m.CodeInterpreter, f"{TOOLS}#/$defs/code_interpreter"),
    (m.FileSearchToolCall, f"{TOOLS}#/$defs/file_search_call"),
    (m.FunctionToolCall, f"{TOOLS}#/$defs/function_call"),
    (m.Function, f"{TOOLS}#/$defs/function"),
    (m.RetrievalToolCall, f"{TOOLS}#/$defs/retrieval_call"),
    (m.LogsOutput, f"{OUTPUTS}#/$defs/logs"),
    (m.ImageOutput, f"{OUTPUTS}#/$defs/image"),
    (m.ImageFile, f"{OUTPUTS}#/$defs/image_file"),
    (m.FileSearch, f"{SEARCH}#"),
    (m.RankingOptions, f"{SEARCH}#/$defs/ranking_options"),
    (m.FileSearchResult, f"{SEARCH}#/$defs/result"),
    (m.FileSearchContent, f"{SEARCH}#/$defs/content"),
    (m.LastError, "components/last_error.schema.json#"),
    (m.Usage, "components/usage.schema.json#"),
    (s.StrictMessageCreationStep, "run_step.strict.schema.json#"),
    (s.StrictToolCallsStep, "run_step.strict.schema.json#"),
    (m.MessageCreationDetails, f"{STEP}#/$defs/message_creation_details_strict"),
    (m.MessageCreation, f"{STEP}#/$defs/message_creation_strict"),
    (s.StrictToolCallsDetails, f"{STEP}#/$defs/tool_calls_details_strict"),
    (m.CodeInterpreterToolCall, f"{TOOLS}#/$defs/code_interpreter_call_strict"),
    (m.CodeInterpreter, f"{TOOLS}#/$defs/code_interpreter_strict"),
    (s.StrictFileSearchToolCall, f"{TOOLS}#/$defs/file_search_call_strict"),
    (s.StrictFunctionToolCall, f"{TOOLS}#/$defs/function_call_strict"),
    (s.StrictFunction, f"{TOOLS}#/$defs/function_strict"),
    (m.LogsOutput, f"{OUTPUTS}#/$defs/logs_strict"),
    (m.ImageOutput, f"{OUTPUTS}#/$defs/image_strict"),
    (m.ImageFile, f"{OUTPUTS}#/$defs/image_file_strict"),
    (s.StrictFileSearch, f"{SEARCH}#/$defs/strict"),
    (s.StrictRankingOptions, f"{SEARCH}#/$defs/ranking_options_strict"),
    (s.StrictFileSearchResult, f"{SEARCH}#/$defs/result_strict"),
    (m.FileSearchContent, f"{SEARCH}#/$defs/content_strict"),
    (s.StrictLastError, "components/last_error.schema.json#/$defs/strict"),
    (s.StrictUsage, "components/usage.schema.json#/$defs/strict"),
]

DELTAS = "components/deltas.schema.json"
MIRRORS += [
    (dm.RunStepDelta, "run_step_delta.schema.json#"),
    (dm.Delta, f"{DELTAS}#/$defs/delta"),
    (dm.DeltaFunction, f"{DELTAS}#/$defs/function"),
    (dm.DeltaCodeInterpreter, f"{DELTAS}#/$defs/code_interpreter"),
    (dm.DeltaMessageCreationDetails, f"{DELTAS}#/$defs/message_creation_details"),
    (dm.DeltaToolCallsDetails, f"{DELTAS}#/$defs/tool_calls_details"),
    (dm.StrictRunStepDelta, "run_step_delta.strict.schema.json#"),
    (dm.StrictDelta, f"{DELTAS}#/$defs/delta_strict"),
    # Shared by both entries: each mirrors the contract too.
    (dm.DeltaCodeInterpreterCall, f"{DELTAS}#/$defs/code_interpreter_call_strict"),
    (dm.DeltaCodeInterpreter, f"{DELTAS}#/$defs/code_interpreter_call_strict/properties/code_interpreter"),
    (dm.DeltaFunction, f"{DELTAS}#/$defs/function_call_strict/properties/function"),
    (dm.DeltaFunctionCall, f"{DELTAS}#/$defs/function_call_strict"),
    (dm.StrictDeltaFileSearchCall, f"{DELTAS}#/$defs/file_search_call_strict"),
    (dm.StrictDeltaToolCallsDetails, f"{DELTAS}#/$defs/tool_calls_details_strict"),
]

AZ = "components/azure.schema.json#/$defs"
FRAGMENT = f"{AZ}/delta_tool_call/properties"
MIRRORS += [
    (az.AzureToolCallsStep, "azure_run_step.schema.json#"),
    (az.ActivitiesStep, "azure_run_step.schema.json#"),
    (az.AzureToolCallsDetails, f"{AZ}/tool_calls_details"),
    (az.ActivitiesDetails, f"{AZ}/activities_details"),
    (az.Activity, f"{AZ}/activity"),
    (az.ActivityTool, f"{AZ}/activity_tool"),
    (az.ToolParameters, f"{AZ}/activity_tool/properties/parameters"),
    (az.AzureFileSearchToolCall, f"{TOOLS}#/$defs/file_search_call"),
    (az.BingGroundingToolCall, f"{AZ}/bing_grounding_call"),
    (az.BingSearch, f"{AZ}/bing_grounding"),
    (az.BingCustomSearchToolCall, f"{AZ}/bing_custom_search_call"),
    (az.AzureAISearchToolCall, f"{AZ}/azure_ai_search_call"),
    (az.SharepointToolCall, f"{AZ}/sharepoint_grounding_call"),
    (az.FabricToolCall, f"{AZ}/fabric_dataagent_call"),
    (az.InputOutput, f"{AZ}/sharepoint_grounding"),
    (az.InputOutput, f"{AZ}/fabric_dataagent"),
    (az.OpenApiToolCall, f"{AZ}/openapi_call"),
    (az.AzureFunctionToolCall, f"{AZ}/azure_function_call"),
    (az.AzureFunction, f"{AZ}/azure_function"),
    (az.ConnectedAgentToolCall, f"{AZ}/connected_agent_call"),
    (az.ConnectedAgent, f"{AZ}/connected_agent"),
    (az.DeepResearchToolCall, f"{AZ}/deep_research_call"),
    (az.InputOutput, f"{AZ}/deep_research"),
    (az.McpToolCall, f"{AZ}/mcp_call"),
    (az.BrowserAutomationToolCall, f"{AZ}/browser_automation_call"),
    (az.BrowserAutomation, f"{AZ}/browser_automation"),
    (az.BrowserStep, f"{AZ}/browser_step"),
    (az.ComputerUseToolCall, f"{AZ}/computer_use_preview_call"),
    (az.ComputerUse, f"{AZ}/computer_use_preview"),
    (az.ComputerAction, f"{AZ}/computer_use_preview/properties/action"),
    (az.ComputerScreenshot, f"{AZ}/computer_use_preview/properties/output"),
    (az.SafetyCheck, f"{AZ}/safety_check"),
    (az.StrictAzureMessageCreationStep, "azure_run_step.strict.schema.json#"),
    (az.StrictAzureToolCallsStep, "azure_run_step.strict.schema.json#"),
    (az.StrictAzureToolCallsDetails, f"{AZ}/tool_calls_details_strict"),
    (az.StrictAzureFileSearchToolCall, f"{TOOLS}#/$defs/file_search_call_strict"),
    (az.StrictBingGroundingToolCall, f"{AZ}/bing_grounding_call_strict"),
    (az.StrictAzureAISearchToolCall, f"{AZ}/azure_ai_search_call_strict"),
    (az.StrictOpenApiToolCall, f"{AZ}/openapi_call_strict"),
    (az.AzureFunctionToolCall, f"{AZ}/azure_function_call_strict"),
    (az.AzureFunction, f"{AZ}/azure_function_strict"),
    (az.AzureRunStepDelta, "azure_run_step_delta.schema.json#"),
    (az.AzureDelta, f"{AZ}/delta"),
    (az.DeltaBingSearch, f"{FRAGMENT}/bing_grounding"),
    (az.DeltaBingSearch, f"{FRAGMENT}/bing_custom_search"),
    (az.DeltaInputOutput, f"{FRAGMENT}/azure_ai_search"),
    (az.DeltaInputOutput, f"{FRAGMENT}/sharepoint_grounding"),
    (az.DeltaInputOutput, f"{FRAGMENT}/fabric_dataagent"),
    (az.DeltaDeepResearch, f"{FRAGMENT}/deep_research"),
    (az.DeltaConnectedAgent, f"{AZ}/delta_connected_agent"),
    (az.StrictAzureRunStepDelta, "azure_run_step_delta.strict.schema.json#"),
    (az.StrictAzureDelta, f"{AZ}/delta_strict"),
]
# Tool-call fragments are one open object in the schema (every member checked whatever the type says); each
# Struct is one of its tagged variants, so they are held to it by the differential tests rather than member by member.
UNMIRRORED = {
    az.Open,
    # file_search with the results requirement Azure adds beside it (an allOf), not inside it.
    az.FileSearchWithResults,
    az.StrictAzureFileSearch,
    az.DeltaBingGroundingCall,
    az.DeltaBingCustomSearchCall,
    az.DeltaAzureAISearchCall,
    az.DeltaSharepointCall,
    az.DeltaFabricCall,
    az.DeltaOpenApiCall,
    az.DeltaAzureFunctionCall,
    az.DeltaConnectedAgentCall,
    az.DeltaDeepResearchCall,
    az.DeltaMcpCall,
    az.AzureDeltaToolCallsDetails,
    az.StrictDeltaCodeInterpreterCall,
    az.StrictDeltaFunctionCall,
    az.StrictDeltaAzureFunctionCall,
    az.StrictAzureDeltaToolCallsDetails,
}


def lookup(registry: Registry[Any], uri: str, ref: str | None = None) -> dict[str, Any]:
    """The schema at `uri`, or at `ref` resolved against it, following `$ref`-only wrappers."""
    resolved = registry.resolver(base_uri=uri.partition("#")[0]).lookup(ref or uri)
    contents: dict[str, Any] = resolved.contents
    while "$ref" in contents and "properties" not in contents and "enum" not in contents and "const" not in contents:
        resolved = resolved.resolver.lookup(contents["$ref"])
        contents = resolved.contents
    return contents


def mirrored(struct: type[msgspec.Struct], location: str) -> tuple[Registry[Any], str, dict[str, Any], mi.StructType]:
    """The registry, the schema's URI and contents, and the Struct's type info, for one mirror."""
    registry = default_schemas().registry
    uri = BASE + location
    info = mi.type_info(struct)
    assert isinstance(info, mi.StructType)
    return registry, uri, lookup(registry, uri), info


def literal_values(kind: mi.Type) -> set[Any] | None:
    members = kind.types if isinstance(kind, mi.UnionType) else (kind,)
    for member in members:
        if isinstance(member, mi.LiteralType):
            return set(member.values)
    return None


def test_every_struct_is_mirrored() -> None:
    structs = {
        value
        for module in (m, s, az)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, msgspec.Struct) and value.__module__ == module.__name__
    }

    # The bases hold what both kinds of run step share; each kind is mirrored.
    assert structs - {struct for struct, _ in MIRRORS} - UNMIRRORED == {
        m.Closed,
        m.Retrieval,
        m.RunStep,
        s.StrictRunStep,
    }


@pytest.mark.parametrize(("struct", "location"), MIRRORS, ids=[location for _, location in MIRRORS])
def test_struct_mirrors_schema(struct: type[msgspec.Struct], location: str) -> None:
    registry, uri, schema, info = mirrored(struct, location)
    tag_field = info.tag_field
    properties = {name: sub for name, sub in schema.get("properties", {}).items() if name != tag_field}

    assert {field.encode_name for field in info.fields} == set(properties)
    assert {field.encode_name for field in info.fields if field.required} == set(schema.get("required", [])) - {
        tag_field
    }
    if tag_field is not None:
        tag_schema = schema["properties"][tag_field]
        if "$ref" in tag_schema:  # a run step's own type: one value of the step_type vocabulary
            assert info.tag in lookup(registry, uri, tag_schema["$ref"])["enum"]
        else:
            assert tag_schema == {"const": info.tag}
    for field in info.fields:
        declared = properties[field.encode_name]
        if "$ref" in declared:
            declared = lookup(registry, uri, declared["$ref"])
        vocabulary = (
            set(declared["enum"]) if "enum" in declared else {declared["const"]} if "const" in declared else None
        )
        assert literal_values(field.type) == vocabulary, field.name


BOUNDS = ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")


def struct_bounds(kind: mi.Type) -> tuple[dict[str, Any], bool]:
    """The bounds a field's msgspec type enforces, in JSON Schema's words, and whether it accepts null."""
    members = kind.types if isinstance(kind, mi.UnionType) else (kind,)
    nullable = any(isinstance(member, mi.NoneType) for member in members)
    bounds: dict[str, Any] = {}
    for member in members:
        if isinstance(member, mi.IntType | mi.FloatType):
            bounds.update(minimum=member.ge, maximum=member.le)
        elif isinstance(member, mi.StrType):
            bounds.update(minLength=member.min_length, maxLength=member.max_length)
        elif isinstance(member, mi.ListType):
            bounds.update(minItems=member.min_length, maxItems=member.max_length)
        elif isinstance(member, mi.DictType):
            bounds.update(minProperties=member.min_length, maxProperties=member.max_length)
            key, _ = struct_bounds(member.key_type)
            value, _ = struct_bounds(member.value_type)
            bounds.update({f"propertyNames.{name}": bound for name, bound in key.items()})
            bounds.update({f"additionalProperties.{name}": bound for name, bound in value.items()})
    return {name: bound for name, bound in bounds.items() if bound is not None}, nullable


def schema_bounds(registry: Registry[Any], uri: str, declared: dict[str, Any]) -> tuple[dict[str, Any], bool | None]:
    """The same for a property's schema; nullability None where the schema does not say by `type`."""
    if "$ref" in declared:
        declared = lookup(registry, uri, declared["$ref"])
    bounds = {name: declared[name] for name in BOUNDS if name in declared}
    for keyword in ("propertyNames", "additionalProperties"):
        sub = declared.get(keyword)
        if isinstance(sub, dict):
            sub = lookup(registry, uri, sub["$ref"]) if "$ref" in sub else sub
            bounds.update({f"{keyword}.{name}": sub[name] for name in BOUNDS if name in sub})
    kinds = declared.get("type")
    nullable = None if kinds is None else "null" in ([kinds] if isinstance(kinds, str) else kinds)
    return bounds, nullable


@pytest.mark.parametrize(("struct", "location"), MIRRORS, ids=[location for _, location in MIRRORS])
def test_struct_bounds_and_nullability_mirror_the_schema(struct: type[msgspec.Struct], location: str) -> None:
    registry, uri, schema, info = mirrored(struct, location)
    for field in info.fields:
        declared = schema["properties"][field.encode_name]
        expected_bounds, expected_nullable = schema_bounds(registry, uri, declared)
        bounds, nullable = struct_bounds(field.type)

        assert bounds == expected_bounds, field.name
        if expected_nullable is not None:
            assert nullable is expected_nullable, field.name
