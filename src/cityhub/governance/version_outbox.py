"""Versions recorded off the request path, without losing one across kill -9.

A change to a dataset (its row, or a resource of it, written through the ORM: metadata edits, uploads,
row appends, collection runs all touch the dataset) leaves a `gov_version_outbox` row in the same
transaction, carrying the change's capture (version_capture: its metadata and a copy of the rows it
touched), so each change makes its own version however late it is recorded. The shared outbox engine
works the rows off in the background (one dataset at a time, oldest first; a crashed worker's rows
come back after their lease), so an import returns without waiting for the CSV snapshot and the diff.
Anyone reading a dataset's versions first records what is still pending for it (`drain`), so a reader
never sees a version list behind the data. A row is marked done in the transaction that records its
version, so a crash in between records it once.
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
from cityhub.governance import version_capture
from cityhub.governance.models_market import VersionOutbox
from cityhub.outbox import OutboxDispatcher

T = VersionOutbox.__table__
HOLD_WAIT_SECONDS = 30.0  # a worker's snapshot and diff of a large table; a crashed one's lease is 5 s


def _after_flush(session: Session, _ctx: Any) -> None:
    version_capture.note_flush(session)


def queue_changed(session: Session) -> None:
    """Write the outbox rows for the datasets this transaction changed, each with its capture (called
    just before commit): the metadata and a copy of the touched rows as this change left them."""
    changed = session.info.pop(version_capture.CHANGED, None)
    rows = session.info.pop(version_capture.ROWS_CHANGED, set())
    made = session.info.pop(version_capture.VERSIONED, set())
    changed = sorted(set(changed or ()) - made)
    if changed:
        now = utcnow()
        session.execute(insert(T), [{"dataset_id": d, "status": "pending", "attempts": 0, "next_attempt_at": now,
                                     "created_at": now, "capture": version_capture.capture(session, d, rows)}
                                    for d in changed])


def queue_refine(session: Session, dataset_id: str, number: int) -> None:
    """Ask the recorder to compute a roll-back version's exact diff (in the roll-back's transaction)."""
    now = utcnow()
    session.execute(insert(T), [{"dataset_id": dataset_id, "status": "pending", "attempts": 0,
                                 "next_attempt_at": now, "created_at": now, "capture": {"refine": number}}])


def _forget(session: Session) -> None:
    for key in (version_capture.CHANGED, version_capture.ROWS_CHANGED, version_capture.VERSIONED):
        session.info.pop(key, None)  # a rolled-back change makes no version


def install_hook() -> None:
    """Notice dataset changes in every session (requests, CLI, background work)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_rollback", _forget)


def _record(ctx: RequestContext, row: Any) -> bool:
    """Record one outbox row's version and mark the row done, in the caller's transaction (so a crash
    between the two cannot record it twice). False when someone else already did."""
    from cityhub.governance import versions

    marked = ctx.db.execute(update(T).where(T.c.id == row.id, T.c.status == "pending")
                            .values(status="done", delivered_at=utcnow(), claimed_until=None))
    if not marked.rowcount:
        return False
    try:
        if row.capture is None:  # queued before changes carried their capture
            versions.record_version(ctx, dataset_id=row.dataset_id)
        elif row.capture.get("refine"):
            versions.refine_diff(ctx, dataset_id=row.dataset_id, number=row.capture["refine"])
        elif not row.capture.get("deleted"):
            versions.record_change(ctx, dataset_id=row.dataset_id, capture=row.capture)
    except NotFound:
        pass  # deleted since: nothing to record
    return True


def _earlier(db: Session, row: Any) -> Any:
    """The oldest still-pending change of the same dataset before this one (versions go in order)."""
    return db.execute(select(T.c.id, T.c.claimed_until).where(T.c.dataset_id == row.dataset_id,
                                                               T.c.status == "pending", T.c.id < row.id)
                      .order_by(T.c.id).limit(1)).first()


def drain(ctx: RequestContext, dataset_id: str) -> None:
    """Record the versions still pending for one dataset before the caller reads them, oldest first:
    when a background worker holds the oldest, wait for it; otherwise claim and record it here.

    This runs in a session of its own, committing each step: a reader's transaction may hold a snapshot
    (SQLite keeps one from its first write, PostgreSQL per statement at most), and waiting inside it for
    a worker's commit would wait for something it can never see. The caller's next read starts after."""
    db = Session(bind=ctx.db.get_bind(), expire_on_commit=False, autoflush=False)
    own = dataclasses.replace(ctx, db=db)
    deadline = time.monotonic() + HOLD_WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            row = db.execute(select(T).where(T.c.dataset_id == dataset_id, T.c.status == "pending")
                             .order_by(T.c.id).limit(1)).first()
            if row is None:
                break
            now = utcnow()
            # Claim first, so a worker skips it (a worker's claim waits for this transaction).
            claimed = db.execute(update(T).where(T.c.id == row.id, T.c.status == "pending",
                                                 or_(T.c.claimed_until.is_(None), T.c.claimed_until < now))
                                 .values(claimed_until=now + timedelta(minutes=5)))
            if not claimed.rowcount:
                db.rollback()  # end this read, so the next one sees the worker's commit
                time.sleep(0.05)  # a worker holds the oldest change: let it finish
                continue
            _record(own, row)
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

        deadline = time.monotonic() + HOLD_WAIT_SECONDS
        db = self.factory()
        try:
            # An older change of this dataset held elsewhere (a reader draining it) goes first.
            while (earlier := _earlier(db, row)) is not None:
                db.rollback()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"an earlier change ({earlier.id}) of this dataset is still pending")
                time.sleep(0.05)
            _record(RequestContext(actor=SYSTEM, db=db, settings=self.settings, bus=self.bus), row)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        finally:
            db.close()
