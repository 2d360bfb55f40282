"""Which index reads a filtered, sorted page on SQLite: the sort's index walked in order, or one filter's index.

Why: SQLite keeps no statistics for our tables (ANALYZE costs seconds on 10,000,000 rows and goes stale),
and with an index on every filterable column (column_indexes.py) it may start from a broad filter's index
and sort half a million rows, or walk the time index through the whole table looking for a combination of
values no row holds (1.2 s on 10M rows). We know better, cheaply:

- a categorical column's histogram gives its exact count for equality / IN filters;
- any other filter on an indexed column is counted on its index alone, stopping at PROBE_CAP entries
  (a range of a few thousand values answers exactly in a millisecond or two; beyond the cap it is "broad").

Costs, in rows read: walking the sort's index visits about (offset + limit) / selectivity entries (columns
taken as independent, broad filters as selecting everything); starting from filter f's index reads its
n_f matching rows and sorts them (n_f × SORT_FACTOR, see there). The cheaper wins and is forced with SQLite's
`INDEXED BY`, set as an execution option and written into the statement just before it runs (SQLAlchemy's
SQLite compiler has no FROM hints). The choice changes only speed, never the answer; an index that has
gone (a replaced table) makes the statement run again without the hint. PostgreSQL keeps statistics
(column_indexes.py runs ANALYZE after each build) and plans for itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cityhub.datastore import query
from cityhub.datastore.tables import index_name
from cityhub.datastore.types import ID_COLUMN

PROBE_CAP = 50_000
# A row read from a filter's index is fetched out of order and then sorted: several times dearer than an
# entry walked in the sort's index (time series are stored in time order, so that walk reads rows in
# sequence). Measured on 10M rows: 10,000 rows from a value index and sorted 21 ms, 100,000 entries of
# the time index walked 10 ms. Erring toward the filter's index is the safe side: its cost is bounded by
# PROBE_CAP rows, while a walk for a combination no row holds reads the whole table.
SORT_FACTOR = 4.0
OPTION = "datastore_indexed_by"  # execution option: (table name, index name), or (table name, "") for NOT INDEXED


@dataclass(frozen=True)
class Choice:
    """The index the page should read ("": the table itself, in `_id` order), and the one to count with
    (None: SQLite's own choice)."""

    page: str
    count: str | None
    why: str
    whole: bool = False  # the page reads every match anyway (from a filter's index): count them on the way


def leading_indexes(table: str, plan: list[list[str]]) -> dict[str, str]:
    """Column → name of an index it leads (single-column indexes preferred: they are the smallest)."""
    out: dict[str, str] = {}
    for position, names in sorted(enumerate(plan), key=lambda p: len(p[1])):
        if names:
            out.setdefault(names[0], index_name(table, position))
    return out


def _composite(table: str, plan: list[list[str]], column: str, sort_column: str) -> str | None:
    for position, names in enumerate(plan):
        if names == [column, sort_column]:
            return index_name(table, position)
    return None


def _single_value(spec: Any) -> bool:
    if isinstance(spec, list):
        return len(spec) == 1
    if isinstance(spec, dict):
        return set(spec) == {"eq"}
    return spec is not None


_OPS = {"gt": lambda v, x: v > x, "gte": lambda v, x: v >= x, "lt": lambda v, x: v < x, "lte": lambda v, x: v <= x,
        "eq": lambda v, x: v == x, "ne": lambda v, x: v != x}
# How histogram keys (stored values as text) compare for ranges: as the database compares the column.
# (Not dates: a histogram's keys for them need not be in the stored ISO form.)
_ORDERED = {"integer": int, "number": float, "text": str}


def histogram_count(name: str, spec: Any, kind: str, histogram: dict[str, int] | None, *,
                    sqlite: bool = True) -> int | None:
    """Exact rows of one filter (equality, IN, ranges) from its column's value histogram, or None.

    Histogram keys are the stored values as text ("" for null); they are read back as the column's kind,
    so a range compares as the database does (numbers as numbers; text as SQLite's binary order, which is
    Python's — PostgreSQL orders text by its collation, so text ranges are left to it there)."""
    if histogram is None or spec is None:
        return None
    if isinstance(spec, dict) and set(spec) == {"in"}:
        spec = spec["in"]
    if not isinstance(spec, dict):  # one value or a list of them
        return query.histogram_total({name: spec}, [{"id": name, "type": kind}], {name: histogram}, sqlite=True)
    if "in" in spec or kind not in _ORDERED or (kind == "text" and not sqlite):
        return None
    convert = _ORDERED[kind]
    try:
        bounds = [(_OPS[op], convert(query.coerce(name, kind, value, sqlite=True))) for op, value in spec.items()]
        values = [(convert(key), n) for key, n in histogram.items() if key != ""]  # "" counts nulls
    except (KeyError, TypeError, ValueError):
        return None
    return sum(n for v, n in values if all(test(v, x) for test, x in bounds))


def _probe(conn: Connection, table: sa.Table, index: str, conds: list[Any]) -> int:
    """Matches of one filter counted on its index alone, stopping past PROBE_CAP."""
    inner = sa.select(sa.literal(1)).select_from(table).where(*conds).limit(PROBE_CAP + 1).subquery()
    stmt = sa.select(sa.func.count()).select_from(inner).execution_options(**{OPTION: (table.name, index)})
    return int(run(conn, stmt).scalar_one())


def choose(conn: Connection, table: sa.Table, fields: list[dict[str, Any]], filters: dict[str, Any],
           histograms: dict[str, Any], plan: list[list[str]], sort_column: str, row_count: int,
           rows_wanted: int) -> Choice | None:
    """The cheaper way to read `rows_wanted` rows of the filtered table in `sort_column` order (SQLite)."""
    if not filters or row_count <= 0:
        return None
    leading = leading_indexes(table.name, plan)
    kinds = {f["id"]: f["type"] for f in fields}
    # "": the table itself is the `_id` order; "-": no index for the sort (reading and sorting everything)
    walk = "" if sort_column == ID_COLUMN else leading.get(sort_column, "-")
    selectivity, candidates = 1.0, []
    for name, spec in filters.items():
        exact = histogram_count(name, spec, kinds.get(name, "text"), histograms.get(name))
        index = leading.get(name)
        if exact is None and index is not None:
            found = _probe(conn, table, index, query.filter_conditions(table, fields, {name: spec}, sqlite=True))
            exact = found if found <= PROBE_CAP else None
        if exact is not None:
            selectivity *= exact / row_count
            if index is not None:
                candidates.append((exact * SORT_FACTOR, index, name))
            composite = _composite(table.name, plan, name, sort_column)
            if composite is not None and _single_value(spec):  # filter and order read straight off one index
                candidates.append((min(rows_wanted, exact), composite, name))
    walk_cost = float(row_count) * 2 if walk == "-" else rows_wanted / max(selectivity, 1.0 / row_count)
    best = min(candidates, default=None)
    count_index = min((c for c in candidates if c[1] == leading.get(c[2])), default=(0, None, ""))[1]
    if best is not None and best[0] < walk_cost:
        # Counting on the way pays when the count would fetch rows too (other filters to check); a single
        # filter is counted on its index alone, without reading a row.
        whole = best[1] == leading.get(best[2]) and len(filters) > 1
        return Choice(page=best[1], count=count_index, why=f"from {best[2]} ({best[0]:.0f} < walk {walk_cost:.0f})",
                      whole=whole)
    if walk == "-":
        return Choice(page=count_index, count=count_index, why="no index for the sort") if count_index else None
    return Choice(page=walk, count=count_index, why=f"walk {sort_column} ({walk_cost:.0f})")


def run(conn: Connection, stmt: Any) -> sa.CursorResult:
    """Execute a statement that may carry an index choice; without the hint if that index is gone."""
    try:
        return conn.execute(stmt)
    except sa.exc.OperationalError as exc:
        if "no such index" not in str(exc.orig):
            raise
        return conn.execute(stmt.execution_options(**{OPTION: None}))


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute", retval=True)
def _indexed_by(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
    """Write the chosen index into the statement's FROM (SQLite only; a no-op without the option)."""
    option = context.execution_options.get(OPTION) if context is not None else None
    if option is not None and conn.dialect.name == "sqlite":
        table, index = option
        clause = f'INDEXED BY "{index}"' if index else "NOT INDEXED"
        pattern = re.compile(r'(FROM "' + re.escape(table.replace('"', '""')) + r'")(?=\s|\)|$)')
        statement = pattern.sub(lambda m: f"{m.group(1)} {clause}", statement, count=1)
    return statement, parameters
