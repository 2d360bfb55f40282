"""HTTP door for quality: scores, history, per-run scores, report, badge, ranking of organizations."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from fastapi.responses import PlainTextResponse, Response

from cityhub.governance import quality_reports as reports
from cityhub.http import Ctx

router = APIRouter(prefix="/api/v1/governance", tags=["governance"])
log = logging.getLogger("cityhub.governance")


@router.get("/datasets/{dataset}/quality", response_model=reports.QualityPublic)
def dataset_quality(dataset: str, ctx: Ctx) -> reports.QualityPublic:
    """The dataset's current 0–100 score and its six dimensions."""
    return reports.current(ctx, dataset=dataset)


@router.get("/datasets/{dataset}/quality/history", response_model=list[reports.QualityPublic])
def quality_history(dataset: str, ctx: Ctx) -> list[reports.QualityPublic]:
    """Scores over time, newest first."""
    return reports.history(ctx, dataset=dataset)


@router.get("/datasets/{dataset}/quality/runs", response_model=list[reports.QualityPublic])
def quality_per_run(dataset: str, ctx: Ctx) -> list[reports.QualityPublic]:
    """The score after each collection run."""
    return reports.per_run(ctx, dataset=dataset)


@router.get("/datasets/{dataset}/quality/report.csv")
def quality_report(dataset: str, ctx: Ctx) -> PlainTextResponse:
    """A downloadable quality report (CSV)."""
    body = reports.report_csv(ctx, dataset=dataset)
    return PlainTextResponse("\ufeff" + body, media_type="text/csv; charset=utf-8",
                             headers={"content-disposition": f'attachment; filename="quality-{dataset}.csv"'})


@router.get("/datasets/{dataset}/quality/badge.svg")
def quality_badge(dataset: str, ctx: Ctx) -> Response:
    """The quality badge shown on dataset pages and in search results."""
    return Response(reports.badge_svg(reports.current(ctx, dataset=dataset)), media_type="image/svg+xml",
                    headers={"cache-control": "no-cache"})


@router.get("/quality/organizations", response_model=list[reports.OrganizationQuality])
def organization_ranking(ctx: Ctx) -> list[reports.OrganizationQuality]:
    """Organizations ranked by the mean score of their (visible) datasets."""
    return reports.ranking(ctx)


def install(app: FastAPI) -> None:
    """Rescore a dataset when its metadata changes (timeliness and DCAT-AP completeness move with it)."""
    def on_dataset_change(topic: str, payload: dict) -> None:
        from cityhub.cli import SYSTEM
        from cityhub.ctx import RequestContext
        from cityhub.governance import quality

        factory = getattr(app.state, "session_factory", None)
        if factory is None or not payload.get("id"):
            return
        db = factory()
        try:
            ctx = RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)
            quality.refresh(ctx, dataset_id=payload["id"], trigger="metadata")
            db.commit()
        except Exception:
            db.rollback()
            log.exception("could not rescore a dataset", extra={"dataset": payload.get("id")})
        finally:
            db.close()

    unsubscribe = app.state.bus.subscribe("dataset.updated", on_dataset_change)
    app.state.shutdown_hooks.append(lambda _app: unsubscribe())
