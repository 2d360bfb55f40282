"""Typed tables fed row by row (the collection pipeline), kept exactly like uploaded tables.

A collected resource's table gets the datastore's storage types (so dates and datetimes are stored and
compared the same way as an uploaded CSV's), a unique index on the declared key, and its entry in the
`datastore_tables` registry, so datastore_search, downloads, the SQL sandbox's field types and the CKAN
API work for it as for any upload. Rows are merged by key: new keys inserted, changed rows updated,
identical rows left alone; the registry's row count moves in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cityhub.datastore.models import DatastoreTable
from cityhub.datastore.tables import new_table
from cityhub.datastore.types import COLUMN_TYPES, ID_COLUMN

LOOKUP_CHUNK = 500
# Field types a feed may declare beyond the datastore's own: JSON values are stored as JSON text.
FEED_TYPES = {"json": "text"}


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class FedTable:
    """A typed table being fed: its Core shape, its key and how to store each column's values."""

    table: sa.Table
    key: list[str]
    kinds: dict[str, str]  # column -> declared field type (json kept apart from text for storing)
    sqlite: bool


def _datastore_type(kind: str) -> str:
    kind = FEED_TYPES.get(kind, kind)
    if kind not in COLUMN_TYPES:
        raise ValueError(f"unknown field type {kind!r}")
    return kind


def ensure_table(conn: Connection, *, name: str, fields: Sequence[tuple[str, str]], key: Sequence[str],
                 resource_id: str | None = None) -> FedTable:
    """Create (or extend with newly declared columns) the typed table `name` for (column, type) `fields`,
    with a unique index on `key`; register it for `resource_id` so the datastore serves it."""
    sqlite = conn.dialect.name == "sqlite"
    described = [{"id": column, "type": _datastore_type(kind)} for column, kind in fields]
    table = new_table(name, described, sqlite=sqlite)
    if key:  # the name older feeds' tables already carry
        sa.Index(f"ux_{name[:40]}_key", *[table.c[k] for k in key], unique=True)
    inspector = sa.inspect(conn)
    if not inspector.has_table(name):
        table.create(conn)
    else:
        have = {c["name"] for c in inspector.get_columns(name)}
        preparer = conn.dialect.identifier_preparer
        for column in table.columns:
            if column.name not in have:
                ddl = column.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(
                    f"ALTER TABLE {preparer.quote(name)} ADD COLUMN {preparer.quote(column.name)} {ddl}")
    if resource_id is not None:
        register(conn, resource_id=resource_id, table=name, fields=described, key=list(key))
    return FedTable(table=table, key=list(key), kinds=dict(fields), sqlite=sqlite)


def register(conn: Connection, *, resource_id: str, table: str, fields: list[dict[str, str]], key: list[str]) -> None:
    """Record (or refresh) an existing typed table in the datastore registry with its current row count."""
    registry = DatastoreTable.__table__
    rows = conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()
    values = {"table_name": table, "row_count": rows, "fields": fields, "indexes": [key] if key else [],
              "source_format": "collect"}
    updated = conn.execute(registry.update().where(registry.c.resource_id == resource_id).values(**values))
    if updated.rowcount == 0:
        conn.execute(registry.insert().values(resource_id=resource_id, histograms={}, text_index=False, warnings=[],
                                              created_at=datetime.now(UTC), **values))


def _stored(kind: str, value: Any, sqlite: bool) -> Any:
    """A value in the form the datastore stores it (uploads' rules: UTC, no zone, ISO text on SQLite)."""
    if value is None:
        return None
    if kind == "datetime" and isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S") if sqlite else value
    if kind == "date" and isinstance(value, date):
        day = value.date() if isinstance(value, datetime) else value
        return day.isoformat() if sqlite else day
    if kind == "json" and not isinstance(value, str):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return a is not None and b is not None and float(a) == float(b)
        except (TypeError, ValueError):
            return False
    return a == b


def _existing(conn: Connection, table: sa.Table, key: Sequence[str], keys: list[tuple]) -> dict[tuple, dict]:
    cols = [table.c[k] for k in key]
    found: dict[tuple, dict] = {}
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start:start + LOOKUP_CHUNK]
        cond = cols[0].in_([k[0] for k in chunk]) if len(cols) == 1 else sa.tuple_(*cols).in_(chunk)
        for row in conn.execute(sa.select(table).where(cond)).mappings():
            found[tuple(row[k] for k in key)] = dict(row)
    return found


def upsert_rows(conn: Connection, fed: FedTable, rows: list[dict[str, Any]]) -> UpsertCounts:
    """Merge rows by the table's key: insert new keys, update changed rows, leave identical ones alone."""
    counts = UpsertCounts()
    if not rows:
        return counts
    table, key = fed.table, fed.key
    rows = [{c: _stored(fed.kinds.get(c, "text"), v, fed.sqlite) for c, v in row.items()} for row in rows]
    if not key:  # no key declared: an append-only feed
        conn.execute(table.insert(), rows)
        counts.inserted = len(rows)
        _count(conn, table.name, counts.inserted)
        return counts
    latest: dict[tuple, dict[str, Any]] = {}
    for row in rows:  # duplicate deliveries inside one page: the last one wins
        latest[tuple(row[k] for k in key)] = row
    counts.unchanged += len(rows) - len(latest)
    existing = _existing(conn, table, key, list(latest))
    inserts, updates = [], []
    value_cols = [c.name for c in table.columns if c.name != ID_COLUMN and c.name not in key]
    for k, row in latest.items():
        old = existing.get(k)
        if old is None:
            inserts.append(row)
        elif any(not _same(old.get(c), row.get(c)) for c in value_cols if c in row):
            updates.append(row)
        else:
            counts.unchanged += 1
    if inserts:
        conn.execute(table.insert(), inserts)
    if updates:
        present = [c for c in value_cols if c in updates[0]]
        stmt = (table.update()
                .where(sa.and_(*[table.c[k] == sa.bindparam(f"k_{k}") for k in key]))
                .values({c: sa.bindparam(f"v_{c}") for c in present}))
        conn.execute(stmt, [{**{f"k_{k}": r[k] for k in key}, **{f"v_{c}": r.get(c) for c in present}}
                            for r in updates])
    counts.inserted, counts.updated = len(inserts), len(updates)
    _count(conn, table.name, counts.inserted)
    return counts


def _count(conn: Connection, table: str, added: int) -> None:
    if added:
        registry = DatastoreTable.__table__
        conn.execute(registry.update().where(registry.c.table_name == table)
                     .values(row_count=registry.c.row_count + added))
