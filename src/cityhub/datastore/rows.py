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
    index = sa.Index(f"ux_{name[:40]}_key", *[table.c[k] for k in key], unique=True) if key else None
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
        if index is not None:  # the merge needs it (ON CONFLICT); older feeds' tables carry the same name
            index.create(conn, checkfirst=True)
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


# Kinds whose values need converting before storing; the others go to the driver as they are.
_CONVERTED = ("datetime", "date", "json")


def _tuples(fed: FedTable, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> list[tuple]:
    """Rows as parameter tuples in `columns` order, values in stored form (only converted kinds are touched)."""
    converted = [(i, fed.kinds[c]) for i, c in enumerate(columns) if fed.kinds.get(c) in _CONVERTED]
    if not converted:
        return [tuple([row.get(c) for c in columns]) for row in rows]
    out = []
    for row in rows:
        values = [row.get(c) for c in columns]
        for i, kind in converted:
            values[i] = _stored(kind, values[i], fed.sqlite)
        out.append(tuple(values))
    return out


def _merge_sql(conn: Connection, table: str, columns: tuple[str, ...], key: list[str]) -> str:
    """One INSERT … ON CONFLICT (key) DO UPDATE that rewrites only rows whose values differ.

    The same text works on SQLite (3.39+) and PostgreSQL; only the placeholder differs. Rows whose
    values are all equal are not touched, so the driver's row count is inserted + updated rows.
    """
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(quote(c) for c in columns)
    sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join(mark for _ in columns)})"
    values = [c for c in columns if c not in key]
    if not key:
        return sql
    if not values:
        return f"{sql} ON CONFLICT ({', '.join(quote(k) for k in key)}) DO NOTHING"
    assign = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in values)
    differs = " OR ".join(f"{quote(table)}.{quote(c)} IS DISTINCT FROM excluded.{quote(c)}" for c in values)
    return f"{sql} ON CONFLICT ({', '.join(quote(k) for k in key)}) DO UPDATE SET {assign} WHERE {differs}"


def upsert_rows(conn: Connection, fed: FedTable, rows: list[dict[str, Any]]) -> UpsertCounts:
    """Merge rows by the table's key: insert new keys, update changed rows, leave identical ones alone.

    One executemany of a native upsert per column set (no per-row statement objects, no key lookups
    in Python): feeds of tens of thousands of rows a second spend their time in the database. New rows
    are told from updated ones by their `_id`, which only grows (SQLite rowid without deletes past the
    maximum, a PostgreSQL sequence); a source's runs do not overlap, so no other writer interleaves.
    """
    counts = UpsertCounts()
    if not rows:
        return counts
    table, key = fed.table, fed.key
    if key:  # duplicate deliveries inside one page: the last one wins, the others count as unchanged
        latest = {tuple(row.get(k) for k in key): row for row in rows}
        counts.unchanged += len(rows) - len(latest)
        rows = list(latest.values())
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:  # rows of one page normally share their columns: one group, one statement
        groups.setdefault(tuple(row), []).append(row)
    id_col = table.c[ID_COLUMN]
    before = conn.execute(sa.select(sa.func.max(id_col))).scalar() if key else None
    from cityhub.governance import version_delta  # late: governance imports the datastore

    # this change's delta (watermark, before-images of the rows it may update): its version's rows
    change = version_delta.begin(conn, table, key, _tuples(fed, tuple(key), rows) if key else [])
    changed = 0
    for columns, members in groups.items():
        columns = tuple(c for c in columns if c in table.c and c != ID_COLUMN)
        result = conn.exec_driver_sql(_merge_sql(conn, table.name, columns, key), _tuples(fed, columns, members))
        changed += result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(members)
    if key:
        newer = id_col > before if before is not None else sa.true()
        counts.inserted = conn.execute(sa.select(sa.func.count()).select_from(table).where(newer)).scalar_one()
        counts.updated = changed - counts.inserted
        counts.unchanged += len(rows) - changed
    else:  # no key declared: an append-only feed
        counts.inserted = len(rows)
    version_delta.finish(conn, table, change, counts.inserted, counts.updated)
    _count(conn, table.name, counts.inserted, changed=counts.updated > 0)
    return counts


def _count(conn: Connection, table: str, added: int, *, changed: bool = False) -> None:
    """Move the registry's row count. Value histograms (exact totals, "no row holds this value") no
    longer hold once rows are added or changed, so they are dropped."""
    if added or changed:
        registry = DatastoreTable.__table__
        conn.execute(registry.update().where(registry.c.table_name == table)
                     .values(row_count=registry.c.row_count + added, histograms={}))
