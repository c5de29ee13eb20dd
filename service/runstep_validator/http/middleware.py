"""WSGI middleware in front of Flask: the fast lane for the hot path, and the access log."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable
from typing import Any

from werkzeug.http import HTTP_STATUS_CODES

from .observe import loggable
from .problems import Problem
from .service import INTERNAL_ERROR, JSON_MEDIA_TYPE, Encoded, Service, StartResponse, WSGIApp, media_type, read_exactly

log = logging.getLogger("runstep_validator.http")
access_log = logging.getLogger("runstep_validator.access")


class ValidateFastLane:
    """WSGI middleware answering the common case of `POST /v1/validate` without Flask; see the module docstring."""

    def __init__(self, app: WSGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.limit = service.settings.max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/v1/validate" or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        length_header = environ.get("CONTENT_LENGTH", "")
        if not length_header.isdigit() or not 0 < int(length_header) <= self.limit:
            return self.app(environ, start_response)
        if media_type(environ.get("CONTENT_TYPE", "")) != JSON_MEDIA_TYPE:
            return self.app(environ, start_response)  # before reading: Flask refuses it without reading either
        try:
            body = read_exactly(environ, int(length_header))
            answer = self.service.answer_fast(environ.get("QUERY_STRING", ""), environ.get("CONTENT_TYPE", ""), body)
            if answer is None:
                environ["wsgi.input"] = io.BytesIO(body)  # read already: Flask reads it again from here
                return self.app(environ, start_response)
        except Problem as problem:  # a truncated body
            answer = Encoded.problem(problem)
        except Exception:  # the same answer as Flask's handler gives: logged here, a bare problem for the client
            log.exception("unexpected error on POST /v1/validate")
            answer = Encoded.problem(INTERNAL_ERROR)
        headers = [("Content-Type", answer.media_type), ("Content-Length", str(len(answer.body)))]
        start_response(f"{answer.status} {HTTP_STATUS_CODES[answer.status].upper()}", headers)  # as werkzeug does
        return [answer.body]


class AccessLog:
    """WSGI middleware logging one line per request: method, path, status, response size and latency.
    Never bodies or query strings: those carry client data."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ""

        def recording_start_response(status_line: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            nonlocal status
            status = status_line.partition(" ")[0]
            return start_response(status_line, headers, *args)

        iterable = self.app(environ, recording_start_response)
        try:
            chunks = list(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:  # PEP 3333: whoever iterates the application's iterable must close it
                close()
        access_log.info(
            "%s %s %s %d %.2fms",
            loggable(environ.get("REQUEST_METHOD", "-"), 16),
            loggable(environ.get("PATH_INFO", "")),
            status,
            sum(len(chunk) for chunk in chunks),
            (time.perf_counter() - started) * 1000,
        )
        return chunks
