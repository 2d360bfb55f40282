"""SQLite only: the context writers of one process take turns at the write lock, requests first.

SQLite has one writer at a time, and a writer that finds the lock taken polls for it on SQLite's busy
schedule (sleeps growing to 100 ms). A batch upsert that arrives while the background history writer
(`history_pending.HistoryWriter`) holds the lock so waited up to a poll interval after the lock came
free, and the history writer, polling nobody, often took it again first. Here both kinds wait on one
in-process condition instead: a request writer is woken the moment the previous writer commits, and
the history writer starts a chunk only when no request writer is waiting (or after `PATIENCE` of
waiting, so a steady stream of requests cannot starve history: a waiting request then waits one
chunk at most, ~20 ms).

This is scheduling only, never correctness: SQLite's lock still serialises every writer (other
domains, other processes do not take the gate), and a writer that waited `TIMEOUT` goes on without
the gate, so a stuck holder costs time, not a deadlock. Nothing is kept here that PostgreSQL or a
second worker would need: PostgreSQL writers do not take the gate at all (row locks, no single
writer), and each worker process has its own SQLite lock queue anyway.

A request writer takes the gate in `store.apply_changes` just before its first write and keeps it
until its session's transaction ends (commit, rollback or close: `after_transaction_end`).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger("cityhub.context.write_gate")
PATIENCE = 0.25  # seconds the history writer yields to waiting requests before it takes its turn anyway
TIMEOUT = 30.0  # as SQLite's busy_timeout: past it a writer goes on without the gate
_KEY = "ctx_write_gate"


class WriteGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held = False
        self._requests_waiting = 0
        self._background_due = False  # the history writer waited PATIENCE: it goes next

    def enter_request(self, timeout: float = TIMEOUT) -> bool:
        """Wait for the gate as a request writer; False if it timed out (the caller goes on without it)."""
        with self._cond:
            self._requests_waiting += 1
            try:
                ok = self._cond.wait_for(lambda: not self._held and not self._background_due, timeout)
            finally:
                self._requests_waiting -= 1
            if ok:
                self._held = True
            return ok

    def enter_background(self, patience: float = PATIENCE, timeout: float = TIMEOUT) -> bool:
        """Wait for the gate as the background writer: behind every waiting request, for `patience` at most."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self._held and not self._requests_waiting, patience):
                self._background_due = True
                try:
                    if not self._cond.wait_for(lambda: not self._held, timeout):
                        return False
                finally:
                    self._background_due = False
                    self._cond.notify_all()
            self._held = True
            return True

    def leave(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()


_gates: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()
_gates_lock = threading.Lock()


def gate_for(bind: Any) -> WriteGate | None:
    """The gate of a SQLite engine (one per engine, so two apps in one process keep theirs); None otherwise."""
    engine = getattr(bind, "engine", bind)
    if engine.dialect.name != "sqlite":
        return None
    with _gates_lock:
        gate = _gates.get(engine)
        if gate is None:
            gate = _gates[engine] = WriteGate()
        return gate


def hold_for_request(db: Session) -> None:
    """Take the gate for this session's transaction (once; released when the transaction ends).

    Skipped when the session already writes (it may hold SQLite's lock: waiting for the gate then
    could keep the history writer, which holds the gate, waiting for that very lock)."""
    if _KEY in db.info:
        return
    gate = gate_for(db.get_bind())
    if gate is None:
        return
    conn = db.connection()  # the session's transaction exists from here: its end releases the gate
    if conn.connection.dbapi_connection.in_transaction:
        return
    started = time.monotonic()
    if not gate.enter_request():
        log.warning("context write gate not free after %.0f s; writing without it", time.monotonic() - started)
        return
    db.info[_KEY] = gate


@contextmanager
def background_turn(bind: Any, patience: float = PATIENCE) -> Iterator[None]:
    """The history writer's turn (a no-op off SQLite): behind waiting requests for `patience` at most
    (0: the next turn whatever waits, for a write of a few milliseconds)."""
    gate = gate_for(bind)
    entered = gate.enter_background(patience) if gate is not None else False
    try:
        yield
    finally:
        if entered:
            gate.leave()


def _release(session: Session) -> None:
    gate = session.info.pop(_KEY, None)
    if gate is not None:
        gate.leave()


def _after_commit(session: Session) -> None:
    # Class-level listeners run before a session's own, so the gate is free before the bus hands the
    # commit's events to subscribers (one of them may write context entities in a session of its own).
    if session.get_nested_transaction() is None:  # a released savepoint is not the end
        _release(session)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rollback or close of the whole transaction
        _release(session)


def install() -> None:
    """Release a request's gate when its session's transaction ends (idempotent)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
    if not event.contains(Session, "after_transaction_end", _after_transaction_end):
        event.listen(Session, "after_transaction_end", _after_transaction_end)


install()
