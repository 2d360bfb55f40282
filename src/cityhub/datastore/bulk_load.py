"""Big uploads on SQLite: rows loaded by a loader process straight into the database file before the request
writes anything, then adopted by the request's transaction (see store_sqlite.start_preload).

Types are guessed from the first rows and confirmed batch by batch while the loader inserts the batches
before (infer_batches), so typing and SQLite's inserts run on both cores at once; a batch the guess does
not cover sends the table through whole-column typing and a plain preload instead.

`prepare_upload` serves callers that create the dataset and the resource in the same transaction as the
load (the CLI): they would hold the write lock the loader needs, so the rows are loaded first, without
indexes (their names follow the resource id, unknown yet), and `load_resource` adopts them and builds the
indexes in its transaction — unless governance screening changed the rows, in which case the prepared
table is dropped like any unadopted one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Connection

from cityhub.auth import policy
from cityhub.auth.service import get_org
from cityhub.ctx import RequestContext
from cityhub.datastore import infer_batches, store_sqlite
from cityhub.datastore.importers import RawTable, guess_format, read_tabular
from cityhub.datastore.infer import TypedTable, infer_types
from cityhub.datastore.loader import LoaderProcess
from cityhub.datastore.models import DatastoreTable
from cityhub.datastore.tables import create_indexes, index_plan, new_table, plan_indexes

Progress = Callable[[str, int, int], None]
PREPARED_KEY = "datastore_prepared"  # ctx.extra: a file loaded ahead of its resource (prepare_upload)
# A CSV this big is worth starting the loader process before parsing it (its start-up hides behind the parse).
EARLY_LOADER_BYTES = 16 << 20


@dataclass
class Preloaded:
    loading: str  # the `_loading_` table holding the rows
    typed: TypedTable
    plan: list[list[str]] | None  # the indexes built with the rows; None: still to build at adoption


@dataclass
class _Prepared:
    size: int
    fmt: str
    raw: RawTable
    preloaded: Preloaded


def fields_of(typed: TypedTable) -> list[dict[str, str]]:
    return [{"id": c.name, "type": c.type} for c in typed.columns]


def loaded_counter(total: int, report: Progress) -> Callable[[int], None]:
    done = 0

    def loaded(rows: int) -> None:
        nonlocal done
        done += rows
        report("loading", done, total)

    return loaded


def early_loader(ctx: RequestContext, path: Path, fmt: str) -> LoaderProcess | None:
    """A loader process started before a big CSV is parsed, so its start-up is hidden behind the parse."""
    if fmt not in ("CSV", "TSV") or path.stat().st_size < EARLY_LOADER_BYTES:
        return None
    conn = ctx.db.connection()
    if conn.dialect.name != "sqlite" or not store_sqlite.can_preload(conn, store_sqlite.PRELOAD_MIN_ROWS):
        return None
    return LoaderProcess()


def preload(ctx: RequestContext, name: str | None, raw: RawTable, report: Progress,
            loader: LoaderProcess | None) -> Preloaded | None:
    """Load a big table before this session writes anything, with its indexes when `name` (the resource id
    they are named after) is known; None when that cannot be done safely now."""
    conn = ctx.db.connection()
    if conn.dialect.name != "sqlite" or not store_sqlite.can_preload(conn, raw.table.num_rows):
        return None
    if name is not None and ctx.db.get(DatastoreTable, name) is not None:  # a re-upload: its index names are taken
        return None
    streamed = _stream(conn, name, raw, report, loader)
    if streamed is not None:
        return streamed
    typed = infer_types(raw)
    table = new_table(name or "prepared", fields_of(typed), sqlite=True)
    plan = index_plan(typed) if name is not None else None
    loading = store_sqlite.preload(conn, table, typed.table, plan_indexes(table, plan or []),
                                   progress=loaded_counter(typed.row_count, report),
                                   indexing=lambda done, total: report("indexing", done, total + 1),
                                   loader=loader if loader is not None and not loader.started else None)
    return Preloaded(loading, typed, plan)


def _stream(conn: Connection, name: str | None, raw: RawTable, report: Progress,
            loader: LoaderProcess | None) -> Preloaded | None:
    """Type batch by batch while the loader inserts the batches before; None when some batch does not fit
    the types guessed from the first rows (the caller then types whole columns)."""
    typing = infer_batches.guess_types(raw)
    if typing is None:
        return None
    loader = loader or LoaderProcess()
    table = new_table(name or "prepared", typing.fields, sqlite=True)
    loaded = loaded_counter(raw.table.num_rows, report)
    try:
        loading = store_sqlite.start_preload(conn, table, loader, typing.schema)
        for batch in raw.table.to_batches(max_chunksize=store_sqlite.BATCH_ROWS):
            typed_batch = infer_batches.type_batch(typing, batch)
            if typed_batch is None:  # the half-loaded table is dropped when the connection is checked in
                return None
            loader.send(typed_batch)
            loaded(batch.num_rows)
        typed = infer_batches.typed_table(typing, raw)
        plan = index_plan(typed) if name is not None else None
        loader.finish(store_sqlite.index_statements(conn, table, loading, plan_indexes(table, plan or [])),
                      indexing=lambda done, total: report("indexing", done, total + 1))
    finally:
        loader.stop()
    return Preloaded(loading, typed, plan)


def prepare_upload(ctx: RequestContext, *, path: Path, owner_org: str, fmt: str | None = None,
                   progress: Progress | None = None) -> None:
    """Load a big tabular file ahead of the dataset and resource this transaction is about to create in
    `owner_org` (the CLI's `dataset import`); `load_resource` adopts the rows. Does nothing for files that
    are small, not tabular, or not on SQLite: load_resource then loads them as usual."""
    policy.require(ctx, "dataset.create", get_org(ctx.db, owner_org).id)
    fmt = guess_format(path, fmt)
    conn = ctx.db.connection()
    if fmt is None or conn.dialect.name != "sqlite" or not store_sqlite.can_preload(conn, 1):
        return
    report = progress or (lambda *_: None)
    loader = early_loader(ctx, path, fmt)
    try:
        raw = read_tabular(path, fmt, ctx.settings)
        preloaded = preload(ctx, None, raw, report, loader)
    finally:
        if loader is not None:
            loader.stop()
    if preloaded is not None:
        ctx.extra[PREPARED_KEY] = _Prepared(path.stat().st_size, fmt, raw, preloaded)


def take_prepared(ctx: RequestContext, path: Path, fmt: str) -> tuple[RawTable, Preloaded] | None:
    """The rows `prepare_upload` loaded for this file, if they are still there to adopt."""
    prepared = ctx.extra.pop(PREPARED_KEY, None)
    if prepared is None or (prepared.size, prepared.fmt) != (path.stat().st_size, fmt):
        return None
    conn = ctx.db.connection()
    if prepared.preloaded.loading not in conn.connection.info.get(store_sqlite.LOADING_KEY, []):
        return None  # another connection (a commit came between): the table was dropped at check-in
    return prepared.raw, prepared.preloaded


def adopt(ctx: RequestContext, name: str, preloaded: Preloaded) -> list[list[str]]:
    """The preloaded table takes its real name in this session's transaction; indexes it was loaded without
    are built now. Returns the index plan."""
    conn = ctx.db.connection()
    store_sqlite.begin(conn)
    store_sqlite.adopt(conn, preloaded.loading, name)
    plan = preloaded.plan
    if plan is None:
        plan = index_plan(preloaded.typed)
        create_indexes(conn, new_table(name, fields_of(preloaded.typed), sqlite=True), plan)
    return plan
