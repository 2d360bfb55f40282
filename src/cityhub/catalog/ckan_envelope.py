"""The CKAN Action API envelope: success and error bodies, `__type` strings and their HTTP statuses.

`ckanapi` ignores the HTTP status and maps `error.__type` to its exceptions, so the exact strings
matter more than the status; both follow CKAN 2.11 (ckan/views/api.py).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi.responses import Response
from pydantic import ValidationError

from cityhub.errors import (
    CityhubError,
    Conflict,
    Forbidden,
    Invalid,
    LimitExceeded,
    NotFound,
    Unauthenticated,
    UpstreamError,
)
from cityhub.http import dumps

log = logging.getLogger("cityhub.ckan")

JSON_TYPE = "application/json;charset=utf-8"

# Our field names → CKAN's, so a validation error names the key the client sent.
FIELD_NAMES = {"keywords": "tags", "theme": "groups", "owner_org": "owner_org", "access_level": "private"}


class ActionError(Exception):
    """An error that is already in CKAN's words."""

    def __init__(self, type_: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", type_))
        self.type_, self.status, self.body = type_, status, body


class SearchQueryError(ActionError):
    """A `q`, `fq` or `sort` the search cannot honour: CKAN answers 400 "Search Query Error"."""

    def __init__(self, message: str) -> None:
        super().__init__("Search Query Error", 400, {"message": f"Search Query is invalid: {message}"})


class BadRequest(Exception):
    """Unknown action, a write action by GET or an unparseable body: 400 with a bare JSON string."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def validation_error(errors: dict[str, Any], status: int = 409) -> ActionError:
    return ActionError("Validation Error", status, dict(errors))


def field_error(field: str, message: str) -> ActionError:
    return validation_error({field: [message]})


def help_url(site_url: str, action: str) -> str:
    return f"{site_url.rstrip('/')}/api/3/action/help_show?name={action}"


def _prefix(site_help: str) -> bytes:
    return b'{"help":' + orjson.dumps(site_help)


class RawJSON(bytes):
    """A result that is already serialised JSON (package_show answers from pre-serialised bytes)."""


def ok(site_help: str, result: Any) -> Response:
    """Success envelope; the result is serialised once with orjson, or used as is when RawJSON."""
    payload = result if isinstance(result, RawJSON) else dumps(result)
    body = _prefix(site_help) + b',"success":true,"result":' + payload + b"}"
    return Response(content=body, media_type=JSON_TYPE)


def failed(site_help: str, err: ActionError) -> Response:
    error = dict(err.body)
    error["__type"] = err.type_
    body = dumps({"help": site_help, "success": False, "error": error})
    return Response(content=body, status_code=err.status, media_type=JSON_TYPE)


def bad_request(message: str) -> Response:
    return Response(content=dumps(f"Bad request: {message}"), status_code=400, media_type=JSON_TYPE)


def _field_errors(details: dict[str, Any], fallback: str) -> dict[str, Any]:
    if not details:
        return {"message": fallback}
    out: dict[str, Any] = {}
    for key, value in details.items():
        out[FIELD_NAMES.get(key, key)] = value if isinstance(value, list) else [str(value)]
    return out


def from_pydantic(exc: ValidationError, renames: dict[str, str] | None = None) -> ActionError:
    """Pydantic's errors as CKAN's per-field lists: {"name": ["Missing value"]}."""
    names = {**FIELD_NAMES, **(renames or {})}
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        field = names.get(loc[0], loc[0]) if loc else "__all__"
        message = "Missing value" if err.get("type") == "missing" else str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        errors.setdefault(field, []).append(message)
    return validation_error(errors)


def from_cityhub(exc: CityhubError) -> ActionError:
    """Map our error family to CKAN's `__type` envelope, once, here."""
    if isinstance(exc, NotFound):
        return ActionError("Not Found Error", 404, {"message": f"Not found: {exc.message}"})
    if isinstance(exc, Forbidden | Unauthenticated):
        return ActionError("Authorization Error", 403, {"message": f"Access denied: {exc.message}"})
    if isinstance(exc, Invalid | Conflict):
        return validation_error(_field_errors(exc.details, exc.message))
    if isinstance(exc, LimitExceeded):
        return validation_error(_field_errors(exc.details, exc.message), status=413)
    if isinstance(exc, UpstreamError):
        return ActionError("Internal Server Error", 502, {"message": f"Upstream error: {exc.message}"})
    return validation_error(_field_errors(exc.details, exc.message), status=exc.status_code or 409)


def internal_error() -> ActionError:
    return ActionError("Internal Server Error", 500, {"message": "Internal Server Error"})
