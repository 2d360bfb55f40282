"""Datastore services: load a file into a typed table, query it, describe it, stream it out.

Every function asks the one door first: `catalog.service.authorize_resource` (policy-checked; an
invisible resource is NotFound so its existence never leaks).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cityhub import metrics
from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.datastore import bulk_load, query, query_plan, store_postgres, store_sqlite
from cityhub.datastore import rows as fed_rows
from cityhub.datastore.importers import RawTable, guess_format, read_tabular
from cityhub.datastore.infer import TypedTable, infer_types
from cityhub.datastore.models import DatastoreTable
from cityhub.datastore.rows import UpsertCounts  # noqa: F401 — re-exported for the collection pipeline
from cityhub.datastore.schemas import DatastoreInfo, DatastoreResult, Download, LoadResult
from cityhub.datastore.tables import index_plan, new_table, plan_indexes, table_for
from cityhub.datastore.types import ID_COLUMN
from cityhub.errors import CityhubError, Invalid, NotFound
from cityhub.governance import guard as governance_guard
from cityhub.governance import version_delta

# progress(stage, done, total): stages are "reading", "loading", "indexing"
Progress = Callable[[str, int, int], None]
PROGRESS_KEY = "datastore_progress"  # a CLI puts a Progress callback into ctx.extra under this key

policy.declare("datastore.read", "datastore.write")


def _store(conn: Connection) -> ModuleType:
    return store_sqlite if conn.dialect.name == "sqlite" else store_postgres


def _catalog():  # noqa: ANN202 — imported late: the catalog imports this module too
    from cityhub.catalog import service as catalog_service

    return catalog_service


def _fields(typed: TypedTable) -> list[dict[str, str]]:
    return [{"id": c.name, "type": c.type} for c in typed.columns]


def _drop(conn: Connection, name: str) -> None:
    _store(conn).drop_text_index(conn, name)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {store_sqlite.quote(name)}")


def _replace_previous(ctx: RequestContext, conn: Connection, name: str) -> None:
    previous = ctx.db.get(DatastoreTable, name)
    if previous is not None:  # a re-upload replaces the rows
        # a table keeping deltas is renamed, not dropped: earlier versions read their rows from it
        _store(conn).drop_text_index(conn, previous.table_name)
        version_delta.retire(conn, previous.table_name, rename=True)
        _drop(conn, previous.table_name)
        metrics.DATASTORE_ROWS.dec(previous.row_count)
        ctx.db.delete(previous)
        ctx.db.flush()


def _loaded(typed: TypedTable, report: Progress) -> Callable[[int], None]:
    done = 0

    def loaded(rows: int) -> None:
        nonlocal done
        done += rows
        report("loading", done, typed.row_count)

    return loaded


def _write_table(ctx: RequestContext, name: str, typed: TypedTable, report: Progress) -> tuple[list, bool]:
    """Create, fill and index the table inside the caller's transaction."""
    conn = ctx.db.connection()
    store = _store(conn)
    store.begin(conn)
    _replace_previous(ctx, conn, name)
    table = new_table(name, _fields(typed), sqlite=conn.dialect.name == "sqlite")
    plan = index_plan(typed)
    store.load_table(conn, table, typed.table, plan_indexes(table, plan), scratch_dir=ctx.settings.data_dir / "tmp",
                     progress=_loaded(typed, report))
    return plan, _text_index(conn, store, name, typed, plan, report)


def _text_index(conn: Connection, store: ModuleType, name: str, typed: TypedTable, plan: list,
                report: Progress) -> bool:
    report("indexing", len(plan), len(plan) + 1)
    text_columns = [c.name for c in typed.columns if c.type == "text"]
    text_index = store.build_text_index(conn, name, text_columns, typed.row_count)
    report("indexing", len(plan) + 1, len(plan) + 1)
    return text_index


def _read(ctx: RequestContext, resource: Any, path: Path, fmt: str,
          report: Progress) -> tuple[RawTable, governance_guard.UploadScreening, bulk_load.Preloaded | None]:
    """The file's rows as screening leaves them, and, for a big file, those rows already loaded (or
    loaded ahead by prepare_upload and still what screening accepts)."""
    prepared = bulk_load.take_prepared(ctx, path, fmt)
    if prepared is not None:
        raw, preloaded = prepared
        screening = _screen(ctx, resource, raw)
        report("reading", 1, 1)
        if screening.table is raw.table:
            return raw, screening, preloaded
        raw.table, raw.columns = screening.table, list(screening.table.column_names)
        return raw, screening, None  # screening changed the rows: the prepared table is dropped at check-in
    loader = bulk_load.early_loader(ctx, path, fmt)
    try:
        raw = read_tabular(path, fmt, ctx.settings)
        screening = _screen(ctx, resource, raw)
        raw.table, raw.columns = screening.table, list(screening.table.column_names)  # what may be loaded
        report("reading", 1, 1)
        return raw, screening, bulk_load.preload(ctx, resource.id, raw, report, loader)
    finally:
        if loader is not None:
            loader.stop()


def _screen(ctx: RequestContext, resource: Any, raw: RawTable) -> governance_guard.UploadScreening:
    return governance_guard.plan_upload(ctx, resource=resource, raw=raw)  # treat, scan, validate (reads only)


def load_resource(ctx: RequestContext, *, resource: Any, path: Path,
                  progress: Progress | None = None) -> LoadResult:
    """Load a tabular file (CSV/TSV/XLSX/JSON/GeoJSON) into the resource's typed table.

    Types are decided over whole columns; the table is named by the resource id and indexed for
    filtered, sorted paging. Everything happens in the caller's transaction: an error (Invalid naming
    the line, column or field) leaves no table and no row behind once the caller rolls back.

    Governance screens the rows first without writing (treatments, personal data, the dataset's rules);
    big files are then loaded with only the accepted rows while this session has written nothing (the
    caller may leave the resource row pending, unflushed, for that), and what screening found is recorded
    once they are in.
    """
    policy.require(ctx, "datastore.write", resource.dataset)
    report = progress or ctx.extra.get(PROGRESS_KEY) or (lambda *_: None)
    started = time.perf_counter()
    fmt = guess_format(path, resource.format)
    if fmt is None:
        raise Invalid.field("format", f"{resource.format or path.suffix} cannot be loaded into the datastore")
    try:
        report("reading", 0, 1)
        raw, screening, preloaded = _read(ctx, resource, path, fmt, report)
        typed = preloaded.typed if preloaded is not None else infer_types(raw)
        ctx.db.flush()  # the caller's pending rows (the resource) go in now, after the lock-free load
        raw = screening.record(ctx, resource=resource, raw=raw)
        if preloaded is not None:
            plan = bulk_load.adopt(ctx, resource.id, preloaded)
            text_index = _text_index(ctx.db.connection(), store_sqlite, resource.id, typed, plan, report)
        else:
            plan, text_index = _write_table(ctx, resource.id, typed, report)
        version_delta.start(ctx.db.connection(), resource.id)  # its version is the table itself: no copy
        ctx.db.add(DatastoreTable(
            resource_id=resource.id, table_name=resource.id, row_count=typed.row_count, fields=_fields(typed),
            histograms={c.name: c.histogram for c in typed.columns if c.histogram is not None},
            indexes=plan, text_index=text_index, source_format=fmt, encoding=raw.encoding,
            warnings=typed.warnings))
        ctx.db.flush()
    except CityhubError:
        metrics.IMPORTS.labels("invalid").inc()
        raise
    except sa.exc.DataError as exc:
        metrics.IMPORTS.labels("invalid").inc()
        raise Invalid.field("file", f"a value could not be stored: {exc.orig}") from None
    except BaseException:
        metrics.IMPORTS.labels("error").inc()
        raise
    metrics.IMPORTS.labels("ok").inc()
    metrics.IMPORT_ROWS.inc(typed.row_count)
    metrics.DATASTORE_ROWS.inc(typed.row_count)
    return LoadResult(table=resource.id, row_count=typed.row_count, fields=_fields(typed), indexes=plan,
                      seconds=time.perf_counter() - started, encoding=raw.encoding, warnings=typed.warnings)


def ensure_fed_table(conn: Connection, *, name: str, fields: list[tuple[str, str]], key: list[str],
                     resource_id: str | None = None) -> fed_rows.FedTable:
    """Create or extend the typed table `name` for (column, type) fields fed row by row (collection), with a
    unique index on `key`, registered for `resource_id` so search, downloads, SQL and CKAN serve it. The
    caller (the collection pipeline) authorized the feed when its source was set up."""
    return fed_rows.ensure_table(conn, name=name, fields=fields, key=key, resource_id=resource_id)


def upsert_fed_rows(conn: Connection, fed: fed_rows.FedTable, records: list[dict[str, Any]]) -> fed_rows.UpsertCounts:
    """Merge records into a fed table by its key (insert new, update changed, count unchanged); the
    registry's row count follows in the same transaction."""
    return fed_rows.upsert_rows(conn, fed, records)


def drop_table(ctx: RequestContext, *, table: str) -> None:
    """Drop a datastore table and its text index. The caller (catalog.delete_resource) has already
    checked `resource.delete` on the resource this table belongs to."""
    meta = ctx.db.scalar(sa.select(DatastoreTable).where(DatastoreTable.table_name == table))
    conn = ctx.db.connection()
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        # the rename below reads first: take the write lock now, or a background commit in between
        # makes SQLite refuse the upgrade
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
    _store(conn).begin(conn)
    _store(conn).drop_text_index(conn, table)
    version_delta.retire(conn, table, rename=True)  # versions still point at its rows
    _drop(conn, table)
    if meta is not None:
        metrics.DATASTORE_ROWS.dec(meta.row_count)
        ctx.db.delete(meta)
        ctx.db.flush()


@dataclass
class _Meta:
    """What a query needs of a DatastoreTable row; the (large) value histograms load only on demand."""

    resource_id: str
    table_name: str
    row_count: int
    fields: list[dict[str, str]]
    text_index: bool
    db: Any = None
    indexes: list[list[str]] | None = None

    def histograms(self, names: list[str]) -> dict[str, Any]:
        """The value histograms of just these columns (JSON path lookups, not the whole document)."""
        t = DatastoreTable
        picked = [t.histograms[name] for name in names]
        row = self.db.execute(sa.select(*picked).where(t.resource_id == self.resource_id)).first() if names else None
        return {n: h for n, h in zip(names, row or (), strict=False) if h is not None}


def _authorized_table(ctx: RequestContext, resource_id: str, action: str = "datastore.read") -> _Meta:
    _catalog().authorize_resource(ctx, resource_id=resource_id, action=action)
    t = DatastoreTable
    row = ctx.db.execute(sa.select(t.table_name, t.row_count, t.fields, t.text_index, t.indexes)
                         .where(t.resource_id == resource_id)).first()
    if row is None:
        raise NotFound(f"resource {resource_id!r} has no datastore table (only tabular files are loaded)")
    return _Meta(resource_id, row.table_name, row.row_count, row.fields, row.text_index, db=ctx.db,
                 indexes=row.indexes or [])


def info(ctx: RequestContext, *, resource_id: str) -> DatastoreInfo:
    """The columns (with types), row count and indexes of a resource's table."""
    _authorized_table(ctx, resource_id)
    meta = ctx.db.get(DatastoreTable, resource_id)
    return DatastoreInfo(
        resource_id=resource_id, table=meta.table_name, row_count=meta.row_count,
        fields=[{"id": ID_COLUMN, "type": "integer"}, *meta.fields], indexes=meta.indexes,
        text_index=meta.text_index, source_format=meta.source_format, encoding=meta.encoding,
        warnings=meta.warnings)


def _text_terms(q: str | dict[str, str] | None) -> tuple[list[str], dict[str, str]]:
    if not q:
        return [], {}
    if isinstance(q, dict):
        return [], {k: str(v) for k, v in q.items() if str(v).strip()}
    return [t for t in str(q).split() if t], {}


def _conditions(meta: _Meta, table: sa.Table, conn: Connection, filters: dict[str, Any],
                q: str | dict[str, str] | None) -> list[Any]:
    sqlite = conn.dialect.name == "sqlite"
    where = query.filter_conditions(table, meta.fields, filters, sqlite=sqlite)
    terms, per_field = _text_terms(q)
    text_columns = [f["id"] for f in meta.fields if f["type"] == "text"]
    store = _store(conn)
    if terms:
        where.append(store.text_condition(table, terms, text_columns, meta.text_index)
                     if text_columns else sa.false())
    for name, term in per_field.items():
        if name not in table.c:
            raise Invalid.field(f"q.{name}", f'no column "{name}" in this table')
        where.append(store.text_condition(table, term.split(), [name], False))
    return where


def _check_page(ctx: RequestContext, limit: int, offset: int) -> None:
    cap = ctx.settings.datastore_max_limit
    if not 0 <= limit <= cap:
        raise Invalid.field("limit", f"must be between 0 and {cap}")
    if offset < 0:
        raise Invalid.field("offset", "must not be negative")


def _total(conn: Connection, ctx: RequestContext, meta: _Meta, table: sa.Table, where: list[Any],
           filters: dict[str, Any], q: Any, distinct_of: list[Any] | None,
           choice: query_plan.Choice | None = None) -> tuple[int, bool]:
    """Exact up to settings.datastore_exact_count_cap, then an estimate (flagged)."""
    cap = ctx.settings.datastore_exact_count_cap
    if distinct_of is None:
        if not where:
            return meta.row_count, False
        histograms = meta.histograms(list(filters))
        if not q and len(filters) == 1:  # equality, IN or a range on a column with a value histogram
            (name, spec), = filters.items()
            kind = next((f["type"] for f in meta.fields if f["id"] == name), "integer")
            exact = query_plan.histogram_count(name, spec, kind, histograms.get(name),
                                               sqlite=conn.dialect.name == "sqlite")
            if exact is not None:
                return exact, False
        counted = query.capped_count(conn, table, where, cap, index=choice.count if choice else None)
    else:
        inner = sa.select(*distinct_of).where(*where).distinct().limit(cap + 1).subquery()
        counted = int(conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())
    if counted <= cap:
        return counted, False
    histograms = meta.histograms(list(filters)) if distinct_of is not None else histograms
    return query.estimate(meta.row_count, filters, histograms, cap + 1), True


def search(ctx: RequestContext, *, resource_id: str, filters: dict[str, Any] | None = None,
           q: str | dict[str, str] | None = None, sort: str | list[str] | None = None,
           fields: str | list[str] | None = None, distinct: bool = False, limit: int = 100, offset: int = 0,
           include_total: bool = True) -> DatastoreResult:
    """A page of a resource's rows: filters (equality, IN lists, {"gte": …} ranges), full-text `q`,
    sort ("f1, f2 desc"), fields, distinct, limit/offset and the total (exact up to
    settings.datastore_exact_count_cap, then estimated with total_was_estimated)."""
    meta = _authorized_table(ctx, resource_id)
    _check_page(ctx, limit, offset)
    filters = filters or {}
    if not isinstance(filters, dict):
        raise Invalid.field("filters", "must be an object of column: value")
    conn = ctx.db.connection()
    table = table_for(meta.table_name, meta.fields, sqlite=conn.dialect.name == "sqlite")
    names = query.parse_fields(fields, table)
    where = _conditions(meta, table, conn, filters, q)
    histograms = meta.histograms(list(filters)) if filters else {}
    empty = bool(filters) and query.matches_nothing(filters, meta.fields, histograms)
    if empty:
        where.append(sa.false())  # the engines answer a constant false at once
    if distinct:
        names = [n for n in names if n != ID_COLUMN] or [f["id"] for f in meta.fields]
    columns = [table.c[n] for n in names]
    order = query.parse_sort(sort, table)
    if distinct:
        order = [o for o in order if getattr(o, "element", o).name in names] if sort else columns
        stmt = sa.select(*columns).where(*where).distinct()
    else:
        stmt = sa.select(*columns).where(*where)
    stmt = stmt.order_by(*order).limit(limit).offset(offset)
    choice = None
    if conn.dialect.name == "sqlite" and not (q or distinct or empty):
        choice = query_plan.choose(conn, table, meta.fields, filters, histograms, meta.indexes or [],
                                   getattr(order[0], "element", order[0]).name, meta.row_count, limit + offset)
    counted = choice is not None and choice.whole and include_total
    if choice is not None:
        stmt = stmt.execution_options(**{query_plan.OPTION: (table.name, choice.page)})
    if counted:  # every match is read before sorting anyway: count them in the same pass
        stmt = stmt.add_columns(sa.func.count().over())
    rows = list(query_plan.run(conn, stmt))
    records = [dict(zip(names, row, strict=False)) for row in rows]
    total, estimated = (None, False)
    if counted and rows:
        total = int(rows[0][-1])
    elif include_total and limit and len(records) < limit and (records or offset == 0):
        total = offset + len(records)  # a page that is not full ends the matches: no count needed
    elif include_total:
        total, estimated = _total(conn, ctx, meta, table, where, filters, q, columns if distinct else None,
                                  choice)
    types = {ID_COLUMN: "integer", **{f["id"]: f["type"] for f in meta.fields}}
    return DatastoreResult(resource_id=resource_id, fields=[{"id": n, "type": types[n]} for n in names],
                           records=records, total=total, total_was_estimated=estimated, limit=limit,
                           offset=offset)


def stream_download(ctx: RequestContext, *, resource_id: str, fmt: str, filters: dict[str, Any] | None = None,
                    q: str | dict[str, str] | None = None, sort: str | list[str] | None = None,
                    fields: str | list[str] | None = None) -> Download:
    """The (filtered) rows as csv, csv-bom (Excel-friendly), json, geojson or parquet, streamed in chunks
    from its own connection: the table is never held in memory and the request's session may close."""
    from cityhub.datastore import downloads

    meta = _authorized_table(ctx, resource_id, action="dataset.download")
    writer = downloads.writer_for(fmt)
    conn = ctx.db.connection()
    table = table_for(meta.table_name, meta.fields, sqlite=conn.dialect.name == "sqlite")
    names = query.parse_fields(fields, table)
    stmt = (sa.select(*(table.c[n] for n in names)).where(*_conditions(meta, table, conn, filters or {}, q))
            .order_by(*query.parse_sort(sort, table)))
    types = {ID_COLUMN: "integer", **{f["id"]: f["type"] for f in meta.fields}}
    columns = [(n, types[n]) for n in names]
    if fmt == "geojson" and not any(t == "geometry" for _, t in columns):
        raise Invalid.field("format", "this table has no geometry column; choose csv, json or parquet")
    engine = ctx.db.get_bind()
    return Download(media_type=writer.media_type, filename=f"{resource_id}.{writer.extension}",
                    chunks=downloads.stream(engine, stmt, columns, writer))
