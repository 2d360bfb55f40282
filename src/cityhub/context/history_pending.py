"""Write-behind history: a batch's observations are acknowledged before they are expanded.

A batch upsert commits the entity state and one `ctx_history_pending` row holding all its readings
in the same transaction, so what the client was told is stored survives kill -9. Expanding those
readings into the observation table and the minute/hour/day rollups (most of a batch's SQL) happens
after the answer: a background writer (`HistoryWriter`, woken by `observation.batch`, polling
otherwise) and every reader of history first (`settle`), so no reader sees history behind the data.

Expansion of a pending row and its deletion share one transaction: a crash in between expands it
again later, and duplicates are ignored by the observation table's key, so nothing is counted twice.
Several workers may expand at once: SQLite serialises them on the write lock (BEGIN IMMEDIATE);
PostgreSQL lets a background writer skip rows another holds, while a reader waits for them.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import orjson
from prometheus_client import Gauge
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from cityhub.context import history, history_store, write_gate
from cityhub.context.models import PendingHistory
from cityhub.db import session_scope, utcnow

log = logging.getLogger("cityhub.context.history")
P = PendingHistory.__table__
# Readings expanded per transaction: long enough to pay for the commit, short enough that a request
# waiting for the SQLite write lock waits for one chunk at most (~0.1 s of SQL).
CHUNK_READINGS = 10_000
# While batches keep arriving, the background writer takes smaller bites (~20 ms of SQL): a batch upsert
# waiting for the write lock waits that long at most, and so does the notification its commit hands over.
BUSY_CHUNK_READINGS = 2_000
# With history in its own file (history_store) a chunk holds no lock a request waits for: larger chunks write
# each hour and day rollup page once for several batches, and commit less often.
SIDE_CHUNK_READINGS = 30_000


def defer(db: Session, rows: list[tuple[Any, ...]]) -> int:
    """Keep readings (in `history.stored_rows` form) as one pending row in the caller's transaction,
    so they are as durable as the entity state acknowledged with them."""
    if not rows:
        return 0
    db.execute(insert(P).values(readings=orjson.dumps(rows).decode(), count=len(rows), created_at=utcnow()))
    return len(rows)


def _holds_sqlite_write(db: Session) -> bool:
    if db.get_bind().dialect.name != "sqlite" or not db.in_transaction():
        return False
    return bool(db.connection().connection.dbapi_connection.in_transaction)


def settle(db: Session) -> int:
    """Expand every pending batch before reading history; returns the readings expanded.

    Done in a session of its own, committed per chunk: waiting inside the caller's transaction for
    another writer could not see that writer's commit, and a read-only caller would roll the work
    back. When the caller already holds SQLite's write lock it is done in the caller's transaction
    (another session would wait for that lock), which commits it with its own changes."""
    if _holds_sqlite_write(db):
        total = 0
        while (n := expand_once(db, wait=True)) > 0:
            total += n
        return total
    own = Session(bind=db.get_bind(), expire_on_commit=False, autoflush=False)
    total = 0
    try:
        while (n := expand_once(own, wait=True)) > 0:
            own.commit()
            total += n
        own.commit()
    except BaseException:
        own.rollback()
        raise
    finally:
        own.close()
    return total


def _oldest(conn: Any, chunk: int, *, lock: bool, wait: bool) -> tuple[list[int], int]:
    """Ids of the oldest pending rows, about `chunk` readings in all, and their readings count."""
    stmt = select(P.c.id, P.c["count"]).order_by(P.c.id).limit(64)
    if lock:
        stmt = stmt.with_for_update(skip_locked=not wait)
    ids, total = [], 0
    for row in conn.execute(stmt).all():  # all: a cursor left open would hold an old read snapshot
        if ids and total + row.count > chunk:
            break
        ids.append(row.id)
        total += row.count
    return ids, total


def expand_once(db: Session, *, wait: bool, chunk: int = CHUNK_READINGS,
                gate: AbstractContextManager[Any] | None = None) -> int:
    """Move the oldest pending rows (about CHUNK_READINGS readings) into history in `db`'s transaction.

    `wait=False` (background writers on PostgreSQL) skips rows another transaction holds. On SQLite with
    history in its own file (`history_store`), outside a transaction, the history is written and
    committed there under that file's lock alone, and only the pending rows' deletion takes the main
    file's lock: inside `gate` (the background writer's turn, write_gate), committed here."""
    conn = db.connection()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite and not conn.connection.dbapi_connection.in_transaction:
        if conn.execute(select(P.c.id).limit(1)).first() is None:
            return 0  # nothing pending: an idle poll takes no write lock
        side = history_store.side_of(conn)
        if side is not None:
            # the history writer (the one passing its gate) leaves checkpoints to its Checkpointer
            return _expand_to_side(db, side, chunk, gate or nullcontext(), background=gate is not None)
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")  # the write lock before reading
    ids, total = _oldest(conn, chunk, lock=not sqlite, wait=wait)
    if not ids:
        return 0
    if sqlite:
        docs = [d for (d,) in conn.execute(select(P.c.readings).where(P.c.id.in_(ids)).order_by(P.c.id))]
        history.record_sqlite_docs(db, docs)
    else:
        conn.execute(history.PG_RECORD_PENDING, {"ids": ids})
    conn.execute(delete(P).where(P.c.id.in_(ids)))
    return total


def _expand_to_side(db: Session, side: str, chunk: int, gate: AbstractContextManager[Any], *,
                    background: bool = False) -> int:
    """SQLite, history in its own file: read the pending rows (no lock: reads outside a transaction),
    write their history there and commit, then delete them from the main file and commit. Another
    expander doing the same rows meanwhile inserts nothing (the observation key) and folds nothing; a
    crash between the two commits leaves rows that expand to nothing later."""
    conn = db.connection()
    ids, total = _oldest(conn, chunk, lock=False, wait=True)
    if not ids:
        return 0
    docs = [d for (d,) in conn.execute(select(P.c.readings).where(P.c.id.in_(ids)).order_by(P.c.id))]
    with history_store.writing(side, checkpointed_elsewhere=background) as own:
        history.fold_sqlite_docs(own, docs)
    with gate:
        conn.execute(delete(P).where(P.c.id.in_(ids)))
        db.commit()
    return total


def pending_count(db: Session) -> int:
    """Readings acknowledged but not yet in history (benchmarks and health)."""
    return int(db.execute(select(func.coalesce(func.sum(P.c["count"]), 0))).scalar_one())


def backlog(db: Session) -> dict[str, float]:
    """The write-behind backlog: pending batches, their readings, and the oldest one's age in seconds."""
    batches, readings, oldest = db.execute(
        select(func.count(), func.coalesce(func.sum(P.c["count"]), 0), func.min(P.c.created_at))).one()
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return {"batches": int(batches), "readings": int(readings), "oldest_seconds": max(0.0, age)}


BACKLOG_BATCHES = Gauge("cityhub_context_history_pending_batches",
                        "acknowledged batches whose history and rollups are not yet written")
BACKLOG_READINGS = Gauge("cityhub_context_history_pending_readings", "readings in those batches")
BACKLOG_AGE = Gauge("cityhub_context_history_pending_oldest_seconds", "age of the oldest pending batch")


def refresh_metrics(session_factory: sessionmaker[Session]) -> None:
    """Set the backlog gauges at scrape time from the database (every worker reports the same truth)."""
    with session_factory() as db:
        b = backlog(db)
    BACKLOG_BATCHES.set(b["batches"])
    BACKLOG_READINGS.set(b["readings"])
    BACKLOG_AGE.set(b["oldest_seconds"])


def _checkpoint(bind: Any) -> None:
    """SQLite: copy the WAL back into the database file here, in the background writer (PASSIVE: it waits for
    no one), so SQLite's automatic checkpoint (run by whichever commit takes the WAL past 1,000 pages, with
    an fsync) seldom lands on a batch upsert's commit, between the client and its acknowledgement."""
    with bind.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


class Checkpointer:
    """SQLite: copies the WALs back into the database files (`_checkpoint`, and history's own file) in a thread
    of its own, poked after each expanded chunk and at most every MIN_GAP seconds. Done in the history writer
    itself, the copying and its fsyncs took ~15 % of that thread's time at 50,000 updates/s, and history fell
    behind; here they overlap with the next chunk's SQL."""

    MIN_GAP = 0.2

    def __init__(self, bind: Any, side: str | None) -> None:
        self.bind, self.side = bind, side
        self.event = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, name="context-checkpoint", daemon=True)
        self.thread.start()

    def poke(self) -> None:
        self.event.set()

    def stop(self) -> None:
        self.stopping = True
        self.event.set()
        self.thread.join(timeout=30)

    def run(self) -> None:
        while not self.stopping:
            self.event.wait()
            self.event.clear()
            if self.stopping:
                return
            try:
                _checkpoint(self.bind)
                if self.side is not None:
                    history_store.checkpoint(self.side)
            except Exception:  # a checkpoint is an optimisation: SQLite's automatic one still runs
                log.exception("WAL checkpoint failed")
            time.sleep(self.MIN_GAP)


class HistoryWriter:
    """The background stage: expands pending batches soon after they are committed."""

    def __init__(self, factory: sessionmaker[Session], interval: float = 1.0) -> None:
        self.factory, self.interval = factory, interval
        self.event = threading.Event()
        self.last_wake = 0.0  # monotonic time of the last batch committed (wake-up)
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.side: Any = ...  # not looked up yet
        self.checkpointer: Checkpointer | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="context-history", daemon=True)
        self.thread.start()

    def wake(self, *_: Any) -> None:
        self.last_wake = time.monotonic()
        self.event.set()

    def stop(self) -> None:
        self.stopping = True
        self.event.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
        if self.checkpointer is not None:
            self.checkpointer.stop()

    def run(self) -> None:
        while not self.stopping:
            self.event.wait(self.interval)
            self.event.clear()
            try:
                self.drain()
            except Exception:  # logged and retried at the next wake-up; the rows stay pending
                log.exception("expanding pending history failed")

    def _checkpoints(self, bind: Any, side: str | None) -> Checkpointer:
        if self.checkpointer is None:
            self.checkpointer = Checkpointer(bind, side)
        return self.checkpointer

    def _side(self) -> str | None:
        """The history file of this writer's database (history_store), None when history is in it."""
        if self.side is ...:
            db = self.factory()
            try:
                self.side = history_store.side_of(db.connection())
            finally:
                db.close()
        return self.side

    def drain(self) -> None:
        bind = self.factory.kw["bind"]
        gated = write_gate.gate_for(bind) is not None
        while not self.stopping:
            started = time.monotonic()
            arriving = started - self.last_wake < 1.0
            side = self._side() if gated else None
            if side is not None:
                # SQLite, history in its own file: the expansion takes that file's lock alone; only deleting
                # the pending rows (a few ms) takes the next turn at the main file's (write_gate), without the
                # PATIENCE a whole chunk below gives waiting requests: that short write holds nobody up.
                with session_scope(self.factory) as db:
                    n = expand_once(db, wait=False, chunk=SIDE_CHUNK_READINGS,
                                    gate=write_gate.background_turn(bind, patience=0.0))
            else:
                # each chunk waits behind the batch upserts waiting for the write lock (write_gate), so a request
                # waits one chunk (~20 ms) at most and is woken when it ends, not on SQLite's busy polling
                with write_gate.background_turn(bind), session_scope(self.factory) as db:
                    n = expand_once(db, wait=False, chunk=BUSY_CHUNK_READINGS if arriving else CHUNK_READINGS)
            if n == 0:
                return
            if gated:
                self._checkpoints(bind, side).poke()
            # Without the gate (PostgreSQL) a writer that took the lock again at once could starve requests
            # polling for it, so while batches keep arriving it holds it at most about half the time.
            # Readers do not wait for this: they settle what is pending.
            if not gated and self.event.is_set():
                time.sleep(max(0.02, time.monotonic() - started))
