"""The HTTP service's Flask app factory: the routes' blueprints and RFC 9457 errors, assembled. It only translates
HTTP to the core and back.

    create_app()                                  # settings from the environment
    create_app({"max_body_bytes": 1024})          # tests pass overrides by setting name

The routes are a blueprint (routes.py, pages.py); the factory builds the `Service`, assembles the blueprints,
and the error handlers. The server serves it behind its front door (front.py), which answers the common
`POST /v1/validate` itself, through the same `Service` methods as the route here, and writes the access log;
served as plain WSGI, the app answers every request through Flask, the same answers, without that log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .config import Settings
from .observe import loggable
from .pages import page_blueprint
from .problems import Problem
from .routes import SERVICE_KEY, api
from .service import INTERNAL_ERROR, Encoded, Service, too_large

log = logging.getLogger("runstep_validator.http")


def _http_problem(exc: HTTPException, settings: Settings) -> Problem:
    status = exc.code or 500
    if isinstance(exc, RequestEntityTooLarge):
        return too_large(settings.max_body_bytes)
    if status == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or [])
        detail = f"{request.method} is not allowed here"
        return Problem(405, "method-not-allowed", "Method not allowed", detail, allowed=allowed)
    if status == 404:
        return Problem(404, "not-found", "Not found", f"no route for {request.path[:100]}")
    return Problem(status, f"http-{status}", exc.name, exc.description or exc.name)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The WSGI application. Settings: defaults, then RUNSTEP_VALIDATOR_* variables, then `config`."""
    settings = Settings.load(overrides=config)
    service = Service(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions[SERVICE_KEY] = service

    @app.after_request
    def options_say_nothing_but_allow(response: Response) -> Response:
        # Flask answers OPTIONS with an empty text/html 200: a documented 204 with Allow says the same, exactly.
        if request.method == "OPTIONS" and response.status_code == 200:
            response.status_code = 204
            response.set_data(b"")
            del response.headers["Content-Type"]
        return response

    @app.errorhandler(Problem)
    def on_problem(problem: Problem) -> Response:
        response = Encoded.problem(problem).to_flask()
        if problem.status == 405:
            response.headers["Allow"] = ", ".join(problem.extensions["allowed"])
        if problem.slug == "payload-too-large":
            # The body was refused unread, so the connection cannot carry another request: say so.
            response.headers["Connection"] = "close"
        return response

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> Response:
        return on_problem(_http_problem(exc, settings))

    @app.errorhandler(Exception)
    def on_unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", loggable(request.method, 16), loggable(request.path, 100))
        return on_problem(INTERNAL_ERROR)

    app.register_blueprint(api)
    app.register_blueprint(page_blueprint())
    return app
