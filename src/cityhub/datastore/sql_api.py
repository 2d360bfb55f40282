"""HTTP door to the SQL sandbox: `POST /api/v1/sql` (JSON) and `GET /api/v1/sql?sql=…`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, Field

from cityhub.datastore.sql import SqlResult, run_sql
from cityhub.http import Ctx, ORJSONResponse

router = APIRouter(prefix="/api/v1/sql", tags=["datastore"])


def install(app: FastAPI) -> None:
    """Close the SQL sandbox's idle SQLite readers when the app stops."""

    def close_readers(app: FastAPI) -> None:
        if app.state.settings.is_sqlite:
            from cityhub.datastore import sql_sqlite

            sql_sqlite.close_pool(app.state.settings.database_url)

    app.state.shutdown_hooks.append(close_readers)


class SqlRequest(BaseModel):
    sql: str = Field(description='One SELECT over datastore tables, named by resource id: SELECT * FROM "<id>"')
    limit: int | None = Field(default=None, ge=0, description="At most this many rows (capped by the server)")


# Plain `def` endpoints: FastAPI runs them in its thread pool, so a query at its time limit never
# holds up the event loop and the server keeps answering.
@router.post("", response_model=SqlResult)
def post_sql(body: SqlRequest, ctx: Ctx) -> ORJSONResponse:
    """Run one read-only SELECT; records beyond the row cap are cut and `records_truncated` is true."""
    return ORJSONResponse(run_sql(ctx, sql=body.sql, limit=body.limit).model_dump())


@router.get("", response_model=SqlResult)
def get_sql(
    ctx: Ctx,
    sql: Annotated[str, Query(description="One SELECT over datastore tables")],
    limit: Annotated[int | None, Query(ge=0)] = None,
) -> ORJSONResponse:
    """The same as POST, for links and quick checks."""
    return ORJSONResponse(run_sql(ctx, sql=sql, limit=limit).model_dump())
