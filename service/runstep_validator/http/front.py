"""The front door: an RSGI application (granian's native interface) that receives each request whole on the event
loop, within size and time limits, and only then hands it to the WSGI application (the fast lane and Flask).

Under plain WSGI a request's body is read by the thread that will validate it, so a client that sends its headers
and then one byte a minute holds a thread for as long as it likes, and a few hundred such clients starve the
server. Here a slow client holds only a coroutine: the body must arrive within `body_timeout_seconds` (else 408),
headers within `header_timeout_seconds` (granian closes the connection), and neither may exceed its size limit
(413, 431). Small complete requests are then answered right on the event loop, which costs less than a hop to a
thread, and so are larger valid payloads that the fast path accepts; the rest of the large ones (error-heavy
bodies, big batches) go to the worker's validation processes (processes.py), so that they hold up neither the loop
nor, through the GIL, its thread.
"""

from __future__ import annotations

import asyncio
import io
import logging
import logging.config
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

import msgspec
from flask import Flask

# granian.rsgi is the interface granian documents for RSGI applications; it re-exports these from its extension
# module in a form (`X as Y`) that mypy does not count as a re-export.
from granian.rsgi import HTTPProtocol, Scope  # type: ignore[attr-defined]
from granian.rsgi import ProtocolClosed as RSGIProtocolClosed  # type: ignore[attr-defined]

from ..core.deadline import time_limit
from ..core.errors import LimitExceeded
from .app import create_app
from .connections import ConnectionWatch, PendingAnswers, peer_of
from .observe import (
    REQUEST_ID_KEY,
    accept_request_id,
    access_line,
    access_writer,
    loggable,
    method_of,
    request_id,
    route_of,
    verdict,
)
from .problems import PROBLEM_MEDIA_TYPE, Problem
from .processes import CHILD_NICENESS, READY, Job, ValidationProcesses
from .server import logging_config
from .service import (
    INTERNAL_ERROR,
    Encoded,
    Service,
    WSGIApp,
    time_limit_problem,
    too_large,
    truncated_body,
)

log = logging.getLogger("runstep_validator.http")
access_log = logging.getLogger("runstep_validator.access")

Response = tuple[int, list[tuple[str, str]], bytes]

# Bodies up to this are answered on the event loop: at most a few milliseconds however many errors they hold
# (about 250 of them, at most, in 4 KiB), less than a hop to a thread costs the common small request. Anything larger
# is validated on the pool, so that an error-heavy body cannot hold the loop (and /healthz) for seconds.
INLINE_BYTES = 4 * 1024
# Larger bodies that the fast path finds valid are answered on the event loop too, up to this size: the verdict
# costs about half a millisecond per 100 KiB, but the warnings of a valid payload (lint and their positions) grow
# with the size, about 10 ms for 64 KiB of repeated tool calls. Above it, or when the fast path refuses the payload
# (its errors need the full report), a validation process answers.
ACCEPTED_INLINE_BYTES = 64 * 1024


def request_timeout(seconds: float) -> Problem:
    detail = f"the request body did not arrive within {seconds:g} s"
    return Problem(408, "request-timeout", "Request timeout", detail, limit=seconds)


def answers_pending(pending: PendingAnswers, size: int) -> Problem:
    detail = (
        f"this worker already holds {pending.held} bytes of answers that their clients have not read, and this "
        f"answer's {size} bytes would pass the limit of {pending.limit}: retry in a moment"
    )
    return Problem(503, "answers-pending", "Too many unread answers", detail, limit=pending.limit)


def headers_too_large(limit: int) -> Problem:
    detail = f"the request's headers are larger than the limit of {limit} bytes"
    return Problem(431, "headers-too-large", "Request header fields too large", detail, limit=limit)


class Front:
    """RSGI in front of the Flask app: whole requests only, within the limits of its settings."""

    def __init__(self, app: Flask) -> None:
        self.handler = Handler(app)
        self.service = self.handler.service
        self.settings = self.service.settings
        self.pool = ThreadPoolExecutor(max_workers=self.settings.threads, thread_name_prefix="validate")
        self.processes: ValidationProcesses | None = None
        if self.settings.validate_processes:
            self.processes = ValidationProcesses(
                self.settings.validate_processes,
                serve_jobs,
                vars(self.settings),
                self.settings.max_request_seconds,
                logging_config(log_format=self.settings.log_format),
            )
        self._deadlines = Deadlines(self.settings.body_timeout_seconds)
        self._access = access_writer(access_log, self.settings.log_format) if self.settings.access_log else None
        self.pending = PendingAnswers(self.settings.max_pending_answer_bytes)
        self.watch = ConnectionWatch(self.settings.port, self.settings.write_timeout_seconds, self.pending)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """The worker is starting: watch its connections (see connections.py), start its validation processes."""
        self.watch.start()
        if self.processes is not None:
            self.processes.start()

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """The worker is stopping: write out the access lines still waiting in the batching handler."""
        self.watch.stop()
        if self.processes is not None:
            self.processes.close()
        for handler in logging.getLogger("runstep_validator").handlers:
            handler.flush()

    async def __rsgi__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        if scope.proto != "http":
            return
        started = time.perf_counter()
        identifier = accept_request_id(scope.headers.get("x-request-id"))
        request_id.set(identifier)
        found: tuple[bool, int] | None = None
        try:
            body = await self._receive_body(scope, protocol)
            if len(body) <= INLINE_BYTES:
                answer = self.handler.answer(scope, body, identifier)
            else:
                accepted = self.handler.answer_accepted(scope, body) if len(body) <= ACCEPTED_INLINE_BYTES else None
                answer = accepted or await self._answer_elsewhere(scope, body, identifier)
            status, headers, content, found = answer
        except Problem as problem:  # refused before the app saw it: the connection cannot carry another request
            status, headers, content = _problem(problem)
            headers.append(("connection", "close"))
        except Exception:  # a bug: logged here, a bare problem for the client
            log.exception("unexpected error on %s %s", loggable(scope.method, 16), loggable(scope.path, 100))
            status, headers, content = _problem(INTERNAL_ERROR)
        if not self.pending.admit(peer_of(scope.client), len(content)):
            status, headers, content = _problem(answers_pending(self.pending, len(content)))
            headers.append(("retry-after", "1"))
        if status >= 400 and any(value == PROBLEM_MEDIA_TYPE for _, value in headers):
            content = self._noted_problem(content, identifier)
            headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
        headers.append(("x-request-id", identifier))
        self._observe(scope, (status, len(content), started), found, identifier)
        protocol.response_bytes(status, headers, content)

    async def _answer_elsewhere(self, scope: Scope, body: bytes, identifier: str) -> Answer:
        """A large body's answer off the event loop: from a validation process, or (with none) a pool thread."""
        loop = asyncio.get_running_loop()
        if self.processes is None:
            return await loop.run_in_executor(self.pool, self.handler.answer, scope, body, identifier)
        head = RequestHead.of(scope)
        try:
            return await loop.run_in_executor(self.pool, self.processes.answer, head, body, identifier)
        except LimitExceeded as exc:  # the process was killed at the time limit
            encoded = time_limit_problem(exc)
            return Answer(encoded.status, [("content-type", encoded.media_type)], encoded.body, None)

    def _noted_problem(self, content: bytes, identifier: str) -> bytes:
        """A problem document with the request's id in it, and a limit's refusal counted."""
        try:
            document = msgspec.json.decode(content)
        except msgspec.DecodeError:  # pragma: no cover - ours are always JSON
            return content
        if isinstance(document, dict):
            self.service.metrics.limit_hit(str(document.get("type", "")).rpartition("/")[2])
            document["request_id"] = identifier
            return msgspec.json.encode(document)
        return content  # pragma: no cover

    async def _receive_body(self, scope: Scope, protocol: HTTPProtocol) -> bytes:
        limit, header_limit = self.settings.max_body_bytes, self.settings.max_header_bytes
        headers = scope.headers
        if sum(len(name) + len(value) + 4 for name, value in headers.items()) > header_limit:
            raise headers_too_large(header_limit)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large(limit)
        if not declared and "transfer-encoding" not in headers:
            return b""
        task = self._deadlines.start()
        try:
            if declared.isdigit():  # its size is known and within the limit: read it in one go
                try:
                    return await protocol()
                except RSGIProtocolClosed:
                    # The body stopped short (a half-close, a reset): answered all the same, for a client that still
                    # reads, and for the log and the metrics.
                    raise truncated_body(
                        f"the body ended before its {declared} bytes arrived", expected=int(declared)
                    ) from None
            return await self._receive_chunked(protocol, limit)
        except asyncio.CancelledError:
            if self._deadlines.expired(task):
                raise request_timeout(self.settings.body_timeout_seconds) from None
            raise
        finally:
            self._deadlines.stop(task)

    @staticmethod
    async def _receive_chunked(protocol: HTTPProtocol, limit: int) -> bytes:
        """A body of unknown length, refused at the limit, and refused when it does not end with its last chunk.
        granian (2.8.7, src/rsgi/io.rs `__anext__`) yields one empty piece where the body ends cleanly, and one more
        before it where the body fails (a malformed or overflowing chunk size, a half-close before the last chunk)
        or carries trailers: it raises nothing. tests/test_http_limits.py holds both readings."""
        pieces: list[bytes] = []
        size = empty = 0
        async for piece in protocol:
            if not piece:
                empty += 1
                continue
            size += len(piece)
            if size > limit:
                raise too_large(limit)
            pieces.append(piece)
        if empty > 1:
            raise truncated_body(f"the chunked body ended before its last chunk, after {size} bytes", received=size)
        return b"".join(pieces)

    def _observe(
        self, scope: Scope, answered: tuple[int, int, float], found: tuple[bool, int] | None, identifier: str
    ) -> None:
        """The request's metrics, and its access log line: never its body, query string or payload values."""
        status, size, started = answered
        elapsed = time.perf_counter() - started
        path, method = scope.path, scope.method
        route = route_of(path)
        self.service.metrics.answered(route, method_of(method), status, elapsed)
        if self._access is not None:
            line = access_line(identifier, method, route, path, (status, size, elapsed))
            if found is not None:
                line.verdict, line.errors = "valid" if found[0] else "invalid", found[1]
            self._access(line)


class RequestHead(NamedTuple):
    """What a request is apart from its body, in the attributes of granian's `Scope` (which cannot be pickled):
    sent with the body to a validation process."""

    method: str
    path: str
    query_string: str
    headers: RequestHeaders
    client: str
    server: str
    scheme: str
    http_version: str

    @classmethod
    def of(cls, scope: Scope) -> RequestHead:
        headers = RequestHeaders(scope.headers.items())
        return cls(
            scope.method,
            scope.path,
            scope.query_string,
            headers,
            scope.client,
            scope.server,
            scope.scheme,
            scope.http_version,
        )


class RequestHeaders(list[tuple[str, str]]):
    """A request's headers in order, repeated names kept: what `wsgi_environ` and the handler read of granian's."""

    def get(self, name: str, default: str = "") -> str:
        return next((value for key, value in self if key == name), default)

    def items(self) -> list[tuple[str, str]]:
        return self


class Answer(NamedTuple):
    """Status, headers and body of an answer, and the verdict it carries (valid, errors) for the access log."""

    status: int
    headers: list[tuple[str, str]]
    content: bytes
    found: tuple[bool, int] | None


class Handler:
    """The answer to a whole request: the one fast lane's for the common `POST /v1/validate` (without Flask's
    request and response objects, which cost several times the validation itself), or the Flask app's. The same on
    the event loop, on a pool thread and in a validation process."""

    def __init__(self, app: Flask) -> None:
        self.wsgi_app: WSGIApp = app.wsgi_app
        self.service: Service = app.extensions["runstep_validator"]

    def answer(self, scope: Scope | RequestHead, body: bytes, identifier: str) -> Answer:
        request_id.set(identifier)  # this thread's (or process's) logs name the request too
        verdict.set(None)
        if scope.method == "POST" and scope.path == "/v1/validate":
            try:
                answer = self.service.answer_fast(scope.query_string, scope.headers, body)
            except Exception:  # as Flask's handler answers a bug: logged here, a bare problem for the client
                log.exception("unexpected error on POST /v1/validate")
                answer = Encoded.problem(INTERNAL_ERROR)
            if answer is not None:
                return Answer(answer.status, [("content-type", answer.media_type)], answer.body, verdict.get())
        environ = wsgi_environ(scope, body)
        environ[REQUEST_ID_KEY] = identifier
        return self._call(environ)

    def answer_accepted(self, scope: Scope, body: bytes) -> Answer | None:
        """The answer to a `POST /v1/validate` whose payload the fast path finds valid (about a millisecond per
        100 KiB, whatever its size: it stops at the first error), or None: the rest needs the full report."""
        if scope.method != "POST" or scope.path != "/v1/validate":
            return None
        verdict.set(None)
        answer = self.service.answer_accepted(scope.query_string, scope.headers, body)
        if answer is None:
            return None
        return Answer(answer.status, [("content-type", answer.media_type)], answer.body, verdict.get())

    def _call(self, environ: dict[str, Any]) -> Answer:
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., None]:
            answer[:] = [int(status.partition(" ")[0]), headers]
            return _no_write

        result: Iterable[bytes] = self.wsgi_app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = answer
        return Answer(status, headers, content, verdict.get())


class Deadlines:
    """Time limits for many waits at the cost of a dict entry each: one sweeper task, twice a second or so,
    cancels the waits that have run out (an asyncio.timeout per request cost a fifth of the hot path)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._waiting: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    def start(self, task: asyncio.Task[Any] | None = None) -> asyncio.Task[Any]:
        """From now on, the task (the current one by default) is cancelled once `seconds` have passed."""
        task = task or asyncio.current_task()
        assert task is not None, "granian runs each request as an asyncio task"
        loop = task.get_loop()
        self._waiting[task] = loop.time() + self.seconds
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = loop.create_task(self._sweep())
        return task

    def stop(self, task: asyncio.Task[Any]) -> None:
        self._waiting.pop(task, None)
        self._expired.discard(task)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether the task was cancelled for its deadline (and not for any other reason)."""
        if task in self._expired:
            task.uncancel()
            return True
        return False

    async def _sweep(self) -> None:
        interval = min(0.5, self.seconds / 4)
        loop = asyncio.get_running_loop()
        while self._waiting:
            await asyncio.sleep(interval)
            now = loop.time()
            for task, deadline in list(self._waiting.items()):
                if deadline <= now and task not in self._expired:
                    self._expired.add(task)
                    task.cancel()


def wsgi_environ(scope: Scope | RequestHead, body: bytes) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of a request whose whole body is `body`."""
    server_name, _, server_port = scope.server.rpartition(":")
    client, _, client_port = scope.client.rpartition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "REMOTE_ADDR": client,
        "REMOTE_PORT": client_port,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,  # the whole body is here: no Content-Length is needed to read it
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope.headers.items():
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name == "content-length":
            environ["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _no_write(data: bytes) -> None:
    raise RuntimeError("the app used WSGI's write(), which this front does not support")


def _problem(problem: Problem) -> Response:
    encoded = Encoded.problem(problem)
    return encoded.status, [("content-type", encoded.media_type)], encoded.body


def create_front(config: Mapping[str, Any] | None = None) -> Front:
    """The RSGI application granian serves: the Flask app behind the front door."""
    return Front(create_handler_app(config))


def create_handler_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The Flask app that answers the requests, in a worker or in one of its validation processes."""
    # What the logging HOWTO's "Optimization" section advises when a process logs a line per request: our lines
    # carry their own fields, not the caller's thread or process. (Access lines skip log records altogether: see
    # observe.access_writer; so the caller's source line, which only the private `logging._srcfile` turns off,
    # is looked up for the rare error line alone.)
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    return create_app(config)


def serve_jobs(connection: Connection, settings: dict[str, Any], log_config: dict[str, Any], parent: int) -> None:
    """A validation process (see processes.py): the same app as its worker, answering one request at a time, at a
    lower CPU priority than the event loops, until the worker is gone."""
    os.nice(CHILD_NICENESS)
    threading.Thread(target=_end_with, args=(parent,), name="parent-watch", daemon=True).start()
    logging.config.dictConfig(log_config)
    handler = Handler(create_handler_app(settings))
    limit = handler.service.settings.max_request_seconds
    try:
        connection.send(READY)
        while True:
            job: Job = connection.recv()
            with time_limit(limit, spent=job.waited):  # the app's own limit, less the request's wait for this process
                connection.send(handler.answer(job.head, job.body, job.identifier))
    except (EOFError, OSError):  # the worker is gone, or replaced this process
        return


def _end_with(parent: int) -> None:
    """Ends this process once `parent` is gone (a killed worker's validation cannot run on for minutes)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
