"""Shared pieces of the HTTP doors: the request context dependency and fast JSON responses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import Response

from cityhub.auth import service as auth_service
from cityhub.ctx import ANONYMOUS, Actor, RequestContext
from cityhub.governance.audit import bind_actor, flush_pending, note

SESSION_COOKIE = "cityhub_session"


class ORJSONResponse(Response):
    """Pre-serialised JSON: several times faster than FastAPI's default encoder on hot paths."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)


def bearer_token(request: Request) -> str | None:
    """The API token from `Authorization: Bearer X`, a bare `Authorization: X` (CKAN clients) or X-CKAN-API-Key."""
    header = request.headers.get("authorization", "").strip()
    if header:
        scheme, _, rest = header.partition(" ")
        if scheme.lower() == "bearer" and rest:
            return rest.strip()
        if not rest:
            return header
    return request.headers.get("x-ckan-api-key") or None


def resolve_actor(request: Request, db: Any) -> Actor:
    from cityhub.errors import Unauthenticated

    token = bearer_token(request)
    if token:
        actor = auth_service.actor_for_token(db, token)
        if actor is None:
            note(db, "token.use", outcome="denied", detail={"prefix": token[:8]})
            raise Unauthenticated("invalid or expired API token")
        bind_actor(db, actor, ip=request.client.host if request.client else None,
                   request_id=getattr(request.state, "request_id", None))
        note(db, "token.use", resource_kind="api_token", resource_id=actor.token_id)
        return actor
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return auth_service.actor_for_session(db, cookie) or ANONYMOUS
    return ANONYMOUS


def open_ctx(request: Request) -> Iterator[RequestContext]:
    """A request context with its own DB session; committed when the endpoint returns normally."""
    state = request.app.state
    db = state.session_factory()
    try:
        ctx = RequestContext(
            actor=ANONYMOUS,
            db=db,
            settings=state.settings,
            bus=state.bus,
            request_id=getattr(request.state, "request_id", "-"),
            client_ip=request.client.host if request.client else None,
        )
        bind_actor(db, ANONYMOUS, ip=ctx.client_ip, request_id=ctx.request_id)
        ctx.actor = resolve_actor(request, db)
        bind_actor(db, ctx.actor, ip=ctx.client_ip, request_id=ctx.request_id)
        request.state.actor = ctx.actor
        yield ctx
        db.commit()  # queued audit entries are written with it
    except BaseException:
        db.rollback()
        flush_pending(db, failed=True)  # denials and failures are recorded even though the attempt is undone
        db.commit()
        raise
    finally:
        db.close()


# Exit runs when the endpoint returns, before the response is sent: what we acknowledge is committed.
Ctx = Annotated[RequestContext, Depends(open_ctx, scope="function")]
