"""The governance hooks other domains call on their write paths — one small call each:

- the datastore importer: `plan_upload(ctx, resource=…, raw=…)` before the rows are loaded (reads only),
  then `.record(…)` once they are (or `screen_upload`, both at once);
- the collection pipeline: `screen_collected(ctx, dataset_id=…, resource_id=…, run_id=…, rows=…)` per page;
- the catalog, before a dataset becomes public: `personal_guard(ctx, dataset_id=…)`.

Each applies the column treatments already decided (masking, pseudonyms, dropped columns), scans for
personal data, checks rows against the dataset's schema and sends rows that break it to the quarantine,
so accepted rows are never held back by bad ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import insert

from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.governance import privacy, quality
from cityhub.governance.models import QuarantinedRecord
from cityhub.governance.ruleset import Rejected, ruleset_for
from cityhub.governance.validation import Violation

log = logging.getLogger("cityhub.governance")
# A collected page rescores its dataset only when the score is older than this; the run's end settles it.
COLLECT_RESCORE_SECONDS = 5.0
TREATMENTS_KEY = "governance.treatments"  # upload option: {column: mask|pseudonymise|drop} in ctx.extra


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def quarantine(ctx: RequestContext, *, dataset_id: str, resource_id: str | None, origin: str,
               rejected: list[Rejected], run_id: str | None = None, first_line: int | None = None) -> int:
    """Keep refused rows with every rule they broke and the offending value."""
    if not rejected:
        return 0
    now = utcnow()
    rows = [{
        "dataset_id": dataset_id, "resource_id": resource_id, "origin": origin, "run_id": run_id,
        "line": (r.index + first_line) if first_line is not None else r.index + 1,
        "record": {str(k): _jsonable(v) for k, v in r.row.items()},
        "errors": [v.as_dict() for v in r.violations], "status": "open", "created_at": now,
    } for r in rejected]
    ctx.db.execute(insert(QuarantinedRecord), rows)
    return len(rows)


@dataclass
class UploadScreening:
    """What screening decided about an upload's rows, before anything is written: the accepted rows, and
    the findings, rejects and quality tally still to record (`record`). Computing first lets the datastore
    load only accepted rows, outside any write transaction."""

    table: pa.Table
    findings: list[Any]
    treatments: dict[str, str]
    rejected: list[Rejected]
    has_rules: bool

    def record(self, ctx: RequestContext, *, resource: Any, raw: Any) -> Any:
        """Write the findings, the quarantine and the quality tally; returns `raw` holding the accepted rows."""
        dataset = resource.dataset
        privacy.record_findings(ctx.db, dataset_id=dataset.id, resource_id=resource.id, findings=self.findings,
                                treatments=self.treatments, treated_by=ctx.actor.user_id)
        if self.has_rules:
            count = quarantine(ctx, dataset_id=dataset.id, resource_id=resource.id, origin="upload",
                               rejected=self.rejected, first_line=raw.first_data_line)
            if count:
                raw.warnings.append(f"{count} rows broke the dataset's schema and were quarantined")
        quality.record_write(ctx, dataset_id=dataset.id, resource_id=resource.id, replace=True,
                             has_rules=self.has_rules, tally=quality.tally_table(self.table, self.rejected),
                             trigger="upload")
        raw.table = self.table
        raw.columns = list(self.table.column_names)
        return raw


def plan_upload(ctx: RequestContext, *, resource: Any, raw: Any) -> UploadScreening:
    """Treat, scan and validate an upload's rows (a datastore RawTable), reading only.

    Raises Conflict (409, naming the columns) when the dataset is public and the file holds untreated
    personal data.
    """
    dataset = resource.dataset
    stored, kinds = privacy.stored_treatments(ctx.db, resource.id)
    treatments = {**stored, **(ctx.extra.get(TREATMENTS_KEY) or {})}
    table: pa.Table = raw.table
    if treatments:
        kinds = {**kinds, **{f.column: f.kinds for f in privacy.scan(table.select(
            [c for c in treatments if c in table.column_names]), ctx.db)}}
        table = privacy.apply_treatments(table, treatments, kinds, privacy.pseudonym_key(ctx.settings))
    findings = privacy.scan(table, ctx.db)
    blocking = [f for f in findings if f.blocking]
    if blocking and dataset.access_level == "public":
        raise privacy.refuse_public(blocking)
    rules = ruleset_for(ctx.db, dataset.id)
    rejected: list[Rejected] = []
    if rules:
        table, rejected = rules.check_table(table)
    return UploadScreening(table=table, findings=findings, treatments=treatments, rejected=rejected,
                           has_rules=bool(rules))


def screen_upload(ctx: RequestContext, *, resource: Any, raw: Any) -> Any:
    """Treat, scan and validate an upload's rows and record what was found; returns the RawTable holding
    only accepted rows (see `plan_upload` for the refusal)."""
    return plan_upload(ctx, resource=resource, raw=raw).record(ctx, resource=resource, raw=raw)


def _dataset_level(ctx: RequestContext, dataset_id: str) -> str:
    from cityhub.catalog import service as catalog

    return catalog.get_dataset_ref(ctx, id_or_name=dataset_id).access_level


def screen_collected(ctx: RequestContext, *, dataset_id: str, resource_id: str | None, run_id: str,
                     rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Treat, scan and validate one page of collected rows; returns (accepted rows, quarantined count).

    Personal data newly found in a public dataset is masked on the way in (and recorded), so a feed
    never publishes it while it waits for a steward's decision.
    """
    if not rows:
        return rows, 0
    resource_key = resource_id or f"collect:{dataset_id}"
    treatments, kinds = privacy.stored_treatments(ctx.db, resource_key)
    key = privacy.pseudonym_key(ctx.settings)
    if treatments:
        rows = [privacy.treat_row(r, treatments, kinds, key) for r in rows]
    findings = privacy.scan(_scannable(rows), ctx.db)
    fresh = {f.column: "mask" for f in findings if f.blocking and f.column not in treatments}
    if fresh and _dataset_level(ctx, dataset_id) == "public":
        log.warning("personal data in a public feed masked on the way in", extra={"columns": sorted(fresh)})
        kinds.update({f.column: f.kinds for f in findings})
        rows = [privacy.treat_row(r, fresh, kinds, key) for r in rows]
        treatments = {**treatments, **fresh}
    if findings or fresh:
        privacy.record_findings(ctx.db, dataset_id=dataset_id, resource_id=resource_key, findings=findings,
                                treatments=treatments, treated_by=privacy.SYSTEM_TREATER, replace=False)
    rules = ruleset_for(ctx.db, dataset_id)
    accepted, rejected = rules.validate_rows(rows) if rules else (rows, [])
    refused = quarantine(ctx, dataset_id=dataset_id, resource_id=resource_id, origin="collect", rejected=rejected,
                         run_id=run_id)
    quality.record_write(ctx, dataset_id=dataset_id, resource_id=resource_key, replace=False, has_rules=bool(rules),
                         tally=quality.tally_rows(accepted, rejected), trigger="collect", run_id=run_id,
                         refresh_every=COLLECT_RESCORE_SECONDS)
    return accepted, refused


def collected_run_ended(ctx: RequestContext, *, dataset_id: str, run_id: str) -> None:
    """Settle the quality score a run's pages left behind (they rescore at most every few seconds)."""
    quality.refresh_if_behind(ctx, dataset_id=dataset_id, trigger="collect", run_id=run_id)


def _scannable(rows: list[dict[str, Any]]) -> pa.Table:
    """The page's columns that can hold personal data, as text: those with text or integer values, the
    kinds `personal.scan_table` reads (numbers with a fraction, booleans and dates cannot)."""
    columns: dict[str, pa.Array] = {}
    for name in rows[0]:
        values = [r.get(name) for r in rows]
        if any(type(v) is str or type(v) is int for v in values):
            columns[name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.table(columns) if columns else pa.table({})


def personal_guard(ctx: RequestContext, *, dataset_id: str) -> None:
    """Refuse (409, naming the columns) to make public a dataset holding untreated personal data."""
    columns = privacy.untreated_columns(ctx.db, dataset_id)
    if columns:
        raise privacy.refuse_public(columns)


def violations_as_dicts(violations: list[Violation]) -> list[dict[str, Any]]:
    return [v.as_dict() for v in violations]
