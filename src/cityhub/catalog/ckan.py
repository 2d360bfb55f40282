"""The CKAN Action API v3 door: `/api/3/action/{name}` and `/api/action/{name}` (ckanapi's path).

Requests are read the way CKAN reads them (JSON body, form or multipart by POST; query parameters by
GET for read-only actions), the action runs in its own transaction, and every outcome, including a
bad token, is answered in CKAN's envelope — never our native problem+json — because `ckanapi` and
harvesters only understand `success`, `result` and `error.__type`.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from cityhub.catalog import ckan_datastore, ckan_orgs  # noqa: F401  (they register their actions)
from cityhub.catalog.ckan_actions import ACTIONS, Action, Call, NeedsThread
from cityhub.catalog.ckan_envelope import (
    JSON_TYPE,
    ActionError,
    BadRequest,
    bad_request,
    failed,
    from_cityhub,
    from_pydantic,
    help_url,
    internal_error,
    ok,
    validation_error,
)
from cityhub.ctx import ANONYMOUS, RequestContext
from cityhub.errors import CityhubError
from cityhub.http import SESSION_COOKIE, bearer_token, resolve_actor

log = logging.getLogger("cityhub.ckan")

router = APIRouter(tags=["ckan"])

# Actions tried on the event loop first (no thread hop on the hottest path); they raise NeedsThread
# when the answer needs more than one indexed read, and then run in the thread pool like the rest.
ON_LOOP = frozenset({"package_show", "status_show"})
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


@router.get("/api", include_in_schema=False)
@router.get("/api/3", include_in_schema=False)
def api_version() -> Response:
    return Response(content=b'{"version":3}', media_type=JSON_TYPE)


def _mixed(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """CKAN's reading of query strings and forms: a repeated key becomes a list, others stay single."""
    out: dict[str, Any] = {}
    for key, value in items:
        if key in out:
            out[key] = out[key] + [value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


async def _request_data(request: Request, action: Action) -> tuple[dict[str, Any], Any]:
    """The action's parameters and the parsed form to close afterwards (if any)."""
    if request.method == "GET":
        if not action.read_only:
            raise BadRequest("JSON Error: Invalid request. Please use POST method for your request")
        return _mixed(request.query_params.multi_items()), None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        _check_length(request)
        try:
            form = await request.form(max_files=10, max_fields=1000)
        except HTTPException as exc:  # malformed multipart, too many parts
            raise BadRequest(f"Form Error: {exc.detail}") from None
        items = list(form.multi_items())
        # CKAN quirk: a urlencoded body that is one JSON key with an empty or "1" value.
        if len(items) == 1 and items[0][1] in ("", "1") and items[0][0].lstrip().startswith("{"):
            return _json_dict(items[0][0].encode()), form
        return _mixed(items), form
    body = await request.body()
    if not body.strip():
        return _mixed(request.query_params.multi_items()) if action.read_only else {}, None
    return _json_dict(body), None


def _json_dict(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"JSON Error: Error decoding JSON data. Error: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"Bad request data: Request data JSON decoded to {data!r} but it needs to be a dictionary.")
    return data


def _check_length(request: Request) -> None:
    """Refuse an upload over the limit before reading it, so it never fills the disk."""
    limit = request.app.state.settings.max_upload_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 1024 * 1024:
        raise validation_error({"upload": [f"larger than the {limit:,} byte upload limit"]}, status=413)


def _run(action: Action, data: dict[str, Any], request: Request, site_help: str,
         on_loop: bool = False) -> Response | None:
    """Run one action in its own transaction; any failure rolls back and answers in CKAN's words.
    None: the action could not answer on the event loop (NeedsThread)."""
    state = request.app.state
    db = state.session_factory()
    try:
        ctx = RequestContext(actor=ANONYMOUS, db=db, settings=state.settings, bus=state.bus,
                             request_id=getattr(request.state, "request_id", "-"),
                             client_ip=request.client.host if request.client else None)
        ctx.actor = resolve_actor(request, db)
        request.state.actor = ctx.actor
        response = ok(site_help, action.fn(Call(ctx=ctx, data=data, name=action.name, request=request,
                                                on_loop=on_loop)))
        # An answer from the event loop touched no session (one read on its own connection): nothing to
        # commit, and skipping the commit skips the audit hook's work on every cached package_show.
        if not on_loop or db.in_transaction() or db.info:
            db.commit()
        return response
    except NeedsThread:
        db.rollback()
        return None
    except Exception as exc:  # every outcome is an envelope; nothing half-written stays
        db.rollback()
        return failed(site_help, _as_action_error(exc, action.name))
    finally:
        db.close()


def _as_action_error(exc: Exception, name: str) -> ActionError:
    if isinstance(exc, ActionError):
        return exc
    if isinstance(exc, CityhubError):
        return from_cityhub(exc)
    if isinstance(exc, ValidationError):
        return from_pydantic(exc)
    if isinstance(exc, IntegrityError):
        return validation_error({"message": "the change conflicts with existing data; nothing was saved"})
    log.exception("CKAN action %s failed", name)
    return internal_error()


def _anonymous(request: Request) -> bool:
    """No token and no session: resolving the actor touches no database (a token's use is recorded)."""
    return bearer_token(request) is None and SESSION_COOKIE not in request.cookies


async def _action(request: Request) -> Response:
    name = request.path_params["name"]
    action = ACTIONS.get(name)
    if action is None:
        return bad_request(f"Action name not known: {name}")
    site_help = help_url(request.app.state.settings.site_url, name)
    form = None
    try:
        data, form = await _request_data(request, action)
        data.pop("callback", None)
        if name in ON_LOOP and _anonymous(request):
            response = _run(action, data, request, site_help, on_loop=True)
            if response is not None:
                return response
        return await run_in_threadpool(_run, action, data, request, site_help)
    except BadRequest as exc:
        return bad_request(exc.message)
    except ActionError as exc:
        return failed(site_help, exc)
    finally:
        if form is not None:
            await form.close()


# Both paths: ckanapi calls /api/action/<name> and does not follow redirects. Plain Starlette routes:
# the action reads its own parameters, so FastAPI's dependency solving would only cost time.
router.add_route("/api/3/action/{name}", _action, methods=["GET", "POST"], include_in_schema=False)
router.add_route("/api/action/{name}", _action, methods=["GET", "POST"], include_in_schema=False)
