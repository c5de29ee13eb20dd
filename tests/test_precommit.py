"""The pre-commit hooks, exercised for real: `pre-commit try-repo` on a scratch repository with good and bad
fixtures, from this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .support import EXAMPLES, ROOT

pytestmark = pytest.mark.slow


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("fixtures")
    git("init", "-q", cwd=repo)
    (repo / "fixtures").mkdir()
    shutil.copy(EXAMPLES / "message_creation.json", repo / "fixtures" / "good.json")
    return repo


def try_repo(scratch: Path, hook: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(env_home), "GIT_CONFIG_GLOBAL": os.devnull}
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--all-files", "--color", "never"]
    return subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True, check=False)


def test_hook_passes_good_and_fails_bad_fixtures(scratch: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("pre-commit-home")
    git("add", "-A", cwd=scratch)

    passed = try_repo(scratch, "runstep-validator", home)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "validate OpenAI run steps" in passed.stdout

    shutil.copy(EXAMPLES / "invalid_tool_calls.json", scratch / "fixtures" / "bad.json")
    git("add", "-A", cwd=scratch)
    failed = try_repo(scratch, "runstep-validator", home)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "fixtures/bad.json:42:21: /step_details/tool_calls/2/function/output: 42 is not of type" in failed.stdout
