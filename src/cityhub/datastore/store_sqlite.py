"""SQLite specifics for the datastore: transactional DDL, bulk load, FTS5 trigram text index.

Dialect-specific SQL lives here and in store_postgres.py only.

Big loads (`start_preload`, `preload`) go straight into the main database file from a loader process
(loader.py: ADBC's SQLite driver, which carries its own SQLite, must not open our database file in our
process): Arrow batches stream to it over a pipe as they are typed, and it writes them and builds the
indexes in C into a fresh table named `_loading_<time>_<hex>`, committed in chunks so other writers get
turns. The request's transaction then renames it to its real name together with the registry row, so the
table exists under its name only if the import commits. A rolled-back import leaves the `_loading_` table
behind only until the connection returns to the pool, where it is dropped; a process killed mid-load
leaves one for the start-up sweep (`sweep_loading_tables`).
This only works while the request's own connection holds no write lock (the loader would wait for it):
otherwise big loads go through a scratch database whose rows and index b-trees one
`INSERT INTO main.t SELECT * FROM scratch.t` copies in the request's transaction (SQLite's transfer
optimisation: identical column affinities and indexes, empty target).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cityhub.datastore.loader import LoaderProcess

log = logging.getLogger("cityhub.datastore")
BATCH_ROWS = 100_000
# Below this many rows executemany is as quick as setting up a scratch database.
SCRATCH_MIN_ROWS = 50_000
SCRATCH_ALIAS_KEY = "datastore_scratch_aliases"  # on the pool record: scratch databases to DETACH at check-in
# The loader process costs a few hundred milliseconds to start; below this the scratch database is as quick.
PRELOAD_MIN_ROWS = 500_000
LOADING_PREFIX = "_loading_"
LOADING_KEY = "datastore_loading_tables"  # on the pool record: preloaded tables to drop at check-in
# Rows per loader transaction: other writers get the lock between chunks, and the WAL stays short.
PRELOAD_CHUNK_ROWS = 1_000_000
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
    raw.execute("PRAGMA threads=2")  # temp_store=MEMORY is set per connection (db.py): not allowed in a transaction


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_table(conn: Connection, table: sa.Table, data: pa.Table, indexes: list[sa.Index], *, scratch_dir: Path,
               progress: Callable[[int], None] | None = None) -> None:
    """Create `table` with its rows and `indexes` inside the caller's transaction."""
    if data.num_rows >= SCRATCH_MIN_ROWS and _adbc() is not None and _file_backed(conn):
        _load_via_scratch(conn, table, data, indexes, scratch_dir, progress)
        return
    conn.execute(sa.schema.CreateTable(table))  # the table only: its indexes come after the rows
    bulk_insert(conn, table, data, progress)
    for index in indexes:
        index.create(conn)


def _adbc():  # noqa: ANN202
    try:
        import adbc_driver_sqlite.dbapi as adbc
    except ImportError:  # optional: executemany still works, only slower
        return None
    return adbc


def _main_file(conn: Connection) -> str | None:
    return next((row[2] for row in _raw(conn).execute("PRAGMA database_list") if row[1] == "main" and row[2]),
                None)


def _file_backed(conn: Connection) -> bool:
    return _main_file(conn) is not None


def can_preload(conn: Connection, rows: int) -> bool:
    """Whether `preload` may run now: a big load, ADBC present, a database file, and no write transaction
    open on the request's connection (the loader would wait for our own lock)."""
    return (rows >= PRELOAD_MIN_ROWS and _adbc() is not None and not _raw(conn).in_transaction
            and _file_backed(conn))


def start_preload(conn: Connection, table: sa.Table, loader: LoaderProcess, schema: pa.Schema) -> str:
    """Have `loader` create a fresh `_loading_…` twin of `table` in the main file and open its row stream
    (`schema`: every column of `table` but the row id, in order); returns the twin's name, which `adopt`
    turns into `table.name` in the caller's transaction. Rows go in with `loader.send`, and
    `loader.finish(index_statements(…))` commits them with their indexes.

    The name is recorded on the pooled connection first, so whatever happens next (an error here, a
    refusal later, a rollback) the table is dropped when the connection is checked in, unless adopted.
    """
    if schema.names != [c.name for c in table.columns][1:]:
        raise ValueError("the Arrow rows must hold every column of the datastore table, in order")
    loading = f"{LOADING_PREFIX}{int(time.time())}_{uuid.uuid4().hex}"
    conn.connection.info.setdefault(LOADING_KEY, []).append(loading)
    loader.start({"database": _main_file(conn), "table": loading, "chunk_rows": PRELOAD_CHUNK_ROWS,
                  "ddl": str(sa.schema.CreateTable(_twin(table, loading)).compile(dialect=conn.dialect))}, schema)
    return loading


def _twin(table: sa.Table, loading: str) -> sa.Table:
    return sa.Table(loading, sa.MetaData(), *(sa.Column(c.name, c.type, primary_key=c.primary_key, quote=True)
                                              for c in table.columns))


def index_statements(conn: Connection, table: sa.Table, loading: str, indexes: list[sa.Index]) -> list[str]:
    """CREATE INDEX statements for the `_loading_` twin of `table` (the names stay through the rename)."""
    twin = _twin(table, loading)
    return [str(sa.schema.CreateIndex(sa.Index(index.name, *(twin.c[c.name] for c in index.columns)))
                .compile(dialect=conn.dialect)) for index in indexes]


def preload(conn: Connection, table: sa.Table, data: pa.Table, indexes: list[sa.Index], *,
            progress: Callable[[int], None] | None = None,
            indexing: Callable[[int, int], None] | None = None, loader: LoaderProcess | None = None) -> str:
    """Write `data` and `indexes` into a fresh `_loading_…` table of the main file through a loader process
    (`loader`, or a new one); returns its name for `adopt` (see start_preload)."""
    names = [c.name for c in table.columns if c.name in data.column_names]
    loader = loader or LoaderProcess()
    try:
        loading = start_preload(conn, table, loader, data.select(names).schema)
        for batch in data.select(names).to_batches(max_chunksize=BATCH_ROWS):
            loader.send(batch)
            if progress:
                progress(batch.num_rows)
        loader.finish(index_statements(conn, table, loading, indexes), indexing)
    finally:
        loader.stop()  # interrupted: stop it before its table is dropped
    return loading


def adopt(conn: Connection, loading: str, name: str) -> None:
    """Give a preloaded table its real name inside the caller's transaction (its indexes keep theirs)."""
    conn.exec_driver_sql(f"ALTER TABLE {quote(loading)} RENAME TO {quote(name)}")


@sa.event.listens_for(sa.pool.Pool, "checkin")
def _drop_unadopted(dbapi_connection, connection_record) -> None:  # noqa: ANN001
    """A preloaded table still under its `_loading_` name was never adopted by a commit: drop it."""
    names = connection_record.info.pop(LOADING_KEY, None) if connection_record is not None else None
    if not names or dbapi_connection is None:
        return
    for loading in names:
        try:
            if dbapi_connection.in_transaction:
                dbapi_connection.rollback()
            dbapi_connection.execute(f"DROP TABLE IF EXISTS {quote(loading)}")
            dbapi_connection.commit()
        except Exception:  # noqa: BLE001 — the start-up sweep gets it next time
            log.warning("could not drop a datastore table that was never adopted", extra={"table": loading})


def sweep_loading_tables(conn: Connection, min_age_seconds: float) -> list[str]:
    """Drop `_loading_` tables left by a process killed mid-load, once older than `min_age_seconds` (a
    younger one may be another worker's load in progress). Runs outside any transaction."""
    cutoff = time.time() - min_age_seconds
    pattern = LOADING_PREFIX.replace("_", "\\_") + "%"
    found = [row[0] for row in _raw(conn).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '\\'", (pattern,))]
    dropped = []
    for name in found:
        try:
            stamp = int(name[len(LOADING_PREFIX):].split("_", 1)[0])
        except ValueError:
            continue
        if stamp <= cutoff:
            _raw(conn).execute(f"DROP TABLE IF EXISTS {quote(name)}")
            dropped.append(name)
    if _raw(conn).in_transaction:
        _raw(conn).commit()
    return dropped


def _scratch_shape(conn: Connection, table: sa.Table, indexes: list[sa.Index]) -> tuple[str, list[str]]:
    """DDL for a twin of `table` in the scratch file: same column affinities and index columns by position
    (what the transfer optimisation compares), neutral names so no user-given name needs quoting by ADBC."""
    twin = sa.Table("t", sa.MetaData(), *(sa.Column(f"c{i}" if i else "_id", c.type, primary_key=c.primary_key)
                                          for i, c in enumerate(table.columns)))
    position = {c.name: i for i, c in enumerate(table.columns)}
    ddl = str(sa.schema.CreateTable(twin).compile(dialect=conn.dialect))
    index_ddl = [f"CREATE INDEX i{n} ON t ({', '.join(f'c{position[c.name]}' for c in index.columns)})"
                 for n, index in enumerate(indexes)]
    return ddl, index_ddl


def _fill_scratch(path: Path, ddl: str, index_ddl: list[str], batches: Iterator[pa.RecordBatch],
                  schema: pa.Schema) -> None:
    with _adbc().connect(str(path), autocommit=True) as scratch, scratch.cursor() as cursor:
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144", "temp_store=MEMORY",
                       "threads=2"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.execute(ddl)
        cursor.adbc_ingest("t", pa.RecordBatchReader.from_batches(schema, batches), mode="append")
        for statement in index_ddl:
            cursor.execute(statement)


def _load_via_scratch(conn: Connection, table: sa.Table, data: pa.Table, indexes: list[sa.Index],
                      scratch_dir: Path, progress: Callable[[int], None] | None) -> None:
    names = [c.name for c in table.columns if c.name in data.column_names]
    if names != [c.name for c in table.columns][1:]:
        raise ValueError("the Arrow table must hold every column of the datastore table, in order")
    data = data.select(names).rename_columns([f"c{i + 1}" for i in range(len(names))])
    ddl, index_ddl = _scratch_shape(conn, table, indexes)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in data.to_batches(max_chunksize=BATCH_ROWS):
            yield batch
            if progress:
                progress(batch.num_rows)

    scratch_dir.mkdir(parents=True, exist_ok=True)
    # "upload-" prefix: start-up recovery sweeps such files left by a process killed mid-load.
    path = scratch_dir / f"upload-datastore-{uuid.uuid4().hex}.sqlite"
    alias = f"ds_scratch_{uuid.uuid4().hex[:12]}"
    try:
        _fill_scratch(path, ddl, index_ddl, batches(), data.schema)
        conn.execute(sa.schema.CreateTable(table))  # the table only: its indexes come after the rows
        for index in indexes:  # empty twins of the scratch indexes: the copy fills them in order
            index.create(conn)
        raw = _raw(conn)
        raw.execute(f"ATTACH DATABASE ? AS {alias}", (str(path),))
        conn.connection.info.setdefault(SCRATCH_ALIAS_KEY, []).append(alias)
        path.unlink()  # the attached handle keeps reading it; nothing is left if we die now
        raw.execute(f"INSERT INTO main.{quote(table.name)} SELECT * FROM {alias}.t")
    finally:
        path.unlink(missing_ok=True)


@sa.event.listens_for(sa.pool.Pool, "checkin")
def _detach_scratch(dbapi_connection, connection_record) -> None:  # noqa: ANN001
    """DETACH is refused inside a transaction, so scratch databases go when the connection comes back."""
    aliases = connection_record.info.pop(SCRATCH_ALIAS_KEY, None) if connection_record is not None else None
    if not aliases or dbapi_connection is None:
        return
    for alias in aliases:
        try:
            dbapi_connection.execute(f"DETACH DATABASE {alias}")
        except Exception:  # noqa: BLE001 — a broken connection is discarded by the pool anyway
            log.warning("could not detach a datastore scratch database", extra={"alias": alias})


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
