"""Per-column indexes built in the background once a table is loaded, so filters and sorts the import's
index plan did not foresee stay fast.

Why: the import indexes only what the common page needs (tables.index_plan: categorical filters paired
with time, time alone) because every index costs load time. On 10,000,000 rows, queries outside that
plan read the whole table: two filters no row satisfies together ~1.2 s, a range on an unindexed number
~0.5 s, a sort on an unindexed column ~0.4 s. After the load has committed (and settled for
DELAY_SECONDS), each remaining filterable or sortable column — numbers, integers, dates, datetimes, and
categorical columns (those with a value histogram) — gets an index of its own, one per transaction, and
the registry's `indexes` list records it in the same transaction (query_plan.py reads it to choose the index
a page is read from). Tables fed row by row (collection) are left alone: each index would slow every
upsert.

What is pending is derived from the database alone (the registry's fields, histograms and indexes), so
any worker may build, a killed process's unfinished work is found again, and two workers never build the
same index twice: on SQLite the builder takes the write lock first (BEGIN IMMEDIATE) and re-reads the
registry under it; on PostgreSQL a transaction-scoped advisory lock keyed by the table does the same.
On SQLite the write lock is held for one index build and released between indexes. SQLite has one write
lock for the whole database, and one index build on 10,000,000 rows held it 11–83 s under load, longer than
other writers' 30 s busy timeout (incidents, sensor batches, collection runs would fail behind it). So on
SQLite only tables up to SQLITE_MAX_ROWS get background indexes (a few seconds' build at most); bigger tables
keep the import's plan there. PostgreSQL locks only the table being indexed, so it takes every size.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cityhub.datastore.models import DatastoreTable
from cityhub.datastore.tables import INDEX_MIN_ROWS, index_name
from cityhub.db import utcnow

log = logging.getLogger("cityhub.datastore")

DELAY_SECONDS = 10.0  # a table is indexed once its load is this old (its first previews come first)
POLL_SECONDS = 60.0  # also looked for on dataset events; the poll finds what a killed process left
MAX_INDEXES = 12  # per table, the import's included: each one costs disk and every later write
ORDERED_KINDS = ("integer", "number", "date", "datetime")
SQLITE_CACHE_PAGES = -65536  # db.py's per-connection page cache
SQLITE_MAX_ROWS = 1_000_000  # a build this size holds SQLite's database-wide write lock for ~1–3 s


def wanted(fields: list[dict[str, Any]], plan: list[list[str]], categorical: set[str], row_count: int) -> list[str]:
    """Columns that should get an index of their own and do not lead one yet."""
    if row_count < INDEX_MIN_ROWS:
        return []
    led = {names[0] for names in plan if names}
    out = [f["id"] for f in fields if f["id"] not in led and (f["type"] in ORDERED_KINDS or f["id"] in categorical)]
    return out[:max(0, MAX_INDEXES - len(plan))]


def _pending_of(row: Any, dialect: str, any_size: bool = False) -> list[str]:
    if dialect == "sqlite" and not any_size and (row.row_count or 0) > SQLITE_MAX_ROWS:
        return []  # see the module docstring: the build would block every writer of the database
    return wanted(row.fields or [], row.indexes or [], set(row.histograms or {}), row.row_count or 0)


def pending(conn: Connection, *, min_age_seconds: float = DELAY_SECONDS,
            any_size: bool = False) -> list[tuple[str, list[str]]]:
    """(resource id, columns still to index) for loaded tables at least `min_age_seconds` old; `any_size`
    includes SQLite tables over SQLITE_MAX_ROWS (a maintenance window's choice: `cityhub dataset
    index-columns`)."""
    t = DatastoreTable
    cutoff = utcnow() - timedelta(seconds=min_age_seconds)
    rows = conn.execute(sa.select(t.resource_id, t.fields, t.indexes, t.histograms, t.row_count)
                        .where(t.row_count >= INDEX_MIN_ROWS, t.created_at <= cutoff,
                               sa.or_(t.source_format.is_(None), t.source_format != "collect")))
    return [(row.resource_id, cols) for row in rows if (cols := _pending_of(row, conn.dialect.name, any_size))]


def _lock(conn: Connection, resource_id: str) -> None:
    """Serialise builders of one table (see the module docstring)."""
    if conn.dialect.name == "sqlite":
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
    else:
        key = int.from_bytes(hashlib.sha1(f"datastore-index:{resource_id}".encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def build_one(engine: Engine, resource_id: str, column: str, *, any_size: bool = False) -> bool:
    """Index `column` of the resource's table if it is still wanted; True when an index was made."""
    t = DatastoreTable
    with engine.connect() as conn:
        _lock(conn, resource_id)  # closing without commit (nothing to do, or an error) rolls back
        row = conn.execute(sa.select(t.table_name, t.fields, t.indexes, t.histograms, t.row_count)
                           .where(t.resource_id == resource_id)).first()
        if row is None or column not in _pending_of(row, conn.dialect.name, any_size):
            return False
        plan = [list(names) for names in row.indexes or []]
        name = index_name(row.table_name, len(plan))
        _create(conn, name, row.table_name, column)
        conn.execute(sa.update(t).where(t.resource_id == resource_id).values(indexes=[*plan, [column]]))
        conn.commit()
    return True


def _create(conn: Connection, name: str, table: str, column: str) -> None:
    quote = conn.dialect.identifier_preparer.quote
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:  # the build sorts in memory on two threads, as the import's index builds do (store_sqlite)
        conn.exec_driver_sql("PRAGMA cache_size=-262144")
        conn.exec_driver_sql("PRAGMA threads=2")
    try:
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({quote(column)})")
    finally:
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA cache_size={SQLITE_CACHE_PAGES}")  # back to the pool's setting
    if not sqlite:
        conn.exec_driver_sql(f"ANALYZE {quote(table)}")  # the planner's statistics


def build_pending(engine: Engine, *, min_age_seconds: float = DELAY_SECONDS,
                  stopping: threading.Event | None = None) -> int:
    """Build every pending column index, one per transaction; the number built."""
    with engine.connect() as conn:
        work = pending(conn, min_age_seconds=min_age_seconds)
    built = 0
    for resource_id, columns in work:
        for column in columns:
            if stopping is not None and stopping.is_set():
                return built
            built += build_one(engine, resource_id, column)
    return built


class ColumnIndexer:
    """The background thread of one process: woken by dataset events, and polling for what is left."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="datastore-column-indexes", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def notify(self, *_: Any) -> None:
        self.wake.set()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=10)

    def run(self) -> None:
        while not self.stopping.is_set():
            woken = self.wake.wait(timeout=POLL_SECONDS)
            self.wake.clear()
            if woken and self.stopping.wait(DELAY_SECONDS):  # let the load settle (and its previews run)
                return
            try:
                build_pending(self.engine, min_age_seconds=DELAY_SECONDS, stopping=self.stopping)
            except Exception:  # noqa: BLE001 — the next wake or poll tries again
                log.exception("building datastore column indexes failed")
