"""Entity services: create, read, replace, merge, delete, attribute operations and batch operations.

Batch operations validate each entity on its own: good ones are written, bad ones are reported
with their ProblemDetails (207), and nothing of a bad entity is half-written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cityhub.auth import policy
from cityhub.context.attrs import entity_id_and_type, normalize_fragment, render
from cityhub.context.problems import (
    AlreadyExists,
    BadRequestData,
    BatchTooLarge,
    ResourceNotFound,
    problem_body,
)
from cityhub.context.store import Change, Stored, apply_changes, load, require_write
from cityhub.ctx import RequestContext
from cityhub.errors import CityhubError
from cityhub.governance import entity_rules, live_access

BatchOp = Literal["create", "upsert", "upsert_update", "update", "update_no_overwrite", "merge", "delete"]


@dataclass
class BatchResult:
    success: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)


def sys_attrs(stored: Stored) -> dict[str, str]:
    out = {}
    if stored.created_at:
        out["createdAt"] = stored.created_at.isoformat().replace("+00:00", "Z")
    if stored.modified_at:
        out["modifiedAt"] = stored.modified_at.isoformat().replace("+00:00", "Z")
    return out


def get_entity(ctx: RequestContext, *, entity_id: str, attrs: set[str] | None = None,
               key_values: bool = False, with_sys_attrs: bool = False) -> dict[str, Any]:
    """One entity, normalized or keyValues; ResourceNotFound if it does not exist."""
    policy.require(ctx, "context.read", None)
    stored = load(ctx, [entity_id]).get(entity_id)
    governing = live_access.governing_type(entity_id, stored.type) if stored is not None else None
    if stored is None or live_access.hides(live_access.hidden_names(ctx), governing):
        raise ResourceNotFound(f"entity {entity_id} does not exist")
    live_access.note_reads(ctx, [governing])
    out = render(stored.id, stored.type, stored.attrs, key_values=key_values, only=attrs,
                 sys_attrs=sys_attrs(stored) if with_sys_attrs else None)
    return out


def create_entity(ctx: RequestContext, *, body: dict[str, Any]) -> str:
    """Create one entity; AlreadyExists if the id is taken."""
    require_write(ctx)
    eid, etype = entity_id_and_type(body)
    attrs = normalize_fragment(body)
    if load(ctx, [eid]):
        raise AlreadyExists(f"entity {eid} already exists")
    apply_changes(ctx, [Change(eid, etype or "", attrs, set(attrs), created=True)])
    return eid


def _existing(ctx: RequestContext, entity_id: str) -> Stored:
    stored = load(ctx, [entity_id]).get(entity_id)
    if stored is None:
        raise ResourceNotFound(f"entity {entity_id} does not exist")
    return stored


def replace_entity(ctx: RequestContext, *, entity_id: str, body: dict[str, Any]) -> None:
    """PUT: the entity's attributes become exactly those given."""
    require_write(ctx)
    stored = _existing(ctx, entity_id)
    attrs = normalize_fragment(body)
    etype = body.get("type") if isinstance(body.get("type"), str) else stored.type
    apply_changes(ctx, [Change(entity_id, etype, attrs, set(attrs) | set(stored.attrs), previous=stored.attrs,
                               removed=set(stored.attrs) - set(attrs))])


def merge_entity(ctx: RequestContext, *, entity_id: str, body: dict[str, Any]) -> None:
    """PATCH /entities/{id}: given attributes are added or replaced, others kept."""
    require_write(ctx)
    stored = _existing(ctx, entity_id)
    fragment = normalize_fragment(body)
    apply_changes(ctx, [Change(entity_id, stored.type, {**stored.attrs, **fragment}, set(fragment),
                               previous=stored.attrs)])


def delete_entity(ctx: RequestContext, *, entity_id: str) -> None:
    """Delete an entity (its history stays until DELETE /temporal/entities/{id})."""
    require_write(ctx)
    stored = _existing(ctx, entity_id)
    apply_changes(ctx, [Change(entity_id, stored.type, stored.attrs, set(), deleted=True)])


def append_attrs(ctx: RequestContext, *, entity_id: str, body: dict[str, Any],
                 no_overwrite: bool = False) -> tuple[list[str], list[dict[str, str]]]:
    """POST /entities/{id}/attrs: add attributes (replace existing unless noOverwrite)."""
    require_write(ctx)
    stored = _existing(ctx, entity_id)
    fragment = normalize_fragment(body)
    updated, not_updated = [], []
    merged = dict(stored.attrs)
    for name, attr in fragment.items():
        if no_overwrite and name in merged:
            not_updated.append({"attributeName": name, "reason": "attribute exists and noOverwrite was asked"})
            continue
        merged[name] = attr
        updated.append(name)
    if updated:
        apply_changes(ctx, [Change(entity_id, stored.type, merged, set(updated), previous=stored.attrs)])
    return updated, not_updated


def update_attrs(ctx: RequestContext, *, entity_id: str, body: dict[str, Any]) -> tuple[list[str], list[dict]]:
    """PATCH /entities/{id}/attrs: only attributes the entity already has are updated."""
    require_write(ctx)
    stored = _existing(ctx, entity_id)
    fragment = normalize_fragment(body)
    merged = dict(stored.attrs)
    updated, not_updated = [], []
    for name, attr in fragment.items():
        if name not in merged:
            not_updated.append({"attributeName": name, "reason": "the entity has no such attribute"})
            continue
        merged[name] = attr
        updated.append(name)
    if updated:
        apply_changes(ctx, [Change(entity_id, stored.type, merged, set(updated), previous=stored.attrs)])
    return updated, not_updated


def patch_attr(ctx: RequestContext, *, entity_id: str, attr: str, body: dict[str, Any],
               replace: bool = False) -> None:
    """PATCH (partial) or PUT (replace) one attribute; ResourceNotFound if the attribute is missing."""
    require_write(ctx)
    stored = _existing(ctx, entity_id)
    if attr not in stored.attrs:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}")
    if not isinstance(body, dict):
        raise BadRequestData.field(attr, "must be a JSON object")
    current = stored.attrs[attr]
    if replace or not isinstance(current, dict):
        new = normalize_fragment({attr: body})[attr]
    else:
        merged = {**current, **{k: v for k, v in body.items() if k != "@context"}}
        new = normalize_fragment({attr: merged})[attr]
    attrs = {**stored.attrs, attr: new}
    apply_changes(ctx, [Change(entity_id, stored.type, attrs, {attr}, previous=stored.attrs)])


def delete_attr(ctx: RequestContext, *, entity_id: str, attr: str) -> None:
    """DELETE one attribute of an entity."""
    require_write(ctx)
    stored = _existing(ctx, entity_id)
    if attr not in stored.attrs:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}")
    attrs = {k: v for k, v in stored.attrs.items() if k != attr}
    apply_changes(ctx, [Change(entity_id, stored.type, attrs, set(), previous=stored.attrs, removed={attr})])


def _error(result: BatchResult, entity_id: Any, exc: CityhubError) -> None:
    result.errors.append({"entityId": entity_id if isinstance(entity_id, str) else str(entity_id),
                          "error": problem_body(exc)})


def batch(ctx: RequestContext, *, op: BatchOp, bodies: Any) -> BatchResult:
    """Batch create/upsert/update/merge/delete; per-entity errors are reported, not raised."""
    require_write(ctx)
    if not isinstance(bodies, list):
        raise BadRequestData.field("body", "a batch operation takes a JSON array")
    limit = ctx.settings.context_max_batch
    if len(bodies) > limit:
        raise BatchTooLarge(f"a batch holds at most {limit} entities; this one has {len(bodies)}",
                            details={"body": [f"{len(bodies)} entities > {limit}"]})
    result = BatchResult()
    if op == "delete":
        return _batch_delete(ctx, bodies, result)
    parsed = _parse_batch(bodies, op, result)
    state = load(ctx, [p[0] for p in parsed])
    # An id repeated in one batch is applied in successive rounds, so each of its values is history.
    latest: dict[str, Change] = {}
    rounds: list[list[Change]] = []
    seen: dict[str, int] = {}
    replace, must_exist = op in ("create", "upsert"), op in ("update", "update_no_overwrite", "merge")
    for eid, etype, fragment in parsed:
        current = latest.get(eid) or state.get(eid)  # a Change or a Stored: both have attrs and type
        stored_attrs, stype = (current.attrs, current.type) if current is not None else (None, None)
        exists = stored_attrs is not None
        if op == "create" and exists:
            _error(result, eid, AlreadyExists(f"entity {eid} already exists"))
            continue
        if must_exist and not exists:
            _error(result, eid, ResourceNotFound(f"entity {eid} does not exist"))
            continue
        if replace:
            attrs, changed = fragment, set(fragment) | set(stored_attrs or {})
        elif op == "update_no_overwrite":
            fresh = {k: v for k, v in fragment.items() if k not in stored_attrs}
            attrs, changed = {**stored_attrs, **fresh}, set(fresh)
        else:
            attrs, changed = {**(stored_attrs or {}), **fragment}, set(fragment)
        change = Change(eid, etype or stype or "", attrs, changed, created=not exists, previous=stored_attrs)
        latest[eid] = change
        k = seen.get(eid, 0)
        seen[eid] = k + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(change)
        result.success.append(eid)
    rounds = _without_refused(ctx, rounds, result)
    for changes in rounds:
        apply_changes(ctx, changes, screened=True)
    result.success = list(dict.fromkeys(result.success))
    result.created = [c.id for c in rounds[0] if c.created] if rounds else []
    return result


def _parse_batch(bodies: list[Any], op: BatchOp, result: BatchResult) -> list[tuple[str, str | None, dict]]:
    """(id, type, normalized attributes) of each well-formed entity; the others are reported in `result`."""
    parsed = []
    need_type = op in ("create", "upsert", "upsert_update")
    for i, body in enumerate(bodies):
        eid = None
        try:
            # entity_id_and_type refuses a body that is not an object, so normalize_fragment gets a dict
            eid, etype = entity_id_and_type(body, need_type=need_type)
            parsed.append((eid, etype, normalize_fragment(body)))
        except CityhubError as exc:
            if eid is None and isinstance(body, dict):
                eid = body.get("id")
            _error(result, eid or f"[{i}]", exc)
    return parsed


def _without_refused(ctx: RequestContext, rounds: list[list[Change]], result: BatchResult) -> list[list[Change]]:
    """Governance's screen: an entity breaking its type's schema is left out whole; the others are written."""
    refused = entity_rules.screen(ctx, [c for changes in rounds for c in changes])
    if not refused:
        return rounds
    bad = {c.id: exc for changes in rounds for c in changes if (exc := refused.get(id(c)))}
    result.success = [eid for eid in result.success if eid not in bad]
    for eid, exc in bad.items():
        _error(result, eid, exc)
    return [kept for changes in rounds if (kept := [c for c in changes if c.id not in bad])]


def _batch_delete(ctx: RequestContext, ids: list[Any], result: BatchResult) -> BatchResult:
    wanted = [i for i in ids if isinstance(i, str)]
    for bad in (i for i in ids if not isinstance(i, str)):
        _error(result, bad, BadRequestData.field("id", "batch delete takes an array of entity ids"))
    state = load(ctx, wanted)
    changes = []
    for eid in dict.fromkeys(wanted):
        if eid not in state:
            _error(result, eid, ResourceNotFound(f"entity {eid} does not exist"))
            continue
        stored = state[eid]
        changes.append(Change(eid, stored.type, stored.attrs, set(), deleted=True))
        result.success.append(eid)
    apply_changes(ctx, changes)
    return result
