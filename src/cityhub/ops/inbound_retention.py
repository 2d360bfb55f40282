"""Retention of `ops_inbound_requests`: remembered agency requests and alert claims do not pile up forever.

Each row promises something for a while only:
- an Idempotency-Key row (`idempotency.py`) answers a retried agency request with its first answer. Agencies
  retry within minutes or hours; we keep the promise for `ops_inbound_retention_days` and never less than
  `MIN_RETENTION` (a day). A request replayed after that is taken as a new one.
- an alert claim (`alert_recovery.py`) keeps the sweep from opening a raise twice. The sweep only looks at
  raises of the last `ops_alert_sweep_window_minutes`, and a raise's claim is written after the raise, so a
  claim older than the window is never read again (its incident, which is kept, still answers for the
  episode). The retention is never shorter than the window.
Rows are deleted in small batches, each its own short transaction (SQLite has one writer, and the agency
API writes to this table on every report), by the worker holding the alert sweep's lease, on its timer.
There is no index on `created_at`: each batch scans the table, which retention keeps to a few days of rows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from cityhub.db import utcnow
from cityhub.ops.models import InboundRequest
from cityhub.settings import Settings

log = logging.getLogger("cityhub.ops.inbound_retention")
PRUNED = Counter("cityhub_ops_inbound_pruned_total", "ops_inbound_requests rows deleted by retention")
MIN_RETENTION = timedelta(days=1)
BATCH = 500
MAX_BATCHES = 20  # per run: 10,000 rows a minute at the default sweep interval; the next run takes the rest
_R = InboundRequest.__table__


def retention(settings: Settings) -> timedelta:
    """How long rows are kept: the setting, but never under a day nor under the alert sweep's window."""
    return max(timedelta(days=max(0.0, settings.ops_inbound_retention_days)), MIN_RETENTION,
               timedelta(minutes=settings.ops_alert_sweep_window_minutes))


def prune(factory: sessionmaker[Session], settings: Settings, *, now: datetime | None = None) -> int:
    """Delete rows older than the retention, at most `MAX_BATCHES` batches of `BATCH`; returns how many."""
    cutoff = (now or utcnow()) - retention(settings)
    old = select(_R.c.actor_id, _R.c.key).where(_R.c.created_at < cutoff).limit(BATCH)
    stmt = delete(_R).where(tuple_(_R.c.actor_id, _R.c.key).in_(old))
    total = 0
    for _ in range(MAX_BATCHES):
        with factory() as db:
            n = db.execute(stmt).rowcount or 0
            db.commit()
        total += n
        if n < BATCH:
            break
    if total:
        PRUNED.inc(total)
        log.info("ops inbound requests pruned", extra={"deleted": total, "before": cutoff.isoformat()})
    return total
