"""The quarantine: rows refused on any write path, which stewards list, fix and re-submit (or discard)."""

from __future__ import annotations

from sqlalchemy import func, select

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Invalid, NotFound
from cityhub.governance import entity_rules
from cityhub.governance.models import QuarantinedRecord
from cityhub.governance.ruleset import ruleset_for
from cityhub.governance.schemas import QuarantineFix, QuarantineList, QuarantinePublic, ResubmitResult


def _dataset(ctx: RequestContext, dataset: str):  # noqa: ANN202
    from cityhub.catalog import service as catalog

    return catalog.get_dataset_ref(ctx, id_or_name=dataset, action="dataset.govern")


def list_quarantine(ctx: RequestContext, *, dataset: str, status: str | None = "open", origin: str | None = None,
                    rule: str | None = None, limit: int = 100, offset: int = 0) -> QuarantineList:
    """Quarantined rows of a dataset, oldest first (its stewards)."""
    ref = _dataset(ctx, dataset)
    stmt = select(QuarantinedRecord).where(QuarantinedRecord.dataset_id == ref.id)
    if status:
        stmt = stmt.where(QuarantinedRecord.status == status)
    if origin:
        stmt = stmt.where(QuarantinedRecord.origin == origin)
    rows = list(ctx.db.scalars(stmt.order_by(QuarantinedRecord.id)))
    if rule:  # rules live inside the JSON errors list; filtered here to stay portable across dialects
        rows = [r for r in rows if any(e.get("rule") == rule for e in r.errors)]
    return QuarantineList(items=[QuarantinePublic.model_validate(r) for r in rows[offset:offset + limit]],
                          total=len(rows))


def count_open(ctx: RequestContext, *, dataset_id: str) -> int:
    return int(ctx.db.scalar(select(func.count()).where(QuarantinedRecord.dataset_id == dataset_id,
                                                        QuarantinedRecord.status == "open")) or 0)


def _load(ctx: RequestContext, dataset: str, record_id: int) -> QuarantinedRecord:
    ref = _dataset(ctx, dataset)
    found = ctx.db.get(QuarantinedRecord, record_id)
    if found is None or found.dataset_id != ref.id:
        raise NotFound(f"quarantined row {record_id} not found")
    if found.status != "open":
        raise Invalid.field("status", f"row {record_id} is already {found.status}")
    return found


def resubmit(ctx: RequestContext, *, dataset: str, record_id: int, fix: QuarantineFix) -> ResubmitResult:
    """Re-check a quarantined row (with the steward's corrections merged in); if it passes now it is
    written to its table, otherwise it stays in the quarantine with the new reasons."""
    from cityhub.governance.rows import append_rows

    found = _load(ctx, dataset, record_id)
    record = {**found.record, **(fix.record or {})}
    if found.origin == entity_rules.ORIGIN:
        return _resubmit_entity(ctx, found, record)
    _, rejected = ruleset_for(ctx.db, found.dataset_id).validate_rows([record])
    if rejected:
        found.record = record
        found.errors = [v.as_dict() for v in rejected[0].violations]
        ctx.db.flush()
        return ResubmitResult(id=found.id, status="open", errors=found.errors)
    if found.resource_id is None:
        raise Invalid.field("resource", "this row has no table to go to")
    policy.require(ctx, "datastore.write", _dataset(ctx, found.dataset_id))
    append_rows(ctx, resource_id=found.resource_id, rows=[record])
    found.record, found.status = record, "resubmitted"
    found.resolved_by, found.resolved_at = ctx.actor.user_id, utcnow()
    ctx.db.flush()
    return ResubmitResult(id=found.id, status=found.status)


def _resubmit_entity(ctx: RequestContext, found: QuarantinedRecord, record: dict) -> ResubmitResult:
    """An entity refused on the NGSI-LD path goes back through the context write path once it passes."""
    violations = entity_rules.violations_of(ctx, found.dataset_id, record)
    if not violations:
        problems = entity_rules.resubmit_entity(ctx, record)
        if problems:
            raise Invalid("entity: " + "; ".join(p.get("detail", "") for p in problems),
                          details={"entity": [p.get("detail", "") for p in problems]})
        found.record, found.status = record, "resubmitted"
        found.resolved_by, found.resolved_at = ctx.actor.user_id, utcnow()
    else:
        found.record, found.errors = record, [v.as_dict() for v in violations]
    ctx.db.flush()
    return ResubmitResult(id=found.id, status=found.status, errors=found.errors if violations else [])


def discard(ctx: RequestContext, *, dataset: str, record_id: int) -> ResubmitResult:
    """Give up on a quarantined row (kept, marked discarded, for the record)."""
    found = _load(ctx, dataset, record_id)
    found.status, found.resolved_by, found.resolved_at = "discarded", ctx.actor.user_id, utcnow()
    ctx.db.flush()
    return ResubmitResult(id=found.id, status=found.status)
