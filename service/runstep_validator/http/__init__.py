"""The HTTP service: a Flask app factory, served by granian. It translates HTTP to the core and back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Imported when asked for: the server process, which forks the workers, must not import prometheus_client
    # (with the app) before it has set the workers' metrics directory (see observe.py).
    if name == "create_app":
        from .app import create_app  # noqa: PLC0415

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
