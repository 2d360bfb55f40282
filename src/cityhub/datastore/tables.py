"""Typed per-resource tables: their SQLAlchemy Core shape and the indexes chosen for them.

A table is named by its resource id (a UUID with dashes, as in CKAN) so `SELECT * FROM "<id>"` works
in the SQL sandbox. Tables are made at run time with SQLAlchemy Core, never by migrations.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cityhub.datastore.infer import TypedTable
from cityhub.datastore.types import ID_COLUMN, storage_type

# Indexes are worth their build time only once a table is big enough to scan slowly.
INDEX_MIN_ROWS = 2_000
MAX_FILTER_COLUMNS = 4
MAX_TEMPORAL_COLUMNS = 2
# An integer column with few values is a code (year, month, grade); with more it is a measurement.
MAX_INTEGER_CATEGORIES = 50
# Beyond this many values (sensor ids, stations) a filter is selective enough that walking the time index
# finds a page quickly, and its total still comes exactly from the histogram: no composite index needed.
MAX_INDEXED_CATEGORIES = 100
# Index entries a filtered page may visit while walking the time index before a composite index pays off.
MAX_TIME_WALK = 20_000
PAGE_ROWS = 100


_CACHE: dict[tuple, sa.Table] = {}
_CACHE_SIZE = 512


def table_for(name: str, fields: list[dict[str, Any]], *, sqlite: bool) -> sa.Table:
    """The Core Table for a datastore table (own MetaData: these tables are not in the app's).

    Cached by name and exact column list, so SQLAlchemy's compiled-statement cache works across
    requests; a re-upload with other columns gets a new key. Pure description, safe in any worker.
    """
    key = (name, sqlite, tuple((f["id"], f["type"]) for f in fields))
    table = _CACHE.get(key)
    if table is None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        table = _CACHE[key] = _build(name, fields, sqlite=sqlite)
    return table


def new_table(name: str, fields: list[dict[str, Any]], *, sqlite: bool) -> sa.Table:
    """A fresh, uncached Core Table to create (indexes planned for it attach to it, not to the cache)."""
    return _build(name, fields, sqlite=sqlite)


def _build(name: str, fields: list[dict[str, Any]], *, sqlite: bool) -> sa.Table:
    columns = [sa.Column(ID_COLUMN, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                         autoincrement=True)]
    columns += [sa.Column(f["id"], storage_type(f["type"], sqlite=sqlite), quote=True) for f in fields]
    return sa.Table(name, sa.MetaData(), *columns, quote=True)


def index_plan(typed: TypedTable) -> list[list[str]]:
    """Which columns to index so filtered, sorted pages never scan.

    - Each low-cardinality column (a district, a category, a year) is a filter column. Paired with the
      first temporal column, as (filter, time), it answers "district = X ORDER BY time LIMIT 100" by
      reading 100 index entries instead of sorting every row of district X — needed only when some value
      is rare (see _has_rare_value); otherwise the time index alone finds the page. Without a temporal
      column the filter column gets its own index.
    - Each temporal column gets its own index (range filters and sorting by time).
    High-cardinality text and measurements are left unindexed: equality on them is rare and every index
    costs load time.
    """
    if typed.row_count < INDEX_MIN_ROWS:
        return []
    temporal = [c.name for c in typed.columns if c.type in ("datetime", "date")][:MAX_TEMPORAL_COLUMNS]
    filters = [c.name for c in typed.columns if c.histogram is not None and c.name not in temporal
               and len(c.histogram) <= (MAX_INTEGER_CATEGORIES if c.type == "integer" else MAX_INDEXED_CATEGORIES)]
    plan: list[list[str]] = []
    for name in filters[:MAX_FILTER_COLUMNS]:
        if not temporal:
            plan.append([name])
        elif _has_rare_value(typed, name):
            plan.append([name, temporal[0]])
    plan += [[name] for name in temporal]
    return plan


def _has_rare_value(typed: TypedTable, name: str) -> bool:
    """Whether some value of a filter column is too rare to find a page of it by walking the time index.

    For a value holding a share p of the rows, "column = value ORDER BY time LIMIT 100" read through the
    time index visits about 100 / p entries. When every value is common (16 districts, each ~6 %), that is
    a couple of thousand entries (a millisecond or two) and a composite index would only cost load time
    (the slowest index to build: its input is not in time order).
    """
    histogram = next(c.histogram for c in typed.columns if c.name == name) or {}
    rarest = min((rows for value, rows in histogram.items() if value != ""), default=0)  # "" is null
    return rarest * MAX_TIME_WALK < PAGE_ROWS * typed.row_count


def index_name(table: str, position: int) -> str:
    # Index names are schema-wide; a short hash keeps them unique and under identifier limits.
    return f"ix_ds_{hashlib.sha1(table.encode()).hexdigest()[:12]}_{position}"


def plan_indexes(table: sa.Table, plan: list[list[str]]) -> list[sa.Index]:
    """The Core Index objects for an index plan (bound to `table`, not yet created)."""
    return [sa.Index(index_name(table.name, position), *(table.c[n] for n in names))
            for position, names in enumerate(plan)]


def create_indexes(conn: Connection, table: sa.Table, plan: list[list[str]]) -> None:
    for index in plan_indexes(table, plan):
        index.create(conn)


def reflect(conn: Connection, name: str, fields: list[dict[str, Any]]) -> sa.Table:
    return table_for(name, fields, sqlite=conn.dialect.name == "sqlite")
