"""Who may read a restricted dataset besides its publisher: named organizations and users."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, model_validator
from sqlalchemy import select

from cityhub.auth import policy
from cityhub.auth.models import AccessGrant, Organization, User
from cityhub.auth.service import get_org, get_user_by_email
from cityhub.catalog.service import _hide_denied
from cityhub.ctx import RequestContext
from cityhub.errors import NotFound

policy.declare("dataset.grant")


class GrantCreate(BaseModel):
    organization: str | None = None  # name or id
    user: str | None = None  # email
    expires_at: datetime | None = None

    @model_validator(mode="after")
    def _one_grantee(self) -> GrantCreate:
        if bool(self.organization) == bool(self.user):
            raise ValueError("name exactly one of organization or user")
        return self


class GrantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    organization: str | None = None
    user: str | None = None
    expires_at: datetime | None = None
    created_at: datetime


def _public(db, grant: AccessGrant) -> GrantPublic:  # noqa: ANN001
    out = GrantPublic.model_validate(grant)
    if grant.org_id:
        out.organization = db.scalar(select(Organization.name).where(Organization.id == grant.org_id))
    if grant.user_id:
        out.user = db.scalar(select(User.email).where(User.id == grant.user_id))
    return out


def grant_access(ctx: RequestContext, *, dataset: str, data: GrantCreate) -> GrantPublic:
    """Let a named organization or user read a dataset (its publisher's stewards decide)."""
    ds = _hide_denied(ctx, dataset, "dataset.grant")
    grant = AccessGrant(resource_kind="dataset", resource_id=ds.id, expires_at=data.expires_at,
                        created_by=ctx.actor.user_id)
    if data.organization:
        grant.org_id = get_org(ctx.db, data.organization).id
    else:
        grant.user_id = get_user_by_email(ctx.db, data.user or "").id
    ctx.db.add(grant)
    ctx.db.flush()
    ctx.publish("dataset.access_changed", {"id": ds.id, "grant": grant.id})
    return _public(ctx.db, grant)


def list_grants(ctx: RequestContext, *, dataset: str) -> list[GrantPublic]:
    """The grants on a dataset."""
    ds = _hide_denied(ctx, dataset, "dataset.grant")
    rows = ctx.db.scalars(select(AccessGrant).where(AccessGrant.resource_kind == "dataset",
                                                    AccessGrant.resource_id == ds.id))
    return [_public(ctx.db, g) for g in rows]


def revoke_access(ctx: RequestContext, *, dataset: str, grant_id: str) -> None:
    """Withdraw a grant."""
    ds = _hide_denied(ctx, dataset, "dataset.grant")
    grant = ctx.db.get(AccessGrant, grant_id)
    if grant is None or grant.resource_id != ds.id:
        raise NotFound(f"grant {grant_id!r} not found")
    ctx.db.delete(grant)
    ctx.db.flush()
    ctx.publish("dataset.access_changed", {"id": ds.id, "revoked": grant_id})
