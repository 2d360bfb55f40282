"""Collection services: sources, runs, health, quarantine, replay. Every function asks the policy first."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityhub.auth import policy
from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import ResourceCreate
from cityhub.collect import pipeline, raw, runs
from cityhub.collect.connectors import build_connector, registry
from cityhub.collect.models import QuarantinedRow, RawPayload, Run, Source
from cityhub.collect.schemas import (
    ConnectorInfo,
    QuarantinedRowPublic,
    QuarantineList,
    RawPayloadPublic,
    RunList,
    RunPublic,
    SourceCreate,
    SourceHealth,
    SourceList,
    SourcePublic,
    SourceUpdate,
)
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Conflict, Invalid, NotFound

policy.declare("source.read", "source.manage", "source.run")

SECRET_KEYS = re.compile(r"(key|token|secret|password)", re.I)
MASK = "***"
FREQUENCY_SECONDS = {
    "continuous": 15 * 60, "realtime": 15 * 60, "hourly": 3600, "daily": 86400, "weekly": 7 * 86400,
    "monthly": 31 * 86400, "quarterly": 92 * 86400, "semiannual": 183 * 86400, "annual": 366 * 86400,
    "yearly": 366 * 86400,
}


def _masked(config: dict[str, Any]) -> dict[str, Any]:
    return {k: (MASK if SECRET_KEYS.search(k) and v else v) for k, v in (config or {}).items()}


def _unmask(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """A form sends back the mask for secrets it did not change: keep the stored value."""
    return {k: (old.get(k) if v == MASK else v) for k, v in new.items()}


def health_of(source: Source) -> SourceHealth:
    """Freshness against the declared update frequency, failure streak, last success."""
    now = utcnow()
    every = FREQUENCY_SECONDS.get((source.update_frequency or "").lower())
    if every is None and source.schedule_kind == "interval" and (source.schedule_expr or "").isdigit():
        every = float(source.schedule_expr)
    age = (now - source.last_success_at).total_seconds() if source.last_success_at else None
    fresh = None if every is None or age is None else age <= every * 1.5
    if not source.enabled:
        status = "disabled"
    elif source.failure_streak:
        status = "failing"
    elif source.last_success_at is None:
        status = "never_run"
    elif fresh is False:
        status = "stale"
    else:
        status = "ok"
    return SourceHealth(status=status, last_run_at=source.last_run_at, last_success_at=source.last_success_at,
                        failure_streak=source.failure_streak or 0, fresh=fresh, age_seconds=age,
                        expected_every_seconds=every, last_error=source.last_error)


def to_public(source: Source) -> SourcePublic:
    return SourcePublic(
        id=source.id, name=source.name, title=source.title, connector=source.connector,
        config=_masked(source.config), fields=source.fields or [], key=source.key or [],
        dataset_id=source.dataset_id, resource_id=source.resource_id, schedule_kind=source.schedule_kind,
        schedule_expr=source.schedule_expr, enabled=source.enabled, update_frequency=source.update_frequency,
        max_concurrency=source.max_concurrency, timeout_seconds=source.timeout_seconds,
        run_timeout_seconds=source.run_timeout_seconds,
        max_retries=source.max_retries, state=source.state or {}, health=health_of(source),
        created_at=source.created_at, modified_at=source.modified_at)


def _find(db: Session, id_or_name: str) -> Source:
    source = db.scalar(select(Source).where((Source.id == id_or_name) | (Source.name == id_or_name)))
    if source is None:
        raise NotFound(f"source {id_or_name!r} not found")
    return source


def _dataset_of(ctx: RequestContext, source: Source):  # noqa: ANN202
    return catalog.get_dataset_ref(ctx, id_or_name=source.dataset_id, action="dataset.read")


def _check_schedule(kind: str, expr: str | None) -> None:
    from cityhub.collect.schedules import trigger_for

    if kind != "none":
        try:
            trigger_for(kind, expr)
        except (ValueError, TypeError) as exc:
            raise Invalid.field("schedule_expr", f"{expr!r} is not a valid {kind} schedule: {exc}") from None


def create_source(ctx: RequestContext, *, data: SourceCreate) -> SourcePublic:
    """Set up a source feeding a dataset the actor edits; its target resource is created in the dataset."""
    dataset = catalog.get_dataset_ref(ctx, id_or_name=data.dataset, action="dataset.read")
    policy.require(ctx, "source.manage", dataset)
    connector = build_connector(data.connector, data.config)
    _check_schedule(data.schedule_kind, data.schedule_expr)
    if ctx.db.scalar(select(Source.id).where(Source.name == data.name)):
        raise Conflict(f"source name {data.name!r} is taken", details={"name": ["already in use"]})
    source = Source(name=data.name, title=data.title, connector=data.connector,
                    config=connector.config.model_dump(mode="json", exclude_unset=True),
                    fields=[f.model_dump(exclude_defaults=True) for f in data.fields], key=list(data.key),
                    dataset_id=dataset.id, owner_org_id=dataset.owner_org_id, schedule_kind=data.schedule_kind,
                    schedule_expr=data.schedule_expr, enabled=data.enabled, update_frequency=data.update_frequency,
                    creator_user_id=ctx.actor.user_id, state={})
    for attr in ("max_concurrency", "timeout_seconds", "run_timeout_seconds", "max_retries"):
        if getattr(data, attr) is not None:
            setattr(source, attr, getattr(data, attr))
    if connector.sink == "table":
        res = catalog.create_resource(ctx, dataset=dataset.id, data=ResourceCreate(
            name=data.resource_name or data.title, format="API", description=f"collected by source {data.name}",
            url=f"{ctx.settings.site_url}/api/v1/sources/{data.name}"))
        source.resource_id = res.id
    ctx.db.add(source)
    ctx.db.flush()
    ctx.publish("source.created", {"id": source.id, "name": source.name})
    return to_public(source)


def update_source(ctx: RequestContext, *, id_or_name: str, data: SourceUpdate) -> SourcePublic:
    """Change a source's config, mapping, schedule or limits."""
    source = _find(ctx.db, id_or_name)
    policy.require(ctx, "source.manage", _dataset_of(ctx, source))
    values = data.model_dump(exclude_unset=True)
    if "config" in values:
        values["config"] = _unmask(values["config"] or {}, source.config or {})
        build_connector(source.connector, values["config"])
    if "fields" in values:
        values["fields"] = [f.model_dump(exclude_defaults=True) for f in data.fields or []]
    _check_schedule(values.get("schedule_kind", source.schedule_kind),
                    values.get("schedule_expr", source.schedule_expr))
    for key, value in values.items():
        setattr(source, key, value)
    source.modified_at = utcnow()
    ctx.db.flush()
    ctx.publish("source.updated", {"id": source.id, "name": source.name})
    return to_public(source)


def get_source(ctx: RequestContext, *, id_or_name: str) -> SourcePublic:
    """One source with its health."""
    source = _find(ctx.db, id_or_name)
    policy.require(ctx, "source.read", _dataset_of(ctx, source))
    return to_public(source)


def list_sources(ctx: RequestContext, *, limit: int = 100, offset: int = 0) -> SourceList:
    """Sources the actor may see (staff), with health."""
    policy.require(ctx, "source.read", None)
    total = ctx.db.scalar(select(func.count()).select_from(Source)) or 0
    rows = ctx.db.scalars(select(Source).order_by(Source.name).limit(limit).offset(offset)).all()
    items = []
    for source in rows:
        try:
            _dataset_of(ctx, source)
        except NotFound:
            continue  # a restricted dataset's source stays invisible
        items.append(to_public(source))
    return SourceList(items=items, total=total if len(items) == len(rows) else len(items))


def delete_source(ctx: RequestContext, *, id_or_name: str) -> None:
    """Remove a source and its run history; the collected rows and raw files stay."""
    source = _find(ctx.db, id_or_name)
    policy.require(ctx, "source.manage", _dataset_of(ctx, source))
    ctx.db.delete(source)
    ctx.db.flush()


def run_source(ctx: RequestContext, *, id_or_name: str, trigger: str = "manual",
               progress: pipeline.Progress | None = None) -> RunPublic:
    """Run a source now, in this call; returns the finished run (failed runs are returned, not raised)."""
    run_id = start_source_run(ctx, id_or_name=id_or_name, trigger=trigger)
    return finish_source_run(ctx, run_id=run_id, progress=progress)


def start_source_run(ctx: RequestContext, *, id_or_name: str, trigger: str = "manual") -> str:
    """Record a started run (committed at once so other workers see it) and return its id."""
    source = _find(ctx.db, id_or_name)
    policy.require(ctx, "source.run", _dataset_of(ctx, source))
    factory = _factory(ctx)
    db = factory()
    try:
        locked = db.scalar(select(Source).where(Source.id == source.id).with_for_update())
        run = runs.start_run(db, locked, trigger=trigger)
        db.commit()
        return run.id
    finally:
        db.close()


def finish_source_run(ctx: RequestContext, *, run_id: str, progress: pipeline.Progress | None = None,
                      payloads: Any = None) -> RunPublic:
    env = pipeline.RunEnv(factory=_factory(ctx), settings=ctx.settings, bus=ctx.bus, progress=progress,
                          payloads=payloads)
    run = pipeline.execute(env, run_id=run_id)
    ctx.db.expire_all()
    return runs.run_public(run)


def _factory(ctx: RequestContext) -> sessionmaker[Session]:
    return sessionmaker(bind=ctx.db.get_bind(), expire_on_commit=False, autoflush=False)


def list_runs(ctx: RequestContext, *, id_or_name: str | None = None, limit: int = 50, offset: int = 0) -> RunList:
    """Run history, newest first, for one source or all the actor may see."""
    policy.require(ctx, "source.read", None)
    stmt = select(Run, Source.name).join(Source, Source.id == Run.source_id)
    if id_or_name:
        source = _find(ctx.db, id_or_name)
        policy.require(ctx, "source.read", _dataset_of(ctx, source))
        stmt = stmt.where(Run.source_id == source.id)
    total = ctx.db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = ctx.db.execute(stmt.order_by(Run.started_at.desc()).limit(limit).offset(offset)).all()
    return RunList(items=[runs.run_public(r, name) for r, name in rows], total=total)


def get_run(ctx: RequestContext, *, run_id: str) -> RunPublic:
    """One run with its counters and error."""
    run = ctx.db.get(Run, run_id)
    if run is None:
        raise NotFound(f"run {run_id!r} not found")
    source = ctx.db.get(Source, run.source_id)
    policy.require(ctx, "source.read", _dataset_of(ctx, source))
    return runs.run_public(run, source.name)


def list_quarantine(ctx: RequestContext, *, run_id: str | None = None, source: str | None = None,
                    limit: int = 100, offset: int = 0) -> QuarantineList:
    """Rows kept out of the dataset, with the reason, for a run or a source."""
    if run_id:
        get_run(ctx, run_id=run_id)
        cond = QuarantinedRow.run_id == run_id
    elif source:
        src = _find(ctx.db, source)
        policy.require(ctx, "source.read", _dataset_of(ctx, src))
        cond = QuarantinedRow.source_id == src.id
    else:
        raise Invalid.field("run_id", "give a run or a source")
    total = ctx.db.scalar(select(func.count()).where(cond)) or 0
    rows = ctx.db.scalars(select(QuarantinedRow).where(cond).order_by(QuarantinedRow.id).limit(limit).offset(offset))
    return QuarantineList(total=total, items=[QuarantinedRowPublic(
        id=r.id, run_id=r.run_id, record=r.record, reason=r.reason, field=r.field, created_at=r.created_at)
        for r in rows])


def list_raw(ctx: RequestContext, *, run_id: str) -> list[RawPayloadPublic]:
    """The raw payloads a run landed, in order."""
    get_run(ctx, run_id=run_id)
    rows = ctx.db.scalars(select(RawPayload).where(RawPayload.run_id == run_id).order_by(RawPayload.seq))
    return [RawPayloadPublic.model_validate(r, from_attributes=True) for r in rows]


def replay_source(ctx: RequestContext, *, id_or_name: str, progress: pipeline.Progress | None = None) -> RunPublic:
    """Rebuild a source's rows from its raw landing zone (every good payload, in arrival order)."""
    source = _find(ctx.db, id_or_name)
    policy.require(ctx, "source.manage", _dataset_of(ctx, source))
    settings = ctx.settings
    ids = list(ctx.db.scalars(select(RawPayload.id).where(RawPayload.source_id == source.id,
                                                          RawPayload.outcome == "ok").order_by(RawPayload.id)))
    factory = _factory(ctx)

    def payloads():  # noqa: ANN202 - streamed one at a time so memory stays flat
        db = factory()
        try:
            for raw_id in ids:
                yield raw.load_payload(settings, db.get(RawPayload, raw_id))
        finally:
            db.close()

    run_id = start_source_run(ctx, id_or_name=source.id, trigger="replay")
    return finish_source_run(ctx, run_id=run_id, progress=progress, payloads=payloads())


def list_connectors(ctx: RequestContext) -> list[ConnectorInfo]:
    """Connectors available here, with their config schema (the source form is generated from it)."""
    policy.require(ctx, "source.read", None)
    return [ConnectorInfo(name=name, title=cls.title or name, title_ko=cls.title_ko or cls.title or name,
                          sink=cls.sink, config_schema=cls.Config.model_json_schema())
            for name, cls in sorted(registry().items())]


def recover(db: Session) -> list[str]:
    """Mark runs whose process died as interrupted (called at start-up)."""
    return runs.recover_interrupted(db)


def due_sources(db: Session) -> list[Source]:
    return list(db.scalars(select(Source).where(Source.enabled.is_(True), Source.schedule_kind != "none")))


