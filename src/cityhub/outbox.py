"""The outbox dispatcher: delivers rows promised in a writer's transaction, with retries and backoff.

Any domain with an outbox table (columns id, status, attempts, next_attempt_at, claimed_until,
delivered_at, last_error — `OutboxColumns` — and a grouping column) subclasses `OutboxDispatcher` and
implements `send`.
A background thread claims due rows with a lease (`claimed_until`, so several workers can share one
outbox and a crashed worker's rows come back), hands each group's rows (one endpoint, one
subscription, one agency) in order to a worker pool, so a hanging or failing endpoint ties up one
worker for at most its timeout and never delays the others. Failures back off exponentially; after
`max_attempts` a row is final (`failed_status`: the dead-letter list).

Leases are short and renewed while this process holds the rows (sent rows stay leased until their
batched "done" mark is written), so after a crash (`kill -9`) the next process takes them over within
one lease instead of waiting out a long one. Successes are marked in batches by one marker thread: a
busy outbox costs one write transaction per batch, not one per row, and leaves the database's single
writer (SQLite) to the request path.

Rows are delivered at least once: a crash after sending and before marking sends again, so each
payload carries an idempotency key the receiver keeps.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
import weakref
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import Integer, String, Table, Text, and_, bindparam, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from cityhub.db import UTCDateTime, utcnow

LEASE = timedelta(seconds=5)
RENEW_SECONDS = 1.5  # well inside LEASE, so a live process never loses its rows
MARK_SECONDS = 0.05  # successes gathered this long are marked in one transaction
GATHER_SECONDS = 0.01  # after a wake-up, rows committed this close together are claimed together
BATCH = 200


class OutboxColumns:
    """The delivery-state columns `OutboxDispatcher` works with, for an outbox model to mix in (its id,
    grouping column, payload and index on (status, next_attempt_at) stay its own)."""

    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed (or dead)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class DeliveryError(Exception):
    """The endpoint did not take the row (timeout, refused, non-2xx)."""


class OutboxDispatcher:
    """One per process and outbox; started and stopped by the app's lifespan."""

    table: Table
    group_column: str
    failed_status = "failed"
    name = "outbox"
    # On start, rows waiting out a backoff are retried at once (a restart is a good moment to try again).
    retry_waiting_on_start = False
    mark_seconds = MARK_SECONDS  # a busy outbox may gather its "done" marks longer: fewer write transactions
    # The running dispatcher of this kind in this process per database engine: writers in this process lease
    # the rows they insert to it and hand them over after their commit, so it does not claim them again.
    _running: ClassVar[weakref.WeakKeyDictionary[Any, OutboxDispatcher]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._running = weakref.WeakKeyDictionary()  # one registry per kind of outbox

    @classmethod
    def running_for(cls, bind: Any) -> OutboxDispatcher | None:
        """This process's running dispatcher of this kind for the engine a session writes to, or None (rows
        are then claimed like any other)."""
        try:
            return cls._running.get(bind)
        except TypeError:  # a bind that cannot be weakly referenced is never registered
            return None

    def __init__(self, session_factory: sessionmaker[Session], *, max_attempts: int, workers: int = 16,
                 max_backoff: float = 60.0) -> None:
        self.factory = session_factory
        self.engine = session_factory.kw.get("bind")
        self.holder = uuid.uuid4().hex  # names this dispatcher in hand-overs (the bus may reach other processes)
        self.max_attempts = max_attempts
        self.max_backoff = max_backoff
        self.log = logging.getLogger(f"cityhub.{self.name}")
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.name)
        self.busy: set[str] = set()  # groups with a delivery in flight (this process)
        self.held: set[int] = set()  # row ids leased by this process and not yet marked (lease renewed)
        self.done: list[tuple[str, Any, datetime]] = []  # sent rows waiting for the batched mark
        self.backlog: dict[str, list[Any]] = defaultdict(list)  # handed-over rows of a busy group, in order
        self.skipped_busy = False  # a claim left out busy groups: look again when one of them is free
        self.lock = threading.Lock()
        self.marked = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"{self.name}-dispatcher", daemon=True)
        self.marker = threading.Thread(target=self.mark_loop, name=f"{self.name}-marker", daemon=True)

    # --- what subclasses provide ------------------------------------------------------------------
    def send(self, row: Any) -> None:
        """Deliver one row; raise DeliveryError (or anything) when the endpoint did not take it."""
        raise NotImplementedError

    def on_success(self, db: Session, group: str, row: Any, now: datetime) -> None:
        """Extra bookkeeping in the same transaction as marking the row done."""

    def on_failure(self, db: Session, group: str, row: Any, error: str, now: datetime) -> None:
        """Extra bookkeeping in the same transaction as recording the failure."""

    def backoff(self, attempts: int) -> float:
        return min(self.max_backoff, 0.5 * 2 ** (attempts - 1))

    # --- the loop ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()
        self.marker.start()
        if self.engine is not None:
            type(self)._running[self.engine] = self

    def stop(self) -> None:
        registry = type(self)._running
        if self.engine is not None and registry.get(self.engine) is self:
            del registry[self.engine]
        self.stopping.set()
        self.wake.set()
        self.marked.set()
        self.thread.join(timeout=5)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.marker.join(timeout=5)
        self.flush_done()  # what was sent before stopping is not sent again by the next process
        self.close()

    def close(self) -> None:
        """Release clients (subclasses)."""

    def notify(self, *_: Any) -> None:
        self.wake.set()

    def resume(self) -> None:
        """Rows a previous process left behind: leases run out within LEASE (renewed only by a live holder);
        with `retry_waiting_on_start`, rows backing off are made due now."""
        if not self.retry_waiting_on_start:
            return
        t = self.table
        now = utcnow()
        with self.factory() as db:
            db.execute(update(t).where(t.c.status == "pending", t.c.next_attempt_at > now,
                                       or_(t.c.claimed_until.is_(None), t.c.claimed_until < now))
                       .values(next_attempt_at=now))
            db.commit()

    def run(self) -> None:
        try:
            self.resume()
        except Exception:  # the rows still go out when their backoff ends
            self.log.exception("resuming the outbox failed")
        while not self.stopping.is_set():
            if self.wake.wait(timeout=0.5):
                # Rows committed together (a burst of incidents) are claimed in one write transaction, not
                # one each: fewer writers queueing for SQLite's single lock beside the request path.
                time.sleep(GATHER_SECONDS)
            self.wake.clear()
            try:
                # A partial batch took every due row of the free groups: no probe again until the next wake.
                while self.dispatch_once() >= BATCH and not self.stopping.is_set():
                    pass
            except Exception:  # the dispatcher must outlive a bad row or a database hiccup
                self.log.exception("dispatch failed")

    def dispatch_once(self) -> int:
        """Claim due rows and hand them to the pool, grouped. Returns rows claimed."""
        t = self.table
        group_col = t.c[self.group_column]
        now = utcnow()
        with self.lock:
            busy = set(self.busy)
        with self.factory() as db:
            due = [t.c.status == "pending", t.c.next_attempt_at <= now,
                   or_(t.c.claimed_until.is_(None), t.c.claimed_until < now)]
            if busy:
                due.append(group_col.not_in(busy))
                self.skipped_busy = True
            ids = [r[0] for r in db.execute(select(t.c.id).where(*due).order_by(t.c.id).limit(BATCH))]
            with self.lock:  # still ours (sent, its mark and lease renewal waiting for the write lock): not again
                ids = [i for i in ids if i not in self.held]
            if not ids:
                return 0
            token = now + LEASE + timedelta(microseconds=random.randint(1, 999_999))
            db.execute(update(t).where(t.c.id.in_(ids), *due[:3]).values(claimed_until=token))
            db.commit()
            rows = db.execute(select(t).where(t.c.id.in_(ids), t.c.claimed_until == token).order_by(t.c.id)).all()
        with self.lock:
            self.held.update(r.id for r in rows)
        groups: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            groups[getattr(row, self.group_column)].append(row)
        for group, items in groups.items():
            with self.lock:
                self.busy.add(group)
            self.pool.submit(self.deliver, group, items)
        return len(rows)

    def deliver(self, group: str, rows: list[Any]) -> None:
        """Send a group's rows in order, then what was handed over for the group meanwhile (`take`)."""
        try:
            while rows:
                self._deliver(group, rows)
                with self.lock:
                    rows = self.backlog.pop(group, [])
                    if not rows:
                        self.busy.discard(group)
        finally:
            with self.lock:
                self.busy.discard(group)
                left = self.backlog.pop(group, [])
                wake, self.skipped_busy = self.skipped_busy, False
            if left:  # stopping: the next process (or this one's next claim) takes them
                self._unhold([r.id for r in left])
            if wake:
                self.wake.set()

    def _deliver(self, group: str, rows: list[Any]) -> None:
        try:
            for i, row in enumerate(rows):
                if self.stopping.is_set():
                    self.release(rows[i:])
                    return
                try:
                    self.send(row)
                except Exception as exc:  # any failure is the endpoint's: record it and back off
                    self.record_failure(group, rows[i:], str(exc) or type(exc).__name__)
                    return
                self.record_success(group, row)
        except Exception:
            self.log.exception("delivery bookkeeping failed", extra={"group": group})
            # Stop renewing what could not be recorded: its lease runs out and it is tried again (same key).
            with self.lock:
                queued = {row.id for _, row, _ in self.done}
            self._unhold([r.id for r in rows if r.id not in queued])

    # --- hand-over: rows this process wrote already leased to itself -----------------------------------
    def lease_for_new_rows(self) -> datetime | None:
        """A `claimed_until` for rows a writer in this process inserts to hand over after its commit (`take`),
        or None when this dispatcher is not running (the rows are then claimed as usual)."""
        if not self.thread.is_alive() or self.stopping.is_set():
            return None
        return utcnow() + LEASE

    def take(self, rows: list[Any], lease: datetime) -> bool:
        """Deliver committed rows this process leased at insert (`lease_for_new_rows`) without claiming them
        again: a busy outbox saves a write transaction and three statements per commit. Refused (False) when
        the lease is nearly spent (a slow commit): the rows are then claimed once it runs out."""
        if self.stopping.is_set() or lease - utcnow() < LEASE / 2:
            return False
        with self.lock:
            self.held.update(r.id for r in rows)
        groups: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            groups[getattr(row, self.group_column)].append(row)
        for group, items in groups.items():
            with self.lock:
                if group in self.busy:  # its worker sends these after what it holds, in order
                    self.backlog[group].extend(items)
                    continue
                self.busy.add(group)
            try:
                self.pool.submit(self.deliver, group, items)
            except RuntimeError:  # the pool is shutting down: the lease runs out and a claim takes them
                with self.lock:
                    self.busy.discard(group)
                self._unhold([r.id for r in items])
        return True

    def release(self, rows: list[Any]) -> None:
        ids = [r.id for r in rows]
        with self.factory() as db:
            db.execute(update(self.table).where(self.table.c.id.in_(ids)).values(claimed_until=None))
            db.commit()
        self._unhold(ids)

    def _unhold(self, ids: list[int]) -> None:
        with self.lock:
            self.held.difference_update(ids)

    def record_success(self, group: str, row: Any) -> None:
        """Queue the row's "done" mark; the marker thread writes it with the others within MARK_SECONDS."""
        with self.lock:
            self.done.append((group, row, utcnow()))
        self.marked.set()

    # --- the marker: batched success marks and lease renewal ------------------------------------------
    def mark_loop(self) -> None:
        renewed = time.monotonic()
        while not self.stopping.is_set():
            self.marked.wait(timeout=RENEW_SECONDS / 3)
            self.marked.clear()
            time.sleep(self.mark_seconds)  # let a burst of sends finish so one transaction marks them all
            try:
                self.flush_done()
                if time.monotonic() - renewed >= RENEW_SECONDS:
                    self.renew()
                    renewed = time.monotonic()
            except Exception:  # a database hiccup: the marks stay queued, the leases are retried next round
                self.log.exception("marking deliveries failed")

    def flush_done(self) -> None:
        with self.lock:
            batch, self.done = self.done, []
        if not batch:
            return
        t = self.table
        try:
            with self.factory() as db:
                db.execute(update(t).where(t.c.id == bindparam("row_id")).values(
                    status="done", delivered_at=bindparam("at"), attempts=t.c.attempts + 1, claimed_until=None),
                    [{"row_id": row.id, "at": at} for _, row, at in batch])
                for group, row, at in batch:
                    self.on_success(db, group, row, at)
                db.commit()
        except Exception:
            with self.lock:
                self.done[:0] = batch
            raise
        self._unhold([row.id for _, row, _ in batch])

    def renew(self) -> None:
        """Extend the lease of every row this process still holds (claimed, sending or sent and unmarked)."""
        with self.lock:
            ids = list(self.held)
        if not ids:
            return
        t = self.table
        with self.factory() as db:
            for start in range(0, len(ids), 500):
                db.execute(update(t).where(t.c.id.in_(ids[start:start + 500]), t.c.status == "pending",
                                           t.c.claimed_until.is_not(None)).values(claimed_until=utcnow() + LEASE))
            db.commit()

    def record_failure(self, group: str, rows: list[Any], error: str) -> None:
        """The first row failed; it and the rows behind it (kept in order) wait with exponential backoff."""
        t = self.table
        now = utcnow()
        attempts = rows[0].attempts + 1
        final = attempts >= self.max_attempts
        next_at = now + timedelta(seconds=self.backoff(attempts))
        with self.factory() as db:
            db.execute(update(t).where(t.c.id == rows[0].id).values(
                attempts=attempts, last_error=error[:500], claimed_until=None,
                status=self.failed_status if final else "pending", next_attempt_at=next_at))
            rest = [r.id for r in rows[1:]]
            if rest:
                db.execute(update(t).where(t.c.id.in_(rest)).values(claimed_until=None, next_attempt_at=next_at))
            self.on_failure(db, group, rows[0], error, now)
            db.commit()
        self._unhold([r.id for r in rows])
        self.log.info("delivery failed", extra={"group": group, "attempt": attempts, "final": final,
                                                "error": error[:200]})

    def purge_done(self, older_than: timedelta = timedelta(days=1)) -> None:
        t = self.table
        with self.factory() as db:
            db.execute(delete(t).where(and_(t.c.status == "done", t.c.delivered_at < utcnow() - older_than)))
            db.commit()
