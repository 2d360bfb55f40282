"""Run lifecycle: start (with the per-source concurrency limit), finish, fail, and recovery after kill -9."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityhub.collect import owner
from cityhub.collect.models import Run, Source
from cityhub.collect.schemas import RunPublic
from cityhub.db import utcnow
from cityhub.errors import Conflict

HOST = socket.gethostname()
# A run whose worker has not written for this long is presumed dead even on another host.
STALE_AFTER = timedelta(minutes=10)
RUN_TIMEOUT = "run_timeout"  # the code of RunTimedOut


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_dead(db: Session, run: Run, mine: str) -> bool:
    if run.worker == mine:
        return False
    host, _, rest = (run.worker or "").partition(":")
    pid = rest.partition(":")[0]  # worker is host:pid:nonce (an owner lease holder) or host:pid (older runs)
    if host == HOST and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
        return True  # killed here: no need to wait for its lease to run out
    alive = owner.holder_alive(db, run.worker or "")
    if alive is not None:
        return not alive
    if host == HOST and pid.isdigit():
        return False  # a run from before owner leases whose process still lives
    beat = run.heartbeat_at or run.started_at
    return beat is not None and utcnow() - beat > STALE_AFTER


def recover_interrupted(db: Session) -> list[str]:
    """Mark runs whose worker died (kill -9, power cut) as interrupted; runs of live workers sharing the
    database are theirs and are left alone. Returns the ids marked."""
    mine = owner.owner_for(db.get_bind()).holder
    marked = []
    for run in db.scalars(select(Run).where(Run.status == "running")):
        if _is_dead(db, run, mine):
            run.status = "interrupted"
            run.ended_at = utcnow()
            run.error = "interrupted: the process ended during the run; the next run resumes from its cursor"
            marked.append(run.id)
    db.flush()
    return marked


def _resumable(run: Run) -> bool:
    stopped = run.status == "interrupted" or (run.status == "failed" and run.error_code == RUN_TIMEOUT)
    return stopped and bool(run.cursor)


def start_run(db: Session, source: Source, *, trigger: str) -> Run:
    """Create a running run, refusing when the source already runs at its concurrency limit."""
    holder = owner.owner_for(db.get_bind()).claim(db)
    recover_interrupted(db)
    running = db.scalar(select(func.count()).where(Run.source_id == source.id, Run.status == "running")) or 0
    if running >= source.max_concurrency:
        raise Conflict(f"source {source.name} already has {running} run(s) in progress "
                       f"(limit {source.max_concurrency})")
    last = db.scalars(select(Run).where(Run.source_id == source.id).order_by(Run.started_at.desc()).limit(1)).first()
    run = Run(source_id=source.id, status="running", trigger=trigger, started_at=utcnow(),
              heartbeat_at=utcnow(), worker=holder)
    # An interrupted run, or one stopped by its time limit, leaves a cursor: continue there so nothing
    # is fetched twice or skipped (and a long harvest advances across runs instead of restarting).
    if last is not None and _resumable(last):
        run.cursor = dict(last.cursor)
        run.resumed_from = last.id
        run.trigger = "resume" if trigger == "schedule" else trigger
    source.last_run_at = run.started_at
    db.add(run)
    db.flush()
    return run


def run_public(run: Run, source_name: str | None = None) -> RunPublic:
    return RunPublic(
        id=run.id, source_id=run.source_id, source_name=source_name, status=run.status, trigger=run.trigger,
        started_at=run.started_at, ended_at=run.ended_at, requests=run.requests or 0,
        rows_received=run.rows_received or 0, rows_inserted=run.rows_inserted or 0,
        rows_updated=run.rows_updated or 0, rows_unchanged=run.rows_unchanged or 0,
        rows_quarantined=run.rows_quarantined or 0, bytes=run.bytes or 0, error=run.error,
        upstream_message=run.upstream_message, cursor=run.cursor, resumed_from=run.resumed_from,
        error_code=run.error_code, broker_dropped=run.broker_dropped, messages_missing=run.messages_missing)
