"""Re-pin constraints.txt from what a virtualenv has installed (`pip freeze`), without dropping the pins of
packages it does not have: those may be needed under another Python version or platform (tomli below 3.11, say),
so they stay, as they were, until someone removes them on purpose.

    python tools/pin_constraints.py constraints.txt < <(pip freeze --exclude-editable)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HEADER = [
    "# Pinned versions of every dependency (runtime, dev and bench), used by the Makefile's install.",
    "# Regenerate with: make constraints",
]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def merged(previous: str, frozen: str, own: str = "runstep-validator") -> str:
    pins: dict[str, str] = {}
    for line in previous.splitlines():
        if line and not line.startswith("#") and "==" in line:
            pins[canonical(line.split("==")[0])] = line.strip()
    for line in frozen.splitlines():
        if "==" in line and not line.startswith("#") and canonical(line.split("==")[0]) != canonical(own):
            pins[canonical(line.split("==")[0])] = line.strip()
    return "\n".join([*HEADER, *sorted(pins.values(), key=lambda pin: pin.lower())]) + "\n"


def main() -> int:
    target = Path(sys.argv[1])
    target.write_text(merged(target.read_text() if target.exists() else "", sys.stdin.read()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
