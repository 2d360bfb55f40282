"""Agencies (112 and 119 situation rooms, the district disaster room, the protection service) as API clients.

An agency is an organization of kind "agency" plus an `ops_agencies` row with its webhook and the
incident types it is linked to. Its credentials are the API token of a service user who is a
member of that organization, with the agency's scopes: so the one policy door sees an ordinary
actor, and "which agency is asking" is simply "which agency organization is the actor a member of".
Human staff of an agency (a 112 room operator with a session) are members of the same organization.
"""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select

from cityhub.auth import policy
from cityhub.auth import service as auth_service
from cityhub.auth.models import Membership, Organization, User
from cityhub.ctx import RequestContext
from cityhub.errors import Conflict, NotFound
from cityhub.ops.models import Agency, Delivery
from cityhub.ops.schemas import (
    AgencyCreate,
    AgencyCredentials,
    AgencyPublic,
    AgencyUpdate,
    DeliveryList,
    DeliveryPublic,
)

WAKE_TOPIC = "ops.delivery"
AGENCY_ORG_KIND = "agency"
# The four agencies every city links to, with the incident types each one receives.
STANDARD_AGENCIES: tuple[dict[str, Any], ...] = (
    {"code": "police-112", "kind": "police", "name": "112 종합상황실", "name_en": "112 Situation Room",
     "incident_types": ["crime", "traffic_accident", "vulnerable_person", "disaster", "fire"]},
    {"code": "fire-119", "kind": "fire", "name": "119 종합상황실", "name_en": "119 Situation Room",
     "incident_types": ["fire", "rescue", "ems", "traffic_accident", "disaster"]},
    {"code": "disaster-room", "kind": "disaster", "name": "구 재난안전상황실", "name_en": "District Disaster Room",
     "incident_types": ["disaster", "environment", "fire"]},
    {"code": "protection", "kind": "protection", "name": "아동·노인 보호기관", "name_en": "Child/Elderly Protection",
     "incident_types": ["vulnerable_person"]},
)


@dataclass(frozen=True)
class AgencyRef:
    """What the policy door needs to know about an agency."""

    id: str
    code: str
    kind: str
    org_id: str


def ref(agency: Agency | AgencyView) -> AgencyRef:
    return AgencyRef(agency.id, agency.code, agency.kind, agency.org_id)


@dataclass(frozen=True)
class AgencyView:
    """A read-only copy of an active agency, shared by the requests of a process (see `active_agencies`)."""

    id: str
    code: str
    kind: str
    name: str
    name_en: str | None
    org_id: str
    service_user_id: str | None
    webhook_url: str | None
    webhook_secret: str
    scopes: str
    incident_types: list
    active: bool
    created_at: datetime


_VIEW_FIELDS = tuple(f.name for f in fields(AgencyView))
# Every incident needs the active agencies (who is linked, who is asking): a query each time was a fifth of an
# incident's CPU. They change rarely, so each process keeps them per engine for CACHE_SECONDS; a change made
# in this process drops the copy when it commits, one made elsewhere (the CLI) shows within CACHE_SECONDS.
CACHE_SECONDS = 2.0
_cache: weakref.WeakKeyDictionary[Any, tuple[float, int, list[AgencyView]]] = weakref.WeakKeyDictionary()
_generation = [0]
_cache_lock = threading.Lock()


def _forget(*_: Any) -> None:
    with _cache_lock:
        _generation[0] += 1


def agencies_changed(ctx: RequestContext) -> None:
    """Drop the cached agencies now and again when this transaction ends; until then this session reads its own."""
    _forget()
    if not ctx.db.info.get("ops_agencies_changed"):
        ctx.db.info["ops_agencies_changed"] = True

        def ended(session: Any, *_: Any) -> None:
            session.info.pop("ops_agencies_changed", None)
            _forget()

        event.listen(ctx.db, "after_commit", ended, once=True)
        event.listen(ctx.db, "after_soft_rollback", ended, once=True)


def actor_agency(ctx: RequestContext) -> AgencyView | None:
    """The agency the actor acts for (a member of its organization), or None for city staff and citizens."""
    if "ops_agency" in ctx.extra:
        return ctx.extra["ops_agency"]
    agency = None
    if ctx.actor.org_ids:
        agency = next((a for a in active_agencies(ctx) if a.org_id in ctx.actor.org_ids), None)
    ctx.extra["ops_agency"] = agency
    return agency


def get_agency(ctx: RequestContext, code_or_id: str) -> Agency:
    agency = ctx.db.scalar(select(Agency).where((Agency.code == code_or_id) | (Agency.id == code_or_id)))
    if agency is None:
        raise NotFound(f"agency {code_or_id!r} not found")
    return agency


def active_agencies(ctx: RequestContext) -> list[AgencyView]:
    """The active agencies by code (a per-process copy at most CACHE_SECONDS old; see above)."""
    engine = ctx.db.get_bind()
    now = time.monotonic()
    # A transaction that changed agencies reads (and never shares) its own view of them.
    own = ctx.db.info.get("ops_agencies_changed") or any(isinstance(o, Agency) for o in (*ctx.db.new, *ctx.db.dirty))
    with _cache_lock:
        generation = _generation[0]
        hit = _cache.get(engine)
    if hit is not None and hit[1] == generation and now - hit[0] < CACHE_SECONDS and not own:
        return hit[2]
    rows = [AgencyView(**{k: getattr(a, k) for k in _VIEW_FIELDS})
            for a in ctx.db.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.code))]
    if not own:
        with _cache_lock:
            if _generation[0] == generation:
                _cache[engine] = (now, generation, rows)
    return rows


def create_agency(ctx: RequestContext, *, data: AgencyCreate) -> AgencyPublic:
    """Register an agency: its organization (kind "agency"), webhook, scopes and linked incident types."""
    policy.require(ctx, "agency.manage")
    if ctx.db.scalar(select(Agency.id).where(Agency.code == data.code)):
        raise Conflict(f"agency {data.code!r} exists", details={"code": ["already registered"]})
    org = ctx.db.scalar(select(Organization).where(Organization.name == data.code))
    if org is None:
        # Agencies are outside the city's staff: kind "agency" keeps them off internal datasets.
        org = Organization(name=data.code, title=data.name, title_en=data.name_en, kind=AGENCY_ORG_KIND)
        ctx.db.add(org)
        ctx.db.flush()
    agency = Agency(code=data.code, kind=data.kind, name=data.name, name_en=data.name_en, org_id=org.id,
                    webhook_url=data.webhook_url, webhook_secret=secrets.token_urlsafe(24), scopes=data.scopes,
                    incident_types=list(data.incident_types))
    ctx.db.add(agency)
    ctx.db.flush()
    agencies_changed(ctx)
    return AgencyPublic.model_validate(agency)


def ensure_standard_agencies(ctx: RequestContext, *, webhooks: dict[str, str] | None = None) -> list[AgencyPublic]:
    """Create the four standard agencies when missing (demo, first start); returns all of them."""
    policy.require(ctx, "agency.manage")
    out = []
    for spec in STANDARD_AGENCIES:
        existing = ctx.db.scalar(select(Agency).where(Agency.code == spec["code"]))
        url = (webhooks or {}).get(spec["code"])
        if existing is None:
            out.append(create_agency(ctx, data=AgencyCreate(**spec, webhook_url=url)))
        else:
            if url:
                existing.webhook_url = url
            out.append(AgencyPublic.model_validate(existing))
    ctx.db.flush()
    agencies_changed(ctx)
    return out


def update_agency(ctx: RequestContext, *, code: str, data: AgencyUpdate) -> AgencyPublic:
    """Change an agency's webhook, names, linked incident types or active flag."""
    policy.require(ctx, "agency.manage")
    agency = get_agency(ctx, code)
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(agency, key, value)
    ctx.db.flush()
    agencies_changed(ctx)
    return AgencyPublic.model_validate(agency)


def list_agencies(ctx: RequestContext) -> list[AgencyPublic]:
    """Every agency (city staff); an agency sees itself."""
    policy.require(ctx, "agency.read")
    own = actor_agency(ctx)
    rows = active_agencies(ctx) if ctx.actor.role in ("admin", "operator") else ([own] if own else [])
    return [AgencyPublic.model_validate(a) for a in rows]


def issue_credentials(ctx: RequestContext, *, code: str) -> AgencyCredentials:
    """A new API token for the agency's service user (created on first use) and its webhook signing secret."""
    policy.require(ctx, "agency.manage")
    agency = get_agency(ctx, code)
    email = f"{agency.code}@agencies.cityhub.local"
    user = ctx.db.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=agency.name, role="citizen")
        ctx.db.add(user)
        ctx.db.flush()
        ctx.db.add(Membership(user_id=user.id, org_id=agency.org_id, capacity="member"))
        ctx.db.flush()
    agency.service_user_id = user.id
    agencies_changed(ctx)
    own = ctx.with_actor(auth_service.actor_for_user(ctx.db, user))
    token = auth_service.create_token(own, user_id=user.id, name=f"agency {agency.code}", scopes=agency.scopes)
    return AgencyCredentials(agency=agency.code, token=token.token, webhook_secret=agency.webhook_secret,
                             scopes=agency.scopes)


# --- the delivery log ---------------------------------------------------------------------------


def list_deliveries(ctx: RequestContext, *, status: str | None = None, incident_id: str | None = None,
                    limit: int = 50, offset: int = 0) -> DeliveryList:
    """The delivery log (city staff: all; an agency: its own). status=dead is the dead-letter list."""
    policy.require(ctx, "delivery.read")
    conds = []
    if ctx.actor.role not in ("admin", "operator"):
        own = actor_agency(ctx)
        conds.append(Delivery.agency_id == (own.id if own else "-"))
    if status:
        conds.append(Delivery.status == status)
    if incident_id:
        conds.append(Delivery.incident_id == incident_id)
    total = ctx.db.scalar(select(func.count()).select_from(Delivery).where(*conds)) or 0
    rows = ctx.db.scalars(select(Delivery).where(*conds).order_by(Delivery.id.desc()).limit(min(limit, 500))
                          .offset(offset))
    return DeliveryList(items=[DeliveryPublic.model_validate(r) for r in rows], total=total)


def retry_delivery(ctx: RequestContext, *, delivery_id: int) -> DeliveryPublic:
    """Put a dead letter back in the queue (same idempotency key: the agency still sees it once)."""
    policy.require(ctx, "delivery.retry")
    row = ctx.db.get(Delivery, delivery_id)
    if row is None:
        raise NotFound(f"delivery {delivery_id} not found")
    if row.status not in ("dead", "no_endpoint"):
        raise Conflict(f"delivery {delivery_id} is {row.status}; only dead letters are retried")
    agency = ctx.db.get(Agency, row.agency_id) if row.agency_id else None
    if agency is not None and agency.webhook_url:
        row.endpoint = agency.webhook_url
    from cityhub.db import utcnow

    row.status, row.attempts, row.next_attempt_at, row.claimed_until = "pending", 0, utcnow(), None
    ctx.db.flush()
    ctx.publish(WAKE_TOPIC, {"count": 1})
    return DeliveryPublic.model_validate(row)
