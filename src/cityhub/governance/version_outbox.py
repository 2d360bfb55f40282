"""Versions recorded off the request path, without losing one across kill -9.

A change to a dataset (its row, or a resource of it, written through the ORM: metadata edits, uploads,
row appends, collection runs all touch the dataset) leaves a `gov_version_outbox` row in the same
transaction. The shared outbox engine works the rows off in the background (one dataset at a time, in
order; a crashed worker's rows come back after their lease), so an import returns without waiting for
the snapshot and the diff. Anyone reading a dataset's versions first records what is still pending for
it (`drain`), so a reader never sees a version list behind the data.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import NotFound
from cityhub.governance.models_market import VersionOutbox
from cityhub.outbox import OutboxDispatcher

T = VersionOutbox.__table__
CHANGED = "gov_versions_changed"
HOLD_WAIT_SECONDS = 30.0  # a worker's snapshot and diff of a large table; a crashed one's lease is 5 s


def _after_flush(session: Session, _ctx: Any) -> None:
    for obj in (*session.new, *session.dirty):
        if getattr(type(obj), "__tablename__", None) == "datasets" and getattr(obj, "id", None):
            session.info.setdefault(CHANGED, set()).add(obj.id)


def queue_changed(session: Session) -> None:
    """Write the outbox rows for the datasets this transaction changed (called just before commit)."""
    changed = session.info.pop(CHANGED, None)
    if changed:
        now = utcnow()
        session.execute(insert(T), [{"dataset_id": d, "status": "pending", "attempts": 0, "next_attempt_at": now,
                                     "created_at": now} for d in sorted(changed)])


def _forget(session: Session) -> None:
    session.info.pop(CHANGED, None)  # a rolled-back change makes no version


def install_hook() -> None:
    """Notice dataset changes in every session (requests, CLI, background work)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_rollback", _forget)


def _record(ctx: RequestContext, dataset_id: str) -> None:
    from cityhub.governance import versions

    try:
        versions.record_version(ctx, dataset_id=dataset_id)
    except NotFound:
        pass  # deleted since: nothing to record


def _pending(ctx: RequestContext, dataset_id: str) -> bool:
    return ctx.db.scalar(select(T.c.id).where(T.c.dataset_id == dataset_id, T.c.status == "pending")
                         .limit(1)) is not None


def drain(ctx: RequestContext, dataset_id: str) -> None:
    """Record the versions still pending for one dataset before the caller reads them: rows a background
    worker holds are left to it, the rest are claimed and recorded here.

    This runs in a session of its own, committing each step: a reader's transaction may hold a snapshot
    (SQLite keeps one from its first write, PostgreSQL per statement at most), and waiting inside it for
    a worker's commit would wait for something it can never see. The caller's next read starts after."""
    db = Session(bind=ctx.db.get_bind(), expire_on_commit=False, autoflush=False)
    own = dataclasses.replace(ctx, db=db)
    deadline = time.monotonic() + HOLD_WAIT_SECONDS
    try:
        while _pending(own, dataset_id) and time.monotonic() < deadline:
            now = utcnow()
            free = [T.c.dataset_id == dataset_id, T.c.status == "pending",
                    or_(T.c.claimed_until.is_(None), T.c.claimed_until < now)]
            if db.scalar(select(T.c.id).where(*free).limit(1)) is None:
                db.rollback()  # end this read, so the next one sees the worker's commit
                time.sleep(0.05)  # a worker holds this dataset's rows: let it finish
                continue
            # Claim first, so a worker skips them (a worker's claim waits for this transaction).
            ids = list(db.scalars(update(T).where(*free).values(claimed_until=now + timedelta(minutes=5))
                                  .returning(T.c.id)))
            _record(own, dataset_id)
            db.execute(update(T).where(T.c.id.in_(ids)).values(status="done", delivered_at=utcnow(),
                                                                claimed_until=None))
            db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


class VersionRecorder(OutboxDispatcher):
    """The background worker: records the version of each changed dataset, oldest change first."""

    table = T
    group_column = "dataset_id"
    name = "versions"
    retry_waiting_on_start = True

    def __init__(self, session_factory: sessionmaker[Session], settings: Any, bus: Any) -> None:
        super().__init__(session_factory, max_attempts=8, workers=2, max_backoff=30.0)
        self.settings, self.bus = settings, bus

    def send(self, row: Any) -> None:
        from cityhub.cli import SYSTEM

        db = self.factory()
        try:
            _record(RequestContext(actor=SYSTEM, db=db, settings=self.settings, bus=self.bus), row.dataset_id)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        finally:
            db.close()
