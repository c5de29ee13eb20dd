"""Naming what sent a valid payload off the fast path: members and tagged-union types the Structs do not know.

Only the slow path uses this (msgspec.inspect alone costs a tenth of the command line's start-up).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec.inspect as mi

from .lint import warning
from .messages import dialect_hint, excerpt
from .report import OutputUnit

_DROPPED = object()
_UNION_LABELS: Final = {"tool_calls": "tool call", "outputs": "code interpreter output"}


class VocabularyWalker:
    """Reads a schema-valid document along the Structs' types: warns about members and tagged-union types the
    Structs do not know, and returns the document without them, ready for `msgspec.convert`."""

    def __init__(self, root: Any, elsewhere: Mapping[str, tuple[str, ...]] | None = None) -> None:
        """`elsewhere`: the tags other dialects know, with those dialects, for saying which one to choose."""
        self._root = mi.type_info(root)
        self._elsewhere = elsewhere or {}

    def walk(self, document: Any) -> tuple[Any, tuple[OutputUnit, ...], bool]:
        """(typable document, warnings, whether anything had to be dropped to type it)."""
        found: list[OutputUnit] = []
        cleaned = self._visit(document, self._root, (), found)
        dropped = any(unit.code == "unknown-type" for unit in found)
        return cleaned, tuple(found), dropped

    def _visit(self, value: Any, kind: mi.Type, path: tuple[str | int, ...], found: list[OutputUnit]) -> Any:
        if isinstance(kind, mi.StructType) and isinstance(value, dict):
            return self._visit_struct(value, kind, path, found)
        if isinstance(kind, mi.UnionType):
            return self._visit_union(value, kind, path, found)
        if isinstance(kind, mi.ListType) and isinstance(value, list):
            items = (self._visit(item, kind.item_type, (*path, i), found) for i, item in enumerate(value))
            return [item for item in items if item is not _DROPPED]
        if isinstance(kind, mi.IntType) and isinstance(value, float):
            return int(value)  # 5.0 is an integer to JSON Schema; msgspec converts no float past 2**53 itself
        return value

    def _visit_struct(
        self, value: dict[str, Any], kind: mi.StructType, path: tuple[str | int, ...], found: list[OutputUnit]
    ) -> dict[str, Any]:
        fields = {field.encode_name: field for field in kind.fields}
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            field = fields.get(key)
            if field is not None:
                cleaned[key] = self._visit(item, field.type, (*path, key), found)
            elif key == kind.tag_field:
                cleaned[key] = item
            else:
                found.append(warning((*path, key), "unknown-property", f"unknown property {excerpt(key)}"))
        return cleaned

    def _visit_union(self, value: Any, kind: mi.UnionType, path: tuple[str | int, ...], found: list[OutputUnit]) -> Any:
        if isinstance(value, list):
            lists = [member for member in kind.types if isinstance(member, mi.ListType)]
            return self._visit(value, lists[0], path, found) if lists else value
        if isinstance(value, float) and any(isinstance(member, mi.IntType) for member in kind.types):
            return int(value)
        structs = [member for member in kind.types if isinstance(member, mi.StructType)]
        if not structs or not isinstance(value, dict):
            return value
        tag_field = structs[0].tag_field
        if tag_field is None:
            return self._visit_struct(value, structs[0], path, found)
        tag = value.get(tag_field)
        for member in structs:
            if member.tag == tag:
                return self._visit_struct(value, member, path, found)
        label = _UNION_LABELS.get(str(path[-2]) if len(path) >= 2 else "", "object")
        found.append(
            warning(
                (*path, tag_field),
                "unknown-type",
                f"unknown {label} type {excerpt(tag)}: accepted, but only its required members were checked"
                + dialect_hint(self._elsewhere.get(tag, ()) if isinstance(tag, str) else ()),
            )
        )
        return _DROPPED


def union_tags(root: Any) -> frozenset[str]:
    """Every tag of the tagged unions reachable from `root` (run step types, tool call types, ...)."""
    found: set[str] = set()
    seen: set[type] = set()
    pending: list[mi.Type] = [mi.type_info(root)]
    while pending:
        kind = pending.pop()
        if isinstance(kind, mi.StructType):
            if kind.cls in seen:
                continue
            seen.add(kind.cls)
            if kind.tag_field is not None and isinstance(kind.tag, str):
                found.add(kind.tag)
            pending += [field.type for field in kind.fields]
        elif isinstance(kind, mi.UnionType):
            pending += kind.types
        elif isinstance(kind, mi.ListType | mi.DictType):
            pending.append(kind.item_type if isinstance(kind, mi.ListType) else kind.value_type)
    return frozenset(found)
