"""Rollups ("cubes") of big datastore tables: counts, sums, minima and maxima per hour or day and per
value of a few low-cardinality columns (the district, a category), so a chart over ten million rows
reads a few hundred thousand pre-aggregated rows instead.

A cube is made when a chart over a big table is saved, built in the background, and rebuilt when the
table's dataset changes. It records the table's row count when built: a cube that no longer matches
its table is never used (the chart goes to the SQL sandbox instead), so a stale cube can slow a chart
down but never give it a wrong figure. Reading a cube asks the same door as reading the table
(`catalog.authorize_resource`), so access is exactly the table's.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlglot import exp

from cityhub.db import utcnow
from cityhub.stats import sqlgen
from cityhub.stats.models import Cube

log = logging.getLogger("cityhub.stats")
CUBE_MIN_ROWS = 100_000
MAX_DIMENSIONS = 3
_building: set[str] = set()
_lock = threading.Lock()

# Coarser buckets read from the cube's text label ('2024-07-15T10:00' or '2024-07-15').
_FROM_LABEL = {
    "sqlite": {"week": "date(substr({c}, 1, 10), 'weekday 0', '-6 days')",
               "weekday": "CAST(strftime('%w', substr({c}, 1, 10)) AS INTEGER)"},
    "postgres": {"week": "to_char(date_trunc('week', CAST(substr({c}, 1, 10) AS DATE)), 'YYYY-MM-DD')",
                 "weekday": "CAST(extract(dow FROM CAST(substr({c}, 1, 10) AS DATE)) AS INTEGER)"},
}
_SUBSTR = {"hour": 16, "day": 10, "month": 7, "year": 4}


def cube_table(resource_id: str, time_column: str | None, dims: list[str], measures: list[str]) -> str:
    key = "|".join([resource_id, time_column or "", ",".join(dims), ",".join(measures)])
    return "stats_cube_" + hashlib.sha1(key.encode()).hexdigest()[:16]


def label_expr(grain: str, dialect: str) -> exp.Expression:
    """A bucket of a cube's text label, for the buckets a chart may ask for."""
    c = sqlgen.quote("bucket")
    if grain in _SUBSTR:
        return sqlglot.parse_one(f"substr({c}, 1, {_SUBSTR[grain]})", read=dialect)
    if grain == "quarter":
        return sqlglot.parse_one(f"substr({c}, 1, 4) || 'Q' || ((CAST(substr({c}, 6, 2) AS INTEGER) + 2) / 3)",
                                 read=dialect)
    if grain == "hour_of_day":
        return sqlglot.parse_one(f"CAST(substr({c}, 12, 2) AS INTEGER)", read=dialect)
    return sqlglot.parse_one(_FROM_LABEL[dialect][grain].format(c=c), read=dialect)


def measure_cols(m: int) -> tuple[str, str, str, str]:
    return f"c{m}", f"s{m}", f"lo{m}", f"hi{m}"


# --- defining and building -----------------------------------------------------------------------


def ensure_cube(db: Session, *, resource_id: str, time_column: str | None, grain: str, dims: list[str],
                measures: list[str]) -> Cube:
    """The cube for this table and shape, created (pending) when missing."""
    name = cube_table(resource_id, time_column, dims, measures)
    cube = db.scalar(select(Cube).where(Cube.table_name == name))
    if cube is None:
        cube = Cube(resource_id=resource_id, table_name=name, time_column=time_column, grain=grain,
                    dimensions=list(dims), measures=list(measures), status="pending")
        db.add(cube)
        db.flush()
    elif grain == "hour" and cube.grain != "hour":
        cube.grain, cube.status = "hour", "pending"
    return cube


def build(db: Session, cube: Cube, *, source_table: str) -> Cube:
    """(Re)build a cube in one transaction: the old rows stay readable until the new ones commit."""
    started = time.perf_counter()
    conn = db.connection()
    dialect = "sqlite" if conn.dialect.name == "sqlite" else "postgres"
    source_rows = conn.exec_driver_sql(f"SELECT count(*) FROM {sqlgen.quote(source_table)}").scalar()
    select_list: list[exp.Expression] = []
    if cube.time_column:
        select_list.append(sqlgen.bucket(cube.time_column, cube.grain, dialect).as_("bucket"))
    select_list += [sqlgen.column(d).as_(f"d{i}") for i, d in enumerate(cube.dimensions)]
    select_list.append(exp.Count(this=exp.Star()).as_("n"))
    for i, m in enumerate(cube.measures):
        c, s, lo, hi = measure_cols(i)
        select_list += [exp.Count(this=sqlgen.column(m)).as_(c), exp.Sum(this=sqlgen.column(m)).as_(s),
                        exp.Min(this=sqlgen.column(m)).as_(lo), exp.Max(this=sqlgen.column(m)).as_(hi)]
    groups = len(select_list) - 1 - 4 * len(cube.measures)
    query = exp.select(*select_list).from_(sqlgen.table(source_table))
    if groups:
        query = query.group_by(*[exp.Literal.number(i + 1) for i in range(groups)])
    name = sqlgen.quote(cube.table_name)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    conn.exec_driver_sql(f"CREATE TABLE {name} AS {query.sql(dialect=dialect)}")
    if cube.dimensions or cube.time_column:
        cols = ", ".join(sqlgen.quote(c) for c in ([f"d{i}" for i in range(len(cube.dimensions))] +
                                                    (["bucket"] if cube.time_column else [])))
        conn.exec_driver_sql(f"CREATE INDEX {sqlgen.quote('ix_' + cube.table_name)} ON {name} ({cols})")
    cube.cube_rows = conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar()
    cube.source_rows, cube.status, cube.error = source_rows, "ready", None
    cube.built_at, cube.build_seconds = utcnow(), round(time.perf_counter() - started, 3)
    db.flush()
    return cube


def build_in_background(factory: sessionmaker[Session], cube_id: str, source_table: str) -> threading.Thread | None:
    """Build a cube on its own thread and session (one build per cube at a time)."""
    with _lock:
        if cube_id in _building:
            return None
        _building.add(cube_id)

    def work() -> None:
        db = factory()
        try:
            cube = db.get(Cube, cube_id)
            if cube is not None:
                build(db, cube, source_table=source_table)
                db.commit()
        except Exception as exc:
            db.rollback()
            log.exception("rollup build failed", extra={"cube": cube_id})
            cube = db.get(Cube, cube_id)
            if cube is not None:
                cube.status, cube.error = "failed", str(exc)[:2000]
                db.commit()
        finally:
            db.close()
            with _lock:
                _building.discard(cube_id)

    thread = threading.Thread(target=work, name=f"cube-{cube_id[:8]}", daemon=True)
    thread.start()
    return thread


# --- answering a chart ---------------------------------------------------------------------------


@dataclass
class CubePlan:
    cube: Cube
    query: exp.Expression


def usable(db: Session, resource_id: str, row_count: int | None) -> list[Cube]:
    """Ready cubes of a table whose row count still matches the table."""
    cubes = db.scalars(select(Cube).where(Cube.resource_id == resource_id, Cube.status == "ready")).all()
    return [c for c in cubes if row_count is not None and c.source_rows == row_count]


def plan(cube: Cube, *, x: Any, series: str | None, measures: list[Any], filters: list[tuple[str, str, Any]],
         date_from: str | None, date_to: str | None, dialect: str, limit: int,
         order: Any = None) -> exp.Expression | None:
    """The cube query answering a grouped chart, or None when this cube cannot answer it."""
    dims = {d: f"d{i}" for i, d in enumerate(cube.dimensions)}
    measure_index = {m: i for i, m in enumerate(cube.measures)}
    select_list: list[exp.Expression] = []
    groups = 0
    if x is not None:
        if x.bucket and x.column == cube.time_column:
            if cube.grain == "day" and x.bucket in ("hour", "hour_of_day"):
                return None
            select_list.append(label_expr(x.bucket, dialect).as_("x"))
        elif not x.bucket and x.column in dims:
            select_list.append(sqlgen.column(dims[x.column]).as_("x"))
        else:
            return None
        groups += 1
    if series is not None:
        if series not in dims:
            return None
        select_list.append(sqlgen.column(dims[series]).as_("series"))
        groups += 1
    for i, m in enumerate(measures):
        agg = m.agg or "count"
        if agg == "count" and not m.column:
            select_list.append(exp.Sum(this=sqlgen.column("n")).as_(f"y{i}"))
            continue
        if m.column not in measure_index:
            return None
        c, s, lo, hi = measure_cols(measure_index[m.column])
        value = {"count": exp.Sum(this=sqlgen.column(c)), "sum": exp.Sum(this=sqlgen.column(s)),
                 "min": exp.Min(this=sqlgen.column(lo)), "max": exp.Max(this=sqlgen.column(hi)),
                 "avg": exp.Div(this=exp.Cast(this=exp.Sum(this=sqlgen.column(s)), to=exp.DataType.build("float")),
                                expression=exp.Nullif(this=exp.Sum(this=sqlgen.column(c)),
                                                      expression=exp.Literal.number(0)))}[agg]
        select_list.append(value.as_(f"y{i}"))
    where: list[exp.Expression] = []
    for column, op, value in filters:
        if column not in dims:
            return None
        where.append(compare(sqlgen.column(dims[column]), op, value))
    if date_from or date_to:
        if not cube.time_column:
            return None
        if date_from:
            where.append(sqlgen.column("bucket").__ge__(sqlgen.literal(date_from)))
        if date_to:
            where.append(sqlgen.column("bucket").__lt__(sqlgen.literal(date_to)))
    query = exp.select(*select_list).from_(sqlgen.table(cube.table_name))
    if where:
        query = query.where(*where)
    if groups:
        query = query.group_by(*[exp.Literal.number(i + 1) for i in range(groups)])
        query = query.order_by(*(order(groups) if order else [exp.Literal.number(i + 1) for i in range(groups)]))
    return query.limit(limit + 1)


def compare(left: exp.Expression, op: str, value: Any) -> exp.Expression:
    if op == "in":
        values = value if isinstance(value, list) else [value]
        return left.isin(*[sqlgen.literal(v) for v in values])
    right = sqlgen.literal(value)
    return {"eq": exp.EQ, "ne": exp.NEQ, "gt": exp.GT, "gte": exp.GTE, "lt": exp.LT,
            "lte": exp.LTE}[op](this=left, expression=right)
