"""Self-checks for the people who edit `schemas/`: every file is a valid draft 2020-12 schema, every `$ref`
resolves offline, `$id`s are unique, every `examples` entry validates against its schema, and files are
formatted canonically (which `--fix` restores)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as MetaschemaViolation
from referencing import Registry

from ..core.errors import SchemaError
from ..core.schemas import SCHEMA_SUFFIX, SchemaDocument, build_registry, find_problems, read_document

LINE_WIDTH = 100


@dataclass(frozen=True)
class SchemaProblem:
    path: Path
    message: str
    fixable: bool = False


def canonical_json(value: Any, indent: int = 0, lead: int = 0) -> str:
    """Two-space indentation, keys in their given order, and any object or array whose one-line form fits
    within LINE_WIDTH columns (counting the `lead` characters before it on its line) kept on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list) or not value or indent + lead + len(flat) <= LINE_WIDTH:
        return flat
    inner = " " * (indent + 2)
    if isinstance(value, dict):
        members = []
        for key, item in value.items():
            name = json.dumps(key, ensure_ascii=False) + ": "
            members.append(inner + name + canonical_json(item, indent + 2, len(name)))
        return "{\n" + ",\n".join(members) + "\n" + " " * indent + "}"
    items = [inner + canonical_json(item, indent + 2) for item in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def canonical_text(value: Any) -> str:
    return canonical_json(value) + "\n"


def _named_schemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    yield where, node
    for name, sub in node.get("$defs", {}).items():
        if isinstance(sub, dict):
            yield from _named_schemas(sub, f"{where}/$defs/{name}")


def _example_problems(document: SchemaDocument, registry: Registry[Any]) -> Iterator[SchemaProblem]:
    for where, node in _named_schemas(document.contents):
        target = document.id if where == "#" else document.id + where
        validator = Draft202012Validator({"$ref": target}, registry=registry)
        for number, example in enumerate(node.get("examples", [])):
            for error in validator.iter_errors(example):
                location = "".join(f"/{part}" for part in error.absolute_path)
                yield SchemaProblem(document.path, f"{where}/examples/{number}{location}: {error.message[:200]}")


def _metaschema_problems(documents: list[SchemaDocument]) -> list[tuple[Path, str]]:
    problems = []
    for document in documents:
        try:
            Draft202012Validator.check_schema(document.contents)
        except MetaschemaViolation as exc:
            where = "".join(f"/{part}" for part in exc.absolute_path)
            problems.append((document.path, f"not a valid draft 2020-12 schema at {where or '/'}: {exc.message}"))
    return problems


def check_schemas(directory: Path, fix: bool = False, rewritten: list[Path] | None = None) -> list[SchemaProblem]:
    """Every problem of the schema files below `directory`. With `fix`, non-canonical files are rewritten (and
    listed in `rewritten` instead of reported). Raises `SchemaError` if the folder cannot be read at all."""
    if not directory.is_dir():
        raise SchemaError(f"{directory}: not a folder")
    root = directory.resolve()
    problems: list[SchemaProblem] = []
    documents: list[SchemaDocument] = []
    for path in sorted(root.rglob(f"*{SCHEMA_SUFFIX}")):
        try:
            document = read_document(path, root)
        except SchemaError as exc:
            problems.append(SchemaProblem(path, str(exc).removeprefix(f"{path}: ")))
            continue
        documents.append(document)
        text = path.read_text(encoding="utf-8")
        if text != canonical_text(document.contents):
            if fix:
                path.write_text(canonical_text(document.contents), encoding="utf-8")
                if rewritten is not None:
                    rewritten.append(path)
            else:
                problems.append(
                    SchemaProblem(path, "not canonically formatted (check-schemas --fix rewrites it)", True)
                )
    if not documents and not problems:
        raise SchemaError(f"{root}: no *{SCHEMA_SUFFIX} files")
    registry = build_registry(documents)
    structural = find_problems(documents) + _metaschema_problems(documents)
    problems += [SchemaProblem(path, message) for path, message in structural]
    if not structural:  # examples can only be checked against schemas that load
        for document in documents:
            problems += _example_problems(document, registry)
    return problems
