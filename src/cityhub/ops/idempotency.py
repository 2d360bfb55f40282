"""Idempotency-Key on agency requests: a replayed request gets the first answer, not a second incident.

The remembered answer is written in the same transaction as the work it answers, so it exists
exactly when the work committed. The same key with a different body is a client bug: 409.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Conflict, Invalid
from cityhub.ops.models import InboundRequest

_R = InboundRequest.__table__
_SEEN = select(_R.c.fingerprint, _R.c.status_code, _R.c.response).where(
    _R.c.actor_id == bindparam("who"), _R.c.key == bindparam("key"))
_CLAIM = insert(_R)
_ANSWER = update(_R).where(_R.c.actor_id == bindparam("who"), _R.c.key == bindparam("k"))


def fingerprint(method: str, path: str, body: Any) -> str:
    raw = orjson.dumps({"m": method, "p": path, "b": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()


def run_once(ctx: RequestContext, *, key: str | None, print_: str, work: Callable[[], tuple[int, Any]]
             ) -> tuple[int, Any, bool]:
    """Do `work` unless this actor already sent this key; returns (status, body, replayed)."""
    if not key:
        status, body = work()
        return status, body, False
    if len(key) > 200:
        raise Invalid.field("Idempotency-Key", "at most 200 characters")
    who = ctx.actor.user_id or "anonymous"
    seen = ctx.db.execute(_SEEN, {"who": who, "key": key}).first()
    if seen is None:
        # Claim the key before the work: a concurrent twin waits on the key's row and then replays. Core
        # statements: this runs on every agency report, and the ORM's get/flush cost several times more.
        try:
            ctx.db.execute(_CLAIM, {"actor_id": who, "key": key, "fingerprint": print_, "status_code": 0,
                                    "response": {}, "created_at": utcnow()})
        except IntegrityError:
            ctx.db.rollback()
            seen = ctx.db.execute(_SEEN, {"who": who, "key": key}).first()
            if seen is None:  # the twin failed and rolled back: its key is free again
                raise Conflict("a request with this Idempotency-Key was running; retry") from None
        else:
            status, body = work()
            ctx.db.execute(_ANSWER, {"who": who, "k": key, "status_code": status, "response": body})
            return status, body, False
    if seen.fingerprint != print_:
        raise Conflict("Idempotency-Key was already used for a different request",
                       details={"Idempotency-Key": ["reused with a different method, path or body"]})
    return seen.status_code, seen.response, True
