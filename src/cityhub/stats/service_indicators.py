"""Indicators: the catalog of city statistics, their figures, and keeping them fresh.

Figures come from two places: a KOSIS source of the collection system (its collected table, read
through the SQL sandbox) and the city's own datastore tables (aggregated by period and district).
A refresh replaces an indicator's figures only when the new ones are complete; when a source fails,
nothing here changes, so the last good figures stay and `updated_at` says how old they are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select

from cityhub.auth import policy
from cityhub.ctx import Actor, RequestContext
from cityhub.datastore.sql import run_sql
from cityhub.db import utcnow
from cityhub.errors import Invalid, NotFound
from cityhub.stats import periods, sqlgen
from cityhub.stats.models import Indicator, IndicatorValue
from cityhub.stats.schemas import (
    IndicatorCreate,
    IndicatorList,
    IndicatorPublic,
    RefreshResult,
    SourceStatus,
)

policy.declare("indicator.read", "indicator.manage")

# The platform refreshing figures for everyone: sources were authorized when they were set up.
STATS_ACTOR = Actor(user_id="system:stats", email="stats@cityhub.local", role="admin", city_member=True)

# Column names of a KOSIS source's table when it uses the standard mapping below.
KOSIS_FIELDS = [
    {"name": "district_code", "path": "C1"}, {"name": "district", "path": "C1_NM"},
    {"name": "district_en", "path": "C1_NM_ENG"}, {"name": "item", "path": "ITM_ID"},
    {"name": "unit", "path": "UNIT_NM"},
    {"name": "period", "path": "PRD_DE"}, {"name": "value", "path": "DT", "type": "number"},
]
KOSIS_KEY = ["district_code", "item", "period"]
CITY_CODE = ""  # district_code of the whole-city figure


@dataclass(frozen=True)
class IndicatorAccess:
    """What the policy needs: the dataset the figures come from."""

    id: str
    access_level: str
    owner_org_id: str | None


def access_of(ind: Indicator) -> IndicatorAccess:
    return IndicatorAccess(id=ind.dataset_id or ind.id, access_level=ind.access_level, owner_org_id=ind.owner_org_id)


def _system(ctx: RequestContext) -> RequestContext:
    return ctx.with_actor(STATS_ACTOR)


def to_public(ind: Indicator, status: SourceStatus | None = None) -> IndicatorPublic:
    return IndicatorPublic(
        id=ind.id, slug=ind.slug, title=ind.title, title_en=ind.title_en, definition=ind.definition,
        definition_en=ind.definition_en, topic=ind.topic, unit=ind.unit, unit_en=ind.unit_en, period=ind.period,
        source_kind=ind.source_kind, source_name=ind.source_name, dataset_id=ind.dataset_id,
        access_level=ind.access_level, values_count=ind.values_count or 0, first_period=ind.first_period,
        last_period=ind.last_period, updated_at=ind.updated_at, refreshed_at=ind.refreshed_at,
        source_status=status)


def find(ctx: RequestContext, slug: str) -> Indicator:
    """The indicator, policy-checked; an invisible one is NotFound so its existence never leaks."""
    ind = ctx.db.scalar(select(Indicator).where(or_(Indicator.slug == slug, Indicator.id == slug)))
    if ind is None or not policy.can(ctx, "indicator.read", access_of(ind)):
        raise NotFound(f"indicator {slug!r} not found")
    return ind


# --- defining ------------------------------------------------------------------------------------


def create_indicator(ctx: RequestContext, *, data: IndicatorCreate, refresh: bool = True) -> IndicatorPublic:
    """Add an indicator fed by a KOSIS source or computed from a datastore table (stewards)."""
    policy.require(ctx, "indicator.manage")
    if (data.kosis is None) == (data.dataset is None):
        raise Invalid.field("kosis", "give exactly one of kosis or dataset")
    if ctx.db.scalar(select(Indicator.id).where(Indicator.slug == data.slug)):
        from cityhub.errors import Conflict

        raise Conflict(f"indicator {data.slug!r} exists", details={"slug": ["already in use"]})
    ind = Indicator(slug=data.slug, title=data.title, title_en=data.title_en, definition=data.definition,
                    definition_en=data.definition_en, topic=data.topic, unit=data.unit, unit_en=data.unit_en,
                    period=data.period, values_count=0)
    if data.kosis is not None:
        _attach_kosis(ctx, ind, data)
    else:
        _attach_dataset(ctx, ind, data)
    ctx.db.add(ind)
    ctx.db.flush()
    if refresh:
        refresh_indicator(ctx, slug=ind.slug)
    return to_public(ind)


def _attach_kosis(ctx: RequestContext, ind: Indicator, data: IndicatorCreate) -> None:
    from cityhub.collect import service as collect

    spec = data.kosis
    source = collect.get_source(ctx, id_or_name=spec.source)
    if source.connector != "kosis":
        raise Invalid.field("kosis.source", f"source {spec.source!r} is not a KOSIS source")
    ind.source_kind = "kosis"
    ind.source_name = f"KOSIS {source.config.get('tbl_id', '')}".strip()
    ind.spec = spec.model_dump()
    _link_dataset(ctx, ind, source.dataset_id, source.resource_id)


def _attach_dataset(ctx: RequestContext, ind: Indicator, data: IndicatorCreate) -> None:
    from cityhub.catalog import service as catalog
    from cityhub.stats.service_queries import columns_of

    spec = data.dataset
    ref = catalog.authorize_resource(ctx, resource_id=spec.resource_id)
    # SQLite reads an unknown "column" as a string: name a missing column here instead.
    known = {c["id"] for c in columns_of(ctx, spec.resource_id)}
    for field in ("time", "value", "district"):
        column = getattr(spec, field)
        if column is not None and column not in known:
            raise Invalid.field(f"dataset.{field}", f"no column {column!r} in {spec.resource_id}")
    ind.source_kind = "dataset"
    ind.source_name = ref.dataset.title
    ind.spec = spec.model_dump()
    _link_dataset(ctx, ind, ref.dataset_id, ref.id)


def _link_dataset(ctx: RequestContext, ind: Indicator, dataset_id: str, resource_id: str | None) -> None:
    from cityhub.catalog import service as catalog

    ds = catalog.get_dataset_ref(ctx, id_or_name=dataset_id)
    ind.dataset_id, ind.resource_id = ds.id, resource_id
    ind.access_level, ind.owner_org_id = ds.access_level, ds.owner_org_id


# --- reading -------------------------------------------------------------------------------------


def list_indicators(ctx: RequestContext, *, topic: str | None = None, q: str | None = None,
                    limit: int = 200, offset: int = 0) -> IndicatorList:
    """Indicators the actor may read, by topic and title."""
    visible = policy.visible_dataset_clause(ctx, id_col=Indicator.dataset_id, access_col=Indicator.access_level,
                                            org_col=Indicator.owner_org_id)
    conds = [visible]
    if topic:
        conds.append(Indicator.topic == topic)
    if q:
        like = f"%{q.strip()}%"
        conds.append(or_(Indicator.title.ilike(like), Indicator.title_en.ilike(like), Indicator.slug.ilike(like)))
    total = ctx.db.scalar(select(func.count()).select_from(Indicator).where(*conds)) or 0
    rows = ctx.db.scalars(select(Indicator).where(*conds).order_by(Indicator.topic, Indicator.slug)
                          .limit(limit).offset(offset))
    return IndicatorList(items=[to_public(i) for i in rows], total=total)


def get_indicator(ctx: RequestContext, *, slug: str) -> IndicatorPublic:
    """One indicator with the freshness of its source (a failing KOSIS feed shows here)."""
    ind = find(ctx, slug)
    return to_public(ind, source_status(ctx, ind))


def source_status(ctx: RequestContext, ind: Indicator) -> SourceStatus | None:
    """Health of the feeding source, read for the platform and cut down to what anyone may know."""
    if ind.source_kind != "kosis":
        return SourceStatus(status="ok" if ind.last_error is None else "failing", last_success_at=ind.updated_at,
                            last_run_at=ind.refreshed_at, message=ind.last_error)
    from cityhub.collect import service as collect

    try:
        src = collect.get_source(_system(ctx), id_or_name=ind.spec.get("source", ""))
    except NotFound:
        return SourceStatus(status="missing", message="the source was removed")
    health = src.health
    message = None
    if health.status == "failing":
        message = "the statistics source is failing; figures shown are the last good ones"
    return SourceStatus(status=health.status, last_success_at=health.last_success_at,
                        last_run_at=health.last_run_at, failure_streak=health.failure_streak, message=message)


# --- refreshing ----------------------------------------------------------------------------------


def refresh_indicator(ctx: RequestContext, *, slug: str) -> RefreshResult:
    """Re-read an indicator's figures from its source; keeps the old ones when the new are unusable."""
    ind = ctx.db.scalar(select(Indicator).where(or_(Indicator.slug == slug, Indicator.id == slug)))
    if ind is None:
        raise NotFound(f"indicator {slug!r} not found")
    if not policy.can(ctx, "indicator.manage") and ctx.actor.user_id != STATS_ACTOR.user_id:
        policy.require(ctx, "indicator.manage")
    system = _system(ctx)
    ind.refreshed_at = utcnow()
    try:
        rows = _kosis_rows(system, ind) if ind.source_kind == "kosis" else _dataset_rows(system, ind)
    except Exception as exc:  # noqa: BLE001 - any failure keeps the last good figures, and says why
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        ind.last_error = message[:2000]
        ctx.db.flush()
        return RefreshResult(indicator=ind.slug, changed=False, values=ind.values_count or 0, error=message)
    if not rows:
        ind.last_error = "the source has no figures for this indicator yet"
        ctx.db.flush()
        return RefreshResult(indicator=ind.slug, changed=False, values=ind.values_count or 0, error=ind.last_error)
    changed = _replace_values(ctx, ind, rows)
    ind.last_error = None
    ctx.db.flush()
    return RefreshResult(indicator=ind.slug, changed=changed, values=len(rows))


def _kosis_rows(ctx: RequestContext, ind: Indicator) -> list[dict[str, Any]]:
    if not ind.resource_id:
        return []
    dialect = "sqlite" if ctx.settings.is_sqlite else "postgres"
    cols = ["district_code", "district", "district_en", "period", "value"]
    query = (sqlgen.exp.select(*[sqlgen.column(c) for c in cols]).from_(sqlgen.table(ind.resource_id))
             .where(sqlgen.column("item").eq(sqlgen.literal(ind.spec.get("item")))))
    try:
        result = run_sql(ctx, sql=sqlgen.render(query, dialect), limit=ctx.settings.sql_row_cap)
    except Invalid as exc:
        if "table not found" in exc.message:
            return []  # the source has not run yet
        raise
    total = ind.spec.get("total_code")
    out = []
    for r in result.records:
        code = str(r["district_code"] or "")
        out.append({"period": periods.from_kosis(str(r["period"]), ind.period),
                    "district_code": CITY_CODE if code == total else code, "district": r["district"],
                    "district_en": r.get("district_en"), "value": r["value"]})
    return out


def _dataset_rows(ctx: RequestContext, ind: Indicator) -> list[dict[str, Any]]:
    spec = ind.spec
    dialect = "sqlite" if ctx.settings.is_sqlite else "postgres"
    grain = {"Y": "year", "Q": "quarter", "M": "month"}[ind.period]
    when = sqlgen.bucket(spec["time"], grain, dialect)
    value = sqlgen.aggregate(spec.get("agg", "count"), spec.get("value"))
    base = sqlgen.table(spec["resource_id"])
    not_null = sqlgen.column(spec["time"]).is_(sqlgen.exp.Null()).not_()
    city = (sqlgen.exp.select(when.as_("period"), value.as_("value")).from_(base).where(not_null)
            .group_by(sqlgen.exp.Literal.number(1)))
    rows = [{**r, "district_code": CITY_CODE, "district": None, "district_en": None}
            for r in run_sql(ctx, sql=sqlgen.render(city, dialect)).records]
    if spec.get("district"):
        by = sqlgen.column(spec["district"])
        per = (sqlgen.exp.select(when.copy().as_("period"), by.as_("district"), value.copy().as_("value"))
               .from_(base.copy()).where(not_null.copy(), by.copy().is_(sqlgen.exp.Null()).not_())
               .group_by(sqlgen.exp.Literal.number(1), sqlgen.exp.Literal.number(2)))
        rows += [{**r, "district_code": str(r["district"]), "district_en": None}
                 for r in run_sql(ctx, sql=sqlgen.render(per, dialect)).records]
    return [{**r, "period": str(r["period"])} for r in rows if r["period"]]


def _fingerprint(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()


def _replace_values(ctx: RequestContext, ind: Indicator, rows: list[dict[str, Any]]) -> bool:
    """Swap in the new figures in this transaction; True when anything differs from before."""
    new = {(r["period"], r["district_code"]): r for r in rows}
    old = ctx.db.execute(select(IndicatorValue.period, IndicatorValue.district_code, IndicatorValue.value)
                         .where(IndicatorValue.indicator_id == ind.id)).all()
    if _fingerprint([tuple(o) for o in old]) == _fingerprint([(p, d, r["value"]) for (p, d), r in new.items()]):
        return False
    ctx.db.execute(delete(IndicatorValue).where(IndicatorValue.indicator_id == ind.id))
    ctx.db.add_all([IndicatorValue(indicator_id=ind.id, period=p, district_code=d, district=r.get("district"),
                                   district_en=r.get("district_en"), period_start=periods.start_of(p, ind.period),
                                   value=None if r["value"] is None else float(r["value"]))
                    for (p, d), r in new.items()])
    labels = sorted(p for p, _ in new)
    ind.values_count, ind.first_period, ind.last_period = len(new), labels[0], labels[-1]
    ind.updated_at = utcnow()
    return True


def refresh_for_dataset(ctx: RequestContext, *, dataset_id: str, access_level: str | None = None,
                        owner_org_id: str | None = None) -> list[RefreshResult]:
    """A dataset changed: follow its access level and re-read the indicators fed by it."""
    results = []
    for ind in ctx.db.scalars(select(Indicator).where(Indicator.dataset_id == dataset_id)).all():
        if access_level:
            ind.access_level, ind.owner_org_id = access_level, owner_org_id
        results.append(refresh_indicator(_system(ctx), slug=ind.slug))
    return results
