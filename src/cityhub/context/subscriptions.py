"""NGSI-LD subscriptions: CRUD, matching changed entities, and writing notifications to the outbox.

Matching happens inside the writer's transaction, so a notification is promised (an outbox row)
exactly when the change commits; the dispatcher (`notifier.py`) delivers it afterwards.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import insert, or_, select, update

from cityhub.auth import policy
from cityhub.context import geo, qlang
from cityhub.context.attrs import render
from cityhub.context.models import NotificationOutbox, Subscription
from cityhub.context.problems import AlreadyExists, BadRequestData, ResourceNotFound
from cityhub.context.query import parse_q
from cityhub.context.store import Change
from cityhub.ctx import RequestContext
from cityhub.db import utcnow

S = Subscription.__table__
OUTBOX = NotificationOutbox.__table__
SCHEMES = ("http://", "https://", "mqtt://", "mqtts://")
NOTIFY_TOPIC = "context.notify"


def _instant(text: Any, field: str) -> datetime:
    if not isinstance(text, str):
        raise BadRequestData.field(field, "must be an ISO 8601 date-time")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData.field(field, f"{text!r} is not an ISO 8601 date-time") from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def validate(ctx: RequestContext, body: Any, *, partial: bool = False) -> dict[str, Any]:
    """Check a subscription body; returns it cleaned (no @context)."""
    if not isinstance(body, dict):
        raise BadRequestData.field("body", "a subscription is a JSON object")
    body = {k: v for k, v in body.items() if k != "@context"}
    if not partial:
        if body.get("type") != "Subscription":
            raise BadRequestData.field("type", 'must be "Subscription"')
        if "notification" not in body:
            raise BadRequestData.field("notification", "is mandatory")
        if not body.get("entities") and not body.get("watchedAttributes"):
            raise BadRequestData.field("entities", "give entities or watchedAttributes")
    for i, sel in enumerate(body.get("entities") or []):
        if not isinstance(sel, dict) or not isinstance(sel.get("type"), str):
            raise BadRequestData.field(f"entities[{i}]", "each selector needs a type")
        if "idPattern" in sel:
            try:
                re.compile(sel["idPattern"])
            except re.error as exc:
                raise BadRequestData.field(f"entities[{i}].idPattern", str(exc)) from None
    if "watchedAttributes" in body and not (isinstance(body["watchedAttributes"], list)
                                            and all(isinstance(a, str) for a in body["watchedAttributes"])):
        raise BadRequestData.field("watchedAttributes", "a list of attribute names")
    if body.get("q"):
        parse_q(body["q"], ctx.settings)
    if body.get("geoQ"):
        g = body["geoQ"]
        geo.parse_geoquery(g.get("georel"), g.get("geometry"), g.get("coordinates"), g.get("geoproperty"))
    if "notification" in body:
        note = body["notification"]
        uri = (note.get("endpoint") or {}).get("uri") if isinstance(note, dict) else None
        if not isinstance(uri, str) or not uri.startswith(SCHEMES):
            raise BadRequestData.field("notification.endpoint.uri", "an http(s):// or mqtt:// URI is required")
        if note.get("format", "normalized") not in ("normalized", "keyValues", "concise", "simplified"):
            raise BadRequestData.field("notification.format", "normalized or keyValues")
    if "expires" in body or "expiresAt" in body:
        _instant(body.get("expiresAt", body.get("expires")), "expiresAt")
    if "throttling" in body and (not isinstance(body["throttling"], (int, float)) or body["throttling"] < 0):
        raise BadRequestData.field("throttling", "a number of seconds ≥ 0")
    return body


def _columns(body: dict[str, Any]) -> dict[str, Any]:
    expires = body.get("expiresAt", body.get("expires"))
    return {"is_active": bool(body.get("isActive", True)),
            "expires_at": _instant(expires, "expiresAt") if expires else None,
            "throttling": float(body.get("throttling", 0) or 0)}


def create_subscription(ctx: RequestContext, *, body: Any) -> str:
    """Create a subscription; AlreadyExists for a taken id."""
    policy.require(ctx, "context.subscribe", None)
    body = validate(ctx, body)
    sid = body.get("id") or f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    if ctx.db.get(Subscription, sid) is not None:
        raise AlreadyExists(f"subscription {sid} already exists")
    body["id"] = sid
    ctx.db.add(Subscription(id=sid, body=body, owner_id=ctx.actor.user_id, **_columns(body)))
    ctx.db.flush()
    return sid


def _own(ctx: RequestContext, sid: str) -> Subscription:
    sub = ctx.db.get(Subscription, sid)
    if sub is None or not (ctx.actor.is_admin or sub.owner_id in (None, ctx.actor.user_id)):
        raise ResourceNotFound(f"subscription {sid} does not exist")
    return sub


def render_subscription(sub: Subscription) -> dict[str, Any]:
    body = dict(sub.body)
    now = utcnow()
    expired = sub.expires_at is not None and sub.expires_at <= now
    body["isActive"] = sub.is_active
    body["status"] = "expired" if expired else ("active" if sub.is_active else "paused")
    note = dict(body.get("notification") or {})

    def iso(ts: datetime | None) -> str | None:
        return ts.isoformat().replace("+00:00", "Z") if ts else None

    note.update({k: v for k, v in {"lastNotification": iso(sub.last_notification), "lastSuccess": iso(sub.last_success),
                                    "lastFailure": iso(sub.last_failure)}.items() if v})
    note["timesSent"] = sub.times_sent
    note["failureCount"] = sub.failure_count
    note["status"] = "failed" if sub.last_failure and (not sub.last_success or sub.last_failure > sub.last_success) \
        else "ok"
    if sub.last_error:
        note["lastError"] = sub.last_error
    body["notification"] = note
    return body


def get_subscription(ctx: RequestContext, *, subscription_id: str) -> dict[str, Any]:
    """One subscription with its delivery status (last success/failure, failure count)."""
    policy.require(ctx, "context.subscribe", None)
    return render_subscription(_own(ctx, subscription_id))


def list_subscriptions(ctx: RequestContext, *, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
    """The caller's subscriptions (all of them for admins)."""
    policy.require(ctx, "context.subscribe", None)
    stmt = select(Subscription).order_by(Subscription.created_at, Subscription.id).limit(limit).offset(offset)
    if not ctx.actor.is_admin:
        stmt = stmt.where(or_(Subscription.owner_id == ctx.actor.user_id, Subscription.owner_id.is_(None)))
    return [render_subscription(s) for s in ctx.db.execute(stmt).scalars()]


def update_subscription(ctx: RequestContext, *, subscription_id: str, body: Any) -> None:
    """PATCH: merge the given members into the subscription."""
    policy.require(ctx, "context.subscribe", None)
    sub = _own(ctx, subscription_id)
    fragment = validate(ctx, body, partial=True)
    merged = {**sub.body, **{k: v for k, v in fragment.items() if k != "id"}}
    validate(ctx, merged)
    sub.body = merged
    for k, v in _columns(merged).items():
        setattr(sub, k, v)
    sub.modified_at = utcnow()
    ctx.db.flush()


def delete_subscription(ctx: RequestContext, *, subscription_id: str) -> None:
    """Delete a subscription; its pending notifications are dropped."""
    policy.require(ctx, "context.subscribe", None)
    sub = _own(ctx, subscription_id)
    ctx.db.delete(sub)
    ctx.db.execute(update(OUTBOX).where(OUTBOX.c.subscription_id == subscription_id,
                                        OUTBOX.c.status == "pending").values(status="dropped"))
    ctx.db.flush()


# --- matching ------------------------------------------------------------------------------------

@lru_cache(maxsize=512)
def _parsed_q(text: str) -> qlang.Node:
    return qlang.parse(text, max_terms=100_000)


@lru_cache(maxsize=512)
def _parsed_geo(georel: str, geometry: str, coordinates: str, geoproperty: str | None) -> geo.GeoQuery | None:
    return geo.parse_geoquery(georel, geometry, coordinates, geoproperty)


@dataclass(frozen=True)
class Matcher:
    """A subscription compiled once: cheap tests first (type, id, watched attributes), then q, then geo."""

    types: frozenset[str] | None  # None: any type (a subscription on watchedAttributes only)
    selectors: tuple[tuple[str | None, str | None, re.Pattern | None], ...]  # (type, id, idPattern)
    watched: frozenset[str] | None
    q: qlang.Node | None
    geo: geo.GeoQuery | None
    on_delete: bool = True  # notificationTrigger includes entityDeleted (or is not given)

    def __call__(self, change: Change) -> bool:
        if self.types is not None and change.type not in self.types:
            return False
        if change.deleted and not self.on_delete:
            return False
        if self.selectors and not any((t is None or t == change.type) and (i is None or i == change.id)
                                      and (p is None or p.search(change.id)) for t, i, p in self.selectors):
            return False
        if self.watched is not None and self.watched.isdisjoint(change.changed) \
                and self.watched.isdisjoint(change.removed):
            return False
        if self.q is not None and not qlang.matches(self.q, {"id": change.id, "type": change.type, **change.attrs}):
            return False
        return self.geo is None or geo.matches(self.geo, change.attrs)


def compile_matcher(body: dict[str, Any]) -> Matcher:
    sels = body.get("entities") or []
    selectors = tuple((sel.get("type") or None, sel.get("id") or None,
                       re.compile(sel["idPattern"]) if sel.get("idPattern") else None) for sel in sels)
    types = None
    if selectors and all(t is not None for t, _, _ in selectors):
        types = frozenset(t for t, _, _ in selectors)
    watched = body.get("watchedAttributes")
    g = body.get("geoQ")
    geo_query = None
    if g:
        coords = g.get("coordinates")
        geo_query = _parsed_geo(g.get("georel"), g.get("geometry"),
                                coords if isinstance(coords, str) else repr(coords), g.get("geoproperty"))
    return Matcher(types, selectors, frozenset(watched) if watched else None,
                   _parsed_q(body["q"]) if body.get("q") else None, geo_query, _on_delete(body))


_matchers: dict[str, tuple[datetime | None, Matcher]] = {}


def _matcher(sid: str, modified_at: datetime | None, body: dict[str, Any]) -> Matcher:
    """The compiled form of a subscription, recompiled when it was modified."""
    cached = _matchers.get(sid)
    if cached is None or cached[0] != modified_at:
        if len(_matchers) > 10_000:
            _matchers.clear()
        cached = _matchers[sid] = (modified_at, compile_matcher(body))
    return cached[1]


def matches(body: dict[str, Any], change: Change) -> bool:
    """Does a changed entity concern this subscription?"""
    return compile_matcher(body)(change)


def _deleted_view(change: Change) -> Change:
    # A deleted entity is matched on the state it had (all its attributes count as changed).
    return Change(change.id, change.type, change.attrs, set(change.attrs), deleted=True)


def _on_delete(body: dict[str, Any]) -> bool:
    # NGSI-LD notificationTrigger: deletions notify unless the subscription lists triggers without entityDeleted
    triggers = body.get("notificationTrigger")
    return not isinstance(triggers, list) or "entityDeleted" in triggers


def _data(change: Change, stamp: str, *, key_values: bool, only: set[str] | None) -> dict[str, Any]:
    if change.deleted:
        return {"id": change.id, "type": change.type, "deletedAt": stamp}
    return render(change.id, change.type, change.attrs, key_values=key_values, only=only)


def enqueue_notifications(ctx: RequestContext, changes: list[Change], now: datetime) -> int:
    """Write one outbox row per matching subscription, in the caller's transaction (deletions included)."""
    live = [_deleted_view(c) if c.deleted else c for c in changes]
    if not live:
        return 0
    stamp = now.isoformat().replace("+00:00", "Z")
    stmt = select(S.c.id, S.c.body, S.c.throttling, S.c.last_notification, S.c.modified_at).where(
        S.c.is_active.is_(True), or_(S.c.expires_at.is_(None), S.c.expires_at > now))
    rows, touched = [], []
    by_type: dict[str, list[Change]] = {}
    for c in live:
        by_type.setdefault(c.type, []).append(c)
    for sid, body, throttling, last, modified in ctx.db.execute(stmt):
        match = _matcher(sid, modified, body)
        if match.types is None:
            pool = live
        elif len(match.types) == 1:
            pool = by_type.get(next(iter(match.types)), [])
        else:
            pool = [c for c in live if c.type in match.types]
        hits = [c for c in pool if match(c)]
        if not hits:
            continue
        if throttling and last and (now - last).total_seconds() < throttling:
            continue  # throttled: at most one notification per period
        note = body.get("notification") or {}
        only = set(note["attributes"]) if note.get("attributes") else None
        kv = note.get("format") in ("keyValues", "simplified", "concise")
        data = [_data(c, stamp, key_values=kv, only=only) for c in hits]
        endpoint = note["endpoint"]
        rows.append({"subscription_id": sid, "endpoint": endpoint["uri"],
                     "accept": endpoint.get("accept", "application/json"), "status": "pending", "attempts": 0,
                     "next_attempt_at": now, "created_at": now,
                     "payload": {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}", "type": "Notification",
                                 "subscriptionId": sid, "notifiedAt": stamp,
                                 "data": data}})
        touched.append(sid)
    if rows:
        _insert_outbox(ctx, rows)
        ctx.db.execute(update(S).where(S.c.id.in_(touched)).values(last_notification=now))
    return len(rows)


_HANDED = ("subscription_id", "endpoint", "accept", "payload", "attempts")


def _insert_outbox(ctx: RequestContext, rows: list[dict[str, Any]]) -> None:
    """The outbox rows, leased to this process's dispatcher and handed to it after the commit.

    The row is the durable promise (kill -9 before delivery: its lease runs out and any worker claims it);
    the hand-over saves the dispatcher a claim, a write that would wait behind the history writer's lock."""
    from cityhub.context.notifier import running_for

    runner = running_for(ctx.db.get_bind())
    lease = runner.lease_for_new_rows() if runner is not None else None
    if runner is None or lease is None:
        ctx.db.execute(insert(OUTBOX), rows)
        ctx.publish(NOTIFY_TOPIC, {"count": len(rows)})
        return
    for r in rows:
        r["claimed_until"] = lease
    ids = ctx.db.scalars(insert(OUTBOX).returning(OUTBOX.c.id, sort_by_parameter_order=True), rows).all()
    handed = [{"id": i, **{k: r[k] for k in _HANDED}} for i, r in zip(ids, rows, strict=True)]
    ctx.publish(NOTIFY_TOPIC, {"count": len(rows), "handover": {
        "holder": runner.holder, "lease": lease.isoformat(), "rows": handed}})
