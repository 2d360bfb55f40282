"""The workbench: run SQL in the sandbox with paging and `:name` parameters, keep a history, save and
share queries, and list the tables and columns the caller may use (for completion).

Every query runs through the datastore's SQL sandbox (`run_sql`), so a table the caller may not read
does not exist for them, here as everywhere.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import sqlglot
from sqlalchemy import func, or_, select
from sqlglot import exp
from sqlglot.errors import SqlglotError

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.datastore.sql import run_sql
from cityhub.db import utcnow
from cityhub.errors import CityhubError, Invalid, NotFound
from cityhub.stats import sqlgen
from cityhub.stats.models import QueryRun, SavedQuery
from cityhub.stats.schemas import (
    HistoryItem,
    QueryCreate,
    QueryList,
    QueryParameter,
    QueryPublic,
    QueryUpdate,
    RunRequest,
    RunResult,
    TableInfo,
)

policy.declare("query.read", "query.manage", "stats.create")
HISTORY_KEPT = 200


def _dialect(ctx: RequestContext) -> str:
    return "sqlite" if ctx.settings.is_sqlite else "postgres"


def to_public(ctx: RequestContext, q: SavedQuery) -> QueryPublic:
    return QueryPublic(id=q.id, title=q.title, description=q.description, sql=q.sql,
                       parameters=[QueryParameter.model_validate(p) for p in q.parameters or []],
                       visibility=q.visibility, owner_user_id=q.owner_user_id,
                       mine=ctx.actor.is_authenticated and q.owner_user_id == ctx.actor.user_id,
                       created_at=q.created_at, modified_at=q.modified_at)


def find(ctx: RequestContext, query_id: str, action: str = "query.read") -> SavedQuery:
    q = ctx.db.get(SavedQuery, query_id)
    if q is None or not policy.can(ctx, "query.read", q):
        raise NotFound(f"query {query_id!r} not found")
    policy.require(ctx, action, q)
    return q


def load(ctx: RequestContext, query_id: str) -> SavedQuery:
    """A saved query reached through something the caller may open (a shared dashboard's card)."""
    q = ctx.db.get(SavedQuery, query_id)
    if q is None:
        raise NotFound(f"query {query_id!r} not found")
    return q


# --- parameters ------------------------------------------------------------------------------------


def bind(ctx: RequestContext, sql: str, declared: list[QueryParameter], given: dict[str, Any]) -> str:
    """Replace `:name` placeholders by typed literals (values never become SQL text of their own)."""
    dialect = _dialect(ctx)
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return sql  # the sandbox reports the syntax error with its line and column
    placeholders = list(tree.find_all(exp.Placeholder))
    if not placeholders:
        return sql
    types = {p.name: p for p in declared}
    for node in placeholders:
        name = node.name
        param = types.get(name)
        value = given.get(name, param.default if param else None)
        if value is None or value == "":
            raise Invalid.field(f"params.{name}", f"give a value for :{name}")
        node.replace(sqlgen.literal(_typed(name, param.type if param else "text", value)))
    return tree.sql(dialect=dialect)


def _typed(name: str, kind: str, value: Any) -> Any:
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "date":
            return date.fromisoformat(str(value)).isoformat()
    except (TypeError, ValueError):
        raise Invalid.field(f"params.{name}", f"{value!r} is not a {kind}") from None
    return str(value)


def page_sql(sql: str, limit: int, offset: int) -> str:
    body = sql.strip().rstrip(";").strip()
    return f"SELECT * FROM (\n{body}\n) AS _page LIMIT {int(limit) + 1} OFFSET {int(offset)}"


# --- running ---------------------------------------------------------------------------------------


def run_query(ctx: RequestContext, *, data: RunRequest) -> RunResult:
    """Run SQL (or a saved query) with parameters, one page at a time; every run lands in the history."""
    params_decl: list[QueryParameter] = []
    sql = data.sql
    if data.query_id:
        saved = find(ctx, data.query_id)
        sql = saved.sql
        params_decl = [QueryParameter.model_validate(p) for p in saved.parameters or []]
    if not sql or not sql.strip():
        raise Invalid.field("sql", "sql is empty")
    started = time.perf_counter()
    try:
        bound = bind(ctx, sql, params_decl, data.params)
        result = run_sql(ctx, sql=page_sql(bound, data.limit, data.offset), limit=data.limit + 1)
    except CityhubError as exc:
        _remember(ctx, sql, data, _since(started), 0, exc.message)
        raise _unwrapped(exc, sql) from None
    records = result.records[: data.limit]
    millis = _since(started)
    _remember(ctx, sql, data, millis, len(records), None)
    return RunResult(fields=result.fields, records=records, offset=data.offset, limit=data.limit,
                     has_more=len(result.records) > data.limit, millis=millis)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _unwrapped(exc: CityhubError, sql: str) -> CityhubError:
    """Line numbers of errors are the caller's own (the paging wrapper adds one line above)."""
    import re

    def shift(text: str) -> str:
        return re.sub(r"\(line (\d+),", lambda m: f"(line {max(1, int(m.group(1)) - 1)},", text)

    if isinstance(exc, Invalid):
        return Invalid(shift(exc.message), details={k: [shift(str(m)) for m in v] for k, v in exc.details.items()})
    return exc


def _remember(ctx: RequestContext, sql: str, data: RunRequest, millis: float, rows: int,
              error: str | None) -> None:
    """History in its own short transaction, so a failed query (whose request rolls back) is kept too."""
    if not ctx.actor.is_authenticated:
        return
    from sqlalchemy.orm import Session

    with Session(bind=ctx.db.get_bind()) as db:
        db.add(QueryRun(user_id=ctx.actor.user_id, query_id=data.query_id, sql=sql[:20000], params=data.params,
                        rows=rows, millis=millis, error=error and error[:4000]))
        db.commit()


def history(ctx: RequestContext, *, limit: int = 50) -> list[HistoryItem]:
    """The caller's latest queries, newest first."""
    if not ctx.actor.is_authenticated:
        return []
    rows = ctx.db.scalars(select(QueryRun).where(QueryRun.user_id == ctx.actor.user_id)
                          .order_by(QueryRun.ran_at.desc(), QueryRun.id.desc()).limit(min(limit, HISTORY_KEPT)))
    return [HistoryItem.model_validate(r, from_attributes=True) for r in rows]


# --- saved queries ---------------------------------------------------------------------------------


def create_query(ctx: RequestContext, *, data: QueryCreate) -> QueryPublic:
    """Save a query (checked by the sandbox first, so a saved query always parses)."""
    policy.require(ctx, "stats.create")
    _check(ctx, data.sql, data.parameters)
    q = SavedQuery(title=data.title, description=data.description, sql=data.sql,
                   parameters=[p.model_dump() for p in data.parameters], visibility=data.visibility,
                   owner_user_id=ctx.actor.user_id)
    ctx.db.add(q)
    ctx.db.flush()
    return to_public(ctx, q)


def _check(ctx: RequestContext, sql: str, parameters: list[QueryParameter]) -> None:
    defaults = {p.name: p.default if p.default is not None else _sample(p.type) for p in parameters}
    bound = bind(ctx, sql, parameters, defaults)
    run_sql(ctx, sql=page_sql(bound, 0, 0), limit=0)


def _sample(kind: str) -> Any:
    return {"integer": 0, "number": 0, "date": "2000-01-01"}.get(kind, "")


def get_query(ctx: RequestContext, *, query_id: str) -> QueryPublic:
    """A saved query you own or that is shared with you."""
    return to_public(ctx, find(ctx, query_id))


def update_query(ctx: RequestContext, *, query_id: str, data: QueryUpdate) -> QueryPublic:
    """Change a saved query (its owner)."""
    q = find(ctx, query_id, "query.manage")
    values = data.model_dump(exclude_unset=True)
    if "sql" in values or "parameters" in values:
        params = data.parameters if data.parameters is not None else \
            [QueryParameter.model_validate(p) for p in q.parameters or []]
        _check(ctx, data.sql or q.sql, params)
        if data.parameters is not None:
            values["parameters"] = [p.model_dump() for p in data.parameters]
    for key, value in values.items():
        setattr(q, key, value)
    q.modified_at = utcnow()
    ctx.db.flush()
    return to_public(ctx, q)


def delete_query(ctx: RequestContext, *, query_id: str) -> None:
    """Remove a saved query (its owner)."""
    ctx.db.delete(find(ctx, query_id, "query.manage"))
    ctx.db.flush()


def list_queries(ctx: RequestContext, *, limit: int = 100, offset: int = 0) -> QueryList:
    """Your queries and those shared with you or the public."""
    visible = [SavedQuery.visibility == "public"]
    if ctx.actor.is_authenticated:
        visible += [SavedQuery.visibility == "shared", SavedQuery.owner_user_id == ctx.actor.user_id]
    cond = or_(*visible)
    total = ctx.db.scalar(select(func.count()).select_from(SavedQuery).where(cond)) or 0
    rows = ctx.db.scalars(select(SavedQuery).where(cond).order_by(SavedQuery.modified_at.desc())
                          .limit(limit).offset(offset))
    return QueryList(items=[to_public(ctx, q) for q in rows], total=total)


# --- completion ------------------------------------------------------------------------------------


def tables(ctx: RequestContext) -> list[TableInfo]:
    """Tables (resource ids) and columns the caller may query: the workbench's completion list."""
    from cityhub.catalog import service as catalog
    from cityhub.datastore import service as datastore

    policy.require(ctx, "sql.run")
    out = []
    for ref in catalog.readable_resources(ctx):
        try:
            fields = datastore.info(ctx, resource_id=ref.id).fields
            columns = [{"id": f["id"] if isinstance(f, dict) else f.id,
                        "type": f["type"] if isinstance(f, dict) else f.type} for f in fields]
        except (NotFound, CityhubError):
            columns = columns_of(ctx, ref.id)
        out.append(TableInfo(name=ref.id, dataset=ref.dataset_name, title=ref.dataset.title, resource=ref.name,
                             columns=[c for c in columns if c["id"] != "_id"]))
    return out


def columns_of(ctx: RequestContext, table: str) -> list[dict[str, str]]:
    """Columns of one table as the sandbox sees them (a table the caller may not read is a 422 naming it)."""
    result = run_sql(ctx, sql=f"SELECT * FROM {sqlgen.quote(table)} LIMIT 0", limit=0)
    return [{"id": f["id"], "type": f["type"]} for f in result.fields]

