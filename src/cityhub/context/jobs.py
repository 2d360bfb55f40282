"""Scheduled upkeep of the live layer, run by APScheduler inside the server process:

- retention: history older than each entity type's policy goes (raw values after N days, rollups later);
- catalog link: the `live-<type>` datasets of the types that changed since the last refresh get a fresh
  latest-state table (only when `context_catalog_org` names the publishing organization);
- the demo's sensor simulator (`context_simulate_seconds`), one moment per run.

They are idempotent, but several workers sharing a database would each run them: a job lease in the
database (`cityhub.lease`) lets one worker run them; another takes over within the lease time when it stops.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from cityhub.context.models import ContextEntity
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.lease import Lease

log = logging.getLogger("cityhub.context.jobs")
T = ContextEntity.__table__
LEASE = "context:jobs"


def _system_ctx(app: FastAPI) -> RequestContext:
    from cityhub.cli import SYSTEM

    return RequestContext(actor=SYSTEM, db=app.state.session_factory(), settings=app.state.settings,
                          bus=app.state.bus)


def run_retention(app: FastAPI) -> dict[str, int]:
    """One retention pass in its own transaction."""
    from cityhub.context.temporal import apply_retention

    ctx = _system_ctx(app)
    try:
        removed = apply_retention(ctx)
        ctx.db.commit()
    except Exception:
        ctx.db.rollback()
        log.exception("context retention failed")
        raise
    finally:
        ctx.db.close()
    log.info("context retention", extra=removed)
    return removed


def changed_types(ctx: RequestContext, since: datetime | None) -> list[str]:
    """Entity types with an entity modified after `since` (all types when None)."""
    stmt = select(T.c.type).distinct().order_by(T.c.type)
    if since is not None:
        stmt = stmt.where(T.c.modified_at > since)
    return [t for (t,) in ctx.db.execute(stmt)]


def refresh_catalog(app: FastAPI, since: datetime | None) -> tuple[list[dict[str, Any]], bool]:
    """Refresh the live datasets of the types changed since `since`, each in its own transaction;
    returns what was published and whether every type succeeded."""
    from cityhub.context.catalog_link import publish_snapshot

    org = app.state.settings.context_catalog_org
    done = []
    ctx = _system_ctx(app)
    try:
        types = changed_types(ctx, since)
    finally:
        ctx.db.close()
    for entity_type in types:
        ctx = _system_ctx(app)
        try:
            done.append(publish_snapshot(ctx, entity_type=entity_type, org=org))
            ctx.db.commit()
        except Exception:  # noqa: BLE001 — one type failing must not stop the others
            ctx.db.rollback()
            log.exception("live dataset refresh failed", extra={"entity_type": entity_type})
        finally:
            ctx.db.close()
    return done, len(done) == len(types)


class CatalogRefresher:
    """Remembers when it last ran so each pass only republishes types that changed (a worker that takes the
    job lease over starts from None: it republishes every type once, which is correct, only more work).

    A write is stamped (modified_at) before it commits: one stamped before a pass started but committed after
    the pass read the changed types would be missed for good if the next pass looked only after that start.
    So each pass looks back OVERLAP before the previous one's start (a type published twice is only more work).
    """

    OVERLAP = timedelta(seconds=30)

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.since: datetime | None = None

    def __call__(self) -> None:
        started = utcnow()
        _, complete = refresh_catalog(self.app, self.since)
        if complete:  # a failed type is tried again next time
            self.since = started - self.OVERLAP


class SimulatorJob:
    """`cityhub demo`'s sensor simulator, one moment per run, written through the app's own session factory
    and bus so observation batches and alerts reach its SSE feed, subscriptions and ops incidents."""

    def __init__(self, app: FastAPI) -> None:
        from cityhub.context import publish
        from cityhub.context.simulator import SimulatedCity

        self.city = SimulatedCity(seed=42, start=utcnow())
        self.send = publish.in_process(app.state.settings, session_factory=app.state.session_factory,
                                       bus=app.state.bus)

    def __call__(self) -> None:
        self.send(self.city.tick(utcnow()))


def _if_held(lease: Lease, job: Any, *args: Any) -> None:
    """Run `job` only while this worker holds the lease (renewing it), so one worker of many runs it."""
    if lease.hold():
        job(*args)


def install(app: FastAPI) -> None:
    """Schedule retention and the catalog refresh on the app's lifespan (intervals of 0 turn them off);
    they run in the worker holding the `context:jobs` lease, renewed on a heartbeat."""
    from apscheduler.schedulers.background import BackgroundScheduler

    def start(app: FastAPI) -> None:
        settings = app.state.settings
        scheduler = BackgroundScheduler(daemon=True)
        lease = Lease(app.state.session_factory, LEASE)
        every = {"max_instances": 1, "coalesce": True}
        if settings.context_retention_interval_seconds > 0:
            scheduler.add_job(_if_held, "interval", args=[lease, run_retention, app], id="context:retention",
                              seconds=settings.context_retention_interval_seconds, **every)
        if settings.context_catalog_org and settings.context_catalog_refresh_seconds > 0:
            scheduler.add_job(_if_held, "interval", args=[lease, CatalogRefresher(app)], id="context:catalog",
                              seconds=settings.context_catalog_refresh_seconds, **every)
        if settings.context_simulate_seconds > 0:
            scheduler.add_job(_if_held, "interval", args=[lease, SimulatorJob(app)], id="context:simulate",
                              seconds=settings.context_simulate_seconds, next_run_time=utcnow(), **every)
        if scheduler.get_jobs():
            # the heartbeat keeps the lease between runs of long-interval jobs, and takes it at start
            scheduler.add_job(lease.hold, "interval", id="context:lease", seconds=lease.heartbeat_seconds,
                              next_run_time=utcnow(), **every)
            scheduler.start()
            app.state.context_jobs = scheduler
            app.state.context_jobs_lease = lease

    def stop(app: FastAPI) -> None:
        scheduler = getattr(app.state, "context_jobs", None)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
            app.state.context_jobs = None
            app.state.context_jobs_lease.release()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
