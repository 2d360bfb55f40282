"""Charts: saved chart specs and their data.

A chart's data query is generated with sqlglot from its spec and runs in the SQL sandbox as the
viewer, so a table the viewer may not read gives the sandbox's own 422 naming it. Columns are checked
against the table first (a 422 naming the column and the table). Grouped charts over big tables are
answered from a rollup when one matches (see rollups.py); raw charts are capped, with a message.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlglot import exp

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.datastore.sql import run_sql
from cityhub.db import utcnow
from cityhub.errors import Invalid, NotFound
from cityhub.stats import rollups, sqlgen
from cityhub.stats import service_queries as queries
from cityhub.stats.models import Chart
from cityhub.stats.schemas_charts import (
    RAW_TYPES,
    ChartCreate,
    ChartData,
    ChartList,
    ChartPublic,
    ChartSpec,
    ChartUpdate,
    ViewFilters,
)

policy.declare("chart.read", "chart.manage")
TIME_BUCKETS = ("hour", "day", "week", "month", "quarter", "year", "hour_of_day", "weekday")


def _dialect(ctx: RequestContext) -> str:
    return "sqlite" if ctx.settings.is_sqlite else "postgres"


# --- the source of a chart -----------------------------------------------------------------------


class Source:
    """Where a chart reads from: a datastore table or a saved query, with its columns."""

    def __init__(self, ctx: RequestContext, spec: ChartSpec, *, via_dashboard: bool = False) -> None:
        src = spec.source
        self.resource_id = src.resource_id
        if src.resource_id:
            self.label = src.resource_id
            self.table: exp.Expression = sqlgen.table(src.resource_id)
            self.columns = queries.columns_of(ctx, src.resource_id)
            self.cte: exp.Expression | None = None
        else:
            # On a shared dashboard the query comes with the card; its SQL still runs as the viewer.
            saved = queries.load(ctx, src.query_id or "") if via_dashboard else queries.find(ctx, src.query_id or "")
            params = [queries.QueryParameter.model_validate(p) for p in saved.parameters or []]
            bound = queries.bind(ctx, saved.sql, params, src.params)
            self.label = f"query {saved.title!r}"
            self.cte = sqlgen.sqlglot.parse_one(bound.strip().rstrip(";"), read=_dialect(ctx))
            self.table = sqlgen.table("q")
            probe = run_sql(ctx, sql=f"WITH q AS ({bound.strip().rstrip(';')}) SELECT * FROM q LIMIT 0", limit=0)
            self.columns = [{"id": f["id"], "type": f["type"]} for f in probe.fields]
        self.types = {c["id"]: c["type"] for c in self.columns}

    def need(self, column: str | None, field: str) -> None:
        if column is not None and column not in self.types:
            names = ", ".join(c for c in self.types if c != "_id")
            raise Invalid.field(field, f"no column {column!r} in {self.label} (columns: {names})")


def _check_columns(src: Source, spec: ChartSpec) -> None:
    if spec.x is not None:
        src.need(spec.x.column, "spec.x.column")
    for i, m in enumerate(spec.y):
        src.need(m.column, f"spec.y[{i}].column")
        if m.agg in ("sum", "avg", "min", "max") and not m.column:
            raise Invalid.field(f"spec.y[{i}].column", f"{m.agg} needs a column")
    for name in ("series", "size", "lat", "lon", "time_column", "district_column"):
        src.need(getattr(spec, name), f"spec.{name}")
    for i, f in enumerate(spec.filters):
        src.need(f.column, f"spec.filters[{i}].column")
    for i, c in enumerate(spec.columns or []):
        src.need(c, f"spec.columns[{i}]")
    if spec.type in ("scatter",) and (spec.x is None or not spec.y or not spec.y[0].column):
        raise Invalid.field("spec.y", "a scatter chart needs an x column and a y column")
    if spec.type == "points" and not (spec.lat and spec.lon):
        raise Invalid.field("spec.lat", "a point map needs lat and lon columns")
    if spec.type not in RAW_TYPES + ("kpi",) and spec.x is None:
        raise Invalid.field("spec.x", f"a {spec.type} chart needs an x column")


# --- building the query --------------------------------------------------------------------------


def _filters(spec: ChartSpec, view: ViewFilters | None) -> tuple[list[tuple[str, str, Any]], str | None, str | None]:
    conds = [(f.column, f.op, f.value) for f in spec.filters]
    date_from = date_to = None
    if view is not None:
        if view.district and spec.district_column:
            conds.append((spec.district_column, "in", _district_names(view.district)))
        if spec.time_column:
            date_from = view.date_from.isoformat() if view.date_from else None
            date_to = (view.date_to + timedelta(days=1)).isoformat() if view.date_to else None
    return conds, date_from, date_to


def _district_names(name: str) -> list[str]:
    """Every name a dataset may use for the district (Korean, English, code): datasets differ, one filter
    must reach them all."""
    from cityhub.context.districts import district_by_name

    found = district_by_name(name)
    return [found.name_ko, found.name_en, found.code] if found else [name]


def _where(conds: list[tuple[str, str, Any]], time_column: str | None, date_from: str | None,
           date_to: str | None) -> list[exp.Expression]:
    where = [rollups.compare(sqlgen.column(c), op, v) for c, op, v in conds]
    if time_column and date_from:
        where.append(sqlgen.column(time_column).__ge__(sqlgen.literal(date_from)))
    if time_column and date_to:
        where.append(sqlgen.column(time_column).__lt__(sqlgen.literal(date_to)))
    return where


def build_query(src: Source, spec: ChartSpec, view: ViewFilters | None, dialect: str) -> exp.Expression:
    """The SELECT a chart runs in the sandbox."""
    conds, date_from, date_to = _filters(spec, view)
    where = _where(conds, spec.time_column, date_from, date_to)
    if spec.type in RAW_TYPES:
        names = spec.columns or [n for n in [spec.x.column if spec.x else None, *[m.column for m in spec.y],
                                             spec.series, spec.size, spec.lat, spec.lon] if n]
        seen = list(dict.fromkeys(names)) or [c for c in src.types if c != "_id"]
        query = exp.select(*[sqlgen.column(n) for n in seen]).from_(src.table.copy())
        if spec.type == "points":
            where += [sqlgen.column(spec.lat).is_(exp.Null()).not_(), sqlgen.column(spec.lon).is_(exp.Null()).not_()]
    else:
        select_list: list[exp.Expression] = []
        groups = 0
        if spec.x is not None:
            x = sqlgen.column(spec.x.column) if not spec.x.bucket else \
                sqlgen.bucket(spec.x.column, spec.x.bucket, dialect)
            select_list.append(x.as_("x"))
            groups += 1
            if spec.x.bucket:
                where.append(sqlgen.column(spec.x.column).is_(exp.Null()).not_())
        if spec.series:
            select_list.append(sqlgen.column(spec.series).as_("series"))
            groups += 1
        select_list += [sqlgen.aggregate(m.agg or "count", m.column).as_(f"y{i}") for i, m in enumerate(spec.y)]
        query = exp.select(*select_list).from_(src.table.copy())
        if groups:
            query = query.group_by(*[exp.Literal.number(i + 1) for i in range(groups)])
            query = query.order_by(*order_of(spec, groups))
    if where:
        query = query.where(*where)
    query = query.limit(spec.limit + 1)
    if src.cte is not None:
        query = query.with_("q", as_=src.cte.copy())
    return query


def order_of(spec: ChartSpec, groups: int) -> list[exp.Expression]:
    """ORDER BY for grouped charts: by the groups (default), by x, or by the first measure."""
    if spec.sort in ("y", "-y"):
        return [exp.Ordered(this=exp.column("y0"), desc=spec.sort == "-y")]
    if spec.sort == "-x":
        return [exp.Ordered(this=exp.Literal.number(1), desc=True)]
    return [exp.Literal.number(i + 1) for i in range(groups)]


def _columns(spec: ChartSpec, src: Source) -> list[str]:
    if spec.type in RAW_TYPES:
        return []
    cols = (["x"] if spec.x is not None else []) + (["series"] if spec.series else [])
    return cols + [f"y{i}" for i in range(len(spec.y))]


# --- the data ------------------------------------------------------------------------------------


def chart_data(ctx: RequestContext, *, spec: ChartSpec, view: ViewFilters | None = None,
               via_dashboard: bool = False) -> ChartData:
    """Run a chart spec as the viewer: from a matching rollup when there is one, else in the sandbox."""
    started = time.perf_counter()
    dialect = _dialect(ctx)
    src = Source(ctx, spec, via_dashboard=via_dashboard)
    _check_columns(src, spec)
    answer = _from_rollup(ctx, src, spec, view, dialect)
    if answer is None:
        query = build_query(src, spec, view, dialect)
        text = sqlgen.render(query, dialect)
        result = run_sql(ctx, sql=text, limit=spec.limit + 1)
        names = [f["id"] for f in result.fields]
        rows = [[r[n] for n in names] for r in result.records]
        answer = (names, rows, "sql", text)
    names, rows, engine, text = answer
    capped = len(rows) > spec.limit
    message = None
    if capped:
        rows = rows[: spec.limit]
        message = (f"capped: the query returns more than {spec.limit:,} rows; the chart shows the first "
                   f"{spec.limit:,}. Aggregate, bucket by time or filter to see all of it.")
    return ChartData(type=spec.type, columns=names, rows=rows, capped=capped, message=message, engine=engine,
                     sql=text, millis=round((time.perf_counter() - started) * 1000, 1))


def validate_spec(ctx: RequestContext, *, spec: ChartSpec) -> None:
    """Check a spec's table (as the author, through the sandbox) and columns without running it: the
    grouped query over a big table is what its rollup is for."""
    _check_columns(Source(ctx, spec), spec)


def _from_rollup(ctx: RequestContext, src: Source, spec: ChartSpec, view: ViewFilters | None,
                 dialect: str) -> tuple[list[str], list[list[Any]], str, str] | None:
    if not src.resource_id or spec.type in RAW_TYPES:
        return None
    from cityhub.catalog import service as catalog

    ref = catalog.authorize_resource(ctx, resource_id=src.resource_id)  # the table's own door
    if ref.row_count is None or ref.row_count < rollups.CUBE_MIN_ROWS:
        return None
    conds, date_from, date_to = _filters(spec, view)
    for cube in rollups.usable(ctx.db, src.resource_id, ref.row_count):
        if (date_from or date_to) and cube.time_column != spec.time_column:
            continue
        query = rollups.plan(cube, x=spec.x, series=spec.series, measures=spec.y, filters=conds,
                             date_from=date_from, date_to=date_to, dialect=dialect, limit=spec.limit,
                             order=lambda groups: order_of(spec, groups))
        if query is None:
            continue
        text = sqlgen.render(query, dialect)
        result = ctx.db.connection().exec_driver_sql(text)
        names = list(result.keys())
        from cityhub.datastore.sql import _plain

        return names, [[_plain(v) for v in r] for r in result.fetchall()], "rollup", text
    return None


def plan_rollup(ctx: RequestContext, spec: ChartSpec) -> Any:
    """Make (or find) the rollup a saved chart over a big table needs; built in the background."""
    if not spec.source.resource_id or spec.type in RAW_TYPES:
        return None
    from cityhub.catalog import service as catalog

    ref = catalog.authorize_resource(ctx, resource_id=spec.source.resource_id)
    if not ref.row_count or ref.row_count < rollups.CUBE_MIN_ROWS:
        return None
    time_column = spec.time_column or (spec.x.column if spec.x and spec.x.bucket else None)
    dims = [d for d in dict.fromkeys([spec.x.column if spec.x and not spec.x.bucket else None, spec.series,
                                      spec.district_column, *[f.column for f in spec.filters]]) if d]
    dims = [d for d in dims if d != time_column][: rollups.MAX_DIMENSIONS]
    measures = sorted({m.column for m in spec.y if m.column})
    grain = "hour" if spec.x and spec.x.bucket in ("hour", "hour_of_day") else "day"
    cube = rollups.ensure_cube(ctx.db, resource_id=ref.id, time_column=time_column, grain=grain, dims=dims,
                               measures=measures)
    return cube, ref.datastore_table or ref.id


# --- saved charts --------------------------------------------------------------------------------


def to_public(c: Chart) -> ChartPublic:
    return ChartPublic(id=c.id, title=c.title, title_en=c.title_en, spec=ChartSpec.model_validate(c.spec),
                       visibility=c.visibility, owner_user_id=c.owner_user_id, created_at=c.created_at,
                       modified_at=c.modified_at)


def find(ctx: RequestContext, chart_id: str, action: str = "chart.read") -> Chart:
    c = ctx.db.get(Chart, chart_id)
    if c is None or not policy.can(ctx, "chart.read", c):
        raise NotFound(f"chart {chart_id!r} not found")
    policy.require(ctx, action, c)
    return c


def create_chart(ctx: RequestContext, *, data: ChartCreate) -> ChartPublic:
    """Save a chart (its spec is checked by running it once as its author)."""
    policy.require(ctx, "stats.create")
    validate_spec(ctx, spec=data.spec)
    c = Chart(title=data.title, title_en=data.title_en, spec=data.spec.model_dump(mode="json"),
              visibility=data.visibility, owner_user_id=ctx.actor.user_id)
    ctx.db.add(c)
    ctx.db.flush()
    _schedule_rollup(ctx, data.spec)
    return to_public(c)


def _schedule_rollup(ctx: RequestContext, spec: ChartSpec) -> None:
    """A chart over a big table gets its rollup; it is built once this transaction commits."""
    planned = plan_rollup(ctx, spec)
    if planned is None:
        return
    cube, table = planned
    if cube.status != "ready":
        ctx.publish("stats.rollup.pending", {"cube": cube.id, "table": table})


def update_chart(ctx: RequestContext, *, chart_id: str, data: ChartUpdate) -> ChartPublic:
    """Change a saved chart (its owner)."""
    c = find(ctx, chart_id, "chart.manage")
    values = data.model_dump(exclude_unset=True, mode="json")
    if data.spec is not None:
        validate_spec(ctx, spec=data.spec)
        _schedule_rollup(ctx, data.spec)
    for key, value in values.items():
        setattr(c, key, value)
    c.modified_at = utcnow()
    ctx.db.flush()
    return to_public(c)


def delete_chart(ctx: RequestContext, *, chart_id: str) -> None:
    """Remove a saved chart (its owner)."""
    ctx.db.delete(find(ctx, chart_id, "chart.manage"))
    ctx.db.flush()


def get_chart(ctx: RequestContext, *, chart_id: str) -> ChartPublic:
    """A saved chart you own or that is shared with you."""
    return to_public(find(ctx, chart_id))


def list_charts(ctx: RequestContext, *, limit: int = 100, offset: int = 0) -> ChartList:
    """Your charts and those shared with you or the public."""
    visible = [Chart.visibility == "public"]
    if ctx.actor.is_authenticated:
        visible += [Chart.visibility == "shared", Chart.owner_user_id == ctx.actor.user_id]
    cond = or_(*visible)
    total = ctx.db.scalar(select(func.count()).select_from(Chart).where(cond)) or 0
    rows = ctx.db.scalars(select(Chart).where(cond).order_by(Chart.modified_at.desc()).limit(limit).offset(offset))
    return ChartList(items=[to_public(c) for c in rows], total=total)


def saved_chart_data(ctx: RequestContext, *, chart_id: str, view: ViewFilters | None = None) -> ChartData:
    """A saved chart's data for this viewer (the viewer's own access applies to its tables)."""
    c = find(ctx, chart_id)
    return chart_data(ctx, spec=ChartSpec.model_validate(c.spec), view=view)
