"""The full-report engine: every error of a payload the Structs refused, found by jsonschema-rs.

jsonschema-rs walks the schema (offline, through a registry of the shipped files) and gives each error's instance
path, its keyword location through `$ref`s and its absolute keyword location. This module turns them into report
units with messages of our own (short excerpts, never whole values, nothing at all when redacting) and puts the
most relevant error first, by the rule python-jsonschema's `best_match` uses, so that the headline is the one
people who know that library expect.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from operator import itemgetter
from typing import Any, Final
from urllib.parse import unquote

import jsonschema_rs

from .deadline import check_time
from .errors import SchemaError
from .messages import describe_failure, excerpt, failure_suffix, is_redacting, pointer
from .messages import tokens as pointer_tokens
from .report import OutputUnit
from .schemas import SchemaSet
from .suggestions import NearMisses, did_you_mean, quoted

WEAK_KEYWORDS: Final = frozenset({"anyOf", "oneOf"})
# The keywords whose failures may be near misses of a word of the schema.
SUGGESTING: Final = frozenset({"enum", "const", "additionalProperties", "unevaluatedProperties"})
# Unexpected members looked at for near misses, in the payload's order: a typo comes alone or in a few, and an
# object of ten thousand unknown members must not cost ten thousand comparisons with every known one.
MEMBERS_EXAMINED: Final = 16


def _refuse_to_fetch(uri: str) -> Any:
    # Every schema is in the registry: a reference outside it is a broken schema, never a download.
    raise SchemaError(f"{uri} is not one of the shipped schemas, and nothing is fetched")


_WHOLE_NUMBER: Final = frozenset({"integer", "number"})
_FRACTION: Final = frozenset({"number"})
_TYPES_OF: Final[dict[type, frozenset[str]]] = {
    dict: frozenset({"object"}),
    list: frozenset({"array"}),
    str: frozenset({"string"}),
    type(None): frozenset({"null"}),
    bool: frozenset({"boolean"}),  # not a number, though Python's bool is an int
    int: _WHOLE_NUMBER,
}


def json_types(instance: Any) -> frozenset[str]:
    """The JSON Schema types a parsed JSON value has: booleans are not numbers, and 5.0 is an integer. Parsed JSON
    is found by its exact type; a value handed over already parsed may be of a subclass (an OrderedDict, an
    IntEnum), found by the class it derives from."""
    found = _TYPES_OF.get(type(instance))
    if found is not None:
        return found
    if isinstance(instance, float):
        return _WHOLE_NUMBER if instance.is_integer() else _FRACTION
    return next((types for kind, types in _TYPES_OF.items() if isinstance(instance, kind)), frozenset())


def _true_path(document: Any, reported: Any, instance: Any) -> tuple[list[str | int], Any]:
    """The instance path as the payload spells it, and the value there as the payload has it (jsonschema-rs hands
    back a copy whose objects have their keys sorted). jsonschema-rs 0.60 loses two things in its instance paths:
    an empty member name ("" is left out) and a member name made of digits (given as a number: "00" becomes 0).
    The common path has neither and is walked once; otherwise the spellings that fit are tried, keeping the first
    that leads to the failing value."""
    path = list(reported)
    node = document
    for token in path:
        if isinstance(node, dict):
            if "" in node or not isinstance(token, str) or token not in node:
                break
            node = node[token]
        elif isinstance(node, list) and isinstance(token, int) and 0 <= token < len(node):
            node = node[token]
        else:
            break
    else:
        if not (isinstance(node, dict) and "" in node):
            return path, node
    fallback: list[str | int] | None = None
    for candidate in _candidate_paths(document, path):
        fallback = fallback or candidate
        if _value_at(document, candidate) == instance:
            return candidate, _value_at(document, candidate)
    found = fallback or [str(token) if isinstance(token, int) else token for token in path]
    return found, _value_at(document, found)


def _candidate_paths(node: Any, rest: list[Any]) -> Iterator[list[str | int]]:
    if isinstance(node, dict) and "" in node:
        for tail in _candidate_paths(node[""], rest):
            yield ["", *tail]
    if not rest:
        yield []
        return
    token, *remaining = rest
    if isinstance(node, dict):
        names = [token] if isinstance(token, str) else []
        if isinstance(token, int):  # a member named with digits, reported as a number
            names = [name for name in node if name.isdecimal() and name.isascii() and int(name) == token]
        for name in names:
            if name in node:
                for tail in _candidate_paths(node[name], remaining):
                    yield [name, *tail]
    elif isinstance(node, list) and isinstance(token, int) and 0 <= token < len(node):
        for tail in _candidate_paths(node[token], remaining):
            yield [token, *tail]


def _document_order(document: Any, path: list[str | int]) -> list[int]:
    """Where a value sits in the payload's own order: the position of each member and item on its path."""
    order: list[int] = []
    for token in path:
        if isinstance(document, dict):
            order.append(list(document).index(token))
        else:
            order.append(int(token))
        document = document[token]
    return order


def _value_at(document: Any, path: list[str | int]) -> Any:
    for token in path:
        document = document[token] if isinstance(document, dict) else document[int(token)]
    return document


class _Located:
    """What an absolute keyword location stands for, resolved once: the keyword and the schema object holding it."""

    __slots__ = ("_near_misses", "expected", "keyword", "matches_type", "schema", "suffix")

    def __init__(self, keyword: str, schema: dict[str, Any]) -> None:
        self.keyword = keyword
        self.schema = schema
        self.expected = schema.get(keyword)
        # The message's words after the value's excerpt, when they are the schema's alone: made once per place.
        self.suffix = failure_suffix(keyword, self.expected)
        expected_type = schema.get("type")
        kinds = [] if expected_type is None else [expected_type] if isinstance(expected_type, str) else expected_type
        self.matches_type = frozenset(kinds)  # the types its schema object accepts, for relevance
        self._near_misses: NearMisses | None = None

    @property
    def near_misses(self) -> NearMisses:
        """The words a near miss may have meant here: the allowed values of an enum or const, the member names of
        a closed object. Prepared on the first error at this place, then kept with it."""
        if self._near_misses is None:
            if self.keyword == "enum":
                allowed = self.schema.get("enum")
                values: list[object] = list(allowed) if isinstance(allowed, list) else []
            elif self.keyword == "const":
                values = [self.schema.get("const")]
            else:
                properties = self.schema.get("properties")
                values = list(properties) if isinstance(properties, dict) else []
            self._near_misses = NearMisses(values)
        return self._near_misses


def _suggested(message: str, keyword: str, instance: Any, located: _Located) -> tuple[str, str | None]:
    """The message with what a near miss probably meant, and that word; the message alone when nothing is near.
    For unexpected members, each near miss is named after its member (quoted as the message quotes it)."""
    near = located.near_misses
    if keyword in ("enum", "const"):
        meant = near.meant(instance)
        return (f"{message}; {did_you_mean(meant)}", meant) if meant is not None else (message, None)
    if not isinstance(instance, dict):
        return message, None
    known = located.schema.get("properties", {})
    unexpected = itertools.islice((member for member in instance if member not in known), MEMBERS_EXAMINED)
    meant_by_member = [(member, meant) for member in unexpected if (meant := near.meant(member)) is not None]
    if not meant_by_member:
        return message, None
    if len(meant_by_member) == 1:
        return f"{message}; {did_you_mean(meant_by_member[0][1])}", meant_by_member[0][1]
    if is_redacting():  # the member names are the payload's words: only the schema's are said
        said = " and ".join(quoted(meant) for _, meant in meant_by_member)
    else:
        said = " and ".join(f"{quoted(meant)} (for {excerpt(member)})" for member, meant in meant_by_member)
    return f"{message}; did you mean {said}?", meant_by_member[0][1]


# An error's unit, its relevance (the key `max` ranks by) and its instance path as the payload spells it.
_Found = tuple[OutputUnit, tuple[Any, ...], list[str | int]]
_RELEVANCE: Final = itemgetter(1)


class Engine:
    """Every error of a document against one entry schema, the most relevant first. Build it once per entry."""

    def __init__(self, schemas: SchemaSet, name: str) -> None:
        entry = schemas.entry(name)
        self.schema_id = entry.id
        self._documents = {doc.id: doc.contents for doc in schemas.documents}
        try:
            registry = jsonschema_rs.Registry(
                [(doc.id, doc.contents) for doc in schemas.documents], retriever=_refuse_to_fetch
            )
            self._validator = jsonschema_rs.Draft202012Validator(
                entry.contents, registry=registry, retriever=_refuse_to_fetch, validate_formats=False
            )
        except (ValueError, jsonschema_rs.ReferencingError) as exc:
            raise SchemaError(f"{entry.path}: {exc}") from None
        self._located: dict[str, _Located] = {}
        # Keyword locations are paths through the schemas, finitely many: each is spelled as a pointer once.
        self._keyword_locations: dict[tuple[str | int, ...], str] = {}

    def is_valid(self, document: Any) -> bool:
        return bool(self._validator.is_valid(document))

    def errors(self, document: Any) -> tuple[OutputUnit, ...]:
        """Every error of `document`; empty when it is valid."""
        found = []
        for error in self._validator.iter_errors(document):
            check_time()  # a payload with a hundred thousand errors stops at a time limit, not after them all
            found.append(self._unit(error, document))
        if len(found) < 2:  # nothing to rank
            return tuple(unit for unit, _, _ in found)
        best = self._first_written(found, max(found, key=_RELEVANCE))
        # After the best match, errors in the order their values appear in the payload, as people read it.
        rest = [entry for entry in found if entry is not best]
        if len(rest) > 1:
            rest.sort(key=lambda entry: _document_order(document, entry[2]))
        return (best[0], *(unit for unit, _, _ in rest))

    def _unit(self, error: jsonschema_rs.ValidationError, document: Any) -> _Found:
        """The error's unit, its relevance, and its path."""
        path, instance = _true_path(document, error.instance_path, error.instance)
        kind = error.kind
        in_property_names = kind.name == "propertyNames"
        # The keyword that failed: on the member's name, for propertyNames.
        failed = kind.as_dict()["error"] if in_property_names else error
        absolute = failed.absolute_keyword_location or self._absolute(failed)
        located = self._locate_absolute(absolute)
        keyword = located.keyword
        suffix = located.suffix
        if suffix is not None and not (in_property_names and keyword == "maxLength"):
            message = excerpt(failed.instance if in_property_names else instance) + suffix
        else:
            if kind.name == "required":
                fallback = f"{kind.as_dict()['property']!r} is a required property"
            else:
                fallback = str(failed.message)
            message = describe_failure(
                keyword,
                failed.instance if in_property_names else instance,
                located.expected,
                located.schema,
                in_property_names=in_property_names,
                fallback=fallback,
            )
        suggestion = None
        if keyword in SUGGESTING and not in_property_names:
            message, suggestion = _suggested(message, keyword, instance, located)
        unit = OutputUnit(
            instance_location=pointer(path),
            keyword_location=self._keyword_location(error.evaluation_path),
            absolute_keyword_location=absolute,
            error=message,
            code=keyword,
            suggestion=suggestion,
        )
        # python-jsonschema's `by_relevance`: nearer the root first, then later siblings, strong keywords over weak
        # ones, and an error whose schema at least accepts the instance's type.
        matches = not located.matches_type.isdisjoint(json_types(instance))
        return unit, (-len(path), path, keyword not in WEAK_KEYWORDS, False, not matches), path

    def _keyword_location(self, evaluation_path: list[str | int]) -> str:
        key = tuple(evaluation_path)
        found = self._keyword_locations.get(key)
        if found is None:
            found = self._keyword_locations[key] = pointer(key)
        return found

    def _first_written(self, found: list[_Found], best: _Found) -> _Found:
        """Of equally relevant errors from one schema object, the one whose keyword is written first: the order
        python-jsonschema meets them in (jsonschema-rs orders a schema's keywords by their cost)."""
        unit, key, _ = best
        parent = (unit.absolute_keyword_location or "").rpartition("/")[0]
        rivals = [
            entry
            for entry in found
            if entry[1] == key and (entry[0].absolute_keyword_location or "").rpartition("/")[0] == parent
        ]
        if len(rivals) < 2:
            return best
        order = list(self._locate_absolute(unit.absolute_keyword_location or "").schema)
        return min(rivals, key=lambda entry: order.index(entry[0].code) if entry[0].code in order else 1 << 30)

    def _absolute(self, error: jsonschema_rs.ValidationError) -> str:
        return f"{self.schema_id}#{pointer(error.schema_path)}"

    def _locate_absolute(self, where: str) -> _Located:
        located = self._located.get(where)
        if located is None:
            located = self._located[where] = self._resolve(where)
        return located

    def _resolve(self, absolute: str) -> _Located:
        uri, _, fragment = absolute.partition("#")
        node: Any = self._documents[uri]
        tokens = pointer_tokens(unquote(fragment))
        for token in tokens[:-1]:
            node = node[int(token)] if isinstance(node, list) else node[token]
        return _Located(tokens[-1] if tokens else "", node if isinstance(node, dict) else {})
