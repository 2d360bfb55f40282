"""Access requests — the data market. A company or researcher asks to use an internal or restricted
dataset the publisher offers (`extras["market"] = true`), stating purpose and period after accepting its
licence and terms of use; the publishing organization's steward approves or refuses with a reason.
Approval grants the requester read access until the end of the period (an AccessGrant) and lets them
claim an API token scoped to that dataset and expiring with the period.

Datasets not offered stay invisible here exactly as elsewhere: a request for one is "not found".
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from cityhub.auth import policy
from cityhub.auth import service as auth_service
from cityhub.auth.models import AccessGrant
from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import DatasetPublic
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Conflict, Forbidden, Invalid, NotFound
from cityhub.governance.models_market import AccessRequest

policy.declare("access.request", "access.decide", "access.consume")
TERMS_VERSION = "2026-1"
MAX_PERIOD_DAYS = 366
TERMS = {
    "ko": ("제공받은 데이터는 신청서에 적은 목적과 기간 안에서만 이용합니다. 제3자에게 재제공하지 않으며, "
           "개인을 다시 식별하려 하지 않고, 기간이 끝나면 사본을 파기합니다. 이용 내역(요청·행·바이트)은 "
           "기록되어 제공 기관에 공개됩니다."),
    "en": ("Use the data only for the purpose and period stated in the request. Do not pass it on to third "
           "parties, do not try to re-identify people, and delete copies when the period ends. Usage "
           "(requests, rows, bytes) is metered and shown to the publishing organization."),
}


class AccessTerms(BaseModel):
    dataset: str
    title: str
    organization: str | None
    access_level: str
    license_id: str | None
    terms_version: str
    terms: dict[str, str]


class AccessRequestCreate(BaseModel):
    purpose: str = Field(min_length=10, max_length=4000)
    organization: str | None = Field(default=None, max_length=300, description="company or institute")
    period_start: date
    period_end: date
    accept_terms: bool = Field(description="the licence and terms of use were shown and accepted")
    terms_version: str

    @model_validator(mode="after")
    def _period(self) -> AccessRequestCreate:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        if (self.period_end - self.period_start).days > MAX_PERIOD_DAYS:
            raise ValueError(f"a period may last at most {MAX_PERIOD_DAYS} days")
        return self


class AccessDecision(BaseModel):
    approve: bool
    reason: str | None = Field(default=None, max_length=4000)


class AccessRequestPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    dataset: str | None = None
    dataset_id: str
    requester_user_id: str
    requester: str | None = None
    organization: str | None
    purpose: str
    period_start: date
    period_end: date
    license_id: str | None
    terms_version: str
    status: str
    reason: str | None
    decided_at: datetime | None
    grant_id: str | None
    token_id: str | None
    created_at: datetime


class ClaimedToken(BaseModel):
    token: str
    token_id: str
    scopes: str
    expires_at: datetime | None


def _system(ctx: RequestContext) -> RequestContext:
    from cityhub.cli import SYSTEM

    return ctx.with_actor(SYSTEM)


def _offered(ctx: RequestContext, dataset: str) -> DatasetPublic:
    """A dataset on the market: offered by its publisher and not public; anything else is not found."""
    try:
        ds = catalog.get_dataset(_system(ctx), id_or_name=dataset)
    except NotFound:
        raise NotFound(f"dataset {dataset!r} not found") from None
    if ds.state != "active" or not (ds.extras or {}).get("market"):
        if not policy.can_read_dataset(ctx, catalog.get_dataset_ref(_system(ctx), id_or_name=ds.id)):
            raise NotFound(f"dataset {dataset!r} not found")
        raise Conflict(f"dataset {dataset!r} is not offered for access requests")
    if ds.access_level == "public":
        raise Conflict(f"dataset {dataset!r} is public: no request is needed")
    return ds


def terms_of(ctx: RequestContext, *, dataset: str) -> AccessTerms:
    """The licence and terms of use a requester must accept before asking."""
    ds = _offered(ctx, dataset)
    return AccessTerms(dataset=ds.name, title=ds.title, organization=ds.organization.title if ds.organization
                       else None, access_level=ds.access_level, license_id=ds.license_id,
                       terms_version=TERMS_VERSION, terms=TERMS)


def offered_datasets(ctx: RequestContext) -> list[tuple[DatasetPublic, AccessTerms]]:
    """Every internal or restricted dataset its publisher offers on the market, with the licence and terms
    a request must accept (open to everyone: offering a dataset publishes its title, publisher and
    licence, never its rows)."""
    sys = _system(ctx)
    out, offset = [], 0
    while True:
        page = catalog.list_datasets(sys, limit=1000, offset=offset)
        for ds in page.items:
            if ds.access_level != "public" and ds.state == "active" and (ds.extras or {}).get("market"):
                out.append((ds, terms_of(ctx, dataset=ds.id)))
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return sorted(out, key=lambda pair: pair[0].title)


def _public(ctx: RequestContext, req: AccessRequest) -> AccessRequestPublic:
    out = AccessRequestPublic.model_validate(req)
    sys = _system(ctx)
    out.dataset = catalog.get_dataset_ref(sys, id_or_name=req.dataset_id).name
    return out


def request_access(ctx: RequestContext, *, dataset: str, data: AccessRequestCreate) -> AccessRequestPublic:
    """Ask for access to an offered dataset, stating purpose and period, after accepting its terms."""
    policy.require(ctx, "access.request")
    ds = _offered(ctx, dataset)
    if not data.accept_terms:
        raise Invalid.field("accept_terms", "read and accept the licence and terms of use first")
    if data.terms_version != TERMS_VERSION:
        raise Invalid.field("terms_version", f"the terms changed: read and accept version {TERMS_VERSION}")
    if data.period_end < datetime.now(UTC).date():
        raise Invalid.field("period_end", "the period has already ended")
    pending = ctx.db.scalar(select(AccessRequest.id).where(
        AccessRequest.dataset_id == ds.id, AccessRequest.requester_user_id == ctx.actor.user_id,
        AccessRequest.status == "pending"))
    if pending:
        raise Conflict("you already have a pending request for this dataset", details={"request": [pending]})
    req = AccessRequest(id=str(uuid.uuid4()), dataset_id=ds.id,
                        owner_org_id=ds.organization.id if ds.organization else None,
                        requester_user_id=ctx.actor.user_id, organization=data.organization, purpose=data.purpose,
                        period_start=data.period_start, period_end=data.period_end, license_id=ds.license_id,
                        terms_version=data.terms_version, status="pending", created_at=utcnow())
    ctx.db.add(req)
    ctx.db.flush()
    ctx.publish("access.requested", {"id": req.id, "dataset_id": ds.id})
    return _public(ctx, req)


def _load(ctx: RequestContext, request_id: str) -> AccessRequest:
    req = ctx.db.get(AccessRequest, request_id)
    if req is None:
        raise NotFound(f"access request {request_id!r} not found")
    return req


def _period_end(req: AccessRequest) -> datetime:
    return datetime.combine(req.period_end + timedelta(days=1), time.min, tzinfo=UTC)


def decide(ctx: RequestContext, *, request_id: str, data: AccessDecision) -> AccessRequestPublic:
    """The publishing organization's steward approves (granting access until the period ends) or refuses."""
    req = _load(ctx, request_id)
    ref = catalog.get_dataset_ref(_system(ctx), id_or_name=req.dataset_id)
    if not policy.can(ctx, "access.decide", ref) and req.requester_user_id == ctx.actor.user_id:
        raise Forbidden("a requester cannot decide their own request")
    policy.require(ctx, "access.decide", ref)
    if req.status != "pending":
        raise Conflict(f"this request was already {req.status}")
    if not data.approve and not (data.reason or "").strip():
        raise Invalid.field("reason", "give the requester a reason for the refusal")
    req.status, req.reason = ("approved" if data.approve else "refused"), data.reason
    req.decided_by, req.decided_at = ctx.actor.user_id, utcnow()
    if data.approve:
        if _period_end(req) <= utcnow():
            raise Invalid.field("period_end", "the requested period has already ended")
        grant = AccessGrant(resource_kind="dataset", resource_id=req.dataset_id, user_id=req.requester_user_id,
                            expires_at=_period_end(req), created_by=ctx.actor.user_id)
        ctx.db.add(grant)
        ctx.db.flush()
        req.grant_id = grant.id
        ctx.publish("dataset.access_changed", {"id": req.dataset_id, "grant": grant.id})
    ctx.db.flush()
    ctx.publish("access.decided", {"id": req.id, "status": req.status, "dataset_id": req.dataset_id})
    return _public(ctx, req)


def claim_token(ctx: RequestContext, *, request_id: str) -> ClaimedToken:
    """The requester's API token for an approved request: scoped to the dataset, expiring with the period.

    Shown once; claiming again replaces (revokes) the previous token."""
    req = _load(ctx, request_id)
    if req.requester_user_id != ctx.actor.user_id:
        raise NotFound(f"access request {request_id!r} not found")
    policy.require(ctx, "access.consume", req)
    if req.status == "refused":
        raise Forbidden(f"this request was refused: {req.reason}")
    if req.status != "approved":
        raise Conflict("this request has not been decided yet")
    ends = _period_end(req)
    if ends <= utcnow():
        raise Forbidden("the access period has ended")
    if req.token_id:
        _revoke(ctx, req.token_id)
    days = max(1, -(-int((ends - utcnow()).total_seconds()) // 86400))
    scopes = f"{policy.DATASET_SCOPE}{req.dataset_id}"
    created = auth_service.create_token(ctx, user_id=req.requester_user_id,
                                        name=f"access request {req.id[:8]}", expires_in_days=days, scopes=scopes)
    req.token_id = created.id
    ctx.db.flush()
    return ClaimedToken(token=created.token, token_id=created.id, scopes=scopes,
                        expires_at=min(created.expires_at, ends) if created.expires_at else ends)


def _revoke(ctx: RequestContext, token_id: str) -> None:
    from cityhub.auth.models import ApiToken

    token = ctx.db.get(ApiToken, token_id)
    if token is not None:
        token.revoked = True


def my_requests(ctx: RequestContext) -> list[AccessRequestPublic]:
    """The signed-in requester's own requests, newest first."""
    policy.require(ctx, "access.request")
    rows = ctx.db.scalars(select(AccessRequest).where(AccessRequest.requester_user_id == ctx.actor.user_id)
                          .order_by(AccessRequest.created_at.desc()))
    return [_public(ctx, r) for r in rows]


def inbox(ctx: RequestContext, *, status: str | None = None) -> list[AccessRequestPublic]:
    """Requests for the datasets of the organizations the actor decides for (stewards; admins see all)."""
    stmt = select(AccessRequest).order_by(AccessRequest.created_at.desc())
    if not ctx.actor.is_admin:
        stmt = stmt.where(AccessRequest.owner_org_id.in_(sorted(ctx.actor.org_ids)))
    if status:
        stmt = stmt.where(AccessRequest.status == status)
    out = []
    for req in ctx.db.scalars(stmt):
        if policy.can(ctx, "access.decide", catalog.get_dataset_ref(_system(ctx), id_or_name=req.dataset_id)):
            out.append(_public(ctx, req))
    return out
