"""No module of the package imports or touches another package's private names, nor replaces another package's
module attributes: each such coupling broke silently on a minor release of a dependency. The few that have no public
way are listed below with their reason, and each has a test here that fails loudly when the internal changes."""

from __future__ import annotations

import ast
import importlib
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

import runstep_validator
from runstep_validator.sources.documents import TRAILING_DATA, TRUNCATED, value_end_from_message

PACKAGE = Path(runstep_validator.__file__).parent

# `name.attribute` accesses of underscored names that are public all the same, and why.
ALLOWED_PRIVATE_ATTRIBUTES = {
    "os._exit": "documented in the os module: the way to leave a forked child without running its parent's cleanup",
    "worker._watcher": "granian has no hook for a worker's exit: http/server.py tells a clean stop from a crash",
}
# Private methods of other packages' classes that a subclass of ours overrides, and why: granian (checked with
# 2.8.7) has no public way to stop replacing workers while the server drains, nor to watch a worker's exit.
# test_granians_private_hooks_are_still_there fails loudly when they change.
ALLOWED_PRIVATE_HOOKS = {
    "MPServer._spawn_worker": "to watch each new worker with our own watcher (a clean stop is not a crash)",
    "MPServer._respawn_workers": "to replace no worker while the server drains after SIGTERM",
}
PRIVATE_BY_NAME = ("getattr", "setattr", "hasattr", "delattr")
# Module attributes of other packages that the logging HOWTO ("Optimization") documents as settings to assign.
ALLOWED_MODULE_SETTINGS = {"logging.logThreads", "logging.logProcesses", "logging.logMultiprocessing"}
# prometheus_client's modules that its documentation names: the package, custom collectors and multiprocess mode.
DOCUMENTED_PROMETHEUS_MODULES = {
    "prometheus_client",
    "prometheus_client.core",
    "prometheus_client.registry",
    "prometheus_client.multiprocess",
    "prometheus_client.parser",
}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield str(path.relative_to(PACKAGE.parent)), ast.parse(path.read_text(), str(path))


def own_private_names() -> set[str]:
    """Underscored names the package defines itself: its functions, classes, variables and attributes."""
    names: set[str] = set()
    for _, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return {name for name in names if is_private(name)}


def imported_modules(tree: ast.Module) -> dict[str, str]:
    """Local name -> the other package's module or object it is bound to."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.partition(".")[0]
                bound[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def resolved(bound: dict[str, str], dotted: str) -> object:
    """The object a base class expression names, through the module's imports (None if it cannot be loaded)."""
    head, _, rest = dotted.partition(".")
    module_name, _, attribute = bound[head].rpartition(".")
    try:
        found: object = importlib.import_module(bound[head])
    except ImportError:
        found = getattr(importlib.import_module(module_name), attribute, None)
    for part in filter(None, rest.split(".")):
        found = getattr(found, part, None)
    return found


def couplings() -> list[str]:
    found: list[str] = []
    own = own_private_names()
    for where, tree in modules():
        bound = imported_modules(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if any(is_private(part) for part in node.module.split(".")):
                    found.append(f"{where}:{node.lineno}: imports from the private module {node.module}")
                found += [
                    f"{where}:{node.lineno}: imports the private name {node.module}.{alias.name}"
                    for alias in node.names
                    if is_private(alias.name)
                ]
                if node.module.startswith("prometheus_client") and node.module not in DOCUMENTED_PROMETHEUS_MODULES:
                    found.append(f"{where}:{node.lineno}: imports {node.module}, which prometheus_client documents not")
            elif isinstance(node, ast.Import):
                found += [
                    f"{where}:{node.lineno}: imports the private module {alias.name}"
                    for alias in node.names
                    if any(is_private(part) for part in alias.name.split("."))
                ]
            elif isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base) for base in node.bases if ast.unparse(base).split(".")[0] in bound]
                found += [
                    f"{where}:{item.lineno}: overrides the private hook {base}.{item.name}"
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and is_private(item.name)
                    for base in bases
                    if hasattr(resolved(bound, base), item.name) and f"{base}.{item.name}" not in ALLOWED_PRIVATE_HOOKS
                ]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in PRIVATE_BY_NAME
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and is_private(node.args[1].value)
                and node.args[1].value not in own
            ):
                found.append(f"{where}:{node.lineno}: touches the private name {node.args[1].value} by its name")
            elif isinstance(node, ast.Attribute):
                owner = ast.unparse(node.value)
                if isinstance(node.value, ast.Name) and node.value.id in bound and isinstance(node.ctx, ast.Store):
                    setting = f"{owner}.{node.attr}"
                    if setting not in ALLOWED_MODULE_SETTINGS:
                        found.append(f"{where}:{node.lineno}: replaces {bound[node.value.id]}.{node.attr}")
                if not is_private(node.attr) or owner in ("self", "cls"):
                    continue
                if f"{owner}.{node.attr}" in ALLOWED_PRIVATE_ATTRIBUTES:
                    continue
                if (isinstance(node.value, ast.Name) and node.value.id in bound) or node.attr not in own:
                    found.append(f"{where}:{node.lineno}: touches the private name {owner}.{node.attr}")
    return found


def test_no_module_imports_or_touches_another_packages_private_names() -> None:
    assert couplings() == []


def test_the_check_finds_each_kind_of_coupling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above, held to a package that has one of each."""
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "__init__.py").write_text(
        "import logging\n"
        "from granian._granian import RSGIHeaders\n"
        "from prometheus_client.mmap_dict import mmap_key\n"
        "from prometheus_client import values\n"
        "from msgspec import _core\n"
        "values.ValueClass = None\n"
        "logging._srcfile = None\n"
        "def f(frame):\n"
        "    return frame._meta, getattr(frame, '_data')\n"
        "class S(logging.Handler):\n"
        "    def _at_fork_reinit(self):\n"
        "        pass\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "bad")
    kinds = [line.partition(": ")[2].split(" ")[0:2] for line in couplings()]
    assert sorted(" ".join(kind) for kind in kinds) == sorted(
        [
            "imports from",
            "imports the",
            "imports prometheus_client.mmap_dict,",
            "replaces prometheus_client.values.ValueClass",
            "replaces logging._srcfile",
            "touches the",
            "touches the",
            "touches the",
            "overrides the",
        ]
    )


def test_msgspec_still_names_where_trailing_data_starts_and_that_input_was_truncated() -> None:
    """sources/documents.py finds where a value ends by the wording of msgspec's errors: msgspec (checked with 0.22.0)
    has no public way to decode a prefix of its input. If the wording changes, this fails (the reader would still
    be right, counting brackets at a tenth of the speed)."""
    decoder = msgspec.json.Decoder(msgspec.Raw)
    for document, value in [(b'{"a": [1, "]"]}  , {"b": 2}', b'{"a": [1, "]"]}'), (b"[1]\n]", b"[1]")]:
        with pytest.raises(msgspec.DecodeError) as trailing:
            decoder.decode(document)
        assert TRAILING_DATA.search(str(trailing.value)), str(trailing.value)
        assert document[: value_end_from_message(document, str(trailing.value))] == value
    with pytest.raises(msgspec.DecodeError) as truncated:
        decoder.decode(b'{"a": [1, 2')
    assert str(truncated.value).startswith(TRUNCATED), str(truncated.value)


def test_the_server_process_leaves_prometheus_client_to_the_workers() -> None:
    """prometheus_client picks its multiprocess values when it is first imported, from `PROMETHEUS_MULTIPROC_DIR`
    (its documented multiprocess mode): the server sets the variable, then loads the app and forks the workers,
    so nothing it imports before may import prometheus_client."""
    probe = (
        "import sys, runstep_validator.cli.commands, runstep_validator.http.server\n"
        "print('prometheus_client' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"


def test_granians_logger_is_still_named_as_the_server_configures_it() -> None:
    """http/server.py configures granian's error logger by its name, `_granian` (granian 2.8.7, granian/log.py)."""
    from granian import log as granian_log  # noqa: PLC0415

    assert granian_log.logger is logging.getLogger("_granian")


GRANIANS_WATCHER = """\
    def _watcher(self):
        self.inner.join()
        if not self.interrupt_by_parent:
            logger.error(f'Unexpected exit from worker-{self.idx + 1}')
            if self.parent.reload_on_changes and self.parent.reload_ignore_worker_failure:
                return
            self.parent.interrupt_children.append(self.idx)
            self.parent.main_loop_interrupt.set()
"""


def test_granians_private_hooks_are_still_there() -> None:
    """http/server.py overrides two private methods of granian's server and replaces a worker's watcher (granian
    2.8.7 has no public way to do either): if granian renames or reshapes them, this says so before a drain breaks."""
    import inspect  # noqa: PLC0415

    from granian.server.common import AbstractServer, AbstractWorker  # noqa: PLC0415

    assert list(inspect.signature(AbstractServer._spawn_worker).parameters)[:1] == ["self"]
    assert "workers" in inspect.signature(AbstractServer._respawn_workers).parameters
    assert list(inspect.signature(AbstractWorker._watcher).parameters) == ["self"]
    # _watch_worker is this method with one change (a clean exit is not "unexpected"): a new text needs a new copy.
    assert inspect.getsource(AbstractWorker._watcher) == GRANIANS_WATCHER
