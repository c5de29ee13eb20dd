"""The project's own tools."""

from __future__ import annotations

import importlib.util
import sys

from .support import ROOT

spec = importlib.util.spec_from_file_location("pin_constraints", ROOT / "tools" / "pin_constraints.py")
assert spec is not None
assert spec.loader is not None
pin_constraints = importlib.util.module_from_spec(spec)
sys.modules["pin_constraints"] = pin_constraints
spec.loader.exec_module(pin_constraints)


def test_repinning_updates_what_is_installed_and_keeps_what_is_not() -> None:
    previous = "# old header\nFlask==3.0.0\ntomli==2.0.1\n"
    frozen = "flask==3.1.3\nmsgspec==0.22.0\nrunstep-validator==0.1.0\n"

    result = pin_constraints.merged(previous, frozen)

    assert result.splitlines()[2:] == ["flask==3.1.3", "msgspec==0.22.0", "tomli==2.0.1"]
    assert result.startswith("# Pinned versions")
