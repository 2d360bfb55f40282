"""Running checked SQL on SQLite: the engine-level wall of the sandbox.

Each query gets a connection of its own (kept in a small pool between queries), opened read-only
(`file:…?mode=ro`), with extension loading off, tight per-connection limits (no attached databases,
bounded value sizes), an authorizer that allows only SELECT, reads of the tables the caller may read
and functions on the allow-list, and a progress handler that aborts the query once the time limit
has passed. The sqlglot checks run first and give the friendly messages; the authorizer is what
holds if they ever miss something.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.engine import make_url

from cityhub.ctx import RequestContext
from cityhub.datastore.models import DatastoreTable
from cityhub.datastore.sql import CheckedQuery, RawResult, fetch_capped, infer_type, sql_invalid, timeout_error
from cityhub.datastore.types import CKAN_TYPES, ID_COLUMN

DIALECT = "sqlite"

# Built-in SQLite functions that read nothing but their arguments. Not here on purpose:
# load_extension, fts3_tokenizer, readfile/writefile/edit (CLI), sqlite_* introspection,
# changes/last_insert_rowid/total_changes, zeroblob/randomblob (memory), pragma_* and json_each
# style table functions (they touch the schema).
FUNCTIONS = frozenset("""
abs char coalesce concat concat_ws format glob hex ifnull iif instr length like likelihood likely lower
ltrim max min nullif octet_length printf quote random replace round rtrim sign soundex substr substring
trim typeof unhex unicode unlikely upper
avg count group_concat string_agg sum total
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
date time datetime julianday unixepoch strftime timediff
acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10 log2 mod pi
pow power radians sin sinh sqrt tan tanh trunc
json json_array json_array_length json_extract json_insert json_object json_patch json_remove
json_replace json_set json_type json_valid json_quote json_group_array json_group_object
-> ->>
cast
""".split())
TABLE_FUNCTIONS: frozenset[str] = frozenset()
NAMED_TYPES: frozenset[str] | None = None  # SQLite takes any type name in a cast and looks nothing up

_SQLITE_RECURSIVE = getattr(sqlite3, "SQLITE_RECURSIVE", 33)
_ACTION_NAMES = {
    value: name.removeprefix("SQLITE_")
    for name, value in vars(sqlite3).items()
    if name.startswith("SQLITE_") and isinstance(value, int) and name not in ("SQLITE_OK", "SQLITE_DENY",
                                                                             "SQLITE_IGNORE")
    and not name.startswith("SQLITE_LIMIT")
}
# Values can be built up to this size inside a query (printf widths, group_concat of a big table).
MAX_VALUE_BYTES = 16 * 1024 * 1024
PROGRESS_STEPS = 2_000


def database_path(database_url: str) -> str:
    path = make_url(database_url).database
    if not path or path == ":memory:":
        raise sql_invalid("SQL over the datastore needs a file database")
    return path


class _Wall:
    """The authorizer and the clock for one query; remembers why it said no."""

    def __init__(self, tables: frozenset[str], deadline: float) -> None:
        self.tables = tables
        self.deadline = deadline
        self.denied: str | None = None
        self.timed_out = False

    def authorize(self, action: int, arg1: str | None, arg2: str | None, db_name: str | None,
                  _trigger: str | None) -> int:
        if action in (sqlite3.SQLITE_SELECT, _SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            # A CTE or subquery has no schema (count(*) over one reads it with db None); real tables do.
            if db_name is None or (db_name == "main" and (arg1 or "").lower() in self.tables):
                return sqlite3.SQLITE_OK
            return self._deny(f"table not found or not permitted: {arg1}")
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() in FUNCTIONS:
                return sqlite3.SQLITE_OK
            return self._deny(f"function not allowed: {arg2}")
        return self._deny(f"only SELECT is allowed: found {_ACTION_NAMES.get(action, action)}")

    def _deny(self, reason: str) -> int:
        self.denied = self.denied or reason
        return sqlite3.SQLITE_DENY

    def tick(self) -> int:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0


def _open(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=5, check_same_thread=False,
                           isolation_level=None)
    if hasattr(conn, "enable_load_extension"):
        conn.enable_load_extension(False)
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, 200_000)
    conn.execute("PRAGMA trusted_schema=OFF")
    return conn


def _declared_types(ctx: RequestContext, conn: sqlite3.Connection, tables: list[str]) -> dict[str, str | None]:
    """Column name → CKAN type over the tables read; a name two tables type differently is dropped.

    SQLite stores dates as text, so the datastore's own field list (when it has one) wins over the
    declared column types.
    """
    pairs: list[tuple[str, str | None]] = []
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        catalogued = _catalogued_fields(ctx, table)
        if catalogued is not None:
            pairs += catalogued
            continue
        pairs += [(row[1], ckan_type(row[2])) for row in conn.execute(f"PRAGMA table_info({quoted})")]
    found: dict[str, str | None] = {}
    for name, kind in pairs:
        found[name] = kind if found.get(name, kind) == kind else None
    return found


def _catalogued_fields(ctx: RequestContext, table: str) -> list[tuple[str, str | None]] | None:
    fields = ctx.db.scalar(select(DatastoreTable.fields).where(DatastoreTable.table_name == table))
    if fields is None:
        return None
    return [(ID_COLUMN, "int")] + [(f["id"], CKAN_TYPES.get(f.get("type", ""), "text")) for f in fields]


def ckan_type(declared: str | None) -> str | None:
    text = (declared or "").upper()
    for needle, kind in (("BOOL", "bool"), ("INT", "int"), ("TIMESTAMP", "timestamp"), ("DATETIME", "timestamp"),
                         ("DATE", "date"), ("REAL", "numeric"), ("FLOA", "numeric"), ("DOUB", "numeric"),
                         ("NUM", "numeric"), ("DEC", "numeric"), ("JSON", "json"), ("CHAR", "text"),
                         ("TEXT", "text"), ("CLOB", "text")):
        if needle in text:
            return kind
    return None


def _fits(kind: str, values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    if kind == "bool":
        return all(v in (0, 1) and isinstance(v, int) for v in present)
    if kind == "int":
        return all(isinstance(v, int) for v in present)
    if kind == "numeric":
        return all(isinstance(v, (int, float)) for v in present)
    return all(isinstance(v, str) for v in present)


def _types(columns: list[str], rows: list[tuple[Any, ...]], declared: dict[str, str | None]) -> list[str]:
    kinds = []
    for index, name in enumerate(columns):
        values = [row[index] for row in rows]
        kind = declared.get(name)
        kinds.append(kind if kind and _fits(kind, values) else infer_type(values))
    return kinds


def execute(ctx: RequestContext, *, query: CheckedQuery, max_rows: int) -> RawResult:
    """Run a checked query on a read-only connection behind the authorizer and the clock."""
    settings = ctx.settings
    path = database_path(settings.database_url)
    conn = _checkout(path)
    wall = _Wall(frozenset(t.lower() for t in query.tables), time.monotonic() + settings.sql_timeout_seconds)
    reusable = False
    try:
        declared = _declared_types(ctx, conn, list(query.tables))
        conn.set_authorizer(wall.authorize)
        conn.set_progress_handler(wall.tick, PROGRESS_STEPS)
        cursor = None
        try:
            cursor = conn.execute(query.text)
            rows, truncated = fetch_capped(cursor, max_rows)
            columns = [d[0] for d in cursor.description or ()]
        except sqlite3.Error as err:
            raise _translate(err, wall, settings.sql_timeout_seconds) from None
        finally:
            if cursor is not None:
                cursor.close()  # ends the read transaction: an idle pooled reader never holds back checkpoints
        reusable = True
        return RawResult(columns=columns, types=_types(columns, rows, declared), rows=rows, truncated=truncated)
    finally:
        _checkin(path, conn, reusable=reusable)


# Opening a connection re-reads the whole schema (about 30 ms with 2,000 datastore tables), so readers
# are kept between queries. Only the authorizer and clock differ per query; both are removed on return.
POOL_SIZE = 4
_pool: dict[str, list[sqlite3.Connection]] = {}
_pool_lock = threading.Lock()


def _checkout(path: str) -> sqlite3.Connection:
    with _pool_lock:
        idle = _pool.get(path)
        if idle:
            return idle.pop()
    return _open(path)


def _checkin(path: str, conn: sqlite3.Connection, *, reusable: bool) -> None:
    conn.set_authorizer(None)
    conn.set_progress_handler(None, 0)
    if reusable and not conn.in_transaction:
        with _pool_lock:
            idle = _pool.setdefault(path, [])
            if len(idle) < POOL_SIZE:
                idle.append(conn)
                return
    conn.close()


def close_pool(database_url: str) -> None:
    """Close the idle readers of one database (at app shutdown)."""
    path = make_url(database_url).database
    with _pool_lock:
        idle = _pool.pop(path or "", [])
    for conn in idle:
        conn.close()


def _translate(err: sqlite3.Error, wall: _Wall, timeout: float) -> Exception:
    message = str(err)
    if wall.timed_out or message == "interrupted":
        return timeout_error(timeout)
    if wall.denied:
        return sql_invalid(wall.denied)
    if message.startswith("no such table:"):
        return sql_invalid(f"table not found or not permitted: {message.split(':', 1)[1].strip()}")
    if "too many SQL variables" in message or "string or blob too big" in message:
        return sql_invalid(f"query too large: {message}")
    return sql_invalid(f"SQL error: {message}")
