"""The API write path: rows posted to a resource are treated, scanned and validated like every other
write; accepted rows are appended to its datastore table, the rest go to the quarantine."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from cityhub.ctx import RequestContext
from cityhub.datastore.models import DatastoreTable
from cityhub.datastore.tables import table_for
from cityhub.errors import Invalid, NotFound
from cityhub.governance import guard, privacy, quality
from cityhub.governance.ruleset import ruleset_for
from cityhub.governance.schemas import RowsResult


def _convert(value: Any, kind: str, *, sqlite: bool) -> Any:
    """A JSON value as the column's type stores it."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "N/A", "NA", "null", "-")):
        return None
    if kind == "integer":
        return int(str(value).replace(",", ""))
    if kind == "number":
        return float(str(value).replace(",", ""))
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "y", "yes")
    if kind == "date":
        text = str(value).replace(".", "-").replace("/", "-")
        parsed = value if isinstance(value, date) else date.fromisoformat(text)
        return parsed.isoformat() if sqlite else parsed
    if kind == "datetime":
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace(" ", "T"))
        parsed = parsed.replace(tzinfo=None)
        return parsed.isoformat() if sqlite else parsed
    return value if isinstance(value, str) else str(value)


def append_rows(ctx: RequestContext, *, resource_id: str, rows: list[dict[str, Any]]) -> int:
    """Append rows to a resource's datastore table (caller has authorized and validated them)."""
    from cityhub.catalog import service as catalog

    meta = ctx.db.get(DatastoreTable, resource_id)
    if meta is None:
        raise NotFound(f"resource {resource_id!r} has no datastore table")
    if not rows:
        return 0
    conn = ctx.db.connection()
    sqlite = conn.dialect.name == "sqlite"
    types = {f["id"]: f["type"] for f in meta.fields}
    converted = []
    for i, row in enumerate(rows):
        unknown = [k for k in row if k not in types]
        if unknown:
            raise Invalid.field(f"rows[{i}]", f"unknown columns: {', '.join(unknown)}")
        try:
            converted.append({k: _convert(row.get(k), t, sqlite=sqlite) for k, t in types.items() if t != "geometry"})
        except (ValueError, TypeError) as exc:
            raise Invalid.field(f"rows[{i}]", f"a value does not fit its column: {exc}") from None
    table = table_for(meta.table_name, meta.fields, sqlite=sqlite)
    from cityhub.governance import version_delta

    version_delta.note_append(conn, table, len(converted))  # only inserts: the watermark marks them
    conn.execute(table.insert(), converted)
    meta.row_count = (meta.row_count or 0) + len(converted)
    ctx.db.flush()
    catalog.mark_datastore(ctx, resource_id=resource_id, table=meta.table_name, row_count=meta.row_count)
    return len(converted)


def write_rows(ctx: RequestContext, *, resource_id: str, rows: list[dict[str, Any]]) -> RowsResult:
    """Add rows to a resource through the API: treated, scanned (409 on untreated personal data in a
    public dataset), validated; accepted rows are stored, refused ones quarantined with their rules."""
    from cityhub.catalog import service as catalog

    ref = catalog.authorize_resource(ctx, resource_id=resource_id, action="datastore.write")
    treatments, kinds = privacy.stored_treatments(ctx.db, resource_id)
    key = privacy.pseudonym_key(ctx.settings)
    rows = [privacy.treat_row(r, treatments, kinds, key) for r in rows]
    if rows and ref.access_level == "public":
        import pyarrow as pa

        sample = pa.Table.from_pylist([{k: None if v is None else str(v) for k, v in r.items()} for r in rows])
        blocking = [f for f in privacy.scan(sample, ctx.db) if f.blocking]
        if blocking:
            raise privacy.refuse_public(blocking)
    rules = ruleset_for(ctx.db, ref.dataset_id)
    accepted, rejected = rules.validate_rows(rows)
    quarantined = guard.quarantine(ctx, dataset_id=ref.dataset_id, resource_id=resource_id, origin="api",
                                   rejected=rejected)
    append_rows(ctx, resource_id=resource_id, rows=accepted)
    quality.record_write(ctx, dataset_id=ref.dataset_id, resource_id=resource_id, replace=False,
                         has_rules=bool(rules), tally=quality.tally_rows(accepted, rejected), trigger="api")
    return RowsResult(accepted=len(accepted), quarantined=quarantined,
                      errors=[{"row": r.index, "errors": [v.as_dict() for v in r.violations]} for r in rejected])


def count_rows(ctx: RequestContext, table_name: str) -> int:
    return int(ctx.db.execute(sa.text(f'SELECT count(*) FROM "{table_name}"')).scalar_one())
