"""PostgreSQL specifics for the datastore: COPY for bulk load, ILIKE for `q`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection

BATCH_ROWS = 200_000


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


def build_text_index(conn: Connection, table: str, text_columns: list[str], row_count: int) -> bool:
    """No per-table text index on PostgreSQL yet: `q` uses ILIKE (pg_trgm needs superuser to install)."""
    return False


def drop_text_index(conn: Connection, table: str) -> None:
    """Nothing to drop (see build_text_index)."""


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def text_condition(table: sa.Table, terms: list[str], text_columns: list[str], indexed: bool):  # noqa: ANN201
    """Every term must occur (case-insensitively) in some text column."""
    return sa.and_(*(sa.or_(*(table.c[c].ilike(_like(t), escape="\\") for c in text_columns)) for t in terms))
