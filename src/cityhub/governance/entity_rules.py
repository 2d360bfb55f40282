"""Validation on the NGSI-LD write path: an entity type's schema is its `live-<type>` dataset's schema.

The context write path calls `screen` for every write. Most types have no schema, so the common case
is one dict lookup per change against a per-database map of the types that do (refreshed when a
schema is saved here, and every few seconds for other workers). An entity that breaks its schema is
refused as a whole (nothing of it is written) and kept in the quarantine with each rule and value,
where its dataset's stewards fix and re-submit it; other entities of the same batch go through.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from cityhub.context.attrs import simplify
from cityhub.ctx import RequestContext
from cityhub.db import Base, utcnow
from cityhub.errors import Invalid
from cityhub.governance.models import DatasetSchema, QuarantinedRecord
from cityhub.governance.ruleset import RuleSet, compile_rules
from cityhub.governance.validation import UniqueRule, Violation

ORIGIN = "ngsi-ld"
PENDING = "gov_quarantine_pending"
REFRESH_SECONDS = 10.0
# Columns of the live snapshot the platform derives itself: schema rules on them do not apply to writes.
DERIVED = frozenset({"district", "modified_at"})
ENTITY_KEY = "@entity"  # the normalized entity, kept beside its flat values so a re-submit loses nothing


class EntityRefused(Invalid):
    """An entity that breaks its type's schema (NGSI-LD BadRequestData, 400)."""

    status_code = 400
    ngsi_type = "BadRequestData"


@dataclass
class TypeRules:
    dataset_id: str
    rules: RuleSet


@dataclass
class _Map:
    loaded_at: float
    by_name: dict[str, TypeRules]  # live dataset name -> its rules
    by_type: dict[str, TypeRules | None]  # entity type -> its rules, memoised from by_name


_maps: weakref.WeakKeyDictionary[Engine, _Map] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def dataset_name(entity_type: str) -> str:
    """The catalog dataset of an entity type (same naming as the context's catalog link)."""
    return "live-" + "".join(c.lower() if c.isalnum() else "-" for c in entity_type)[:90]


def forget() -> None:
    """Drop every cached map (a schema or code list changed in this process)."""
    with _lock:
        _maps.clear()


def _load(ctx: RequestContext) -> dict[str, TypeRules]:
    datasets = Base.metadata.tables["datasets"]
    rows = ctx.db.execute(
        select(datasets.c.name, DatasetSchema.dataset_id, DatasetSchema.table_schema, DatasetSchema.rules)
        .join(datasets, datasets.c.id == DatasetSchema.dataset_id)
        .where(datasets.c.name.like("live-%"))).all()
    out = {}
    for name, dataset_id, schema, rules in rows:
        compiled = compile_rules(ctx.db, schema or {}, rules or [])
        # Uniqueness is the entity id's job; per-field rules on derived columns do not apply to writes.
        kept = [r for r in compiled.rules if not isinstance(r, UniqueRule) and not (set(r.fields()) & DERIVED)]
        if kept:
            out[name] = TypeRules(dataset_id, RuleSet(kept))
    return out


def _map(ctx: RequestContext) -> _Map:
    engine = ctx.db.get_bind()
    found = _maps.get(engine)
    now = time.monotonic()
    if found is None or now - found.loaded_at > REFRESH_SECONDS:
        found = _Map(now, _load(ctx), {})
        with _lock:
            _maps[engine] = found
    return found


def rules_for(ctx: RequestContext, entity_type: str) -> TypeRules | None:
    """The rules of an entity type, or None when its dataset declares no schema."""
    m = _map(ctx)
    if not m.by_name:
        return None
    if entity_type not in m.by_type:
        m.by_type[entity_type] = m.by_name.get(dataset_name(entity_type))
    return m.by_type[entity_type]


def flat_record(entity_id: str, entity_type: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """An entity as a row of its live dataset: id, longitude/latitude of a point location, attributes."""
    record: dict[str, Any] = {"id": entity_id, "type": entity_type}
    for name, attr in attrs.items():
        record[name] = simplify(attr)
    loc = record.get("location")
    if isinstance(loc, dict) and loc.get("type") == "Point" and len(loc.get("coordinates") or []) >= 2:
        record["longitude"], record["latitude"] = loc["coordinates"][0], loc["coordinates"][1]
    return record


def _refusal(entity_id: str, violations: list[Violation]) -> EntityRefused:
    details: dict[str, list[str]] = {}
    for v in violations:
        details.setdefault(v.field or "entity", []).append(f"{v.rule}: {v.message}")
    names = ", ".join(sorted(details))
    return EntityRefused(f"entity {entity_id} breaks its type's schema ({names}); kept in the quarantine",
                         details=details)


def _keep(ctx: RequestContext, dataset_id: str, record: dict[str, Any], attrs: dict[str, Any],
          violations: list[Violation]) -> None:
    # Queued on the session and written with its commit — or after its rollback when the write is
    # refused as a whole (see audit.flush_pending), so a refused entity is never lost.
    ctx.db.info.setdefault(PENDING, []).append({
        "dataset_id": dataset_id, "resource_id": None, "origin": ORIGIN, "run_id": None, "line": None,
        "record": {**{k: v for k, v in record.items() if k not in ("longitude", "latitude")},
                   ENTITY_KEY: {"id": record["id"], "type": record["type"], **attrs}},
        "errors": [v.as_dict() for v in violations], "status": "open", "created_at": utcnow(),
    })


def screen(ctx: RequestContext, changes: list[Any]) -> dict[int, EntityRefused]:
    """Refusals by `id(change)` for the changes that break their type's schema (deletes pass).

    Each refused change is queued for the quarantine. Costs one dict lookup per change when no
    entity type has a schema.
    """
    m = _map(ctx)
    if not m.by_name:
        return {}
    refused: dict[int, EntityRefused] = {}
    for change in changes:
        if change.deleted:
            continue
        rules = rules_for(ctx, change.type)
        if rules is None:
            continue
        record = flat_record(change.id, change.type, change.attrs)
        _, rejected = rules.rules.validate_rows([record])
        if rejected:
            _keep(ctx, rules.dataset_id, record, change.attrs, rejected[0].violations)
            refused[id(change)] = _refusal(change.id, rejected[0].violations)
    return refused


def refuse_invalid(ctx: RequestContext, changes: list[Any]) -> None:
    """Raise for the first change that breaks its schema (single-entity writes: 400, nothing written)."""
    refused = screen(ctx, changes)
    if refused:
        raise next(iter(refused.values()))


def write_pending(ctx_or_db: Any) -> None:
    """Write queued quarantine rows (called with the audit entries, on success and after a rollback)."""
    from sqlalchemy import insert

    db = ctx_or_db.db if isinstance(ctx_or_db, RequestContext) else ctx_or_db
    rows = db.info.pop(PENDING, [])
    if rows:
        db.execute(insert(QuarantinedRecord), rows)


def violations_of(ctx: RequestContext, dataset_id: str, record: dict[str, Any]) -> list[Violation]:
    """What a (corrected) quarantined entity still breaks; empty when its type has no schema any more."""
    rules = next((r for r in _map(ctx).by_name.values() if r.dataset_id == dataset_id), None)
    if rules is None:
        return []
    _, rejected = rules.rules.validate_rows([{k: v for k, v in record.items() if k != ENTITY_KEY}])
    return rejected[0].violations if rejected else []


def resubmit_entity(ctx: RequestContext, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Write a quarantined entity again with the steward's corrected values; the errors if it still fails."""
    from cityhub.context import entities

    entity = dict(record.get(ENTITY_KEY) or {})
    for name, value in record.items():
        if name in (ENTITY_KEY, "id", "type"):
            continue
        attr = entity.get(name)
        if isinstance(attr, dict) and "value" in attr:
            entity[name] = {**attr, "value": value}
        elif isinstance(attr, dict) and "object" in attr:
            entity[name] = {**attr, "object": value}
        elif value is not None:
            entity[name] = {"type": "Property", "value": value}
    result = entities.batch(ctx, op="upsert", bodies=[entity])
    ctx.db.info.pop(PENDING, None)  # a still-bad entity stays in its existing quarantine row
    return [e["error"] for e in result.errors]
