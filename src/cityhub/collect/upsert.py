"""Upsert collected rows into a dataset's typed table by its declared key.

The datastore owns typed tables, also those fed row by row: `datastore.service.ensure_fed_table` creates
(or extends) the table named by the resource id with the datastore's storage types and a unique key
index, and registers it, so datastore_search, downloads, SQL and the CKAN API serve collected resources
like uploads; `upsert_fed_rows` merges by key and counts inserted / updated / unchanged. The same rows
twice change nothing. This module keeps the collection pipeline's names for those calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, MetaData, Table, func, select

from cityhub.collect.mapping import FieldSpec
from cityhub.datastore import service as datastore
from cityhub.datastore.service import UpsertCounts  # noqa: F401 — the pipeline's counts type


def ensure_table(conn: Connection, name: str, fields: Sequence[FieldSpec], key: Sequence[str],
                 resource_id: str | None = None) -> Any:
    """Create the table (and its key index) if missing; add columns a newer mapping declares."""
    return datastore.ensure_fed_table(conn, name=name, fields=[(f.name, f.type) for f in fields], key=list(key),
                                      resource_id=resource_id)


def upsert_rows(conn: Connection, table: Any, rows: list[dict[str, Any]], key: Sequence[str]) -> UpsertCounts:
    """Merge rows by key: insert new keys, update changed rows, leave identical ones alone."""
    return datastore.upsert_fed_rows(conn, table, rows)


def delete_missing(conn: Connection, table: Any, column: str, *, above: Any, upto: Any | None,
                   keep: Sequence[Any]) -> int:
    """Delete rows whose `column` lies in (above, upto] (no upper end when None) but is not in `keep`:
    a page of an upstream table sorted by that column covers this range, so a row missing from it is gone."""
    col = table.table.c[column]
    cond = [col > above, col.not_in(list(keep))] if keep else [col > above]
    if upto is not None:
        cond.append(col <= upto)
    return conn.execute(table.table.delete().where(*cond)).rowcount or 0


def count_rows(conn: Connection, table: Any) -> int:
    return conn.execute(select(func.count()).select_from(table.table)).scalar_one()


def drop_table(conn: Connection, name: str) -> None:
    Table(name, MetaData()).drop(conn, checkfirst=True)
