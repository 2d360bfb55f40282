"""`/api/v1/stats/charts`: chart data from a spec, saved charts, their data as JSON or CSV."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import Response

from cityhub.http import Ctx, ORJSONResponse
from cityhub.stats import service_charts as service
from cityhub.stats.schemas_charts import (
    ChartCreate,
    ChartData,
    ChartList,
    ChartPublic,
    ChartSpec,
    ChartUpdate,
    ViewFilters,
)

log = logging.getLogger("cityhub.stats")
router = APIRouter(prefix="/api/v1/stats/charts", tags=["statistics"])


def install(app: FastAPI) -> None:
    """Rollups are built after the chart that needs them is committed, and rebuilt when their table's
    dataset changes; both on background threads with sessions of their own."""

    def subscribe(app: FastAPI) -> None:
        from cityhub.stats import rollups

        bus, factory = app.state.bus, app.state.session_factory

        def on_pending(topic: str, payload: dict) -> None:
            rollups.build_in_background(factory, payload["cube"], payload["table"])

        def on_dataset(topic: str, payload: dict) -> None:
            for cube_id, table in _cubes_of_dataset(app, payload.get("id", "")):
                rollups.build_in_background(factory, cube_id, table)

        offs = [bus.subscribe("stats.rollup.pending", on_pending), bus.subscribe("dataset.updated", on_dataset)]
        app.state.shutdown_hooks.append(lambda _app: [off() for off in offs])

    app.state.startup_hooks.append(subscribe)


def _cubes_of_dataset(app: FastAPI, dataset_id: str) -> list[tuple[str, str]]:
    """The rollups of a changed dataset's tables, marked pending at once so none answers from old rows
    while it is rebuilt."""
    from sqlalchemy import select

    from cityhub.catalog import service as catalog
    from cityhub.ctx import RequestContext
    from cityhub.errors import NotFound
    from cityhub.stats.models import Cube
    from cityhub.stats.service_indicators import STATS_ACTOR

    db = app.state.session_factory()
    try:
        ctx = RequestContext(actor=STATS_ACTOR, db=db, settings=app.state.settings, bus=app.state.bus)
        out = []
        for cube in db.scalars(select(Cube)).all():
            try:
                ref = catalog.authorize_resource(ctx, resource_id=cube.resource_id)
            except NotFound:
                continue
            if ref.dataset_id == dataset_id:
                cube.status = "pending"
                out.append((cube.id, ref.datastore_table or ref.id))
        db.commit()
        return out
    finally:
        db.close()


def _view(date_from: date | None, date_to: date | None, district: str | None) -> ViewFilters:
    return ViewFilters(date_from=date_from, date_to=date_to, district=district)


def _respond(data: ChartData, fmt: str, name: str) -> Response:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(data.columns)
        writer.writerows(data.rows)
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return ORJSONResponse(data)


@router.post("/data", response_model=ChartData)
def preview(spec: ChartSpec, ctx: Ctx, date_from: date | None = None, date_to: date | None = None,
            district: str | None = None, format: Literal["json", "csv"] = "json") -> Response:  # noqa: A002
    """The data of a chart spec (not saved), run as you: the chart builder's preview."""
    return _respond(service.chart_data(ctx, spec=spec, view=_view(date_from, date_to, district)), format, "chart")


@router.get("", response_model=ChartList)
def list_charts(ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> ORJSONResponse:
    """Your charts and those shared with you."""
    return ORJSONResponse(service.list_charts(ctx, limit=limit, offset=offset))


@router.post("", response_model=ChartPublic, status_code=201)
def create_chart(body: ChartCreate, ctx: Ctx) -> ORJSONResponse:
    """Save a chart."""
    return ORJSONResponse(service.create_chart(ctx, data=body), status_code=201)


@router.get("/{chart_id}", response_model=ChartPublic)
def get_chart(chart_id: str, ctx: Ctx) -> ORJSONResponse:
    return ORJSONResponse(service.get_chart(ctx, chart_id=chart_id))


@router.patch("/{chart_id}", response_model=ChartPublic)
def update_chart(chart_id: str, body: ChartUpdate, ctx: Ctx) -> ORJSONResponse:
    return ORJSONResponse(service.update_chart(ctx, chart_id=chart_id, data=body))


@router.delete("/{chart_id}", status_code=204)
def delete_chart(chart_id: str, ctx: Ctx) -> Response:
    service.delete_chart(ctx, chart_id=chart_id)
    return Response(status_code=204)


@router.get("/{chart_id}/data", response_model=ChartData)
def chart_data(chart_id: str, ctx: Ctx, date_from: date | None = None, date_to: date | None = None,
               district: str | None = None, format: Literal["json", "csv"] = "json") -> Response:  # noqa: A002
    """A saved chart's data for you, as JSON or CSV (your access applies to its tables)."""
    data = service.saved_chart_data(ctx, chart_id=chart_id, view=_view(date_from, date_to, district))
    return _respond(data, format, chart_id)
