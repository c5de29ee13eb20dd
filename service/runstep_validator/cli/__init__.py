"""The `runstep-validator` command line."""

from .commands import main, run

__all__ = ["main", "run"]
