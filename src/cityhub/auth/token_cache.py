"""A short-lived per-process memo of who an API token speaks for, so a machine client's every request does not
look its token, user and memberships up again (three queries, ~1 ms CPU a request).

Correctness across workers: an entry lives at most TTL_SECONDS (2 s) after it was read from the database, so
a token revoked, a user deactivated or a membership changed by another worker (or the CLI) stops counting
within 2 s everywhere. Changes committed by this process clear the memo at once (an ORM hook on the auth
tables). A token's own expiry is checked on every use. Unknown or refused tokens are never memoised.
Nothing here is the truth: the database is, and a fresh process starts empty.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from cityhub.ctx import Actor
from cityhub.db import utcnow

TTL_SECONDS = 2.0
MAX_ENTRIES = 10_000  # past this the memo starts over: a bound, not an eviction policy worth its code
_CHANGED = "auth_tables_changed"
# Tables whose rows make up an Actor: a committed change to any of them clears the memo.
_AUTH_TABLES = frozenset({"api_tokens", "users", "memberships", "organizations"})

_entries: dict[tuple[Any, str], tuple[Actor, datetime | None, float]] = {}
_lock = threading.Lock()


def get(db: Session, token_hash: str) -> Actor | None:
    """The memoised actor for this token on this database, or None when it must be looked up."""
    entry = _entries.get((db.get_bind().url, token_hash))
    if entry is None:
        return None
    actor, expires_at, loaded = entry
    if time.monotonic() - loaded > TTL_SECONDS or (expires_at is not None and expires_at < utcnow()):
        return None
    return actor


def put(db: Session, token_hash: str, actor: Actor, expires_at: datetime | None) -> None:
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[(db.get_bind().url, token_hash)] = (actor, expires_at, time.monotonic())


def clear() -> None:
    with _lock:
        _entries.clear()


def _only_last_use(obj: Any) -> bool:
    """A token whose only change is its coalesced last-use time (that changes nobody's rights)."""
    changed = {a.key for a in inspect(obj).attrs if a.history.has_changes()}
    return changed <= {"last_used_at"}


def _on_flush(session: Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) not in _AUTH_TABLES:
            continue
        if obj in session.dirty and obj.__tablename__ == "api_tokens" and _only_last_use(obj):
            continue
        session.info[_CHANGED] = True
        return


def _on_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        clear()


def _on_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_CHANGED, None)


def install_hook() -> None:
    """Clear the memo whenever this process commits a change to tokens, users, memberships or organizations."""
    if not event.contains(Session, "after_flush", _on_flush):
        event.listen(Session, "after_flush", _on_flush)
        event.listen(Session, "after_commit", _on_commit)
        event.listen(Session, "after_soft_rollback", _on_rollback)
