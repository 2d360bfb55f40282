"""Where history lives on SQLite: a database file of its own, beside the main one.

SQLite has one writer per database file. Expanding acknowledged batches into observations and
minute/hour/day rollups (`history_pending`) is most of the SQL a batch upsert causes (about 185 ms per
10,000 readings against ~30 ms for the entity rows), and while it held the main file's write lock every
batch upsert waited for it: the history writer's SQL, not the requests, set the acknowledged rate
(38,000 attribute updates/s; 100,000 with the expansion switched off). So on SQLite `ctx_observations`
and `ctx_rollups` live in `<main>-history.db`, ATTACHed to every connection as `ctx_history`: the
history writer expands into that file under its own lock, on the other core, while requests commit to
the main file. Queries name the tables unqualified and SQLite finds them in the attached file, so every
reader (temporal API, open data, retention) is unchanged; a commit there also leaves the main file's page
caches alone (see governance/audit_store.py).

The tables are created in the side file on first attach; a database migrated before this (or by Alembic
from nothing, which creates them in the main file) has them moved across once, under the write lock of
both files, and dropped from the main file. PostgreSQL has one writer per row, not per file: there the
tables stay where Alembic puts them and nothing here is used. A later migration of these two tables has to
address `ctx_history.` on SQLite.

A pending batch and its expansion are no longer one transaction (two files): a crash between the
history commit and the pending row's deletion expands it again, which the observation key makes a no-op
(rollups fold only the rows actually inserted), so nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

SCHEMA = "ctx_history"
ATTACHED = "ctx_history_file"  # key in the pool record's info: the side file this connection has attached
TABLES = ("ctx_observations", "ctx_rollups")
PAGE_SIZE = 32768
_local = threading.local()  # each thread's own connection to its side file (a page cache kept warm)


def side_path(main_file: str) -> str:
    """cityhub.db → cityhub-history.db (same directory, so backups of the data dir take both)."""
    stem, dot, ext = main_file.rpartition(".")
    return f"{stem}-history.{ext}" if dot and "/" not in ext else f"{main_file}-history"


def _ddl() -> list[str]:
    """The two tables and their indexes as the models declare them (rollups clustered on their key, as
    context_0005 made them), in the side schema."""
    from cityhub.context.models import Observation, Rollup

    dialect = sqlite.dialect()
    meta = MetaData()
    stmts = []
    for model in (Observation, Rollup):
        table = model.__table__.to_metadata(meta, schema=SCHEMA)
        stmts.append(str(CreateTable(table, if_not_exists=True).compile(dialect=dialect)))
        stmts += [str(CreateIndex(ix, if_not_exists=True).compile(dialect=dialect)) for ix in table.indexes]
    return stmts


def _tables(cur: sqlite3.Cursor, schema: str) -> set[str]:
    rows = cur.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name IN (?, ?)", TABLES)
    return {name for (name,) in rows}


def attach(dbapi_conn: Any, record: Any) -> None:
    """ATTACH the side file to a new SQLite connection (from the engine's connect hook); create its tables,
    or move them there from the main file, the first time. Skipped for an in-memory main database."""
    cur = dbapi_conn.cursor()
    try:
        main_file = next((f for _, name, f in cur.execute("PRAGMA database_list") if name == "main"), "")
        if not main_file:
            return
        path = side_path(main_file)
        cur.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (path,))
        # Set before the new file's first page is written (later it stays as it is): the expansion's inserts
        # land all over wide text-keyed B-trees, and 32 KB pages took ~25 % less CPU per reading than 4 KB
        # (fewer splits, shallower trees); readers take one entity's rows from one or two pages.
        cur.execute(f"PRAGMA {SCHEMA}.page_size={PAGE_SIZE}")
        cur.execute(f"PRAGMA {SCHEMA}.journal_mode=WAL")
        cur.execute(f"PRAGMA {SCHEMA}.synchronous=NORMAL")  # as main: a commit survives kill -9
        if _tables(cur, "main") or len(_tables(cur, SCHEMA)) < len(TABLES):
            _settle_tables(cur)
        record.info[ATTACHED] = path
    finally:
        cur.close()


def _settle_tables(cur: sqlite3.Cursor) -> None:
    """Create the side tables and move any rows the main file still holds (once per database)."""
    cur.execute("BEGIN IMMEDIATE")  # several processes may start at once: one moves, all see it
    try:
        for stmt in _ddl():
            cur.execute(stmt)
        for table in _tables(cur, "main"):
            cur.execute(f"INSERT OR IGNORE INTO {SCHEMA}.{table} SELECT * FROM main.{table}")
            cur.execute(f"DROP TABLE main.{table}")
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise


def side_of(conn: Any) -> str | None:
    """The side file a SQLAlchemy connection has attached (None: history is in its own database)."""
    return conn.info.get(ATTACHED)


def _connection(path: str) -> sqlite3.Connection:
    """This thread's connection to the side file: one kept per thread, for the last file it wrote (a warm
    page cache for the history writer; a test process starting many apps keeps no pile of open files)."""
    held: tuple[str, sqlite3.Connection] | None = getattr(_local, "held", None)
    if held is not None and held[0] == path:
        return held[1]
    if held is not None:
        held[1].close()
    conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000", "cache_size=-65536",
                   "mmap_size=1073741824"):
        conn.execute(f"PRAGMA {pragma}")
    _local.held = (path, conn)
    return conn


@contextmanager
def writing(path: str, *, checkpointed_elsewhere: bool = False) -> Iterator[sqlite3.Connection]:
    """A write transaction on the side file alone (BEGIN IMMEDIATE on a connection that has only that
    file: on the app's connections it would lock the main file too). Commits, or rolls back on error.

    `checkpointed_elsewhere`: the history writer, whose WAL a checkpointer thread copies back
    (history_pending.Checkpointer). Its chunk dirties more than SQLite's 1,000-page automatic checkpoint
    threshold, so every commit also ran a checkpoint with its fsyncs in the writer's thread: ~28 % of
    that thread's time at 50,000 updates/s."""
    conn = _connection(path)
    conn.execute(f"PRAGMA wal_autocheckpoint={0 if checkpointed_elsewhere else 1000}")
    # the writer's thread keeps a larger page cache (its inserts land all over the history B-trees: 256 MB
    # held it ~10 % less CPU per reading than 64 MB after 2M readings); other threads' settles stay at 64 MB
    conn.execute(f"PRAGMA cache_size={-262144 if checkpointed_elsewhere else -65536}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def checkpoint(path: str) -> None:
    """Copy the side file's WAL back into it (PASSIVE: waits for no one), from the history writer's thread,
    so SQLite's automatic checkpoint seldom lands in the middle of an expansion."""
    _connection(path).execute("PRAGMA wal_checkpoint(PASSIVE)")


def take_write_lock(db: Any) -> None:
    """Take the history file's write lock in `db`'s transaction now, before it reads history it then
    changes (retention): a read first would pin a snapshot that the history writer's next commit makes
    stale, and SQLite refuses a stale snapshot's write at once (SQLITE_BUSY_SNAPSHOT) instead of waiting.
    A no-op where history shares the main file's lock (in-memory SQLite) or on PostgreSQL."""
    conn = db.connection()
    if side_of(conn) is not None:
        conn.exec_driver_sql("DELETE FROM ctx_rollups WHERE 0")  # a write statement: takes the lock, changes nothing
