"""Treating a column that holds personal data in a stored table: mask, pseudonymise or drop it.

The table itself is rewritten (and its text index, histograms and stored file with it), so every way
out — datastore downloads (CSV, JSON, GeoJSON, Parquet), CKAN datastore_search, the SQL sandbox and
the file download — serves only the treated values, by construction.

This module reaches into the datastore's table metadata (`DatastoreTable`) because a treatment must
keep it consistent with the rewritten table; it is the only governance module that does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.datastore import store_postgres, store_sqlite
from cityhub.datastore.models import DatastoreTable
from cityhub.datastore.tables import index_name, table_for
from cityhub.errors import Invalid, NotFound
from cityhub.governance import privacy, version_delta
from cityhub.governance.models import PersonalColumn
from cityhub.governance.schemas import PersonalColumnPublic, TreatmentIn

BATCH = 50_000


def _store(conn: Connection):  # noqa: ANN202
    return store_sqlite if conn.dialect.name == "sqlite" else store_postgres


def _rewrite_values(conn: Connection, table: sa.Table, column: str, treatment: str, kinds: list[str],
                    key: str) -> None:
    """Replace every value of `column` by its treated form, batch by batch of row ids."""
    last = 0
    update = table.update().where(table.c["_id"] == sa.bindparam("b_id")).values({column: sa.bindparam("b_v")})
    while True:
        rows = conn.execute(sa.select(table.c["_id"], table.c[column]).where(table.c["_id"] > last)
                            .order_by(table.c["_id"]).limit(BATCH)).all()
        if not rows:
            return
        ids = [r[0] for r in rows]
        values = pa.array([r[1] for r in rows], pa.string())
        treated = privacy.treat_values(values, treatment, kinds, key).to_pylist()
        conn.execute(update, [{"b_id": i, "b_v": v} for i, v in zip(ids, treated, strict=True)])
        last = ids[-1]


def _drop_column(conn: Connection, meta: DatastoreTable, column: str) -> None:
    for position, names in enumerate(meta.indexes or []):
        if column in names:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {store_sqlite.quote(index_name(meta.table_name, position))}")
    conn.exec_driver_sql(f"ALTER TABLE {store_sqlite.quote(meta.table_name)} DROP COLUMN {store_sqlite.quote(column)}")
    meta.indexes = [names for names in (meta.indexes or []) if column not in names]
    meta.fields = [f for f in meta.fields if f["id"] != column]


def _masked_copy(conn: Connection, table: sa.Table, names: list[str]) -> Path:
    """The treated table as a CSV file (UTF-8), replacing the uploaded original."""
    out = Path(tempfile.mkstemp(suffix=".csv")[1])
    schema = pa.schema([(n, pa.string()) for n in names])
    with pacsv.CSVWriter(str(out), schema) as writer:
        stmt = sa.select(*(table.c[n] for n in names)).order_by(table.c["_id"]).execution_options(yield_per=BATCH)
        result = conn.execute(stmt)
        for part in result.partitions(BATCH):
            columns = list(zip(*part, strict=True)) if part else [[] for _ in names]
            arrays = [pa.array([None if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))
                                for v in col], pa.string()) for col in columns]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
    return out


def treat_column(ctx: RequestContext, *, data: TreatmentIn) -> PersonalColumnPublic:
    """Mask, pseudonymise or drop one column of a resource's stored table (its publisher's stewards).

    Masking keeps the shape (`010-****-1234`), pseudonymising replaces each value by a keyed hash (the
    same person keeps the same token), dropping removes the column. The stored file is replaced by
    the treated table as CSV, and the dataset's change is announced.
    """
    from cityhub.catalog import service as catalog

    ref = catalog.authorize_resource(ctx, resource_id=data.resource_id, action="datastore.write")
    policy.require(ctx, "datastore.write", ref.dataset)
    meta = ctx.db.get(DatastoreTable, data.resource_id)
    if meta is None:
        raise NotFound(f"resource {data.resource_id!r} has no datastore table")
    types = {f["id"]: f["type"] for f in meta.fields}
    if data.column not in types:
        raise Invalid.field("column", f'no column "{data.column}" in this table')
    if data.treatment != "drop" and types[data.column] != "text":
        raise Invalid.field("column", f'"{data.column}" holds {types[data.column]} values; only text columns '
                                      "can be masked or pseudonymised — drop it instead")
    conn = ctx.db.connection()
    store = _store(conn)
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        # Reads then writes in one transaction: take the write lock first, or a background writer's
        # commit in between (outbox dispatchers, the version recorder) makes SQLite refuse the upgrade.
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
    store.begin(conn)
    table = table_for(meta.table_name, meta.fields, sqlite=conn.dialect.name == "sqlite")
    _, kinds = privacy.stored_treatments(ctx.db, data.resource_id)
    # An in-place rewrite: earlier versions pointing at this table's generation keep their rows in a full
    # copy (today's cost); the treated table then begins a generation of its own (its version: no copy).
    version_delta.retire(conn, meta.table_name, rename=False)
    if data.treatment == "drop":
        _drop_column(conn, meta, data.column)
    else:
        _rewrite_values(conn, table, data.column, data.treatment, kinds.get(data.column, []),
                        privacy.pseudonym_key(ctx.settings))
    version_delta.start(conn, meta.table_name)
    # Value counts, warnings and the text index could still carry the old values.
    meta.histograms = {k: v for k, v in (meta.histograms or {}).items() if k != data.column}
    meta.warnings = [w for w in (meta.warnings or []) if f'"{data.column}"' not in w]
    if meta.text_index:
        store.drop_text_index(conn, meta.table_name)
        meta.text_index = store.build_text_index(conn, meta.table_name,
                                                 [f["id"] for f in meta.fields if f["type"] == "text"],
                                                 meta.row_count)
    ctx.db.flush()
    privacy.record_findings(ctx.db, dataset_id=ref.dataset_id, resource_id=data.resource_id, findings=[],
                            treatments={data.column: data.treatment}, treated_by=ctx.actor.user_id, replace=False)
    if ref.file_path is not None:
        replace_file_with_table(ctx, resource_id=data.resource_id)
    catalog.mark_datastore(ctx, resource_id=data.resource_id, table=meta.table_name, row_count=meta.row_count)
    row = ctx.db.scalar(sa.select(PersonalColumn).where(PersonalColumn.resource_id == data.resource_id,
                                                        PersonalColumn.column_name == data.column))
    return PersonalColumnPublic.model_validate(row)


def replace_file_with_table(ctx: RequestContext, *, resource_id: str) -> None:
    """Replace a resource's stored file by its (treated) datastore table as CSV, so the file download
    never serves values the table no longer holds."""
    from cityhub.catalog import service as catalog

    meta = ctx.db.get(DatastoreTable, resource_id)
    if meta is None:
        return
    conn = ctx.db.connection()
    table = table_for(meta.table_name, meta.fields, sqlite=conn.dialect.name == "sqlite")
    copy = _masked_copy(conn, table, [f["id"] for f in meta.fields])
    try:
        catalog.replace_resource_file(ctx, resource_id=resource_id, path=copy, format="CSV")
    finally:
        copy.unlink(missing_ok=True)
