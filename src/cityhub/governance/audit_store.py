"""Where read-path audit entries live on SQLite: a database file of their own, beside the main one.

Every authenticated request leaves a `token.use` entry, and every read of internal or restricted data a
`dataset.read` one. Written into the main database, each such commit made every other pooled connection drop
its whole page cache at its next read (SQLite resets a WAL reader's cache whenever the database changed),
so the next query re-read its index and table pages: +5.4 ms CPU per near query over 100,000 entities
(11.3 → 16.9 ms median, load 10; a commit to another file: 11.6 ms). So on SQLite those entries go to
`<main>-audit.db`, ATTACHed to every connection as `audit_reads`: they are written in the request's own
transaction on its own connection, before the response is sent, like every other entry (committed in WAL
mode, they survive kill -9), and the main database's pages stay cached. Entries of writes, logins and
everything else stay in the main `audit_log`, in the transaction of what they record.

The side table is append-only like the main one (triggers refuse UPDATE and DELETE). Its ids start at
ID_BASE so that an id names one entry across both tables; the audit reader (audit.search) reads both as one.
PostgreSQL has no such cache effect: there every entry goes to `audit_log`, and nothing here is used.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, MetaData, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from cityhub.governance.models import AuditEntry

SCHEMA = "audit_reads"
ATTACHED = "audit_reads_attached"  # key in the pool record's info: this connection has the side file
# Per-request entries of reads: the token of every authenticated request, every read of non-public data.
READ_PATH_ACTIONS = frozenset({"token.use", "dataset.read"})
ID_BASE = 1_000_000_000_000_000  # above any main-table id, below 2**53 (exact in JSON numbers)

side_table = Table(
    "audit_log", MetaData(), *(c._copy() for c in AuditEntry.__table__.columns),
    Index("ix_audit_reads_at", "at"), Index("ix_audit_reads_actor", "actor_user_id", "at"),
    Index("ix_audit_reads_resource", "resource_id", "at"), Index("ix_audit_reads_action", "action"),
    schema=SCHEMA, sqlite_autoincrement=True,  # ids never reused, and seeded at ID_BASE
)
_INSERT = side_table.insert()


def side_path(main_file: str) -> str:
    """cityhub.db → cityhub-audit.db (same directory, so backups of the data dir take both)."""
    stem, dot, ext = main_file.rpartition(".")
    return f"{stem}-audit.{ext}" if dot and "/" not in ext else f"{main_file}-audit"


def _ddl() -> list[str]:
    dialect = sqlite.dialect()
    stmts = [str(CreateTable(side_table, if_not_exists=True).compile(dialect=dialect))]
    stmts += [str(CreateIndex(ix, if_not_exists=True).compile(dialect=dialect)) for ix in side_table.indexes]
    stmts.append(f"INSERT INTO {SCHEMA}.sqlite_sequence (name, seq) SELECT 'audit_log', {ID_BASE} "
                 f"WHERE NOT EXISTS (SELECT 1 FROM {SCHEMA}.sqlite_sequence WHERE name = 'audit_log')")
    for verb in ("UPDATE", "DELETE"):  # append-only, as the main audit_log
        stmts.append(f"CREATE TRIGGER IF NOT EXISTS {SCHEMA}.audit_log_no_{verb.lower()} BEFORE {verb} "
                     "ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
    return stmts


def attach(dbapi_conn: Any, record: Any) -> None:
    """ATTACH the side file to a new SQLite connection (from the engine's connect hook), creating its table
    on first use. Skipped for an in-memory main database (nothing to keep apart)."""
    cur = dbapi_conn.cursor()
    try:
        main_file = next((f for _, name, f in cur.execute("PRAGMA database_list") if name == "main"), "")
        if not main_file:
            return
        cur.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (side_path(main_file),))
        cur.execute(f"PRAGMA {SCHEMA}.journal_mode=WAL")
        cur.execute(f"PRAGMA {SCHEMA}.synchronous=NORMAL")  # as main: a commit survives kill -9
        ready = cur.execute(f"SELECT count(*) FROM {SCHEMA}.sqlite_master WHERE name = 'audit_log_no_delete'")
        if not ready.fetchone()[0]:
            cur.execute("BEGIN IMMEDIATE")  # several processes may start at once: one creates, all see it
            for stmt in _ddl():
                cur.execute(stmt)
            cur.execute("COMMIT")
        record.info[ATTACHED] = True
    finally:
        cur.close()


def has_side(conn: Any) -> bool:
    """Whether this SQLAlchemy connection writes read-path entries to the side file."""
    return bool(conn.info.get(ATTACHED))


def split(conn: Any, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows for the main audit_log, rows for the side table): all main when this connection has no side."""
    if not has_side(conn):
        return rows, []
    return ([r for r in rows if r["action"] not in READ_PATH_ACTIONS],
            [r for r in rows if r["action"] in READ_PATH_ACTIONS])


def insert(conn: Any, rows: list[dict[str, Any]]) -> None:
    conn.execute(_INSERT, rows)
