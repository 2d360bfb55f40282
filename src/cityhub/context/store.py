"""The one write path for context entities: rows, history, thresholds, notifications, events.

Every change (single-entity CRUD, attribute operations, batch operations, the simulator, alerts)
becomes a list of `Change`s applied by `apply_changes` inside the caller's transaction: entity rows
are inserted/updated in bulk, observed values go to the history tables, threshold rules may raise or
clear `Alert` entities, matching subscriptions get an outbox row, and `observation.batch` is
published after commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from cityhub.auth import policy
from cityhub.context import history, history_pending, write_gate
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


_PG_STATUS = sql_text("ctx_entities.attrs -> 'status' ->> 'value' = :status")


def load(ctx: RequestContext, ids: list[str], *, status: str | None = None) -> dict[str, Stored]:
    """Current state of the given entities (missing ids are simply absent).

    With `status`, only the entities whose `status` attribute has that value: the database tests it, so
    the others are neither fetched nor parsed (alerts: a calm reading only needs an alert still active).
    """
    out: dict[str, Stored] = {}
    unique = list(dict.fromkeys(ids))
    if not unique:
        return out
    if ctx.db.get_bind().dialect.name == "sqlite":
        return _load_sqlite(ctx.db, unique, status)
    cols = (T.c.id, T.c.type, T.c.attrs, T.c.created_at, T.c.modified_at, T.c.district)
    for start in range(0, len(unique), 900):
        stmt = select(*cols).where(T.c.id.in_(unique[start:start + 900]))
        if status is not None:
            stmt = stmt.where(_PG_STATUS.bindparams(status=status))
        for row in ctx.db.execute(stmt):
            out[row.id] = Stored(row.id, row.type, row.attrs, row.created_at, row.modified_at, row.district)
    return out


@lru_cache(maxsize=1024)
def _sqlite_time(text: str | None) -> datetime | None:
    # entities written by one batch share their created/modified stamps: parse each once
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


_SQLITE_LOAD = ("SELECT id, type, attrs, created_at, modified_at, district FROM ctx_entities "
                "WHERE id IN (SELECT value FROM json_each(?))")


def _load_sqlite(db: Session, ids: list[str], status: str | None = None) -> dict[str, Stored]:
    # A batch reads up to 1,000 entity documents: the ids travel as one JSON array and the rows come
    # back through the driver (orjson for the documents), without per-row ORM/type processing.
    if status is None:
        rows = db.connection().exec_driver_sql(_SQLITE_LOAD, (orjson.dumps(ids).decode(),)).all()
    else:
        rows = db.connection().exec_driver_sql(_SQLITE_LOAD + " AND json_extract(attrs, '$.status.value') = ?",
                                               (orjson.dumps(ids).decode(), status)).all()
    return {r[0]: Stored(r[0], r[1], orjson.loads(r[2]) if r[2] is not None else None, _sqlite_time(r[3]),
                         _sqlite_time(r[4]), r[5]) for r in rows}


def _footprint_columns(attrs: dict[str, Any]) -> tuple[Any, ...]:
    """(district, lon, lat, min_lon, min_lat, max_lon, max_lat) of an entity's location."""
    fp = location_footprint(attrs)
    if fp is None:
        return (None,) * 7
    return (district_for(fp.lon, fp.lat), fp.lon, fp.lat, fp.min_lon, fp.min_lat, fp.max_lon, fp.max_lat)


_COLS = ("id", "type", "attrs", "district", "lon", "lat", "min_lon", "min_lat", "max_lon", "max_lat",
         "created_at", "modified_at")
_KEEP_ON_UPDATE = ("id", "created_at")
# One upsert for created and updated entities alike: created_at is only written by the insert.
_SQLITE_UPSERT = (
    f"INSERT INTO ctx_entities ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLS if c not in _KEEP_ON_UPDATE))


# An update that leaves the location as it was (most sensor updates) rewrites only the document and its
# modification time: the footprint columns, and so four of the table's five indexes, stay untouched, and
# no point-in-polygon district lookup runs (together about half the CPU of writing the rows).
_SQLITE_LIGHT = "UPDATE ctx_entities SET attrs = ?, modified_at = ? WHERE id = ? AND type = ?"


def _same_place(change: Change) -> bool:
    prev = change.previous
    if prev is None or change.created:
        return False
    before, after = prev.get("location"), change.attrs.get("location")
    return before is after or before == after


def _write_entities(db: Session, changes: list[Change], now: datetime) -> None:
    if db.get_bind().dialect.name == "sqlite":
        _write_entities_sqlite(db, changes, now)
        return
    params = [dict(zip(_COLS, (c.id, c.type, c.attrs, *_footprint_columns(c.attrs), now, now), strict=True))
              for c in changes]
    stmt = postgresql.insert(T)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
        c: stmt.excluded[c] for c in _COLS if c not in _KEEP_ON_UPDATE})
    db.execute(stmt, params)


def _write_entities_sqlite(db: Session, changes: list[Change], now: datetime) -> None:
    stamp = history.sqlite_text(now)
    conn = db.connection()
    light: list[Change] = []
    full: list[Change] = []
    for c in changes:
        (light if _same_place(c) else full).append(c)
    if light:
        done = conn.exec_driver_sql(_SQLITE_LIGHT, [(orjson.dumps(c.attrs).decode(), stamp, c.id, c.type)
                                                    for c in light]).rowcount
        if done != len(light):  # a row missing or of another type: the full upsert settles those (idempotent)
            full = changes
    if full:
        rows = [(c.id, c.type, orjson.dumps(c.attrs).decode(), *_footprint_columns(c.attrs), stamp, stamp)
                for c in full]
        conn.exec_driver_sql(_SQLITE_UPSERT, rows)


def apply_changes(ctx: RequestContext, changes: list[Change], *, evaluate_alerts: bool = True,
                  screened: bool = False) -> None:
    """Persist changes and everything that follows from them, in the caller's transaction.

    Unless the caller screened them already, a change breaking its type's declared schema is refused
    (400, quarantined by governance); a dict lookup when no type has a schema.
    Whatever the batch size this is a handful of statements: one upsert of the entity rows, one
    delete, one pending-history row (expanded into observations and rollups after the commit, see
    `history_pending`), one outbox insert when a subscription matches.
    """
    if not changes:
        return
    if not screened:
        entity_rules.refuse_invalid(ctx, changes)
    now = utcnow()
    live = [c for c in changes if not c.deleted]
    deletes = [c.id for c in changes if c.deleted]
    readings: list[tuple[Any, ...]] = []
    fallback = history.sqlite_text(now)
    for change in live:
        readings.extend(history.stored_rows(change.id, change.type, change.attrs, change.changed, fallback))
    # SQLite: wait for this process's context writers' turn (requests before the history writer), not on
    # SQLite's busy polling; released when the transaction ends (write_gate)
    write_gate.hold_for_request(ctx.db)
    if live:
        _write_entities(ctx.db, live, now)
    if deletes:
        ctx.db.execute(delete(T).where(T.c.id.in_(deletes)))
    # history and rollups are expanded after the answer (history_pending); this row makes them durable now
    history_pending.defer(ctx.db, readings)
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
