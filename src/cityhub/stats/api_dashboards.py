"""`/api/v1/stats/dashboards`: dashboards, every card's data for you, a card as CSV, embed data."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from cityhub.http import Ctx, ORJSONResponse
from cityhub.stats import service_dashboards as service
from cityhub.stats.schemas_charts import (
    CardData,
    DashboardCreate,
    DashboardList,
    DashboardPublic,
    DashboardUpdate,
    ViewFilters,
)

router = APIRouter(prefix="/api/v1/stats/dashboards", tags=["statistics"])


def install(app: FastAPI) -> None:
    """Keep the derived analysis datasets (incident register, hourly sensor history) current while serving."""

    def start(app: FastAPI) -> None:
        from cityhub.stats.derived import Refresher

        seconds = app.state.settings.stats_derived_refresh_seconds
        if seconds <= 0:
            return
        refresher = Refresher(app.state.session_factory, app.state.settings, app.state.bus, interval=seconds)
        app.state.stats_refresher = refresher
        app.state.stats_unsubscribe = app.state.bus.subscribe("incident.*", refresher.notify)
        refresher.start()

    def stop(app: FastAPI) -> None:
        if getattr(app.state, "stats_refresher", None) is not None:
            app.state.stats_unsubscribe()
            app.state.stats_refresher.stop()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)


def _view(date_from: date | None, date_to: date | None, district: str | None) -> ViewFilters:
    return ViewFilters(date_from=date_from, date_to=date_to, district=district or None)


@router.get("", response_model=DashboardList)
def list_dashboards(ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    offset: Annotated[int, Query(ge=0)] = 0) -> ORJSONResponse:
    """Public dashboards, shared ones and your own."""
    return ORJSONResponse(service.list_dashboards(ctx, limit=limit, offset=offset))


@router.post("", response_model=DashboardPublic, status_code=201)
def create_dashboard(body: DashboardCreate, ctx: Ctx) -> ORJSONResponse:
    """Make a dashboard; visibility `link` shares it with anyone holding the link."""
    return ORJSONResponse(service.create_dashboard(ctx, data=body), status_code=201)


@router.get("/{slug}", response_model=DashboardPublic)
def get_dashboard(slug: str, ctx: Ctx) -> ORJSONResponse:
    return ORJSONResponse(service.get_dashboard(ctx, slug=slug))


@router.patch("/{slug}", response_model=DashboardPublic)
def update_dashboard(slug: str, body: DashboardUpdate, ctx: Ctx) -> ORJSONResponse:
    return ORJSONResponse(service.update_dashboard(ctx, slug=slug, data=body))


@router.delete("/{slug}", status_code=204)
def delete_dashboard(slug: str, ctx: Ctx) -> Response:
    service.delete_dashboard(ctx, slug=slug)
    return Response(status_code=204)


@router.get("/{slug}/data", response_model=list[CardData])
def dashboard_data(slug: str, ctx: Ctx, date_from: date | None = None, date_to: date | None = None,
                   district: str | None = None) -> ORJSONResponse:
    """Every card's data for you, with the dashboard's filters; cards you may not see say `no_access`."""
    return ORJSONResponse(service.dashboard_data(ctx, slug=slug, view=_view(date_from, date_to, district)))


@router.get("/{slug}/cards/{card_id}.csv")
def card_csv(slug: str, card_id: str, ctx: Ctx, date_from: date | None = None, date_to: date | None = None,
             district: str | None = None) -> Response:
    """One chart card's data as CSV."""
    data = service.one_card(ctx, slug=slug, card_id=card_id, view=_view(date_from, date_to, district))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(data.columns)
    writer.writerows(data.rows)
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{slug}-{card_id}.csv"'})


@router.get("/{slug}/embed", response_model=list[CardData])
def embed(slug: str, ctx: Ctx, date_from: date | None = None, date_to: date | None = None,
          district: str | None = None) -> ORJSONResponse:
    """Cards of an embeddable dashboard (public data only; anything internal is a 403 naming it)."""
    _, cards = service.embed_data(ctx, slug=slug, view=_view(date_from, date_to, district))
    return ORJSONResponse(cards)
