"""The page for people (`GET /`) and the API documentation (`GET /docs`): files shipped inside the package, read once
and served with an ETag and a content security policy that lets them talk to this origin only."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Final, NamedTuple

from flask import Blueprint, Response, request

from .problems import Problem

# Everything from this origin, nothing inline, nothing from anywhere else: the page works offline and leaks nothing.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",  # the example menu
}


class PageFile(NamedTuple):
    body: bytes
    media_type: str
    etag: str


def load_pages() -> dict[str, PageFile]:
    """Every file of the page folder, by name."""
    found = {}
    for item in resources.files(__package__).joinpath("page").iterdir():
        suffix = "." + item.name.rpartition(".")[2]
        if item.is_file() and suffix in MEDIA_TYPES:
            body = item.read_bytes()
            found[item.name] = PageFile(body, MEDIA_TYPES[suffix], hashlib.sha256(body).hexdigest()[:32])
    return found


def page_blueprint() -> Blueprint:
    """`/` (the page), `/docs` (the API for people) and `/page/<file>` (their scripts and styles)."""
    pages = load_pages()
    blueprint = Blueprint("pages", __name__)

    def page(name: str) -> Response:
        found = pages.get(name)
        if found is None:
            raise Problem(404, "not-found", "Not found", f"no route for {request.path[:100]}")
        response = Response(found.body, content_type=found.media_type)
        response.headers.update(SECURITY_HEADERS)
        response.headers["Cache-Control"] = "no-cache"  # revalidated by ETag: a new release is seen at once
        response.set_etag(found.etag)
        response.make_conditional(request)
        return response

    @blueprint.get("/")
    def home() -> Response:
        return page("index.html")

    @blueprint.get("/docs")
    def docs() -> Response:
        return page("docs.html")

    @blueprint.get("/page/<name>")
    def asset(name: str) -> Response:
        return page("" if name.endswith(".html") else name)  # the pages themselves have their own routes

    return blueprint
