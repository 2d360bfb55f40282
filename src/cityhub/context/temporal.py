"""The temporal API: history of attributes (timerel, lastN, temporalValues) and aggregates from rollups.

Aggregates never scan raw values: they read the minute/hour/day rollups kept on write
(`temporal_aggregates`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from cityhub.auth import policy
from cityhub.context import history_pending, history_store, temporal_aggregates, temporal_instances
from cityhub.context.attrs import parse_time
from cityhub.context.models import ContextEntity, Observation, RetentionPolicy, Rollup
from cityhub.context.problems import BadRequestData, ResourceNotFound
from cityhub.context.query import check_page
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.governance import live_access

AGGR_METHODS = ("avg", "min", "max", "sum", "totalCount")
MAX_INSTANCES = temporal_instances.MAX_INSTANCES  # per entity+attribute; beyond it the answer is Partial
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
E = ContextEntity.__table__
O = Observation.__table__  # noqa: E741
R = Rollup.__table__


@dataclass
class TemporalQuery:
    ids: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    id_pattern: str | None = None
    attrs: list[str] = field(default_factory=list)
    timerel: str | None = None
    time_at: datetime | None = None
    end_time_at: datetime | None = None
    last_n: int | None = None
    temporal_values: bool = False
    aggr_methods: list[str] = field(default_factory=list)
    aggr_period: timedelta | None = None
    limit: int = 20
    offset: int = 0
    # aggregate series as pre-encoded JSON (orjson.Fragment) for the HTTP door, which only serialises them;
    # Python callers (the board) keep plain lists
    encoded: bool = False
    # set by the query: the time window of an answer cut at MAX_INSTANCES (206 + Content-Range), else None
    partial: temporal_instances.Partial | None = None


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text or "")
    if not m or not any(m.groups()):
        raise BadRequestData.field("aggrPeriodDuration", f"{text!r} is not an ISO 8601 duration like PT1H or P1D")
    d, h, mi, s = (int(x or 0) for x in m.groups())
    period = timedelta(days=d, hours=h, minutes=mi, seconds=s)
    if period < timedelta(minutes=1) and period != timedelta(0):
        raise BadRequestData.field("aggrPeriodDuration", "the shortest period is PT1M (minute rollups)")
    return period


def build_query(params: dict[str, Any]) -> TemporalQuery:
    """A TemporalQuery from NGSI-LD query parameters; bad values are BadRequestData naming the parameter."""
    tq = TemporalQuery()
    tq.timerel = params.get("timerel")
    if tq.timerel:
        if tq.timerel not in ("before", "after", "between"):
            raise BadRequestData.field("timerel", "one of before, after, between")
        tq.time_at = parse_time(params.get("timeAt"), "timeAt") if params.get("timeAt") else None
        if tq.time_at is None:
            raise BadRequestData.field("timeAt", f"timerel={tq.timerel} needs timeAt")
        if tq.timerel == "between":
            if not params.get("endTimeAt"):
                raise BadRequestData.field("endTimeAt", "timerel=between needs endTimeAt")
            tq.end_time_at = parse_time(params["endTimeAt"], "endTimeAt")
            if tq.end_time_at <= tq.time_at:
                raise BadRequestData.field("endTimeAt", "must be after timeAt")
    if params.get("lastN"):
        try:
            tq.last_n = int(params["lastN"])
        except ValueError:
            raise BadRequestData.field("lastN", "must be a positive integer") from None
        if tq.last_n < 1:
            raise BadRequestData.field("lastN", "must be a positive integer")
    methods = [m.strip() for m in (params.get("aggrMethods") or "").split(",") if m.strip()]
    for m in methods:
        if m not in AGGR_METHODS:
            raise BadRequestData.field("aggrMethods", f"{m!r} is not one of {', '.join(AGGR_METHODS)}")
    tq.aggr_methods = methods
    if params.get("aggrPeriodDuration"):
        tq.aggr_period = parse_duration(params["aggrPeriodDuration"])
    return tq


def _time_filter(col: Any, tq: TemporalQuery) -> list[Any]:
    if tq.timerel == "before":
        return [col < tq.time_at]
    if tq.timerel == "after":
        return [col >= tq.time_at]
    if tq.timerel == "between":
        return [col >= tq.time_at, col < tq.end_time_at]
    return []


_iso = temporal_instances.iso


def _entities(ctx: RequestContext, tq: TemporalQuery) -> list[tuple[str, str]]:
    conds = []
    if tq.ids:
        conds.append(E.c.id.in_(tq.ids))
    if tq.types:
        conds.append(E.c.type.in_(tq.types))
    if tq.id_pattern:
        conds.append(E.c.id.regexp_match(tq.id_pattern))
    stmt = select(E.c.id, E.c.type).where(*conds).order_by(E.c.id).limit(tq.limit).offset(tq.offset)
    found = [(r.id, r.type) for r in ctx.db.execute(stmt)]
    if tq.ids and len(found) < len(tq.ids):  # history outlives deleted entities
        known = {f[0] for f in found}
        missing = [i for i in tq.ids if i not in known]
        stmt = select(O.c.entity_id, func.min(O.c.entity_type)).where(O.c.entity_id.in_(missing)).group_by(
            O.c.entity_id)
        found.extend((r[0], r[1]) for r in ctx.db.execute(stmt))
    return found


def query_temporal(ctx: RequestContext, *, tq: TemporalQuery) -> list[dict[str, Any]]:
    """Temporal representations of the matching entities (raw instances, value pairs or aggregates)."""
    policy.require(ctx, "context.read", None)
    check_page(ctx.settings, tq.limit, tq.offset)
    tq.partial = None
    if not (tq.ids or tq.types or tq.id_pattern):
        raise BadRequestData.field("type", "a temporal query needs type, id or idPattern")
    history_pending.settle(ctx.db)  # acknowledged batches not yet expanded are history too
    ents = _entities(ctx, tq)
    hidden = live_access.hidden_names(ctx)
    if hidden:  # types whose live dataset this actor may not read (governance decides)
        ents = [e for e in ents if not live_access.hides(hidden, live_access.governing_type(e[0], e[1]))]
    if not ents:
        return []
    live_access.note_reads(ctx, {live_access.governing_type(e[0], e[1]) for e in ents})
    ids = [e[0] for e in ents]
    if tq.aggr_methods:
        values = temporal_aggregates.aggregates(ctx, tq, ids, _time_filter)
    else:
        values = _instances(ctx, tq, ids)
    out = []
    for eid, etype in ents:
        item: dict[str, Any] = {"id": eid, "type": etype}
        item.update(values.get(eid, {}))
        out.append(item)
    return out


def get_temporal_entity(ctx: RequestContext, *, entity_id: str, tq: TemporalQuery) -> dict[str, Any]:
    """One entity's temporal representation; ResourceNotFound when it has neither state nor history."""
    tq.ids, tq.types, tq.limit, tq.offset = [entity_id], [], 1, 0
    found = query_temporal(ctx, tq=tq)
    if not found:
        raise ResourceNotFound(f"entity {entity_id} has no history")
    return found[0]


def _instances(ctx: RequestContext, tq: TemporalQuery, ids: list[str]) -> dict[str, dict[str, Any]]:
    conds = [O.c.entity_id.in_(ids), *_time_filter(O.c.observed_at, tq)]
    if tq.attrs:
        conds.append(O.c.attr.in_(tq.attrs))
    rows, tq.partial = temporal_instances.fetch(ctx.db, conds, tq.last_n, len(ids) * max(1, len(tq.attrs)))
    out: dict[str, dict[str, Any]] = {}
    for (eid, attr), series in rows.items():
        slot = out.setdefault(eid, {})
        if tq.temporal_values:
            slot[attr] = {"type": "Property", "values": [[value, _iso(when)] for when, value in series]}
        else:
            slot[attr] = [{"type": "Property", "value": value, "observedAt": _iso(when)} for when, value in series]
    return out


def delete_history(ctx: RequestContext, *, entity_id: str) -> None:
    """DELETE /temporal/entities/{id}: the entity and all its history go."""
    policy.require(ctx, "context.write", None)
    history_pending.settle(ctx.db)  # else a pending batch would bring history back after the delete
    n = ctx.db.execute(delete(O).where(O.c.entity_id == entity_id)).rowcount
    ctx.db.execute(delete(R).where(R.c.entity_id == entity_id))
    existed = ctx.db.execute(delete(E).where(E.c.id == entity_id)).rowcount
    if not (n or existed):
        raise ResourceNotFound(f"entity {entity_id} has no history")


def list_retention(ctx: RequestContext) -> dict[str, Any]:
    """The per-type retention policies and the defaults for types without one."""
    policy.require(ctx, "context.read", None)
    rows = ctx.db.execute(select(RetentionPolicy).order_by(RetentionPolicy.entity_type)).scalars()
    return {"default": {"raw_days": ctx.settings.context_raw_retention_days,
                        "rollup_days": ctx.settings.context_rollup_retention_days},
            "items": [{"entity_type": r.entity_type, "raw_days": r.raw_days, "rollup_days": r.rollup_days}
                      for r in rows]}


def set_retention(ctx: RequestContext, *, entity_type: str, raw_days: int, rollup_days: int) -> None:
    """Keep raw values of a type `raw_days` days and its rollups `rollup_days` days."""
    # History deletion is the rule-makers' call (context.rules), never an open-write lab client's.
    policy.require(ctx, "context.rules", None)
    if raw_days < 1 or rollup_days < raw_days:
        raise BadRequestData.field("raw_days", "raw_days ≥ 1 and rollup_days ≥ raw_days")
    row = ctx.db.get(RetentionPolicy, entity_type)
    if row is None:
        ctx.db.add(RetentionPolicy(entity_type=entity_type, raw_days=raw_days, rollup_days=rollup_days))
    else:
        row.raw_days, row.rollup_days = raw_days, rollup_days
    ctx.db.flush()


def apply_retention(ctx: RequestContext) -> dict[str, int]:
    """Drop history older than each type's policy (settings give the defaults); returns rows removed."""
    history_pending.settle(ctx.db)
    history_store.take_write_lock(ctx.db)  # before reading history in this transaction, not after
    now = utcnow()
    policies = {p.entity_type: p for p in ctx.db.execute(select(RetentionPolicy)).scalars()}
    types = {t for (t,) in ctx.db.execute(select(O.c.entity_type).distinct())} | set(policies)
    removed = {"observations": 0, "rollups": 0}
    for etype in types:
        pol = policies.get(etype)
        raw_days = pol.raw_days if pol else ctx.settings.context_raw_retention_days
        roll_days = pol.rollup_days if pol else ctx.settings.context_rollup_retention_days
        removed["observations"] += ctx.db.execute(delete(O).where(
            O.c.entity_type == etype, O.c.observed_at < now - timedelta(days=raw_days))).rowcount or 0
        removed["rollups"] += ctx.db.execute(delete(R).where(
            R.c.entity_type == etype, R.c.bucket < now - timedelta(days=roll_days))).rowcount or 0
    return removed
