"""Source schedules (cron or interval) run by APScheduler; the database is the only record of them.

Every worker reads the schedules from the sources table and refreshes them periodically, so an edit
made through any worker takes effect everywhere; scheduled runs start only in the worker holding the
`collect:schedules` job lease (cityhub.lease), so several workers sharing a database run each schedule
once; the per-source concurrency limit (checked in the database) still bounds manual and resumed runs.
"""

from __future__ import annotations

import logging

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from cityhub.bus import InProcessBus
from cityhub.collect import pipeline, runs
from cityhub.collect.models import Source
from cityhub.db import utcnow
from cityhub.errors import Conflict
from cityhub.lease import Lease
from cityhub.settings import Settings

log = logging.getLogger("cityhub.collect")
REFRESH_JOB = "collect:refresh"
LEASE_JOB = "collect:lease"


def trigger_for(kind: str, expr: str | None):  # noqa: ANN201 - an APScheduler trigger
    """The trigger for a schedule; raises ValueError for a bad expression."""
    if kind == "interval":
        seconds = float(expr or "")
        if seconds < 1:
            raise ValueError("at least 1 second")
        return IntervalTrigger(seconds=seconds)
    if kind == "cron":
        return CronTrigger.from_crontab(expr or "")
    raise ValueError(f"unknown schedule kind {kind!r}")


def run_scheduled(factory: sessionmaker[Session], settings: Settings, bus: InProcessBus, source_id: str,
                  trigger: str = "schedule") -> None:
    """One scheduled run; a source already at its concurrency limit is skipped, not queued."""
    with factory() as db:
        source = db.get(Source, source_id)
        if source is None or not source.enabled:
            return
        try:
            run = runs.start_run(db, source, trigger=trigger)
            db.commit()
        except Conflict as exc:
            db.rollback()
            log.info("scheduled run skipped", extra={"source": source.name, "reason": exc.message})
            return
        run_id = run.id
    pipeline.execute(pipeline.RunEnv(factory=factory, settings=settings, bus=bus), run_id=run_id)


def _sync(scheduler: BackgroundScheduler, factory: sessionmaker[Session], settings: Settings,
          bus: InProcessBus, lease: Lease | None = None) -> None:
    """Make the scheduler's jobs match the sources table."""
    from sqlalchemy import select

    with factory() as db:
        wanted = {s.id: s for s in db.scalars(select(Source).where(Source.enabled.is_(True),
                                                                    Source.schedule_kind != "none"))}
        specs = {sid: (s.schedule_kind, s.schedule_expr) for sid, s in wanted.items()}
    for job in scheduler.get_jobs():
        if job.id not in (REFRESH_JOB, LEASE_JOB) and not job.id.startswith("resume:") and job.id not in specs:
            job.remove()
    for sid, (kind, expr) in specs.items():
        job = scheduler.get_job(sid)
        if job is not None and getattr(job, "kwargs", {}).get("spec") == [kind, expr]:
            continue
        try:
            trig = trigger_for(kind, expr)
        except ValueError:
            log.error("bad schedule", extra={"source": sid, "schedule": f"{kind} {expr}"})
            continue
        scheduler.add_job(_job, trig, id=sid, replace_existing=True, max_instances=1, coalesce=True,
                          misfire_grace_time=60,
                          kwargs={"factory": factory, "settings": settings, "bus": bus, "source_id": sid,
                                  "spec": [kind, expr], "lease": lease})


def _job(factory: sessionmaker[Session], settings: Settings, bus: InProcessBus, source_id: str,
         spec: list | None = None, trigger: str = "schedule", lease: Lease | None = None) -> None:
    if lease is not None and not lease.hold():
        return  # another worker sharing the database holds the schedules
    try:
        run_scheduled(factory, settings, bus, source_id, trigger)
    except Exception:  # the scheduler thread must survive a broken source
        log.exception("scheduled run crashed", extra={"source": source_id})


def start(factory: sessionmaker[Session], settings: Settings, bus: InProcessBus,
          resume: list[str] | None = None) -> BackgroundScheduler:
    """Start the schedules; runs interrupted by the last shutdown are resumed at once."""
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"max_instances": 1})
    lease = Lease(factory, "collect:schedules")
    # the heartbeat keeps the lease between runs (and takes it at start); a clean shutdown gives it up
    scheduler.add_job(lease.hold, IntervalTrigger(seconds=lease.heartbeat_seconds), id=LEASE_JOB,
                      next_run_time=utcnow(), replace_existing=True)
    scheduler.add_listener(lambda _event: lease.release(), EVENT_SCHEDULER_SHUTDOWN)
    scheduler.start()
    _sync(scheduler, factory, settings, bus, lease)
    scheduler.add_job(_sync, IntervalTrigger(seconds=settings.collect_schedule_refresh_seconds), id=REFRESH_JOB,
                      args=(scheduler, factory, settings, bus, lease), replace_existing=True)
    if resume:
        from cityhub.collect.models import Run

        with factory() as db:
            source_ids = {db.get(Run, rid).source_id for rid in resume}
        for sid in source_ids:
            scheduler.add_job(_job, id=f"resume:{sid}", kwargs={"factory": factory, "settings": settings,
                                                                 "bus": bus, "source_id": sid, "trigger": "resume"})
    return scheduler
