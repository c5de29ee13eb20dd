"""How a setting given as text says yes or no, shared by the server's settings (`http/config.py`) and the command
line's debug switch: the command line reads one variable without importing the HTTP service (Flask) to do it."""

from __future__ import annotations

from typing import Final

YES: Final = ("1", "true", "yes", "on")
NO: Final = ("0", "false", "no", "off")
WORDS: Final = f"give {', '.join(YES[:-1])} or {YES[-1]}, or {', '.join(NO[:-1])} or {NO[-1]}"

# Read by the command line only; `serve` knows the name so that a shell exporting it is not refused as a typo.
DEBUG_VARIABLE: Final = "RUNSTEP_VALIDATOR_DEBUG"


def yes_or_no(text: str) -> bool | None:
    """True or False for the words above in any case, None for anything else."""
    word = text.strip().lower()
    if word in YES:
        return True
    if word in NO:
        return False
    return None
