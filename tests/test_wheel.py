"""A built wheel carries the schemas: installed into a fresh virtualenv, away from this checkout, it validates."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from .support import EXAMPLES, ROOT

pytestmark = pytest.mark.slow

SCRIPT = """
import sys, runstep_validator
from pathlib import Path
good = runstep_validator.validate(Path(sys.argv[1]).read_bytes())
bad = runstep_validator.validate(Path(sys.argv[2]).read_bytes())
where = runstep_validator.default_schemas().directory
print(good.valid, bad.valid, where.is_relative_to(Path(sys.prefix)))
"""


def run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_wheel_installed_in_a_fresh_virtualenv_validates(tmp_path: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path, ROOT, cwd=tmp_path)
    (wheel,) = tmp_path.glob("runstep_validator-*.whl")
    with zipfile.ZipFile(wheel) as archive:  # the page ships inside the package, as the schemas do
        shipped = set(archive.namelist())
    page = {
        f"runstep_validator/http/page/{name}"
        for name in ("index.html", "app.js", "app.css", "docs.html", "docs.js", "docs.css", "examples.json")
    }
    assert page <= shipped
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)

    out = run(
        python, "-c", SCRIPT, EXAMPLES / "message_creation.json", EXAMPLES / "invalid_tool_calls.json", cwd=tmp_path
    )

    assert out.split() == ["True", "False", "True"]
