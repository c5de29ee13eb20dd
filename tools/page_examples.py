"""Write the page's example menu (service/runstep_validator/http/page/examples.json) from the files in examples/:
each as shipped, or with one described change that shows a mistake people make. The page's test holds the written
file to this script's output, and each example to the verdict its group promises.

    python tools/page_examples.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TARGET = ROOT / "service" / "runstep_validator" / "http" / "page" / "examples.json"


def shipped(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


def changed(name: str, old: str, new: str) -> str:
    """The shipped file with `old` replaced, once: the change must be there to make."""
    text = shipped(name)
    if text.count(old) != 1:
        raise SystemExit(f"{name}: expected {old!r} exactly once")
    return text.replace(old, new)


def example(title: str, text: str, valid: bool, dialect: str = "openai", mode: str = "auto") -> dict[str, Any]:
    return {"title": title, "valid": valid, "dialect": dialect, "mode": mode, "text": text}


def build() -> list[dict[str, Any]]:
    missing_index = '{"index":0,"type":"function","function":{"arguments":"A"}}'
    return [
        example("A run step that writes a message", shipped("message_creation.json"), True),
        example("A run step with three function calls", shipped("tool_calls_function.json"), True),
        example("A run step that searched files", shipped("tool_calls_file_search.json"), True),
        example("A list response of two run steps", shipped("list_response.json"), True, mode="batch"),
        example("An event stream of a function call", shipped("run.sse"), True, mode="stream"),
        example("An Azure AI Agents step (Bing grounding)", shipped("azure/bing_grounding.json"), True, "azure"),
        example(
            "Three mistakes: a run's status, a number as output, tokens as text",
            shipped("invalid_tool_calls.json"),
            False,
        ),
        example(
            "A misspelled status (with a suggestion)",
            changed("message_creation.json", '"status": "completed"', '"status": "complted"'),
            False,
        ),
        example(
            "Broken JSON: a comma missing",
            changed("message_creation.json", '"created_at": 1730284800,', '"created_at": 1730284800'),
            False,
        ),
        example("JSON Lines: the second record has a mistake", shipped("steps.jsonl"), False, mode="lines"),
        example(
            "An event stream with a delta that lost its index",
            changed("run.sse", missing_index, '{"type":"function","function":{"arguments":"A"}}'),
            False,
            mode="stream",
        ),
        example(
            "An Azure AI Agents step checked as OpenAI's (choose the azure dialect)",
            shipped("azure/activities.json"),
            False,
        ),
    ]


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET.relative_to(ROOT)}\n")
