"""The HTTP service: a Flask app factory, served by granian. It translates HTTP to the core and back."""

from .app import create_app

__all__ = ["create_app"]
