"""The hand-written schemas in `schemas/`: found, loaded, checked and joined into one offline registry.

The files are the only copy. A wheel carries them inside the package (`runstep_validator/schemas`); a source
checkout or an editable install reads the top-level `schemas/` folder directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as MetaschemaViolation
from jsonschema.protocols import Validator as JSONSchemaValidator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable

from .errors import SchemaError, UnknownSchemaError

SCHEMA_SUFFIX = ".schema.json"
DEFAULT_SCHEMA = "run_step"
# Subtrees holding instance data rather than subschemas: a "$ref" key there is not a reference.
DATA_KEYWORDS = frozenset({"examples", "const", "enum", "default"})


def default_schema_dir() -> Path:
    """Where the schemas live for this installation."""
    packaged = resources.files(__package__) / "schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "schemas"
    if checkout.is_dir():
        return checkout
    raise SchemaError(f"no schemas found: neither {packaged} nor {checkout} exists")


def refuse_to_fetch(uri: str) -> Resource[Any]:
    # Nothing is ever fetched: a $ref outside the registry is a broken schema, reported before any payload.
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


def find_problems(documents: list[SchemaDocument], registry: Registry[Any]) -> list[tuple[Path, str]]:
    """What makes these documents unusable: metaschema violations, duplicate `$id`s, unresolvable `$ref`s."""
    problems: list[tuple[Path, str]] = []
    seen: dict[str, Path] = {}
    for doc in documents:
        if doc.id in seen:
            problems.append((doc.path, f"$id {doc.id} is already used by {seen[doc.id]}"))
        seen[doc.id] = doc.path
        try:
            Draft202012Validator.check_schema(doc.contents)
        except MetaschemaViolation as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            problems.append((doc.path, f"not a valid draft 2020-12 schema at /{where}: {exc.message}"))
        resolver = registry.resolver(base_uri=doc.id)
        for ref in iter_references(doc.contents):
            try:
                resolver.lookup(ref)
            except Unresolvable:
                problems.append((doc.path, f"$ref {ref!r} does not resolve offline"))
    return problems


@dataclass(frozen=True)
class SchemaSet:
    """All schema documents of one folder, joined in a registry that never reaches the network."""

    directory: Path
    documents: tuple[SchemaDocument, ...]
    registry: Registry[Any] = field(repr=False)

    @classmethod
    def load(cls, directory: Path | None = None) -> SchemaSet:
        """Read and check every `*.schema.json` below `directory`; raise `SchemaError` if any is unusable."""
        root = (directory or default_schema_dir()).resolve()
        paths = sorted(root.rglob(f"*{SCHEMA_SUFFIX}"))
        if not paths:
            raise SchemaError(f"{root}: no *{SCHEMA_SUFFIX} files")
        documents = [read_document(path, root) for path in paths]
        registry: Registry[Any] = Registry(retrieve=refuse_to_fetch).with_resources(  # type: ignore[call-arg]
            (doc.id, Resource.from_contents(doc.contents)) for doc in documents
        )
        problems = find_problems(documents, registry)
        if problems:
            raise SchemaError("broken schemas:\n" + "\n".join(f"{path}: {message}" for path, message in problems))
        return cls(root, tuple(documents), registry.crawl())

    @cached_property
    def entries(self) -> Mapping[str, SchemaDocument]:
        """The entry schemas by name, e.g. `run_step` and `run_step.strict`."""
        return {doc.name: doc for doc in self.documents if doc.name is not None}

    def entry(self, name: str) -> SchemaDocument:
        try:
            return self.entries[name]
        except KeyError:
            raise UnknownSchemaError(name, tuple(self.entries)) from None

    def validator(self, name: str) -> JSONSchemaValidator:
        """A validator for one entry schema. Build it once and keep it: construction is the expensive part."""
        validator: JSONSchemaValidator = Draft202012Validator(self.entry(name).contents, registry=self.registry)
        return validator
