"""HTTP door of collection: /api/v1/sources, runs, quarantine, connectors. Only translates HTTP."""

from __future__ import annotations

import logging
import threading

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from cityhub.collect import service
from cityhub.collect.schemas import (
    ConnectorInfo,
    QuarantineList,
    RawPayloadPublic,
    RunList,
    RunPublic,
    SourceCreate,
    SourceList,
    SourcePublic,
    SourceUpdate,
)
from cityhub.http import Ctx

log = logging.getLogger("cityhub.collect")
router = APIRouter(prefix="/api/v1", tags=["collection"])


@router.get("/sources", response_model=SourceList)
def list_sources(ctx: Ctx, limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> SourceList:
    return service.list_sources(ctx, limit=limit, offset=offset)


@router.post("/sources", response_model=SourcePublic, status_code=201)
def create_source(ctx: Ctx, data: SourceCreate) -> SourcePublic:
    return service.create_source(ctx, data=data)


@router.get("/sources/{name}", response_model=SourcePublic)
def get_source(ctx: Ctx, name: str) -> SourcePublic:
    return service.get_source(ctx, id_or_name=name)


@router.patch("/sources/{name}", response_model=SourcePublic)
def update_source(ctx: Ctx, name: str, data: SourceUpdate) -> SourcePublic:
    return service.update_source(ctx, id_or_name=name, data=data)


@router.delete("/sources/{name}", status_code=204)
def delete_source(ctx: Ctx, name: str) -> Response:
    service.delete_source(ctx, id_or_name=name)
    return Response(status_code=204)


@router.post("/sources/{name}/runs", response_model=RunPublic, status_code=201)
def run_source(ctx: Ctx, name: str, wait: bool = True) -> RunPublic:
    """Run now. `wait=false` returns the started run at once; poll GET /runs/{id} for progress."""
    if wait:
        return service.run_source(ctx, id_or_name=name)
    run_id = service.start_source_run(ctx, id_or_name=name)
    ctx.db.commit()
    _run_in_background(ctx, run_id)
    return service.get_run(ctx, run_id=run_id)


def _run_in_background(ctx, run_id: str) -> None:  # noqa: ANN001
    from cityhub.collect import pipeline

    env = pipeline.RunEnv(factory=service._factory(ctx), settings=ctx.settings, bus=ctx.bus)
    threading.Thread(target=pipeline.execute, args=(env,), kwargs={"run_id": run_id}, daemon=True,
                     name=f"collect-run-{run_id[:8]}").start()


@router.get("/sources/{name}/runs", response_model=RunList)
def source_runs(ctx: Ctx, name: str, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)) -> RunList:
    return service.list_runs(ctx, id_or_name=name, limit=limit, offset=offset)


@router.post("/sources/{name}/replay", response_model=RunPublic, status_code=201)
def replay_source(ctx: Ctx, name: str) -> RunPublic:
    return service.replay_source(ctx, id_or_name=name)


@router.get("/sources/{name}/quarantine", response_model=QuarantineList)
def source_quarantine(ctx: Ctx, name: str, limit: int = Query(100, ge=1, le=1000),
                      offset: int = Query(0, ge=0)) -> QuarantineList:
    return service.list_quarantine(ctx, source=name, limit=limit, offset=offset)


@router.get("/runs", response_model=RunList)
def all_runs(ctx: Ctx, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)) -> RunList:
    return service.list_runs(ctx, limit=limit, offset=offset)


@router.get("/runs/{run_id}", response_model=RunPublic)
def get_run(ctx: Ctx, run_id: str) -> RunPublic:
    return service.get_run(ctx, run_id=run_id)


@router.get("/runs/{run_id}/quarantine", response_model=QuarantineList)
def run_quarantine(ctx: Ctx, run_id: str, limit: int = Query(100, ge=1, le=1000),
                   offset: int = Query(0, ge=0)) -> QuarantineList:
    return service.list_quarantine(ctx, run_id=run_id, limit=limit, offset=offset)


@router.get("/runs/{run_id}/raw", response_model=list[RawPayloadPublic])
def run_raw(ctx: Ctx, run_id: str) -> list[RawPayloadPublic]:
    return service.list_raw(ctx, run_id=run_id)


@router.get("/connectors", response_model=list[ConnectorInfo])
def connectors(ctx: Ctx) -> list[ConnectorInfo]:
    return service.list_connectors(ctx)


def install(app: FastAPI) -> None:
    """Start-up: mark runs killed mid-way as interrupted, then start the schedules (unless disabled)."""

    def startup(app: FastAPI) -> None:
        from cityhub.collect import schedules

        with app.state.session_factory() as db:
            marked = service.recover(db)
            db.commit()
        if marked:
            log.warning("runs interrupted by a restart", extra={"runs": marked})
        if app.state.settings.collect_scheduler:
            app.state.collect_scheduler = schedules.start(app.state.session_factory, app.state.settings,
                                                          app.state.bus, resume=marked)

    def shutdown(app: FastAPI) -> None:
        from cityhub.collect import owner

        scheduler = getattr(app.state, "collect_scheduler", None)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        owner.stop_for(app.state.engine)  # gives this worker's runs up to the others at once

    app.state.startup_hooks.append(startup)
    app.state.shutdown_hooks.append(shutdown)
    from cityhub.collect.pages import router as pages_router

    app.include_router(pages_router)
