"""Writing through the temporal API: POST /temporal/entities and POST /temporal/entities/{id}/attrs.

A temporal entity carries, per attribute, a list of instances each with its `observedAt`. Every
instance goes to history (and the rollups, duplicates ignored); the entity's current state follows
its newest instances, through the one write path (store.apply_changes), so thresholds,
subscriptions and the live feed see the change like any other update. An instance older than the
current value changes history only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cityhub.context import history
from cityhub.context.attrs import RESERVED, entity_id_and_type, normalize_attr, parse_time
from cityhub.context.jsonld import compact_name
from cityhub.context.problems import BadRequestData, ResourceNotFound
from cityhub.context.store import Change, apply_changes, load, require_write
from cityhub.ctx import RequestContext

MAX_INSTANCES = 100_000


def _instances(body: dict[str, Any]) -> dict[str, list[tuple[datetime | None, dict[str, Any]]]]:
    """Attribute name → [(observedAt, normalized instance)]; every instance checked before anything is written."""
    out: dict[str, list[tuple[datetime | None, dict[str, Any]]]] = {}
    total = 0
    for key, value in body.items():
        if key in RESERVED:
            continue
        name = compact_name(key)
        items = value if isinstance(value, list) else [value]
        if not items:
            raise BadRequestData.field(name, "needs at least one instance")
        rows = []
        for i, item in enumerate(items):
            field = f"{name}[{i}]"
            if not isinstance(item, dict):
                raise BadRequestData.field(field, "an attribute instance is a JSON object")
            inst = normalize_attr(name, item, path=field)
            when = parse_time(inst["observedAt"], f"{field}.observedAt") if "observedAt" in inst else None
            if when is None and inst.get("type") == "Property":
                raise BadRequestData.field(f"{field}.observedAt", "each temporal Property instance needs observedAt")
            rows.append((when, inst))
        total += len(rows)
        out[name] = rows
    if total > MAX_INSTANCES:
        raise BadRequestData.field("body", f"{total} instances in one request; at most {MAX_INSTANCES:,}")
    return out


def _newest(rows: list[tuple[datetime | None, dict[str, Any]]]) -> tuple[datetime | None, dict[str, Any]]:
    timed = [r for r in rows if r[0] is not None]
    return max(timed, key=lambda r: r[0]) if timed else rows[-1]


def _current_time(attr: Any) -> datetime | None:
    if isinstance(attr, dict) and isinstance(attr.get("observedAt"), str):
        try:
            return parse_time(attr["observedAt"], "observedAt")
        except BadRequestData:
            return None
    return None


def _write(ctx: RequestContext, eid: str, etype: str, instances: dict[str, list], *, create: bool,
           stored_attrs: dict[str, Any] | None) -> None:
    newest = {name: _newest(rows) for name, rows in instances.items()}
    if create:
        attrs = {name: inst for name, (_, inst) in newest.items()}
        apply_changes(ctx, [Change(eid, etype, attrs, set(attrs), created=True)])
    else:
        assert stored_attrs is not None
        fresher = {}
        for name, (when, inst) in newest.items():
            current = _current_time(stored_attrs.get(name))
            if name not in stored_attrs or when is None or current is None or when >= current:
                fresher[name] = inst
        if fresher:
            apply_changes(ctx, [Change(eid, etype, {**stored_attrs, **fresher}, set(fresher),
                                       previous=stored_attrs)])
    readings = [history.Reading(eid, etype, name, when, inst.get("value"))
                for name, rows in instances.items() if name not in history.SKIP
                for when, inst in rows if when is not None and inst.get("type") == "Property"]
    history.record(ctx.db, readings)


def upsert_temporal_entity(ctx: RequestContext, *, body: Any) -> bool:
    """POST /temporal/entities: create the entity with its history, or add instances to it; True if created."""
    require_write(ctx)
    eid, etype = entity_id_and_type(body)
    instances = _instances(body)
    stored = load(ctx, [eid]).get(eid)
    if stored is not None and stored.type != etype:
        raise BadRequestData.field("type", f"entity {eid} exists with type {stored.type}, not {etype}")
    _write(ctx, eid, etype or "", instances, create=stored is None, stored_attrs=stored.attrs if stored else None)
    return stored is None


def add_temporal_attrs(ctx: RequestContext, *, entity_id: str, body: Any) -> None:
    """POST /temporal/entities/{id}/attrs: add attribute instances to an existing entity's history."""
    require_write(ctx)
    if not isinstance(body, dict):
        raise BadRequestData.field("body", "a temporal fragment is a JSON object")
    instances = _instances(body)
    stored = load(ctx, [entity_id]).get(entity_id)
    if stored is None:
        raise ResourceNotFound(f"entity {entity_id} does not exist")
    _write(ctx, entity_id, stored.type, instances, create=False, stored_attrs=stored.attrs)
