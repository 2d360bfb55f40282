"""Alerts acknowledged but not yet opened as incidents survive a kill -9: a claim per raise, and a sweep.

The live path queues `alert.raised` in memory (see `sensors.py`), so a process killed with a queue would lose
alerts the context layer already committed. Two things make that safe without a write in the sensor
writer's transaction:
- every raise is opened at most once: its claim (an `ops_inbound_requests` row of the sensor actor, keyed
  by alert id and raise time) is inserted in the incident's own transaction; a twin (the sweep, another
  worker) that finds the claim, or loses the insert race, skips;
- a sweep reads the active high/critical Alert entities raised within the window through the context
  query service, and queues those whose episode has neither a claim nor an incident with that source_ref.
  It runs at start-up and, in the worker holding the `ops:alert-sweep` lease, on a timer.
An escalation (high → critical) lost with the queue is not swept: the episode already has its incident.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.ops.models import InboundRequest, Incident

log = logging.getLogger("cityhub.ops.alert_recovery")
LEASE = "ops:alert-sweep"
_R = InboundRequest.__table__
PAGE = 500


def _when(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None


def _prefix(alert_id: str) -> str:
    # The key column holds 200 characters: a very long alert id is hashed (the raise time stays readable).
    short = alert_id if len(alert_id) <= 150 else hashlib.sha256(alert_id.encode()).hexdigest()
    return f"alert:{short}@"


def claim_key(alert_id: str, raised_at: Any) -> str:
    when = _when(raised_at)
    return _prefix(alert_id) + (when.isoformat() if when else str(raised_at))


def claim(db: Session, actor_id: str, key: str, status: int) -> bool:
    """Insert the raise's claim first in the caller's transaction; False when it is already claimed (the
    transaction is then rolled back). On PostgreSQL a concurrent twin waits on the row and then gets False."""
    if db.scalar(select(_R.c.key).where(_R.c.actor_id == actor_id, _R.c.key == key)) is not None:
        return False
    try:
        db.execute(insert(_R).values(actor_id=actor_id, key=key, fingerprint="alert", status_code=status,
                                     response={}, created_at=utcnow()))
    except IntegrityError:
        db.rollback()
        return False
    return True


def _attr(entity: dict[str, Any], name: str) -> Any:
    attr = entity.get(name)
    if not isinstance(attr, dict):
        return None
    return attr.get("object") if attr.get("type") == "Relationship" else attr.get("value")


def payload_of(entity: dict[str, Any]) -> dict[str, Any]:
    """The `alert.raised` payload a stored Alert entity stands for (what `incident_from_alert` reads)."""
    aid = entity["id"]
    rule = aid.removeprefix("urn:ngsi-ld:Alert:").split(":", 1)[0]
    value = entity.get("value") if isinstance(entity.get("value"), dict) else {}
    return {"id": aid, "source": _attr(entity, "alertSource"), "rule": rule, "attribute": _attr(entity, "attribute"),
            "value": value.get("value"), "threshold": _attr(entity, "threshold"),
            "severity": _attr(entity, "severity"), "category": _attr(entity, "category"),
            "subCategory": _attr(entity, "subCategory"), "location": _attr(entity, "location"),
            "at": value.get("observedAt"), "issued": _attr(entity, "dateIssued")}


def _active_alerts(ctx: RequestContext) -> list[dict[str, Any]]:
    from cityhub.context.query import EntityQuery, query_entities

    out: list[dict[str, Any]] = []
    limit = min(PAGE, ctx.settings.context_max_limit)
    while True:
        page = query_entities(ctx, query=EntityQuery(types=["Alert"], q='status=="active"', limit=limit,
                                                     offset=len(out)))
        out.extend(page.items)
        if len(page.items) < limit:
            return out


def _opened(ctx: RequestContext, actor_id: str, alert_id: str, since: datetime) -> bool:
    """Whether this alert's episode (raised since `since`) already has a claim or an incident."""
    claimed = ctx.db.scalar(select(_R.c.key).where(
        _R.c.actor_id == actor_id, _R.c.key.startswith(_prefix(alert_id), autoescape=True),
        _R.c.created_at >= since).limit(1))
    if claimed is not None:
        return True
    return ctx.db.scalar(select(Incident.id).where(Incident.source_ref == alert_id,
                                                   Incident.created_at >= since).limit(1)) is not None


def unopened(ctx: RequestContext, actor_id: str) -> list[dict[str, Any]]:
    """Payloads of qualifying alerts raised within the window that no incident or claim stands for yet."""
    from cityhub.ops.sensors import incident_from_alert

    cutoff = utcnow() - timedelta(minutes=ctx.settings.ops_alert_sweep_window_minutes)
    out = []
    for entity in _active_alerts(ctx):
        payload = payload_of(entity)
        raised, issued = _when(payload["at"]), _when(payload["issued"])
        if raised is None or raised < cutoff or incident_from_alert(payload) is None:
            continue
        if not _opened(ctx, actor_id, payload["id"], min(raised, issued or raised)):
            out.append(payload)
    return sorted(out, key=lambda p: _when(p["at"]) or cutoff)
