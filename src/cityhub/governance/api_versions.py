"""HTTP door for dataset versions: list, view, download a version's rows, roll back."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from cityhub.governance import version_retention, versions
from cityhub.http import Ctx

router = APIRouter(prefix="/api/v1/governance", tags=["governance"])
log = logging.getLogger("cityhub.governance")


class VersionList(BaseModel):
    items: list[versions.VersionPublic]
    total: int


@router.get("/datasets/{dataset}/versions", response_model=VersionList)
def list_versions(dataset: str, ctx: Ctx, limit: int = Query(default=100, le=1000), offset: int = 0) -> VersionList:
    """The dataset's versions, newest first, each with its diff summary."""
    items, total = versions.list_versions(ctx, dataset=dataset, limit=limit, offset=offset)
    return VersionList(items=items, total=total)


@router.get("/datasets/{dataset}/versions/{number}", response_model=versions.VersionPublic)
def show_version(dataset: str, number: int, ctx: Ctx) -> versions.VersionPublic:
    """One version: metadata as it was, its resources' manifest and the diff."""
    return versions.get_version(ctx, dataset=dataset, number=number)


@router.get("/datasets/{dataset}/versions/{number}/resources/{resource_id}.csv")
def download_version(dataset: str, number: int, resource_id: str, ctx: Ctx) -> FileResponse:
    """A resource's rows as they were in this version (CSV)."""
    path = versions.version_rows(ctx, dataset=dataset, number=number, resource_id=resource_id)
    return FileResponse(path, media_type="text/csv; charset=utf-8",
                        filename=f"{dataset}-v{number}-{resource_id}.csv")


@router.post("/datasets/{dataset}/versions/{number}/rollback", response_model=versions.VersionPublic)
def rollback(dataset: str, number: int, ctx: Ctx) -> versions.VersionPublic:
    """Restore this version's metadata and rows (stewards); recorded as a new version."""
    return versions.rollback(ctx, dataset=dataset, number=number)


@router.get("/datasets/{dataset}/version-retention", response_model=version_retention.RetentionPublic)
def show_retention(dataset: str, ctx: Ctx) -> version_retention.RetentionPublic:
    """How long the dataset's versions keep their big-table copies (its own rule or the city default)."""
    return version_retention.get_rule(ctx, dataset=dataset)


@router.put("/datasets/{dataset}/version-retention", response_model=version_retention.RetentionPublic)
def set_retention(dataset: str, rule: version_retention.RetentionRule, ctx: Ctx) -> version_retention.RetentionPublic:
    """Set the dataset's own retention rule for its versions' copies (stewards)."""
    return version_retention.set_rule(ctx, dataset=dataset, rule=rule)


@router.delete("/datasets/{dataset}/version-retention", response_model=version_retention.RetentionPublic)
def reset_retention(dataset: str, ctx: Ctx) -> version_retention.RetentionPublic:
    """Return the dataset to the city's default retention rule (stewards)."""
    return version_retention.set_rule(ctx, dataset=dataset, rule=None)


def run_retention(app: FastAPI) -> dict:
    """One scheduled retention pass in its own transaction."""
    from cityhub.cli import SYSTEM
    from cityhub.ctx import RequestContext

    ctx = RequestContext(actor=SYSTEM, db=app.state.session_factory(), settings=app.state.settings,
                         bus=app.state.bus)
    try:
        done = version_retention.prune_all(ctx)
        ctx.db.commit()
    except Exception:
        ctx.db.rollback()
        log.exception("version retention failed")
        raise
    finally:
        ctx.db.close()
    log.info("version retention", extra=done)
    return done


def _schedule(app: FastAPI) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    seconds = app.state.settings.governance_version_retention_interval_seconds
    if seconds > 0:
        scheduler = BackgroundScheduler(daemon=True)
        scheduler.add_job(run_retention, "interval", args=[app], id="governance:version-retention",
                          seconds=seconds, max_instances=1, coalesce=True)
        scheduler.start()
        app.state.version_retention_jobs = scheduler


def install(app: FastAPI) -> None:
    """Record versions in the background: every committed dataset change left an outbox row; the bus
    event only wakes the recorder (which also picks up rows a killed process left)."""
    from cityhub.governance.version_outbox import VersionRecorder

    unsubscribes: list = []

    def start(app: FastAPI) -> None:
        recorder = VersionRecorder(app.state.session_factory, app.state.settings, app.state.bus)
        app.state.version_recorder = recorder
        unsubscribes.extend(app.state.bus.subscribe(t, recorder.notify) for t in ("dataset.created", "dataset.updated"))
        recorder.start()
        _schedule(app)

    def stop(app: FastAPI) -> None:
        for unsubscribe in unsubscribes:
            unsubscribe()
        unsubscribes.clear()
        scheduler = getattr(app.state, "version_retention_jobs", None)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
            app.state.version_retention_jobs = None
        recorder = getattr(app.state, "version_recorder", None)
        if recorder is not None:
            recorder.stop()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
