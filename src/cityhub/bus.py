"""The one event bus: publish after commit, subscribers by topic pattern.

In-process by default. Events raised inside a database transaction are held on the session
and only travel once it commits, so no subscriber ever sees a change that was rolled back.
A NATS/Redis implementation can replace `InProcessBus` behind the same two methods.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("cityhub.bus")

Handler = Callable[[str, dict[str, Any]], None]


class InProcessBus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Handler]] = []
        self._lock = threading.Lock()

    def subscribe(self, pattern: str, handler: Handler) -> Callable[[], None]:
        """Subscribe to topics matching a glob (`dataset.*`). Returns an unsubscribe function."""
        entry = (pattern, handler)
        with self._lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        with self._lock:
            targets = [h for p, h in self._subscribers if fnmatch.fnmatchcase(topic, p)]
        for handler in targets:
            try:
                handler(topic, payload)
            except Exception:  # a broken subscriber must not break the writer
                log.exception("subscriber failed", extra={"topic": topic})


def publish_after_commit(session: Session, bus: InProcessBus, topic: str, payload: dict[str, Any]) -> None:
    """Queue an event on the session; it is published when (and only if) the session commits.

    SQLAlchemy also fires after_commit/after_rollback for savepoints (`begin_nested`): an event is
    tagged with the savepoint it was raised in, moves to the enclosing one when that savepoint is
    released, is dropped when it rolls back, and travels only when the outermost transaction commits.
    """
    pending: list[tuple[Any, str, dict[str, Any]]] = session.info.setdefault("pending_events", [])
    pending.append((session.get_nested_transaction(), topic, payload))
    if not session.info.get("bus_hooked"):
        session.info["bus_hooked"] = True

        @event.listens_for(session, "after_commit")
        def _flush(sess: Session) -> None:
            inner = sess.get_nested_transaction()
            if inner is not None:  # a savepoint released: its events now belong to the enclosing transaction
                parent = inner.parent if inner.parent is not None and inner.parent.nested else None
                sess.info["pending_events"] = [(parent if tx is inner else tx, t, p)
                                               for tx, t, p in sess.info.get("pending_events", [])]
                return
            events = sess.info.pop("pending_events", [])
            for _tx, t, p in events:
                bus.publish(t, p)

        @event.listens_for(session, "after_rollback")
        def _drop(sess: Session) -> None:
            inner = sess.get_nested_transaction()
            if inner is not None:  # a savepoint rolled back: only its own events go
                sess.info["pending_events"] = [e for e in sess.info.get("pending_events", []) if e[0] is not inner]
                return
            sess.info.pop("pending_events", None)


def make_bus(url: str = "") -> InProcessBus:
    # Only the in-process bus exists so far; the URL switch is where NATS/Redis will plug in.
    return InProcessBus()
