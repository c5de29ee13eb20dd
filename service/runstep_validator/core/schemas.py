"""The hand-written schemas in `schemas/`: found, loaded, checked and joined into one offline registry.

The files are the only copy. A wheel carries them inside the package (`runstep_validator/schemas`); a source
checkout or an editable install reads the top-level `schemas/` folder directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from .errors import SchemaError, UnknownSchemaError
from .messages import tokens

if TYPE_CHECKING:
    from referencing import Registry, Resource

SCHEMA_SUFFIX = ".schema.json"
DEFAULT_SCHEMA = "run_step"  # the entry for run steps, where one must be named
AUTO = "auto"  # not an entry: the entry is picked by each payload's `object`
DEFAULT_DIALECT = "openai"  # the dialect of an entry that declares none
DIALECT_KEYWORD = "x-dialect"  # an annotation in an entry schema: whose implementation of the protocol it describes
# Subtrees holding instance data rather than subschemas: a "$ref" key there is not a reference.
DATA_KEYWORDS = frozenset({"examples", "const", "enum", "default"})


def default_schema_dir() -> Path:
    """Where the schemas live for this installation."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "schemas"
    if packaged.is_dir():
        return packaged
    checkout = package.parents[1] / "schemas"
    if checkout.is_dir():
        return checkout
    raise SchemaError(f"no schemas found: neither {packaged} nor {checkout} exists")


def refuse_to_fetch(uri: str) -> Resource[Any]:
    # Nothing is ever fetched: a $ref outside the registry is a broken schema, reported before any payload.
    from referencing.exceptions import NoSuchResource

    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs-generated __init__


@dataclass(frozen=True)
class SchemaDocument:
    """One schema file. `name` is its entry name (`run_step`) for the top-level files, None for components."""

    path: Path
    contents: dict[str, Any]
    name: str | None

    @property
    def id(self) -> str:
        return str(self.contents["$id"])

    @property
    def title(self) -> str:
        return str(self.contents.get("title", ""))

    @property
    def dialect(self) -> str:
        """Whose run steps the entry describes: automatic selection picks among the entries of one dialect, because
        implementations share `object` values (Azure's run steps are `thread.run.step` too)."""
        return str(self.contents.get(DIALECT_KEYWORD, DEFAULT_DIALECT))


def read_document(path: Path, root: Path) -> SchemaDocument:
    try:
        contents = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SchemaError(f"{path}: cannot be read as JSON: {exc}") from exc
    if not isinstance(contents, dict) or not isinstance(contents.get("$id"), str):
        raise SchemaError(f"{path}: a schema file must be an object with a string $id")
    is_entry = path.parent == root
    return SchemaDocument(path, contents, path.name.removesuffix(SCHEMA_SUFFIX) if is_entry else None)


def iter_references(node: object) -> Iterator[str]:
    """Every `$ref` in a schema document, skipping instance data such as `examples`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in DATA_KEYWORDS:
                yield from iter_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_references(item)


def build_registry(documents: Iterable[SchemaDocument]) -> Registry[Any]:
    """One offline registry of the documents: a `$ref` outside it fails instead of being fetched."""
    from referencing import Registry, Resource

    resources = [(doc.id, Resource.from_contents(doc.contents)) for doc in documents]
    registry: Registry[Any] = Registry(retrieve=refuse_to_fetch).with_resources(resources)  # type: ignore[call-arg]
    return registry.crawl()


def _resolves_by_pointer(by_id: Mapping[str, SchemaDocument], base: str, ref: str) -> bool:
    # The common form, `file#/json/pointer`, checked without referencing (whose import costs a start-up).
    uri, _, fragment = urljoin(base, ref).partition("#")
    node: Any = by_id[uri].contents if uri in by_id else None
    if node is None or (fragment and not fragment.startswith("/")):
        return False
    for token in tokens(fragment):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def find_problems(documents: list[SchemaDocument]) -> list[tuple[Path, str]]:
    """What makes these documents unusable at all: duplicate `$id`s and `$ref`s that do not resolve offline.
    (Conformance to the metaschema is checked by `check-schemas`, in CI: it costs more than the rest of start-up.)"""
    problems: list[tuple[Path, str]] = []
    by_id: dict[str, SchemaDocument] = {}
    for doc in documents:
        if doc.id in by_id:
            problems.append((doc.path, f"$id {doc.id} is already used by {by_id[doc.id].path}"))
        by_id[doc.id] = doc
    registry = None
    for doc in documents:
        for ref in iter_references(doc.contents):
            if _resolves_by_pointer(by_id, doc.id, ref):
                continue
            from referencing.exceptions import Unresolvable  # anchors and the like: ask referencing

            registry = registry or build_registry(documents)
            try:
                registry.resolver(base_uri=doc.id).lookup(ref)
            except Unresolvable:
                problems.append((doc.path, f"$ref {ref!r} does not resolve offline"))
    return problems


@dataclass(frozen=True)
class SchemaSet:
    """All schema documents of one folder, resolved through a registry that never reaches the network."""

    directory: Path
    documents: tuple[SchemaDocument, ...]

    @classmethod
    def load(cls, directory: Path | None = None) -> SchemaSet:
        """Read every `*.schema.json` below `directory` and check that their `$id`s are unique and every `$ref`
        resolves offline; raise `SchemaError` otherwise."""
        root = (directory or default_schema_dir()).resolve()
        paths = sorted(root.rglob(f"*{SCHEMA_SUFFIX}"))
        if not paths:
            raise SchemaError(f"{root}: no *{SCHEMA_SUFFIX} files")
        documents = [read_document(path, root) for path in paths]
        problems = find_problems(documents)
        if problems:
            raise SchemaError("broken schemas:\n" + "\n".join(f"{path}: {message}" for path, message in problems))
        return cls(root, tuple(documents))

    @cached_property
    def registry(self) -> Registry[Any]:
        """Built on first use: payloads that stay on the fast path never need it."""
        return build_registry(self.documents)

    @cached_property
    def entries(self) -> Mapping[str, SchemaDocument]:
        """The entry schemas by name, e.g. `run_step` and `run_step.strict`."""
        return {doc.name: doc for doc in self.documents if doc.name is not None}

    @cached_property
    def dialects(self) -> tuple[str, ...]:
        """The dialects the entries declare, the default first."""
        declared = {doc.dialect for doc in self.entries.values()}
        return tuple(sorted(declared, key=lambda d: (d != DEFAULT_DIALECT, d)))

    def entry(self, name: str) -> SchemaDocument:
        try:
            return self.entries[name]
        except KeyError:
            raise UnknownSchemaError(name, tuple(self.entries)) from None
