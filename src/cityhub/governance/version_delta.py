"""Per-change deltas of fed tables: a collected stream's versions at the cost of the batch, not the table.

A fed upsert (collection, every second or so) records, in its own transaction, into `_gov_delta_<table>`:
a marker row (`_id` NULL) holding the change number, the table's `_id` watermark before the change and the
upsert's counts, and the before-images of the rows it updated. `_id` only grows inside a generation (SQLite
rowid without deletes, a PostgreSQL sequence) and only upserts and appends write a table while it has a
delta table, so a row above a change's watermark was inserted by it or later. A version is then a pointer
(generation, change); its rows are the live table's rows up to the next change's watermark, each row
changed later replaced by its earliest later before-image (`select_sql`). Writers that rewrite rows in
place or replace the table retire the generation first: the live table is renamed (replace, drop: free)
or copied (in-place rewrites) to `_gov_version_<gen>`, and its delta table to `_gov_delta_<gen>`, so every
pointer still reads its rows. All of it commits or vanishes with the change, also across kill -9.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

COPY_PREFIX = "_gov_version_"  # version copies and retired generations' rows (version_capture's prefix)
DELTA_PREFIX = "_gov_delta_"
KEYS_PER_STATEMENT = 400  # bound parameters per before-image statement stay under SQLite's limit


def _q(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def delta_of(table: str) -> str:
    return DELTA_PREFIX + table


def base_of(gen: str) -> str:
    return COPY_PREFIX + gen


def _in_transaction(conn: Connection) -> None:
    """DDL must run in the change's transaction (Python's sqlite3 opens one only before DML; a CREATE or
    RENAME outside it would commit at once and outlive a rolled-back or killed change). IMMEDIATE: the
    delta reads before it writes, and a deferred transaction's upgrade is refused outright when a
    background writer (the version recorder, outboxes) committed in between."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if not raw.in_transaction:
            raw.execute("BEGIN IMMEDIATE")


def _serialise_writers(conn: Connection, table: str) -> None:
    """Two changes of one table must not read the same last change number and watermark. SQLite has one
    writer at a time already (the transaction holds the write lock); on PostgreSQL a transaction-scoped
    advisory lock keyed by the table makes its writers take turns until they commit."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha1(f"version-delta:{table}".encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _has(conn: Connection, name: str) -> bool:
    return sa.inspect(conn).has_table(name)


def generation(conn: Connection, table: str) -> str | None:
    """The live table's delta generation, or None when it keeps no deltas."""
    if not _has(conn, delta_of(table)):
        return None
    return conn.exec_driver_sql(f"SELECT _gen FROM {_q(conn, delta_of(table))} WHERE _change = 0").scalar()


def _create(conn: Connection, table: str) -> str:
    _in_transaction(conn)
    gen = uuid.uuid4().hex[:24]
    q, d = _q(conn, table), _q(conn, delta_of(table))
    conn.exec_driver_sql(
        f"CREATE TABLE {d} AS SELECT CAST(NULL AS BIGINT) AS _change, CAST(NULL AS BIGINT) AS _watermark, "
        f"CAST(NULL AS BIGINT) AS _inserted, CAST(NULL AS BIGINT) AS _updated, CAST(NULL AS TEXT) AS _gen, "
        f"t.* FROM {q} t WHERE 1 = 0")
    conn.exec_driver_sql(f"CREATE INDEX {_q(conn, 'ix_gd_' + gen)} ON {d} (_id, _change)")
    conn.exec_driver_sql(f"INSERT INTO {d} (_change, _watermark, _gen) VALUES (0, 0, '{gen}')")
    return gen


def start(conn: Connection, table: str) -> None:
    """A freshly loaded table (upload, import, replace) begins a generation: its version is the table
    itself, no copy; a later replace renames it to the generation's name."""
    if not _has(conn, delta_of(table)):
        _create(conn, table)


def _sync_columns(conn: Connection, table: sa.Table) -> list[str]:
    """Columns the delta shares with the live table (a feed declaring a new column extends both)."""
    d = delta_of(table.name)
    have = {c["name"] for c in sa.inspect(conn).get_columns(d)}
    for column in table.columns:
        if column.name not in have:
            ddl = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {_q(conn, d)} ADD COLUMN {_q(conn, column.name)} {ddl}")
    return [c.name for c in table.columns]


def begin(conn: Connection, table: sa.Table, key: list[str], keys: list[tuple]) -> int:
    """Before a fed write: its marker (watermark) and the before-images of the rows whose `key` is in
    `keys` (one INSERT … SELECT per KEYS_PER_STATEMENT keys). Returns the change number."""
    name = table.name
    _in_transaction(conn)
    _serialise_writers(conn, name)
    if not _has(conn, delta_of(name)):
        _create(conn, name)
    columns = _sync_columns(conn, table)
    d = _q(conn, delta_of(name))
    change = int(conn.exec_driver_sql(f"SELECT max(_change) FROM {d}").scalar() or 0) + 1
    mark = conn.execute(sa.select(sa.func.max(table.c["_id"]))).scalar() or 0
    conn.exec_driver_sql(f"INSERT INTO {d} (_change, _watermark) VALUES ({change}, {int(mark)})")
    if key and keys:
        _before_images(conn, table, columns, key, keys, change)
    return change


def _before_images(conn: Connection, table: sa.Table, columns: list[str], key: list[str], keys: list[tuple],
                   change: int) -> None:
    d, q = _q(conn, delta_of(table.name)), _q(conn, table.name)
    names = ", ".join(_q(conn, c) for c in columns)
    p = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    tup = "(" + ", ".join(p for _ in key) + ")"
    target = "(" + ", ".join(_q(conn, k) for k in key) + ")" if len(key) > 1 else _q(conn, key[0])
    if conn.dialect.name == "postgresql":
        _before_images_pg(conn, table, columns, key, list(dict.fromkeys(keys)), change)
        return
    # SQLite plans `(a, b) IN (VALUES …)` as a scan of the whole table per statement (26 µs a key on a
    # 60,000-row table, growing with it); a join from the VALUES list searches the key index instead
    # (0.5 µs a key). The join would repeat a row for a repeated key: the keys are made unique first.
    joined = len(key) > 1 and conn.dialect.name == "sqlite"
    if joined:
        keys = list(dict.fromkeys(keys))
        on = " AND ".join(f"t.{_q(conn, k)} = v.column{n}" for n, k in enumerate(key, 1))
        picked = ", ".join(f"t.{_q(conn, c)}" for c in columns)
    for i in range(0, len(keys), KEYS_PER_STATEMENT):
        part = keys[i:i + KEYS_PER_STATEMENT]
        inner = ", ".join(tup if len(key) > 1 else p for _ in part)
        values = f"VALUES {inner}" if len(key) > 1 else inner
        params = tuple(v for k in part for v in k)
        if joined:
            conn.exec_driver_sql(f"INSERT INTO {d} (_change, {names}) SELECT {change}, {picked} "
                                 f"FROM ({values}) v JOIN {q} t ON {on}", params)
            continue
        conn.exec_driver_sql(f"INSERT INTO {d} (_change, {names}) SELECT {change}, {names} FROM {q} "
                             f"WHERE {target} IN ({values})", params)


def _key_types(conn: Connection, table: str, key: list[str]) -> list[str]:
    """The key columns' types as the catalog has them (the table may predate its feed's declaration)."""
    have = dict(conn.exec_driver_sql(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped", (_q(conn, table),)).all())
    return [have[k] for k in key]


def _before_images_pg(conn: Connection, table: sa.Table, columns: list[str], key: list[str], keys: list[tuple],
                      change: int) -> None:
    """PostgreSQL may plan `(a, b) IN (VALUES …)` as a hash semi join over the whole table per statement
    (it did at 60,000 rows: 20-24 µs server CPU a key). Here each listed key is looked up on its own
    through the key index: a LATERAL subquery kept from being pulled up into a join (OFFSET 0), so the
    planner cannot pick a table scan. Keys are unique (a repeated key would copy its row twice). The key
    list is cast to the columns' types (a value compared in another type, bigint against numeric, would
    miss the index): one array a column (one statement, few parameters) when each column's values share
    a Python type, as psycopg dumps a list only then; otherwise a VALUES list casting every value."""
    d, q = _q(conn, delta_of(table.name)), _q(conn, table.name)
    names = ", ".join(_q(conn, c) for c in columns)
    picked = ", ".join(f"t.{_q(conn, c)}" for c in columns)
    kinds = _key_types(conn, table.name, key)
    aliases = ", ".join(f"_k{n}" for n in range(len(key)))
    on = " AND ".join(f"x.{_q(conn, k)} = v._k{n}" for n, k in enumerate(key))
    lookup = f"v ({aliases}) CROSS JOIN LATERAL (SELECT * FROM {q} x WHERE {on} OFFSET 0) t"
    insert = f"INSERT INTO {d} (_change, {names}) SELECT {change}, {picked} FROM "
    lists = [list(values) for values in zip(*keys, strict=True)]
    if all(len({type(v) for v in values if v is not None}) <= 1 for values in lists):
        arrays = ", ".join(f"%s::{kind}[]" for kind in kinds)
        conn.exec_driver_sql(f"{insert}unnest({arrays}) {lookup}", tuple(lists))
        return
    row = "(" + ", ".join(f"%s::{kind}" for kind in kinds) + ")"
    for i in range(0, len(keys), KEYS_PER_STATEMENT):
        part = keys[i:i + KEYS_PER_STATEMENT]
        conn.exec_driver_sql(f"{insert}(VALUES {', '.join(row for _ in part)}) {lookup}",
                             tuple(v for k in part for v in k))


def finish(conn: Connection, table: sa.Table, change: int, inserted: int, updated: int) -> None:
    """After the write: drop before-images of rows it left as they were, keep its counts (the diff)."""
    d, q = _q(conn, delta_of(table.name)), _q(conn, table.name)
    same = " AND ".join(f"t.{_q(conn, c.name)} IS NOT DISTINCT FROM {d}.{_q(conn, c.name)}" for c in table.columns)
    conn.exec_driver_sql(f"DELETE FROM {d} WHERE _change = {change} AND _id IS NOT NULL AND EXISTS "
                         f"(SELECT 1 FROM {q} t WHERE {same})")
    conn.exec_driver_sql(f"UPDATE {d} SET _inserted = {int(inserted)}, _updated = {int(updated)} "
                         f"WHERE _change = {change} AND _id IS NULL")


def note_append(conn: Connection, table: sa.Table, inserted: int) -> None:
    """An append-only write (rows inserted, none touched) on a table keeping deltas: a marker suffices.
    Called before the rows go in (the watermark is the table's `_id` maximum then)."""
    if _has(conn, delta_of(table.name)):
        finish(conn, table, begin(conn, table, [], []), inserted, 0)


def pointer(conn: Connection, table: str) -> dict[str, Any] | None:
    """Where a version of the live table's current rows lies: (generation, latest change)."""
    gen = generation(conn, table)
    if gen is None:
        return None
    change = int(conn.exec_driver_sql(f"SELECT max(_change) FROM {_q(conn, delta_of(table))}").scalar() or 0)
    return {"table": table, "gen": gen, "change": change}


def counts_since(conn: Connection, ptr: dict[str, Any], after: int) -> tuple[int, int]:
    """Rows inserted and updated by the changes after `after` up to the pointer's change."""
    d = _q(conn, _where(conn, ptr)[1])
    row = conn.exec_driver_sql(f"SELECT coalesce(sum(_inserted), 0), coalesce(sum(_updated), 0) FROM {d} "
                               f"WHERE _id IS NULL AND _change > {int(after)} AND _change <= {int(ptr['change'])}"
                               ).first()
    return int(row[0]), int(row[1])


def _where(conn: Connection, ptr: dict[str, Any]) -> tuple[str, str]:
    """(rows table, delta table) of a pointer's generation: retired copies, or the live table."""
    gen = ptr["gen"]
    if _has(conn, base_of(gen)):
        return base_of(gen), DELTA_PREFIX + gen
    if generation(conn, ptr["table"]) == gen:
        return ptr["table"], delta_of(ptr["table"])
    raise LookupError(f"the rows of generation {gen} are gone")


def select_sql(conn: Connection, ptr: dict[str, Any]) -> tuple[str, list[str]]:
    """One query giving a version's rows (with `_id`, in `_id` order), and its column names."""
    rows, delta = _where(conn, ptr)
    columns = [c["name"] for c in sa.inspect(conn).get_columns(rows)]
    r, d, c = _q(conn, rows), _q(conn, delta), int(ptr["change"])
    names = ", ".join(_q(conn, n) for n in columns)
    nxt = conn.exec_driver_sql(f"SELECT _watermark FROM {d} WHERE _id IS NULL AND _change > {c} "
                               "ORDER BY _change LIMIT 1").scalar()
    if nxt is None:
        return f"SELECT {names} FROM {r} ORDER BY _id", columns
    w = int(nxt)
    sql = (f"SELECT {names} FROM {r} b WHERE b._id <= {w} AND NOT EXISTS "
           f"(SELECT 1 FROM {d} x WHERE x._id = b._id AND x._change > {c}) "
           f"UNION ALL SELECT {names} FROM {d} y WHERE y._id IS NOT NULL AND y._id <= {w} AND y._change > {c} "
           f"AND y._change = (SELECT min(z._change) FROM {d} z WHERE z._id = y._id AND z._change > {c}) "
           "ORDER BY 1")
    return sql, columns


def _drop_indexes(conn: Connection, name: str) -> None:
    """A retired table's own indexes go: their names belong to the table that replaces it."""
    for index in sa.inspect(conn).get_indexes(name):
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {_q(conn, index['name'])}")


def retire(conn: Connection, table: str, *, rename: bool) -> None:
    """Before the live table is replaced or dropped (rename: free) or rewritten in place (copy): keep its
    rows and deltas under its generation's names, so versions pointing at them still read their rows."""
    gen = generation(conn, table)
    if gen is None:
        return
    _in_transaction(conn)
    if rename:
        conn.exec_driver_sql(f"ALTER TABLE {_q(conn, table)} RENAME TO {_q(conn, base_of(gen))}")
        _drop_indexes(conn, base_of(gen))
    else:  # an in-place rewrite (a roll-back's restore): today's full copy, named in version_capture's doc
        conn.exec_driver_sql(f"CREATE TABLE {_q(conn, base_of(gen))} AS SELECT * FROM {_q(conn, table)}")
    conn.exec_driver_sql(f"ALTER TABLE {_q(conn, delta_of(table))} RENAME TO {_q(conn, DELTA_PREFIX + gen)}")


def prune(conn: Connection, ptr_gen: str, table: str, keep_from: int | None) -> None:
    """Delete what no kept version needs: before-images of changes up to `keep_from` (the oldest kept
    version's change in that generation); with None, the retired generation's tables entirely."""
    live = generation(conn, table) == ptr_gen
    delta = delta_of(table) if live else DELTA_PREFIX + ptr_gen
    if not _has(conn, delta):
        return
    if keep_from is None and not live:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_q(conn, delta)}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_q(conn, base_of(ptr_gen))}")
        return
    upto = int(keep_from) if keep_from is not None else int(
        conn.exec_driver_sql(f"SELECT max(_change) FROM {_q(conn, delta)}").scalar() or 0)
    conn.exec_driver_sql(f"DELETE FROM {_q(conn, delta)} WHERE _id IS NOT NULL AND _change <= {upto}")
