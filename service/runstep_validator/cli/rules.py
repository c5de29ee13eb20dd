"""What each error and warning code means, in words: the rules that SARIF lists and code-scanning views show.

A unit's `code` is the JSON Schema keyword that failed or the name of one of our own checks. A code missing here
still gets a rule (`rule()` describes it generically); the test of the catalogue keeps the codes the package emits
all described.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Rule(NamedTuple):
    short: str  # one line, shown in lists of alerts
    full: str  # what the rule checks
    help: str  # what to do about it


_KEYWORD_HELP = "Compare the value with the schema named in the result and correct the payload (or the producer)."

RULES: Final[dict[str, Rule]] = {
    # JSON Schema keywords
    "type": Rule("Value of the wrong type", "A value is not of the JSON type the schema gives it.", _KEYWORD_HELP),
    "const": Rule(
        "Value other than the one allowed",
        "A value differs from the only value the schema allows here (a const), such as the object member.",
        "Use the value the message names; a near miss comes with a suggestion of what was probably meant.",
    ),
    "enum": Rule(
        "Value not among those allowed",
        "A value is not one of the values the schema lists (an enum), such as a step's status or type.",
        "Use one of the values the message lists; a near miss comes with a suggestion of what was probably meant.",
    ),
    "required": Rule(
        "Required member missing",
        "An object lacks a member the schema requires.",
        "Add the member the message names; the OpenAI API always sends it.",
    ),
    "additionalProperties": Rule(
        "Unexpected member",
        "An object has a member its schema does not define, and the schema allows no others.",
        "Remove or rename the member; a near miss of a known member comes with a suggestion.",
    ),
    "unevaluatedProperties": Rule(
        "Unexpected member",
        "An object has a member none of its schemas define, and the schema allows no others.",
        "Remove or rename the member; a near miss of a known member comes with a suggestion.",
    ),
    "propertyNames": Rule(
        "Member name not allowed", "A member's name breaks the schema's rule for names.", _KEYWORD_HELP
    ),
    "minimum": Rule("Number too small", "A number is less than the schema's minimum.", _KEYWORD_HELP),
    "maximum": Rule("Number too large", "A number is greater than the schema's maximum.", _KEYWORD_HELP),
    "exclusiveMinimum": Rule("Number too small", "A number is not greater than the schema's bound.", _KEYWORD_HELP),
    "exclusiveMaximum": Rule("Number too large", "A number is not less than the schema's bound.", _KEYWORD_HELP),
    "multipleOf": Rule("Number not a multiple", "A number is not a multiple of the schema's step.", _KEYWORD_HELP),
    "minLength": Rule("String too short", "A string is shorter than the schema's minimum length.", _KEYWORD_HELP),
    "maxLength": Rule("String too long", "A string is longer than the schema's maximum length.", _KEYWORD_HELP),
    "pattern": Rule("String of the wrong form", "A string does not match the schema's pattern.", _KEYWORD_HELP),
    "minItems": Rule("Array too short", "An array has fewer items than the schema's minimum.", _KEYWORD_HELP),
    "maxItems": Rule("Array too long", "An array has more items than the schema's maximum.", _KEYWORD_HELP),
    "minProperties": Rule("Too few members", "An object has fewer members than the schema's minimum.", _KEYWORD_HELP),
    "maxProperties": Rule("Too many members", "An object has more members than the schema's maximum.", _KEYWORD_HELP),
    "false": Rule("Value not allowed", "A value appears where the schema allows none.", _KEYWORD_HELP),
    "not": Rule("Value of a forbidden form", "A value matches a schema it must not match.", _KEYWORD_HELP),
    "oneOf": Rule(
        "No single alternative fits", "A value matches none, or more than one, of the alternatives.", _KEYWORD_HELP
    ),
    "anyOf": Rule("No alternative fits", "A value matches none of the schema's alternatives.", _KEYWORD_HELP),
    # Checks of the input itself
    "invalid-json": Rule(
        "Not JSON",
        "The text is not JSON: a syntax error, invalid UTF-8, NaN or Infinity, trailing data, or nothing at all.",
        "Fix the text at the line and column given; a JSON Lines file holds one JSON document per line.",
    ),
    "object": Rule(
        "Unknown kind of object",
        "The payload's object member is missing or names an object no entry schema validates.",
        "Validate run steps, run-step deltas or list responses, or name the schema to use with --schema.",
    ),
    "unreadable": Rule(
        "File cannot be read",
        "The file could not be read: missing, not permitted, or not a run-step file of a known format.",
        "Check the path and the file's format (--input-format).",
    ),
    # Event streams
    "no-data": Rule("Event without data", "A run-step event of the stream carries no data.", "Check the producer."),
    "order": Rule(
        "Event out of order",
        "An event comes where the lifecycle of a run or step does not allow it (after done, before its step).",
        "Check that the transcript is whole and in the order it was received.",
    ),
    "accumulation": Rule(
        "Deltas disagree with the final step",
        "The deltas of a step, added up, differ from the step its final event carries.",
        "Check the deltas for lost or repeated fragments.",
    ),
    "cut": Rule(
        "Stream cut inside an event",
        "The transcript ends inside an event: its last data line has no blank line after it, so by the event-stream "
        "rules that event was never dispatched, and it is not validated.",
        "Record the stream to its end, or drop the incomplete last event.",
    ),
    "no-done": Rule(
        "Stream without its end",
        "The stream ends without the done event: it was cut short.",
        "Record the whole stream, up to its done event.",
    ),
    "done": Rule(
        "Malformed done event",
        "The stream's done event does not carry [DONE] as its data.",
        "Check the producer, or the tool that recorded the transcript.",
    ),
    "status": Rule(
        "Status contradicts its event",
        "A step's status is not the one its event announces (a completed event with an in_progress step).",
        "Check the producer; the event name and the step's status must agree.",
    ),
    "error-event": Rule(
        "Error reported by the stream", "The stream carries an error event.", "Read the error it names."
    ),
    "repeated-event": Rule(
        "Event repeated", "A step is announced again, unchanged.", "Harmless; the producer repeats itself."
    ),
    "framing": Rule(
        "Malformed event framing",
        "A line of the transcript is not a Server-Sent Events field.",
        "Check the transcript's framing: event:, data:, blank line between events.",
    ),
    # Warnings: valid payloads with something odd about them
    "token-sum": Rule(
        "Token counts do not add up",
        "usage.total_tokens is not prompt_tokens plus completion_tokens.",
        "Check the producer's usage figures.",
    ),
    "id-prefix": Rule(
        "Id of an unusual form",
        "An id does not start with the prefix the API gives it (step_, call_).",
        "Check that the id is the API's and not another system's.",
    ),
    "timestamp-order": Rule(
        "Timestamps out of order",
        "A timestamp is earlier than the step's created_at.",
        "Check the producer's clock and units (seconds, not milliseconds).",
    ),
    "status-timestamp": Rule(
        "Status without its timestamp",
        "The status names an ending whose timestamp is not set.",
        "Set the timestamp that goes with the status.",
    ),
    "status-error": Rule("Failure without its error", "The status is failed but last_error is not set.", "Set it."),
    "unknown-value": Rule(
        "Unknown value",
        "A value the schema leaves open is not one the API is known to send.",
        "Check for a typo, or a newer API version.",
    ),
    "duplicate-id": Rule("Repeated tool-call id", "Two tool calls of one step share an id.", "Give each call its id."),
    "legacy-type": Rule("Legacy type", "A tool call uses a type the API has replaced.", "Use the current type."),
    "negative-index": Rule("Negative index", "A delta's tool-call index is negative.", "Check the producer."),
    "unknown-property": Rule(
        "Unknown member",
        "A member the typed view does not know: accepted where the schema leaves objects open.",
        "Check for a typo, or a newer API version.",
    ),
    "unknown-type": Rule(
        "Unknown type",
        "A tool call or output of a type this version does not know: only its required members were checked.",
        "Check for a typo, or a newer API version.",
    ),
    "untyped": Rule(
        "Valid but untyped",
        "The payload is valid, but the typed view cannot hold it.",
        "Nothing to fix in the payload; report it if you load run steps with the typed view.",
    ),
}


def rule(code: str) -> Rule:
    """The rule of a code, described generically when the catalogue does not know it."""
    found = RULES.get(code)
    if found is not None:
        return found
    return Rule(f"Failed check: {code}", f"The {code} check or schema keyword failed.", _KEYWORD_HELP)
