"""One error family raised by services; each door (API, CKAN, NGSI-LD, pages, CLI) maps it once."""

from __future__ import annotations

from typing import Any


class CityhubError(Exception):
    status_code = 400
    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(CityhubError):
    status_code = 404
    code = "not_found"


class Forbidden(CityhubError):
    status_code = 403
    code = "forbidden"


class Unauthenticated(CityhubError):
    status_code = 401
    code = "unauthenticated"


class Invalid(CityhubError):
    """Bad input. `details` maps a field (or `line 3, column "x"`) to a list of messages."""

    status_code = 422
    code = "invalid"

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls(f"{field}: {message}", details={field: [message]})


class Conflict(CityhubError):
    status_code = 409
    code = "conflict"


class LimitExceeded(CityhubError):
    status_code = 413
    code = "limit_exceeded"


class UpstreamError(CityhubError):
    status_code = 502
    code = "upstream_error"
