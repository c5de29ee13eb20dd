from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .server import STARTED_GROUPS, group_alive, kill_group

GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/ from the actual outputs")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with tests/golden/<name>; `pytest --update-golden` rewrites the file instead."""
    update = request.config.getoption("--update-golden")

    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
        assert path.is_file(), f"no golden file {path}: run pytest --update-golden and review it"
        assert actual == path.read_text(encoding="utf-8")

    return check


@pytest.fixture(scope="session", autouse=True)
def no_server_outlives_the_suite() -> Iterator[None]:
    """After the last test, no server process group that a test started may still have a live process."""
    yield
    deadline = time.monotonic() + 10
    left = {group for group in STARTED_GROUPS if group_alive(group)}
    while left and time.monotonic() < deadline:  # a server that is stopping gets a moment to finish
        time.sleep(0.1)
        left = {group for group in left if group_alive(group)}
    for group in left:
        kill_group(group)
    assert not left, f"server process groups left running after the tests: {sorted(left)}"
