"""SQLite specifics for the datastore: transactional DDL, bulk load, FTS5 trigram text index.

Dialect-specific SQL lives here and in store_postgres.py only.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

BATCH_ROWS = 100_000
# A trigram index on a huge table costs more load time than the occasional `q` scan saves.
FTS_MAX_ROWS = 200_000


def _raw(conn: Connection):  # noqa: ANN202
    return conn.connection.driver_connection


def begin(conn: Connection) -> None:
    """Make sure DDL runs inside the caller's transaction, so a failed load rolls back whole.

    Python's sqlite3 module only opens a transaction before DML; CREATE TABLE outside one would commit
    at once and survive a rollback.
    """
    raw = _raw(conn)
    if not raw.in_transaction:
        raw.execute("BEGIN")
    raw.execute("PRAGMA cache_size=-262144")  # a big page cache makes index builds sort in memory
    raw.execute("PRAGMA temp_store=MEMORY")
    raw.execute("PRAGMA threads=2")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def bulk_insert(conn: Connection, table: sa.Table, data: pa.Table,
                progress: Callable[[int], None] | None = None) -> None:
    """executemany with plain tuples on the session's own connection (same transaction)."""
    names = [c.name for c in table.columns if c.name in data.column_names]
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
           f"VALUES ({', '.join('?' * len(names))})")
    cursor = _raw(conn).cursor()
    try:
        for batch in data.select(names).to_batches(max_chunksize=BATCH_ROWS):
            cursor.executemany(sql, zip(*(col.to_pylist() for col in batch.columns), strict=True))
            if progress:
                progress(batch.num_rows)
    finally:
        cursor.close()


def fts_name(table: str) -> str:
    return f"{table}__fts"


def build_text_index(conn: Connection, table: str, text_columns: list[str], row_count: int) -> bool:
    """A contentless FTS5 trigram index over the text columns (substring search works for Korean)."""
    if not text_columns or row_count > FTS_MAX_ROWS:
        return False
    doc = " || ' ' || ".join(f"coalesce({quote(c)}, '')" for c in text_columns)
    fts = quote(fts_name(table))
    conn.exec_driver_sql(f"CREATE VIRTUAL TABLE {fts} USING fts5(doc, content='', tokenize='trigram')")
    conn.exec_driver_sql(f"INSERT INTO {fts}(rowid, doc) SELECT _id, {doc} FROM {quote(table)}")
    return True


def drop_text_index(conn: Connection, table: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(fts_name(table))}")


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def text_condition(table: sa.Table, terms: list[str], text_columns: list[str], indexed: bool):  # noqa: ANN201
    """Every term must occur in some text column: FTS MATCH for terms of 3+ characters, LIKE otherwise."""
    conds = []
    long_terms = [t for t in terms if len(t) >= 3] if indexed else []
    if long_terms:
        query = " ".join('"' + t.replace('"', '""') + '"' for t in long_terms)
        fts = quote(fts_name(table.name))
        conds.append(table.c["_id"].in_(
            sa.select(sa.literal_column("rowid")).select_from(sa.text(fts))
            .where(sa.text(f"{fts} MATCH :fts_query").bindparams(fts_query=query))))
    for term in terms:
        if term in long_terms:
            continue
        conds.append(sa.or_(*(table.c[c].like(_like(term), escape="\\") for c in text_columns)))
    return sa.and_(*conds)
