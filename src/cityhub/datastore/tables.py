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


def _build(name: str, fields: list[dict[str, Any]], *, sqlite: bool) -> sa.Table:
    columns = [sa.Column(ID_COLUMN, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                         autoincrement=True)]
    columns += [sa.Column(f["id"], storage_type(f["type"], sqlite=sqlite), quote=True) for f in fields]
    return sa.Table(name, sa.MetaData(), *columns, quote=True)


def index_plan(typed: TypedTable) -> list[list[str]]:
    """Which columns to index so filtered, sorted pages never scan.

    - Each low-cardinality column (a district, a category, a year) is a filter column. Paired with the
      first temporal column, as (filter, time), it answers "district = X ORDER BY time LIMIT 100" by
      reading 100 index entries instead of sorting every row of district X.
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
        plan.append([name, temporal[0]] if temporal else [name])
    plan += [[name] for name in temporal]
    return plan


def index_name(table: str, position: int) -> str:
    # Index names are schema-wide; a short hash keeps them unique and under identifier limits.
    return f"ix_ds_{hashlib.sha1(table.encode()).hexdigest()[:12]}_{position}"


def create_indexes(conn: Connection, table: sa.Table, plan: list[list[str]]) -> None:
    for position, names in enumerate(plan):
        sa.Index(index_name(table.name, position), *(table.c[n] for n in names)).create(conn)


def reflect(conn: Connection, name: str, fields: list[dict[str, Any]]) -> sa.Table:
    return table_for(name, fields, sqlite=conn.dialect.name == "sqlite")
