"""PostgreSQL specifics for the datastore: COPY for bulk load, a pg_trgm GIN index for `q`.

`q` means "every term occurs, case-insensitively, in some text column". With pg_trgm (a trusted
extension: any user who may create in the database can install it) the text columns are indexed as one
expression, `coalesce(a, '') || ' ' || coalesce(b, '') …`, and each term becomes one ILIKE on that same
expression, which the GIN trigram index answers. Terms never contain whitespace (they are split on it),
so a term cannot match across the joining space: the expression's ILIKE is exactly "in some column".
Without the extension, or above TEXT_INDEX_MAX_ROWS, `q` stays an ILIKE per column (a scan).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection

log = logging.getLogger("cityhub.datastore")
BATCH_ROWS = 200_000
# A trigram index costs load time (1M rows of two short text columns: ~15 s to build on this shared
# machine under load, then `q` answers a count in ~80 ms instead of a ~1 s scan); above this `q` scans.
TEXT_INDEX_MAX_ROWS = 1_000_000


def begin(conn: Connection) -> None:
    """PostgreSQL DDL is transactional already; nothing to do."""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_table(conn: Connection, table: sa.Table, data: pa.Table, indexes: list[sa.Index], *, scratch_dir: Path,
               progress: Callable[[int], None] | None = None) -> None:
    """Create `table`, COPY the rows in, then build `indexes` (one sort each beats per-row maintenance) and
    ANALYZE, so the planner knows at once that a common filter value is best found by walking the sort index."""
    conn.execute(sa.schema.CreateTable(table))  # the table only: its indexes come after the rows
    bulk_insert(conn, table, data, progress)
    for index in indexes:
        index.create(conn)
    conn.exec_driver_sql(f"ANALYZE {quote(table.name)}")


def bulk_insert(conn: Connection, table: sa.Table, data: pa.Table,
                progress: Callable[[int], None] | None = None) -> None:
    """COPY … FROM STDIN (CSV written by Arrow) on the session's own connection."""
    names = [c.name for c in table.columns if c.name in data.column_names]
    sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN (FORMAT csv)"
    raw = conn.connection.driver_connection
    options = pacsv.WriteOptions(include_header=False)
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for batch in data.select(names).to_batches(max_chunksize=BATCH_ROWS):
            sink = pa.BufferOutputStream()
            pacsv.write_csv(batch, sink, options)
            copy.write(sink.getvalue().to_pybytes())
            if progress:
                progress(batch.num_rows)


def text_index_name(table: str) -> str:
    # Index names are schema-wide; a short hash keeps them unique and under identifier limits.
    return f"ix_ds_{hashlib.sha1(table.encode()).hexdigest()[:12]}_text"


def text_document(text_columns: list[str]) -> str:
    """The indexed expression: the text columns joined by a space (identical in index and query)."""
    return " || ' ' || ".join(f"coalesce({quote(c)}, '')" for c in text_columns)


def _trigram_schema(conn: Connection) -> str | None:
    """The schema holding pg_trgm, installing it (in `public` when that exists) if allowed."""
    find = ("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'")
    schema = conn.exec_driver_sql(find).scalar()
    if schema is None:
        # In `public`, not the first schema of the search path: a per-tenant (or per-test) schema may be
        # dropped, and the extension with it.
        has_public = conn.exec_driver_sql("SELECT 1 FROM pg_namespace WHERE nspname = 'public'").first()
        create = "CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" SCHEMA public" if has_public else "")
        try:
            with conn.begin_nested():  # a savepoint: a refusal leaves the import's transaction usable
                conn.exec_driver_sql(create)
        except sa.exc.DBAPIError as exc:  # no privilege, or not shipped with this server
            log.info("pg_trgm unavailable, datastore q scans: %s", exc.orig)
            return None
        schema = conn.exec_driver_sql(find).scalar()
    return schema


def build_text_index(conn: Connection, table: str, text_columns: list[str], row_count: int) -> bool:
    """A GIN trigram index over the text columns as one expression (substring search works for Korean).

    The operator class is named with its schema, so the index builds whatever the search path is; any
    failure leaves the table without it (`q` then scans) rather than failing the import."""
    if not text_columns or row_count > TEXT_INDEX_MAX_ROWS:
        return False
    schema = _trigram_schema(conn)
    if schema is None:
        return False
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(f"CREATE INDEX {quote(text_index_name(table))} ON {quote(table)} "
                                 f"USING gin (({text_document(text_columns)}) {quote(schema)}.gin_trgm_ops)")
    except sa.exc.DBAPIError as exc:
        log.warning("datastore text index not built for %s: %s", table, exc.orig)
        return False
    return True


def drop_text_index(conn: Connection, table: str) -> None:
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {quote(text_index_name(table))}")


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def text_condition(table: sa.Table, terms: list[str], text_columns: list[str], indexed: bool):  # noqa: ANN201
    """Every term must occur (case-insensitively) in some text column: one ILIKE per term on the indexed
    expression when the table has its trigram index, else one per column."""
    if indexed:
        document = sa.literal_column(f"({text_document(text_columns)})", sa.Text)
        return sa.and_(*(document.ilike(_like(t), escape="\\") for t in terms))
    return sa.and_(*(sa.or_(*(table.c[c].ilike(_like(t), escape="\\") for c in text_columns)) for t in terms))
