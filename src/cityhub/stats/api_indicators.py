"""`/api/v1/stats/indicators`: the indicator catalog, series, district comparison, page data, downloads."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from cityhub.http import Ctx, ORJSONResponse
from cityhub.stats import service_figures as figures
from cityhub.stats import service_indicators as service
from cityhub.stats.schemas import (
    IndicatorComparison,
    IndicatorCreate,
    IndicatorList,
    IndicatorPage,
    IndicatorPublic,
    IndicatorSeries,
    RefreshResult,
)

log = logging.getLogger("cityhub.stats")
router = APIRouter(prefix="/api/v1/stats/indicators", tags=["statistics"])

Districts = Annotated[str | None, Query(description="comma-separated district codes or names; 'city' = whole city")]


def _split(value: str | None) -> list[str] | None:
    return [v for v in value.split(",")] if value else None


def install(app: FastAPI) -> None:
    """Indicators follow their datasets: a changed dataset (a KOSIS run that stored new rows, a new
    upload) re-reads the indicators fed by it, in a session of its own after the writer committed."""

    def subscribe(app: FastAPI) -> None:
        def on_dataset(topic: str, payload: dict) -> None:
            from cityhub.ctx import RequestContext

            db = app.state.session_factory()
            try:
                ctx = RequestContext(actor=service.STATS_ACTOR, db=db, settings=app.state.settings,
                                     bus=app.state.bus)
                service.refresh_for_dataset(ctx, dataset_id=payload.get("id", ""),
                                            access_level=payload.get("access_level"),
                                            owner_org_id=payload.get("owner_org_id"))
                db.commit()
            except Exception:
                db.rollback()
                log.exception("indicator refresh failed", extra={"dataset": payload.get("id")})
            finally:
                db.close()

        app.state.shutdown_hooks.append(lambda _app, off=app.state.bus.subscribe("dataset.updated", on_dataset):
                                        off())

    app.state.startup_hooks.append(subscribe)


@router.get("", response_model=IndicatorList)
def list_indicators(ctx: Ctx, topic: str | None = None, q: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                    offset: Annotated[int, Query(ge=0)] = 0) -> ORJSONResponse:
    """Indicators you may read, with unit, period, source and last update."""
    return ORJSONResponse(service.list_indicators(ctx, topic=topic, q=q, limit=limit, offset=offset))


@router.post("", response_model=IndicatorPublic, status_code=201)
def create_indicator(body: IndicatorCreate, ctx: Ctx) -> ORJSONResponse:
    """Define an indicator from a KOSIS source or a datastore table (stewards)."""
    return ORJSONResponse(service.create_indicator(ctx, data=body), status_code=201)


@router.get("/{slug}", response_model=IndicatorPublic)
def get_indicator(slug: str, ctx: Ctx) -> ORJSONResponse:
    """One indicator with its definition and the freshness of its source."""
    return ORJSONResponse(service.get_indicator(ctx, slug=slug))


@router.post("/{slug}/refresh", response_model=RefreshResult)
def refresh(slug: str, ctx: Ctx) -> ORJSONResponse:
    """Re-read the figures from the source now (stewards)."""
    service.find(ctx, slug)
    return ORJSONResponse(service.refresh_indicator(ctx, slug=slug))


@router.get("/{slug}/page", response_model=IndicatorPage)
def page_data(slug: str, ctx: Ctx, district: Districts = None) -> ORJSONResponse:
    """Everything the indicator page shows in one answer."""
    return ORJSONResponse(figures.page(ctx, slug=slug, districts=_split(district)))


@router.get("/{slug}/series", response_model=IndicatorSeries)
def get_series(slug: str, ctx: Ctx, district: Districts = None, start: str | None = None, end: str | None = None,
               format: Literal["json", "csv"] = "json") -> Response:  # noqa: A002 - the public parameter name
    """Time series (whole city by default); `format=csv` downloads it."""
    data = figures.series(ctx, slug=slug, districts=_split(district), start=start, end=end)
    if format == "csv":
        return Response("\ufeff" + figures.to_csv(data), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{slug}.csv"'})
    return ORJSONResponse(data)


@router.get("/{slug}/districts", response_model=IndicatorComparison)
def get_comparison(slug: str, ctx: Ctx, period: str | None = None) -> ORJSONResponse:
    """Every district in one period (latest by default) with year-on-year change."""
    return ORJSONResponse(figures.comparison(ctx, slug=slug, period=period))
