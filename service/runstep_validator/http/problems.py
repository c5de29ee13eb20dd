"""RFC 9457 problem details: the one shape of every HTTP error this service returns."""

from __future__ import annotations

from typing import Any

from ..core.errors import RunStepValidatorError

PROBLEM_BASE = "https://runstep-validator.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(RunStepValidatorError):
    """An HTTP error to report as `application/problem+json`. `slug` names its type under PROBLEM_BASE;
    `extensions` are extra members (never payload contents beyond short excerpts)."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            document["instance"] = instance
        document.update(self.extensions)
        return document
