"""Paths and loaders shared by the tests."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpatch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCHEMAS = ROOT / "schemas"
CASES = Path(__file__).resolve().parent / "cases"
CORPUS = ROOT.parent / "shared" / "corpus" / "real"
AZURE_CAPTURES = (
    Path(__file__).resolve().parent / "azure" / "real"
)  # extracted from Azure SDK recordings: MANIFEST.json


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = load_json(EXAMPLES / name)
    return document


@dataclass(frozen=True)
class Case:
    """One data-driven case: a payload (an example with a JSON Patch applied, or given whole) and its verdict."""

    schema: str
    name: str
    description: str
    payload: Any
    valid: bool
    errors: list[str]
    warnings: list[str]
    slow_path: str | None = None  # why a valid payload may leave the fast path, when it is by design

    @classmethod
    def load(cls, path: Path) -> Case:
        spec = load_json(path)
        payload = spec["payload"] if "payload" in spec else jsonpatch.apply_patch(example(spec["base"]), spec["patch"])
        return cls(
            schema=path.parent.name,
            name=path.stem,
            description=spec["description"],
            payload=payload,
            valid=spec["valid"],
            errors=spec["errors"],
            warnings=spec["warnings"],
            slow_path=spec.get("slow_path"),
        )


def all_cases() -> list[Case]:
    return [Case.load(path) for path in sorted(CASES.glob("*/*.json"))]


def corpus_files(object_type: str = "thread.run.step") -> list[Path]:
    """The real recorded payloads of one object type, or none where shared/ is absent (a user's clone)."""
    manifest = CORPUS / "MANIFEST.json"
    if not manifest.is_file():
        return []
    return [CORPUS / entry["file"] for entry in load_json(manifest) if entry["object"] == object_type]


def azure_steps() -> list[tuple[Path, int, dict[str, Any]]]:
    """Every run step of the Azure captures (list responses), with its file and position."""
    return [
        (path, number, step)
        for path in sorted(AZURE_CAPTURES.glob("*.json"))
        if path.name != "MANIFEST.json"
        for number, step in enumerate(load_json(path)["data"])
    ]


def azure_deltas() -> list[dict[str, Any]]:
    """Every run-step delta of the Azure captures' event streams."""
    found = []
    for path in sorted(AZURE_CAPTURES.glob("*.sse")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for name, data in itertools.pairwise(lines):
            if name == "event: thread.run.step.delta":
                found.append(json.loads(data.removeprefix("data: ")))
    return found


def error_heavy(calls: int, indent: int | None = None) -> bytes:
    """A run step with `calls` bad tool calls, five errors each: its cost is all in reporting errors (issue 21)."""
    call = {"id": 1, "type": "function", "function": {"name": 2, "arguments": 3, "output": 4}}
    details = {"type": "tool_calls", "tool_calls": [call] * calls}
    step = {"object": "thread.run.step", "type": "tool_calls", "step_details": details}
    return json.dumps(step, indent=indent).encode()
