"""Writing what agencies must receive into the outbox, in the caller's transaction.

Each row carries an idempotency key made of the incident, the timeline entry and the target, so a
row re-sent after a crash (claimed, delivered, not yet marked) reaches the agency with the same key
and the agency keeps it once. The dispatcher (`cityhub.outbox`) is woken after commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import insert

from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.ops.dispatcher import running_for
from cityhub.ops.models import Agency, Delivery
from cityhub.ops.service_agencies import WAKE_TOPIC

D = Delivery.__table__
# What the dispatcher reads of a row to send it (the columns `AgencyDispatcher.send` and the outbox use).
_HANDED = ("target", "agency_id", "incident_id", "event", "idempotency_key", "endpoint", "payload", "attempts")


def enqueue(ctx: RequestContext, *, event: str, key: str, payload: dict[str, Any], agencies: Iterable[Agency],
            incident_id: str | None = None, extras: Callable[[Agency], dict[str, Any]] | None = None) -> int:
    """One outbox row per agency; agencies without a webhook get a `no_endpoint` row (visible, retryable).
    `extras(agency)` adds what only that agency receives (its camera links, access roads)."""
    now = utcnow()
    rows = []
    for agency in agencies:
        more = extras(agency) if extras else {}
        rows.append({"target": agency.code, "agency_id": agency.id, "incident_id": incident_id, "event": event,
                     "idempotency_key": f"{key}:{agency.code}", "endpoint": agency.webhook_url,
                     "payload": {**payload, **more, "event": event, "agency": agency.code,
                                 "idempotency_key": f"{key}:{agency.code}"},
                     "status": "pending" if agency.webhook_url else "no_endpoint", "attempts": 0,
                     "next_attempt_at": now, "created_at": now})
    return _insert(ctx, rows)


def enqueue_direct(ctx: RequestContext, *, target: str, endpoint: str | None, event: str, key: str,
                   payload: dict[str, Any], incident_id: str | None = None) -> int:
    """A message to someone who is not an agency (a guardian's notification endpoint)."""
    now = utcnow()
    return _insert(ctx, [{"target": target, "agency_id": None, "incident_id": incident_id, "event": event,
                          "idempotency_key": key, "endpoint": endpoint,
                          "payload": {**payload, "event": event, "idempotency_key": key},
                          "status": "pending" if endpoint else "no_endpoint", "attempts": 0,
                          "next_attempt_at": now, "created_at": now}])


def _insert(ctx: RequestContext, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    pending = any(r["status"] == "pending" for r in rows)
    runner = running_for(ctx.db.get_bind()) if pending else None
    lease = runner.lease_for_new_rows() if runner is not None else None
    if runner is None or lease is None:
        ctx.db.execute(insert(D), rows)
        if pending:
            ctx.publish(WAKE_TOPIC, {"count": len(rows)})
        return len(rows)
    # Leased to this process's dispatcher in the same transaction and handed to it after commit: it sends them
    # without claiming them again. If this process dies first, the lease runs out and any worker claims them.
    for r in rows:
        r["claimed_until"] = lease if r["status"] == "pending" else None
    ids = ctx.db.scalars(insert(D).returning(D.c.id, sort_by_parameter_order=True), rows).all()
    handed = [{"id": i, **{k: r[k] for k in _HANDED}} for i, r in zip(ids, rows, strict=True)
              if r["status"] == "pending"]
    ctx.publish(WAKE_TOPIC, {"count": len(rows), "handover": {
        "holder": runner.holder, "lease": lease.isoformat(), "rows": handed}})
    return len(rows)
