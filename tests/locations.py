"""Keyword locations for jsonschema errors, in the form the JSON Schema output format asks for.

jsonschema reports the schema path without the `$ref` steps it followed, and without the URI of the schema it
ended in. Walking the path again through the registry recovers both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

if TYPE_CHECKING:
    from referencing import Registry

from runstep_validator.core.messages import pointer


def _holds(node: object, token: str | int) -> bool:
    if isinstance(node, dict):
        return token in node
    return isinstance(node, list) and isinstance(token, int) and 0 <= token < len(node)


class SchemaLocator:
    """Maps a jsonschema `absolute_schema_path` to (`keywordLocation`, `absoluteKeywordLocation`)."""

    def __init__(self, registry: Registry[Any], root_uri: str) -> None:
        self._registry = registry
        self._root_uri = root_uri
        self._cache: dict[tuple[str | int, ...], tuple[str, str]] = {}

    def locate(self, schema_path: Sequence[str | int]) -> tuple[str, str]:
        key = tuple(schema_path)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._walk(key)
        return found

    def _walk(self, schema_path: tuple[str | int, ...]) -> tuple[str, str]:
        resolver = self._registry.resolver(base_uri=self._root_uri)
        node: Any = resolver.lookup(self._root_uri).contents
        base, fragment = self._root_uri, ""
        taken: list[str | int] = []
        for token in schema_path:
            while not _holds(node, token) and isinstance(node, dict) and isinstance(node.get("$ref"), str):
                ref = node["$ref"]
                resolved = resolver.lookup(ref)
                node, resolver = resolved.contents, resolved.resolver
                base, _, fragment = urljoin(base, ref).partition("#")
                taken.append("$ref")
            if not _holds(node, token):
                break
            node = node[token]
            taken.append(token)
            fragment += pointer([token])
        return pointer(taken), f"{base}#{fragment}"
