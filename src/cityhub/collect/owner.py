"""Who owns a running run, and whether that worker still lives.

Several workers (processes, or app instances) may share one database. Each one that starts runs holds a
job lease (cityhub.lease) named after itself and renews it from a heartbeat thread; a run records that
holder. Recovery takes over (marks interrupted) only runs whose holder's lease has expired, so a worker
starting up never steals runs another live worker is still collecting; after `kill -9` the dead worker's
lease runs out within OWNER_TTL and the next recovery (start-up, or any run start) takes its runs over.
"""

from __future__ import annotations

import logging
import threading
import weakref
from datetime import timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from cityhub import lease
from cityhub.db import utcnow

log = logging.getLogger("cityhub.collect")
OWNER_TTL = timedelta(seconds=30)  # module level so a test can shorten it
HEARTBEAT_SECONDS: float | None = None  # None: a third of OWNER_TTL; module level so a test can shorten it
PREFIX = "collect:run-owner:"


class RunOwner:
    """This worker's identity as the owner of its runs, kept alive by a heartbeat while it has any."""

    def __init__(self, engine: Engine) -> None:
        self.holder = lease.new_holder()
        self.name = PREFIX + self.holder
        self.factory = sessionmaker(bind=engine)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def claim(self, db: Session) -> str:
        """Take (or renew) this worker's lease in the caller's transaction, without committing it: the
        caller may hold a row lock (the source's concurrency check) that a commit here would release."""
        now, ttl = utcnow(), OWNER_TTL
        dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
        values = {"name": self.name, "holder": self.holder, "expires_at": now + ttl}
        if db.execute(dialect.insert(lease.T).values(**values).on_conflict_do_nothing()).rowcount != 1:
            db.execute(update(lease.T).where(lease.T.c.name == self.name).values(expires_at=now + ttl))
        self._start_heartbeat()
        return self.holder

    def _start_heartbeat(self) -> None:
        with self._guard:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._beat, name="collect-run-owner", daemon=True)
                self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS or OWNER_TTL.total_seconds() / 3):
            try:
                with self.factory() as db:
                    lease.take(db, self.name, self.holder, OWNER_TTL)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the heartbeat
                log.exception("run owner heartbeat failed", extra={"holder": self.holder})

    def stop(self, *, release: bool = True) -> None:
        """Stop the heartbeat; `release` (a clean shutdown) lets others take over at once."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
        if release and thread is not None:
            try:
                with self.factory() as db:
                    lease.release(db, self.name, self.holder)
            except Exception:  # noqa: BLE001 - shutting down: the lease then simply expires
                log.exception("run owner release failed", extra={"holder": self.holder})


_owners: weakref.WeakKeyDictionary[Engine, RunOwner] = weakref.WeakKeyDictionary()
_owners_guard = threading.Lock()


def owner_for(engine: Engine) -> RunOwner:
    """The owner for this worker on this database (one per engine: each app instance has its own)."""
    with _owners_guard:
        found = _owners.get(engine)
        if found is None or found._stop.is_set():
            found = _owners[engine] = RunOwner(engine)
        return found


def stop_for(engine: Engine, *, release: bool = True) -> None:
    with _owners_guard:
        found = _owners.pop(engine, None)
    if found is not None:
        found.stop(release=release)


def holder_alive(db: Session, holder: str) -> bool | None:
    """Whether the holder's lease is current; None when it never held one (a run from before leases)."""
    expires = db.scalar(select(lease.T.c.expires_at).where(lease.T.c.name == PREFIX + holder))
    if expires is None:
        return None
    return expires > utcnow()
