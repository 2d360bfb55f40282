"""Upsert collected rows into a dataset's typed table by its declared key.

The datastore package loads whole files; collection needs row-level merge by key, so this small
module owns that: a typed table named by the resource id (like CKAN, so datastore_search_sql sees it),
an `_id` column, a unique index on the key, and a merge that counts inserted / updated / unchanged.
The same rows twice change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    bindparam,
    func,
    inspect,
    select,
    text,
    tuple_,
)

from cityhub.collect.mapping import FieldSpec

SQL_TYPES = {"text": Text, "integer": BigInteger, "number": Double, "boolean": Boolean, "date": Date,
             "datetime": DateTime, "json": JSON}
LOOKUP_CHUNK = 500


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def build_table(name: str, fields: Sequence[FieldSpec], key: Sequence[str]) -> Table:
    meta = MetaData()
    columns = [Column("_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)]
    columns += [Column(f.name, SQL_TYPES[f.type]()) for f in fields]
    table = Table(name, meta, *columns)
    if key:
        Index(f"ux_{name[:40]}_key", *[table.c[k] for k in key], unique=True)
    return table


def ensure_table(conn: Connection, name: str, fields: Sequence[FieldSpec], key: Sequence[str]) -> Table:
    """Create the table (and its key index) if missing; add columns a newer mapping declares."""
    table = build_table(name, fields, key)
    inspector = inspect(conn)
    if not inspector.has_table(name):
        table.create(conn)
        return table
    have = {c["name"] for c in inspector.get_columns(name)}
    preparer = conn.dialect.identifier_preparer
    for column in table.columns:
        if column.name not in have:
            ddl = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {preparer.quote(name)} ADD COLUMN {preparer.quote(column.name)} {ddl}"))
    return table


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return a is not None and b is not None and float(a) == float(b)
        except (TypeError, ValueError):
            return False
    if hasattr(a, "tzinfo") and hasattr(b, "tzinfo") and a is not None and b is not None:
        return a.replace(tzinfo=None) == b.replace(tzinfo=None)
    return a == b


def _existing(conn: Connection, table: Table, key: Sequence[str], keys: list[tuple]) -> dict[tuple, dict]:
    cols = [table.c[k] for k in key]
    found: dict[tuple, dict] = {}
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start:start + LOOKUP_CHUNK]
        cond = cols[0].in_([k[0] for k in chunk]) if len(cols) == 1 else tuple_(*cols).in_(chunk)
        for row in conn.execute(select(table).where(cond)).mappings():
            found[tuple(row[k] for k in key)] = dict(row)
    return found


def upsert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]], key: Sequence[str]) -> UpsertCounts:
    """Merge rows by key: insert new keys, update changed rows, leave identical ones alone."""
    counts = UpsertCounts()
    if not rows:
        return counts
    if not key:  # no key declared: an append-only feed
        conn.execute(table.insert(), rows)
        counts.inserted = len(rows)
        return counts
    latest: dict[tuple, dict[str, Any]] = {}
    for row in rows:  # duplicate deliveries inside one page: the last one wins
        latest[tuple(row[k] for k in key)] = row
    counts.unchanged += len(rows) - len(latest)
    existing = _existing(conn, table, key, list(latest))
    inserts, updates = [], []
    value_cols = [c.name for c in table.columns if c.name != "_id" and c.name not in key]
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
                .where(and_(*[table.c[k] == bindparam(f"k_{k}") for k in key]))
                .values({c: bindparam(f"v_{c}") for c in present}))
        conn.execute(stmt, [{**{f"k_{k}": r[k] for k in key}, **{f"v_{c}": r.get(c) for c in present}}
                            for r in updates])
    counts.inserted, counts.updated = len(inserts), len(updates)
    return counts


def count_rows(conn: Connection, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def drop_table(conn: Connection, name: str) -> None:
    Table(name, MetaData()).drop(conn, checkfirst=True)
