"""HTTP door of the datastore: query a resource's rows, describe its fields, download them."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from cityhub.datastore import service
from cityhub.errors import Invalid
from cityhub.http import Ctx, ORJSONResponse

router = APIRouter(prefix="/api/v1/datastore", tags=["datastore"])

# Query parameters with a meaning of their own; any other parameter is an equality filter.
RESERVED = {"filters", "q", "sort", "fields", "distinct", "limit", "offset", "include_total"}


def _filters(request: Request, filters: str | None) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    if filters:
        try:
            parsed = orjson.loads(filters)
        except orjson.JSONDecodeError as exc:
            raise Invalid.field("filters", f"not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise Invalid.field("filters", 'must be a JSON object such as {"district": "중구"}')
    for key in request.query_params:
        if key not in RESERVED:
            values = request.query_params.getlist(key)
            parsed[key] = values if len(values) > 1 else values[0]
    return parsed


def _q(q: str | None) -> str | dict[str, str] | None:
    if q and q.lstrip().startswith("{"):
        try:
            value = orjson.loads(q)
        except orjson.JSONDecodeError:
            return q
        return value if isinstance(value, dict) else q
    return q


@router.get("/{resource_id}")
def search_rows(
    resource_id: str,
    request: Request,
    ctx: Ctx,
    filters: str | None = Query(None, description='JSON object: {"col": v, "col2": [a, b], "col3": {"gte": 1}}'),
    q: str | None = Query(None, description="full-text search over text columns (or a JSON {col: text})"),
    sort: str | None = Query(None, description='"col1, col2 desc"'),
    fields: str | None = Query(None, description="comma-separated columns"),
    distinct: bool = False,
    limit: int = 100,
    offset: int = 0,
    include_total: bool = True,
) -> ORJSONResponse:
    """Rows of a resource's table; any other query parameter `col=value` is an equality filter."""
    result = service.search(ctx, resource_id=resource_id, filters=_filters(request, filters), q=_q(q), sort=sort,
                            fields=fields, distinct=distinct, limit=limit, offset=offset,
                            include_total=include_total)
    body = {
        "resource_id": result.resource_id,
        "fields": result.fields,
        "records": result.records,
        "total": result.total,
        "total_was_estimated": result.total_was_estimated,
        "limit": result.limit,
        "offset": result.offset,
        "_links": {"start": str(request.url.remove_query_params("offset")),
                   "next": str(request.url.include_query_params(offset=offset + limit))},
    }
    return ORJSONResponse(body)


@router.get("/{resource_id}/fields")
def describe(resource_id: str, ctx: Ctx) -> ORJSONResponse:
    """Columns with their types, row count, indexes and import warnings."""
    return ORJSONResponse(service.info(ctx, resource_id=resource_id))


@router.get("/{resource_id}/download.{fmt}")
def download(
    resource_id: str,
    fmt: str,
    request: Request,
    ctx: Ctx,
    filters: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    fields: str | None = None,
) -> StreamingResponse:
    """The rows as csv, csv-bom (Excel), json, geojson or parquet, streamed."""
    out = service.stream_download(ctx, resource_id=resource_id, fmt=fmt, filters=_filters(request, filters),
                                  q=_q(q), sort=sort, fields=fields)
    return StreamingResponse(out.chunks, media_type=out.media_type,
                             headers={"Content-Disposition": f'attachment; filename="{out.filename}"'})


def install(app) -> None:  # noqa: ANN001
    """At start-up, set the rows gauge from what the datastore already holds (it lives in the database), and
    drop the half-loaded tables of a process killed mid-import."""

    def count_rows(app) -> None:  # noqa: ANN001
        import sqlalchemy as sa

        from cityhub import metrics
        from cityhub.datastore.models import DatastoreTable

        with app.state.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(DatastoreTable.row_count), 0))).scalar_one()
        metrics.DATASTORE_ROWS.set(total)

    def sweep_loading(app) -> None:  # noqa: ANN001
        from cityhub.datastore import store_sqlite

        if app.state.engine.dialect.name != "sqlite":
            return
        with app.state.engine.connect() as conn:
            store_sqlite.sweep_loading_tables(conn, app.state.settings.orphan_upload_min_age_seconds)

    app.state.startup_hooks.append(count_rows)
    app.state.startup_hooks.append(sweep_loading)  # big loads a killed process left half-written
    _install_column_indexes(app)


def _install_column_indexes(app) -> None:  # noqa: ANN001
    """Per-column indexes built in the background after loads (column_indexes.py); a new resource's
    dataset event wakes the builder, which also polls for what a killed process left."""
    from cityhub.datastore.column_indexes import ColumnIndexer

    unsubscribes: list = []

    def start(app) -> None:  # noqa: ANN001
        indexer = app.state.datastore_column_indexer = ColumnIndexer(app.state.engine)
        unsubscribes.extend(app.state.bus.subscribe(t, indexer.notify) for t in ("dataset.created", "dataset.updated"))
        indexer.start()

    def stop(app) -> None:  # noqa: ANN001
        for unsubscribe in unsubscribes:
            unsubscribe()
        unsubscribes.clear()
        indexer = getattr(app.state, "datastore_column_indexer", None)
        if indexer is not None:
            indexer.stop()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
