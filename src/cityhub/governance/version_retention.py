"""Retention of dataset versions' big-table copies (`_gov_version_*` tables inside the datastore engine).

Each change of a big table leaves a full copy of its rows; kept forever they would grow without bound.
A version keeps its copies while it is among the dataset's last `keep_copies` versions holding copies,
or younger than `keep_days` days, or while its copies are still those of a kept version (a metadata
edit shares the copy before it). The rest are marked pruned: still listed with their metadata and diff
summary, but no longer restorable (410). Copies nothing refers to any more are dropped, and so are
stray copies of changes that never became versions. Applied by the scheduler and `cityhub governance
prune-versions`; idempotent, so several workers running it at once waste a little work, never data.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy import select

from cityhub.catalog import service as catalog
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.governance import version_capture, version_delta
from cityhub.governance.models_market import DatasetVersion, VersionOutbox, VersionRetention

log = logging.getLogger("cityhub.governance")


class RetentionRule(BaseModel):
    keep_copies: int = Field(ge=1, le=10_000, description="keep the copies of this many latest versions")
    keep_days: int = Field(ge=0, le=36_500, description="and of every version younger than this")


class RetentionPublic(RetentionRule):
    dataset_id: str
    city_default: bool


def _rule(ctx: RequestContext, dataset_id: str) -> tuple[RetentionRule, bool]:
    own = ctx.db.get(VersionRetention, dataset_id)
    if own is not None:
        return RetentionRule(keep_copies=own.keep_copies, keep_days=own.keep_days), False
    s = ctx.settings
    return RetentionRule(keep_copies=max(1, s.governance_version_keep_copies),
                         keep_days=max(0, s.governance_version_keep_days)), True


def get_rule(ctx: RequestContext, *, dataset: str) -> RetentionPublic:
    """The dataset's retention rule for its versions' copies (its own, or the city default)."""
    ref = catalog.get_dataset_ref(ctx, id_or_name=dataset)
    rule, default = _rule(ctx, ref.id)
    return RetentionPublic(dataset_id=ref.id, city_default=default, **rule.model_dump())


def set_rule(ctx: RequestContext, *, dataset: str, rule: RetentionRule | None) -> RetentionPublic:
    """Set the dataset's own retention rule (stewards); None returns it to the city default."""
    ref = catalog.get_dataset_ref(ctx, id_or_name=dataset, action="dataset.govern")
    own = ctx.db.get(VersionRetention, ref.id)
    if rule is None:
        if own is not None:
            ctx.db.delete(own)
    elif own is None:
        ctx.db.add(VersionRetention(dataset_id=ref.id, keep_copies=rule.keep_copies, keep_days=rule.keep_days,
                                    updated_by=ctx.actor.user_id))
    else:
        own.keep_copies, own.keep_days, own.updated_by, own.updated_at = (rule.keep_copies, rule.keep_days,
                                                                          ctx.actor.user_id, utcnow())
    ctx.db.flush()
    return get_rule(ctx, dataset=ref.id)


def _pointer_key(ptr: dict[str, Any]) -> str:
    return f"delta:{ptr['table']}:{ptr['gen']}:{ptr['change']}"


def _copies(version: DatasetVersion) -> set[str]:
    """What holds the version's rows in the engine: copies, and delta pointers of tables kept without a
    CSV snapshot (a snapshot-holding version needs no delta)."""
    return ({r["table_copy"] for r in version.resources or [] if r.get("table_copy")}
            | {_pointer_key(r["table_delta"]) for r in version.resources or []
               if r.get("table_delta") and not r.get("snapshot")})


def _needed(pointers: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """(table, generation) -> the oldest change whose rows a kept version or a pending change needs."""
    need: dict[tuple[str, str], int] = {}
    for p in pointers:
        key = (p["table"], p["gen"])
        need[key] = min(need.get(key, p["change"]), p["change"])
    return need


def _pending_pointers(ctx: RequestContext, dataset_id: str | None = None) -> list[dict[str, Any]]:
    q = select(VersionOutbox.capture).where(VersionOutbox.status == "pending")
    if dataset_id is not None:
        q = q.where(VersionOutbox.dataset_id == dataset_id)
    return [r["delta"] for c in ctx.db.scalars(q) for r in (c or {}).get("resources", []) if r.get("delta")]


def _prune_deltas(ctx: RequestContext, dataset_id: str, versions: list[DatasetVersion]) -> None:
    """Delete before-images no kept version needs; drop retired generations nobody needs at all."""
    every = [r["table_delta"] for v in versions for r in v.resources or [] if r.get("table_delta")]
    kept = [r["table_delta"] for v in versions if v.pruned_at is None for r in v.resources or []
            if r.get("table_delta") and not r.get("snapshot")]
    # the newest version's rows are what the next change is compared with: its deltas stay either way
    kept += [r["table_delta"] for r in (versions[0].resources if versions else []) or [] if r.get("table_delta")]
    need = _needed(kept + _pending_pointers(ctx, dataset_id))
    conn = ctx.db.connection()
    for table, gen in {(p["table"], p["gen"]) for p in every}:
        version_delta.prune(conn, gen, table, need.get((table, gen)))


def _kept(versions: list[DatasetVersion], rule: RetentionRule, now: datetime) -> set[int]:
    """Numbers of the versions (newest first) whose copies stay."""
    cutoff = now - timedelta(days=rule.keep_days)
    holding = [v for v in versions if _copies(v)]
    kept = {v.number for i, v in enumerate(holding) if i < rule.keep_copies or v.created_at >= cutoff}
    if versions:
        kept.add(versions[0].number)  # the current state is never pruned
    shared = set().union(*(_copies(v) for v in holding if v.number in kept))
    kept |= {v.number for v in holding if _copies(v) <= shared}
    return kept


def _drop(ctx: RequestContext, names: set[str]) -> int:
    for name in sorted(names):
        version_capture.drop_copy(ctx.db, name)
        gen = name[len(version_capture.COPY_PREFIX):]
        if len(gen) == 24:  # a retired generation's rows: its deltas go with them
            ctx.db.connection().exec_driver_sql(f'DROP TABLE IF EXISTS "{version_delta.DELTA_PREFIX}{gen}"')
    return len(names)


def prune_dataset(ctx: RequestContext, dataset_id: str, now: datetime | None = None) -> dict[str, int]:
    """Apply the dataset's rule: mark versions past it pruned and drop the copies no kept version uses."""
    now = now or utcnow()
    rule, _ = _rule(ctx, dataset_id)
    versions = list(ctx.db.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
                                   .order_by(DatasetVersion.number.desc())))
    kept = _kept([v for v in versions if v.pruned_at is None], rule, now)
    pruned = [v for v in versions if v.pruned_at is None and _copies(v) and v.number not in kept]
    for v in pruned:
        v.pruned_at = now
    live = set().union(*(_copies(v) for v in versions if v.pruned_at is None))
    dropped = _drop(ctx, {c for c in set().union(*(_copies(v) for v in pruned)) - live if not c.startswith("delta:")})
    _prune_deltas(ctx, dataset_id, versions)
    ctx.db.flush()
    return {"versions_pruned": len(pruned), "copies_dropped": dropped}


def _strays(ctx: RequestContext) -> set[str]:
    """Copies neither a version nor a pending change refers to (a change that made no version, a
    recorder that died between dropping and committing)."""
    conn = ctx.db.connection()
    tables = {t for t in sa.inspect(conn).get_table_names() if t.startswith(version_capture.COPY_PREFIX)}
    if not tables:
        return set()
    used: set[str] = set()
    for resources in ctx.db.scalars(select(DatasetVersion.resources).where(DatasetVersion.pruned_at.is_(None))):
        used |= {r["table_copy"] for r in resources or [] if r.get("table_copy")}
        used |= {version_delta.base_of(r["table_delta"]["gen"]) for r in resources or []
                 if r.get("table_delta") and not r.get("snapshot")}
    used |= {version_delta.base_of(p["gen"]) for p in _pending_pointers(ctx)}
    for capture in ctx.db.scalars(select(VersionOutbox.capture).where(VersionOutbox.status == "pending")):
        used |= {r["copy"] for r in (capture or {}).get("resources", []) if r.get("copy")}
    return tables - used


def prune_all(ctx: RequestContext, *, dataset: str | None = None) -> dict[str, Any]:
    """One retention pass over every dataset holding copies (or one dataset), then the stray copies."""
    ids = [catalog.get_dataset_ref(ctx, id_or_name=dataset, action="dataset.govern").id] if dataset else list(
        ctx.db.scalars(select(DatasetVersion.dataset_id).where(DatasetVersion.pruned_at.is_(None)).distinct()))
    totals = {"datasets": 0, "versions_pruned": 0, "copies_dropped": 0}
    for dataset_id in ids:
        done = prune_dataset(ctx, dataset_id)
        totals["datasets"] += 1
        totals["versions_pruned"] += done["versions_pruned"]
        totals["copies_dropped"] += done["copies_dropped"]
    if dataset is None:
        totals["copies_dropped"] += _drop(ctx, _strays(ctx))
    return totals
