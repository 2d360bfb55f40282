"""CKAN's DataStore actions over our datastore service: datastore_search, datastore_info and
datastore_search_sql. Access is decided by the datastore service (through the catalog's policy)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from cityhub.catalog.ckan_actions import Call, action
from cityhub.catalog.ckan_envelope import field_error
from cityhub.catalog.ckan_params import as_bool, as_dict, as_int, as_json, as_list, as_str, require_str

RECORDS_FORMATS = ("objects", "lists", "csv", "tsv")


def _ckan_type(kind: str) -> str:
    from cityhub.datastore.types import CKAN_TYPES

    return CKAN_TYPES.get(kind, kind)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _records(records: list[dict[str, Any]], names: list[str], fmt: str) -> Any:
    if fmt == "objects":
        return records
    rows = [[_plain(r.get(n)) for n in names] for r in records]
    if fmt == "lists":
        return rows
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    for row in rows:
        writer.writerow(["" if v is None else ("true" if v is True else "false" if v is False else v) for v in row])
    return out.getvalue()


def _links(call: Call, params: dict[str, Any], limit: int, offset: int) -> dict[str, str]:
    """CKAN's paging links, built from the effective parameters (so they also work after a POST)."""
    path = call.request.url.path
    base = {k: (v if isinstance(v, str) else orjson.dumps(v).decode()) for k, v in params.items()
            if v not in (None, "", [], {})}
    links = {"start": f"{path}?{urlencode(base)}",
             "next": f"{path}?{urlencode({**base, 'offset': offset + limit})}"}
    if offset - limit > 0:
        links["prev"] = f"{path}?{urlencode({**base, 'offset': offset - limit})}"
    return links


def _text_query(data: dict[str, Any]) -> str | dict[str, str] | None:
    q = as_json(data, "q")
    if q is None or isinstance(q, str | dict):
        return q or None
    raise field_error("q", "Must be a string or an object of column: text")


@action("datastore_search", read_only=True)
def datastore_search(call: Call) -> dict[str, Any]:
    """Rows of a resource's table (resource_id): filters {column: value or [values]}, q (text, or
    {column: text}), fields, sort ("f1, f2 desc"), distinct, limit (default 100), offset,
    include_total, records_format (objects, lists, csv, tsv). Large totals are estimated and say so."""
    from cityhub.datastore import service as datastore

    d = call.data
    rid = require_str(d, "resource_id", "id")
    filters = as_dict(d, "filters")
    q = _text_query(d)
    fields = as_list(d, "fields") or None
    sort = as_json(d, "sort")
    if sort is not None and not isinstance(sort, str | list):
        raise field_error("sort", "Must be a string like \"f1, f2 desc\" or a list")
    limit = as_int(d, "limit", 100, maximum=call.ctx.settings.datastore_max_limit) or 0
    offset = as_int(d, "offset", 0) or 0
    include_total = as_bool(d, "include_total", True)
    fmt = as_str(d, "records_format", "objects") or "objects"
    if fmt not in RECORDS_FORMATS:
        raise field_error("records_format", f"Must be one of {', '.join(RECORDS_FORMATS)}")
    result = datastore.search(call.ctx, resource_id=rid, filters=filters, q=q, sort=sort or None, fields=fields,
                              distinct=as_bool(d, "distinct", False), limit=limit, offset=offset,
                              include_total=include_total)
    names = [f["id"] for f in result.fields]
    out: dict[str, Any] = {
        "include_total": include_total, "resource_id": rid, "records_format": fmt,
        "fields": [{"id": f["id"], "type": _ckan_type(f["type"])} for f in result.fields],
        "records": _records(result.records, names, fmt), "limit": limit,
        "_links": _links(call, {"resource_id": rid, "q": q, "filters": filters, "sort": sort,
                                "fields": ",".join(fields) if fields else None,
                                "limit": str(limit) if "limit" in d else None}, limit, offset),
    }
    if offset:
        out["offset"] = offset
    for key, value in (("filters", filters), ("q", q), ("sort", sort), ("distinct", d.get("distinct"))):
        if value:
            out[key] = value
    if include_total:
        out["total"] = result.total
        out["total_was_estimated"] = result.total_was_estimated
    return out


@action("datastore_info", read_only=True)
def datastore_info(call: Call) -> dict[str, Any]:
    """The columns, types and row count of a resource's table (id or resource_id)."""
    from cityhub.datastore import service as datastore

    rid = require_str(call.data, "id", "resource_id")
    found = datastore.info(call.ctx, resource_id=rid)
    indexed = {column for index in found.indexes for column in index}
    return {
        "meta": {"id": rid, "count": found.row_count, "table_type": "BASE TABLE", "aliases": []},
        "fields": [{"id": f["id"], "type": _ckan_type(f["type"]),
                    "schema": {"native_type": f["type"], "is_index": f["id"] in indexed}, "info": {}}
                   for f in found.fields if f["id"] != "_id"],
    }


@action("datastore_search_sql", read_only=True)
def datastore_search_sql(call: Call) -> dict[str, Any]:
    """Run one read-only SELECT (sql) over the datastore tables the caller may read; tables are named
    by resource id: SELECT * FROM "<resource id>". Rows beyond the cap set records_truncated."""
    from cityhub.datastore.sql import run_sql

    sql = require_str(call.data, "sql")
    result = run_sql(call.ctx, sql=sql)
    out: dict[str, Any] = {"sql": sql, "fields": result.fields, "records": result.records}
    if result.records_truncated:
        out["records_truncated"] = True
    return out
