"""The README's Python example runs and prints what the README says it prints."""

from __future__ import annotations

import contextlib
import io
import re

from .support import ROOT


def test_python_example_runs_as_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.DOTALL)
    assert code
    expected = [line.removeprefix("# ") for line in code.group(1).splitlines() if line.startswith("# ")]
    printed = io.StringIO()

    with contextlib.redirect_stdout(printed):
        exec(compile(code.group(1), "README.md", "exec"), {})

    assert printed.getvalue().splitlines() == expected
