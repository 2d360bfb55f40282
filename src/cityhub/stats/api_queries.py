"""`/api/v1/stats/workbench` and `/api/v1/stats/queries`: run SQL with paging and parameters, history,
saved and shared queries, and the completion list of tables and columns you may use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from cityhub.http import Ctx, ORJSONResponse
from cityhub.stats import service_queries as service
from cityhub.stats.schemas import (
    HistoryItem,
    QueryCreate,
    QueryList,
    QueryPublic,
    QueryUpdate,
    RunRequest,
    RunResult,
    TableInfo,
)

router = APIRouter(prefix="/api/v1/stats", tags=["statistics"])


@router.post("/workbench/run", response_model=RunResult)
def run(body: RunRequest, ctx: Ctx) -> ORJSONResponse:
    """Run SQL (or a saved query) in the sandbox, one page of rows at a time."""
    return ORJSONResponse(service.run_query(ctx, data=body))


@router.get("/workbench/tables", response_model=list[TableInfo])
def tables(ctx: Ctx) -> ORJSONResponse:
    """Tables and columns you may query (for completion)."""
    return ORJSONResponse(service.tables(ctx))


@router.get("/workbench/history", response_model=list[HistoryItem])
def history(ctx: Ctx, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ORJSONResponse:
    """Your latest queries, newest first."""
    return ORJSONResponse(service.history(ctx, limit=limit))


@router.get("/queries", response_model=QueryList)
def list_queries(ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0) -> ORJSONResponse:
    """Your saved queries and those shared with you."""
    return ORJSONResponse(service.list_queries(ctx, limit=limit, offset=offset))


@router.post("/queries", response_model=QueryPublic, status_code=201)
def create_query(body: QueryCreate, ctx: Ctx) -> ORJSONResponse:
    """Save a query with `:name` parameters; private, shared with signed-in users, or public."""
    return ORJSONResponse(service.create_query(ctx, data=body), status_code=201)


@router.get("/queries/{query_id}", response_model=QueryPublic)
def get_query(query_id: str, ctx: Ctx) -> ORJSONResponse:
    return ORJSONResponse(service.get_query(ctx, query_id=query_id))


@router.patch("/queries/{query_id}", response_model=QueryPublic)
def update_query(query_id: str, body: QueryUpdate, ctx: Ctx) -> ORJSONResponse:
    return ORJSONResponse(service.update_query(ctx, query_id=query_id, data=body))


@router.delete("/queries/{query_id}", status_code=204)
def delete_query(query_id: str, ctx: Ctx) -> Response:
    service.delete_query(ctx, query_id=query_id)
    return Response(status_code=204)
