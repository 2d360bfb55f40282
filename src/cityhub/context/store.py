"""The one write path for context entities: rows, history, thresholds, notifications, events.

Every change (single-entity CRUD, attribute operations, batch operations, the simulator, alerts)
becomes a list of `Change`s applied by `apply_changes` inside the caller's transaction: entity rows
are inserted/updated in bulk, observed values go to the history tables, threshold rules may raise or
clear `Alert` entities, matching subscriptions get an outbox row, and `observation.batch` is
published after commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from cityhub.auth import policy
from cityhub.context import history
from cityhub.context.attrs import location_footprint
from cityhub.context.districts import district_for
from cityhub.context.models import ContextEntity
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.governance import entity_rules

T = ContextEntity.__table__


@dataclass
class Stored:
    id: str
    type: str
    attrs: dict[str, Any]
    created_at: datetime | None = None
    modified_at: datetime | None = None
    district: str | None = None


@dataclass
class Change:
    id: str
    type: str
    attrs: dict[str, Any]
    changed: set[str]
    created: bool = False
    deleted: bool = False
    previous: dict[str, Any] | None = None
    removed: set[str] = field(default_factory=set)


def require_write(ctx: RequestContext) -> None:
    policy.require(ctx, "context.write", None)


def load(ctx: RequestContext, ids: list[str]) -> dict[str, Stored]:
    """Current state of the given entities (missing ids are simply absent)."""
    out: dict[str, Stored] = {}
    cols = (T.c.id, T.c.type, T.c.attrs, T.c.created_at, T.c.modified_at, T.c.district)
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), 900):
        chunk = unique[start:start + 900]
        for row in ctx.db.execute(select(*cols).where(T.c.id.in_(chunk))):
            out[row.id] = Stored(row.id, row.type, row.attrs, row.created_at, row.modified_at, row.district)
    return out


def _row(change: Change, now: datetime) -> dict[str, Any]:
    fp = location_footprint(change.attrs)
    row: dict[str, Any] = {"id": change.id, "type": change.type, "attrs": change.attrs, "modified_at": now,
                           "district": None, "lon": None, "lat": None, "min_lon": None, "min_lat": None,
                           "max_lon": None, "max_lat": None}
    if fp is not None:
        row.update(lon=fp.lon, lat=fp.lat, min_lon=fp.min_lon, min_lat=fp.min_lat, max_lon=fp.max_lon,
                   max_lat=fp.max_lat, district=district_for(fp.lon, fp.lat))
    return row


def apply_changes(ctx: RequestContext, changes: list[Change], *, evaluate_alerts: bool = True,
                  screened: bool = False) -> None:
    """Persist changes and everything that follows from them, in the caller's transaction.

    Unless the caller screened them already, a change breaking its type's declared schema is refused
    (400, quarantined by governance); a dict lookup when no type has a schema.
    """
    if not changes:
        return
    if not screened:
        entity_rules.refuse_invalid(ctx, changes)
    now = utcnow()
    inserts, updates, deletes = [], [], []
    readings: list[history.Reading] = []
    for change in changes:
        if change.deleted:
            deletes.append(change.id)
            continue
        row = _row(change, now)
        if change.created:
            row["created_at"] = now
            inserts.append(row)
        else:
            # executemany UPDATE: bind names must differ from column names
            updates.append({f"u_{k}": v for k, v in row.items()})
        readings.extend(history.readings_from(change.id, change.type, change.attrs, change.changed, now))
    if inserts:
        ctx.db.execute(insert(T), inserts)
    if updates:
        values = {k[2:]: bindparam(k) for k in updates[0] if k != "u_id"}
        ctx.db.execute(update(T).where(T.c.id == bindparam("u_id")).values(values),
                       updates, execution_options={"synchronize_session": False})
    if deletes:
        ctx.db.execute(delete(T).where(T.c.id.in_(deletes)))
    history.record(ctx.db, readings)
    if evaluate_alerts:
        from cityhub.context import alerts

        alert_changes = alerts.evaluate(ctx, changes)
        if alert_changes:
            apply_changes(ctx, alert_changes, evaluate_alerts=False, screened=True)
    from cityhub.context import subscriptions

    subscriptions.enqueue_notifications(ctx, changes, now)
    types: dict[str, int] = {}
    for change in changes:
        types[change.type] = types.get(change.type, 0) + 1
    ctx.publish("observation.batch", {
        "entities": len(changes), "types": types, "observations": len(readings),
        "ids": [c.id for c in changes[:50]], "at": now.isoformat(),
    })
