"""HTTP door for dataset versions: list, view, download a version's rows, roll back."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from cityhub.governance import versions
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


def install(app: FastAPI) -> None:
    """Record a version after every committed change to a dataset (metadata, resources, rows, runs)."""
    def on_change(topic: str, payload: dict) -> None:
        from cityhub.cli import SYSTEM
        from cityhub.ctx import RequestContext

        factory = getattr(app.state, "session_factory", None)
        if factory is None or not payload.get("id"):
            return
        db = factory()
        try:
            ctx = RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)
            versions.record_version(ctx, dataset_id=payload["id"])
            db.commit()
        except Exception:
            db.rollback()
            log.exception("could not record a dataset version", extra={"dataset": payload.get("id")})
        finally:
            db.close()

    unsubscribes = [app.state.bus.subscribe(t, on_change) for t in ("dataset.created", "dataset.updated")]
    app.state.shutdown_hooks.append(lambda _app: [u() for u in unsubscribes])
