"""CKAN's DataStore actions: datastore_search and datastore_search_sql over our datastore service."""

from __future__ import annotations

from typing import Any

from cityhub.catalog.ckan_actions import Call, action
from cityhub.catalog.ckan_params import require_str


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
