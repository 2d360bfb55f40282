"""The audit trail: who did what, when, from where, with what outcome.

Entries are gathered on the database session while a request runs and written when it ends:
with the change itself on success, and — after the rollback — on failure, so a denied or failed
attempt is recorded even though the attempt left nothing else behind.

Writes are captured once, for every domain, by an ORM hook on models that set `__audited__ = True`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect, select, union_all
from sqlalchemy.orm import Session

from cityhub.ctx import Actor, RequestContext
from cityhub.db import utcnow
from cityhub.governance import audit_store
from cityhub.governance.models import AuditEntry

PENDING = "audit_pending"
_INSERT = AuditEntry.__table__.insert()
ACTOR = "audit_actor"


def bind_actor(db: Session, actor: Actor, *, ip: str | None = None, request_id: str | None = None) -> None:
    """Remember who is acting on this session, for entries the write hook makes."""
    db.info[ACTOR] = (actor, ip, request_id)


def note(ctx: RequestContext | Session, action: str, *, outcome: str = "allowed", resource_kind: str | None = None,
         resource_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Queue an audit entry on the session; it is written when the request ends, whatever its outcome."""
    db = ctx.db if isinstance(ctx, RequestContext) else ctx
    actor, ip, request_id = db.info.get(ACTOR, (None, None, None))
    if isinstance(ctx, RequestContext):
        actor, ip, request_id = ctx.actor, ctx.client_ip, ctx.request_id
    db.info.setdefault(PENDING, []).append(_row(actor, ip, request_id, action, outcome, resource_kind,
                                                resource_id, detail))


def _row(actor: Actor | None, ip: str | None, request_id: str | None, action: str, outcome: str,
         resource_kind: str | None, resource_id: str | None, detail: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "at": utcnow(), "actor_user_id": actor.user_id if actor else None,
        "actor_email": actor.email if actor else None, "actor_role": actor.role if actor else None,
        "token_id": actor.token_id if actor else None, "action": action, "outcome": outcome,
        "resource_kind": resource_kind, "resource_id": resource_id, "ip": ip, "request_id": request_id,
        "detail": detail,
    }


def flush_pending(db: Session, *, failed: bool = False) -> None:
    """Write queued entries. Call before commit on success; after rollback (then commit) on failure."""
    if db.info.get("gov_quarantine_pending"):  # (entity_rules.PENDING: importing it loads pyarrow and pandas)
        from cityhub.governance import entity_rules

        entity_rules.write_pending(db)  # refused entities are quarantined whatever happens to the write
    rows = db.info.pop(PENDING, [])
    if failed:
        # What was allowed inside a failed request did not happen; keep denials and failures.
        rows = [r for r in rows if r["outcome"] != "allowed"]
    if rows:
        # Core inserts on the session's connection: the ORM bulk path cost ~0.3 ms more per request for the same rows.
        conn = db.connection()
        main, side = audit_store.split(conn, rows)  # SQLite: read-path entries to their own file (audit_store)
        if main:
            conn.execute(_INSERT, main)
        if side:  # after the main rows: every writer takes the main file's lock before the side file's
            audit_store.insert(conn, side)


def _on_flush(session: Session, _flush_context: Any) -> None:
    changes: list[tuple[str, Any]] = [("insert", o) for o in session.new]
    changes += [("update", o) for o in session.dirty if session.is_modified(o, include_collections=False)]
    changes += [("delete", o) for o in session.deleted]
    for kind, obj in changes:
        if not getattr(type(obj), "__audited__", False):
            continue
        state = inspect(obj)
        detail = None
        if kind == "update":
            detail = {"fields": sorted(a.key for a in state.attrs if a.history.has_changes())}
        ident = state.identity or (getattr(obj, "id", None),)
        note(session, f"write.{kind}", resource_kind=type(obj).__tablename__,
             resource_id=str(ident[0]) if ident and ident[0] is not None else None, detail=detail)


def _before_commit(session: Session) -> None:
    from cityhub.governance import version_outbox

    if session.new or session.dirty or session.deleted:
        session.flush()  # the write hooks queue entries (audit) and changed datasets (versions)
    version_outbox.queue_changed(session)  # in this transaction: no version is lost across kill -9
    if session.info.get(PENDING) or session.info.get("gov_quarantine_pending"):
        flush_pending(session)


def install_write_hook() -> None:
    """Record every write of audited models, in every domain, through one ORM hook; queued entries
    are written with the commit they belong to."""
    from cityhub.governance import version_outbox

    if not event.contains(Session, "after_flush", _on_flush):
        event.listen(Session, "after_flush", _on_flush)
        event.listen(Session, "before_commit", _before_commit)
    version_outbox.install_hook()


def entries_source(db: Session) -> Any:
    """The audit trail as one selectable: `audit_log`, and on SQLite with the side file also its read-path
    entries (audit_store), as a UNION ALL whose columns are those of `audit_log`."""
    main = AuditEntry.__table__
    if not audit_store.has_side(db.connection()):
        return main
    return union_all(select(*main.c), select(*audit_store.side_table.c)).subquery("audit_entries")


def search(ctx: RequestContext, *, actor: str | None = None, action: str | None = None, resource: str | None = None,
           outcome: str | None = None, since: datetime | None = None, until: datetime | None = None,
           limit: int = 100, offset: int = 0) -> tuple[list[Any], int]:
    """Audit entries, newest first (admins only): rows with the columns of AuditEntry."""
    from cityhub.auth import policy

    policy.require(ctx, "audit.read")
    return query_entries(ctx.db, actor=actor, action=action, resource=resource, outcome=outcome, since=since,
                         until=until, limit=limit, offset=offset)


def query_entries(db: Session, *, actor: str | None = None, action: str | None = None, resource: str | None = None,
                  outcome: str | None = None, since: datetime | None = None, until: datetime | None = None,
                  token_id: str | None = None, limit: int = 100, offset: int = 0) -> tuple[list[Any], int]:
    """The matching entries of both stores, newest first (by time: ids of the two stores do not interleave),
    and their number. No access check: search is the door."""
    from sqlalchemy import func

    source = entries_source(db)
    t = source.c
    conds = []
    if actor:
        conds.append((t.actor_email == actor) | (t.actor_user_id == actor))
    if action:
        conds.append(t.action.like(action.replace("*", "%")))
    if resource:
        conds.append(t.resource_id == resource)
    if outcome:
        conds.append(t.outcome == outcome)
    if token_id:
        conds.append(t.token_id == token_id)
    if since:
        conds.append(t.at >= since)
    if until:
        conds.append(t.at <= until)
    total = db.scalar(select(func.count()).select_from(source).where(*conds)) or 0
    rows = list(db.execute(select(*t).where(*conds).order_by(t.at.desc(), t.id.desc()).limit(limit).offset(offset)))
    return rows, total


COLUMNS = ("id", "at", "actor_email", "actor_role", "action", "resource_kind", "resource_id", "outcome", "ip",
           "request_id", "detail")


def export_csv(ctx: RequestContext, **filters: Any) -> Iterator[str]:
    """The matching entries as CSV lines (admins only)."""
    offset = 0
    yield ",".join(COLUMNS) + "\n"
    while True:
        rows, _ = search(ctx, limit=1000, offset=offset, **filters)
        if not rows:
            return
        buf = io.StringIO()
        writer = csv.writer(buf)
        for r in rows:
            writer.writerow([getattr(r, c) if c != "at" else r.at.isoformat() for c in COLUMNS])
        yield buf.getvalue()
        offset += len(rows)
