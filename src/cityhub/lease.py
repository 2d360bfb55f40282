"""Job leases: when several workers share one database, a scheduled job runs in one of them only.

A lease is a row (name, holder, expiry). A worker takes it with one atomic statement: it inserts the
row when none exists, or updates it when it already holds it or the holder let it expire. The holder
renews it on a heartbeat well inside the lease time, so it keeps the lease while it lives; after a crash
(`kill -9`) another worker takes over within one lease time. Works the same on SQLite and PostgreSQL
(both have INSERT ... ON CONFLICT DO NOTHING; the conditional UPDATE is plain SQL).

Expiry times come from the workers' clocks: workers sharing a database are expected to share a clock
(one machine, or NTP); a skew shorter than the lease time only shortens or lengthens a takeover.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import String, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from cityhub.db import Base, UTCDateTime, utcnow

log = logging.getLogger("cityhub.lease")


class JobLease(Base):
    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


T = JobLease.__table__


def new_holder() -> str:
    """A name for this worker that no other process (here or on another host) will have."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take(db: Session, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease `name` for `ttl`; False when another live holder has it. Commits."""
    now = utcnow()
    values = {"name": name, "holder": holder, "expires_at": now + ttl}
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    won = db.execute(dialect.insert(T).values(**values).on_conflict_do_nothing()).rowcount == 1
    if not won:
        won = db.execute(update(T).where(T.c.name == name, or_(T.c.holder == holder, T.c.expires_at <= now))
                         .values(holder=holder, expires_at=now + ttl)).rowcount == 1
    db.commit()
    return won


def release(db: Session, name: str, holder: str) -> None:
    """Give the lease up at once (a clean shutdown), so another worker need not wait for it to expire."""
    db.execute(update(T).where(T.c.name == name, T.c.holder == holder).values(expires_at=utcnow()))
    db.commit()


class Lease:
    """One worker's claim on one named lease, checked before each run of the jobs it guards."""

    def __init__(self, factory: sessionmaker[Session], name: str, ttl: timedelta = timedelta(seconds=30)) -> None:
        self.factory = factory
        self.name = name
        self.ttl = ttl
        self.holder = new_holder()

    @property
    def heartbeat_seconds(self) -> float:
        """How often the holder renews: three chances before the lease runs out."""
        return self.ttl.total_seconds() / 3

    def hold(self) -> bool:
        """Take or renew the lease; False (never an exception) when it is someone else's or the database
        is unreachable, so a job that cannot prove it holds the lease does not run."""
        try:
            with self.factory() as db:
                return take(db, self.name, self.holder, self.ttl)
        except Exception:  # noqa: BLE001 — a scheduler thread must survive a database hiccup
            log.exception("lease check failed", extra={"lease": self.name})
            return False

    def release(self) -> None:
        try:
            with self.factory() as db:
                release(db, self.name, self.holder)
        except Exception:  # noqa: BLE001 — shutting down: the lease then simply expires
            log.exception("lease release failed", extra={"lease": self.name})
