"""People and access services: organizations, users, memberships, tokens, sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityhub.auth import policy, token_cache
from cityhub.auth.models import ApiToken, LoginSession, Membership, Organization, User
from cityhub.auth.schemas import (
    OrganizationCreate,
    OrganizationList,
    OrganizationPublic,
    OrganizationUpdate,
    TokenCreated,
    UserCreate,
    UserPublic,
)
from cityhub.ctx import CITY_STAFF_ROLES, Actor, RequestContext
from cityhub.db import utcnow
from cityhub.errors import Conflict, Invalid, NotFound, Unauthenticated

_hasher = PasswordHasher()
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SESSION_DAYS = 7
CITY_ORG_KINDS = frozenset({"department", "district", "public_body"})


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- organizations -----------------------------------------------------------------------------


def get_org(db: Session, id_or_name: str) -> Organization:
    # Ids are UUIDs and names are URL slugs: ask by the one it looks like first (one query, not a miss and a retry).
    by_name = select(Organization).where(Organization.name == id_or_name)
    if _UUID.match(id_or_name):
        org = db.get(Organization, id_or_name) or db.scalar(by_name)
    else:
        org = db.scalar(by_name) or db.get(Organization, id_or_name)
    if org is None:
        raise NotFound(f"organization {id_or_name!r} not found")
    return org


def create_organization(ctx: RequestContext, *, data: OrganizationCreate) -> OrganizationPublic:
    """Create an organization (a city department, district, public body or company). Admins only."""
    policy.require(ctx, "organization.create")
    if ctx.db.scalar(select(Organization.id).where(Organization.name == data.name)):
        raise Conflict(f"organization {data.name!r} exists", details={"name": ["That URL is already in use."]})
    org = Organization(**data.model_dump())
    ctx.db.add(org)
    ctx.db.flush()
    ctx.publish("organization.created", {"id": org.id, "name": org.name})
    return OrganizationPublic.model_validate(org)


def update_organization(ctx: RequestContext, *, id_or_name: str, data: OrganizationUpdate) -> OrganizationPublic:
    """Change an organization's titles, description or kind."""
    org = get_org(ctx.db, id_or_name)
    policy.require(ctx, "organization.update", org.id)
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(org, key, value)
    ctx.db.flush()
    return OrganizationPublic.model_validate(org)


def show_organization(ctx: RequestContext, *, id_or_name: str) -> OrganizationPublic:
    """One organization by id or name."""
    policy.require(ctx, "organization.read")
    return OrganizationPublic.model_validate(get_org(ctx.db, id_or_name))


def list_organizations(ctx: RequestContext, *, q: str | None = None, limit: int = 1000,
                       offset: int = 0) -> OrganizationList:
    """Organizations by name, optionally filtered by a word in their name or title."""
    policy.require(ctx, "organization.read")
    stmt = select(Organization)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(Organization.name.ilike(like) | Organization.title.ilike(like)
                          | Organization.title_en.ilike(like))
    total = ctx.db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = ctx.db.scalars(stmt.order_by(Organization.name).limit(limit).offset(offset)).all()
    return OrganizationList(items=[OrganizationPublic.model_validate(o) for o in rows], total=total)


# --- users ---------------------------------------------------------------------------------------


def _user_public(db: Session, user: User) -> UserPublic:
    names = db.scalars(
        select(Organization.name).join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user.id)
    ).all()
    out = UserPublic.model_validate(user)
    out.organizations = list(names)
    return out


def create_user(ctx: RequestContext, *, data: UserCreate) -> UserPublic:
    """Create a user with a role, optionally joining an organization. Admins only."""
    policy.require(ctx, "user.create")
    email = data.email.strip().lower()
    if ctx.db.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"user {email} exists", details={"email": ["already registered"]})
    user = User(
        email=email,
        name=data.name,
        role=data.role,
        password_hash=_hasher.hash(data.password) if data.password else None,
    )
    ctx.db.add(user)
    ctx.db.flush()
    if data.org:
        add_member(ctx, org=data.org, user_id=user.id, capacity=data.capacity)
    return _user_public(ctx.db, user)


def add_member(ctx: RequestContext, *, org: str, user_id: str, capacity: str = "member") -> None:
    """Make a user a member (member, editor or admin) of an organization."""
    organization = get_org(ctx.db, org)
    policy.require(ctx, "organization.member", organization.id)
    if capacity not in ("member", "editor", "admin"):
        raise Invalid.field("capacity", "must be member, editor or admin")
    existing = ctx.db.scalar(select(Membership).where(Membership.user_id == user_id,
                                                      Membership.org_id == organization.id))
    if existing:
        existing.capacity = capacity
    else:
        ctx.db.add(Membership(user_id=user_id, org_id=organization.id, capacity=capacity))
    ctx.db.flush()


def get_user_by_email(db: Session, email: str) -> User:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"user {email} not found")
    return user


def me(ctx: RequestContext) -> UserPublic:
    """The signed-in user."""
    if not ctx.actor.user_id:
        raise Unauthenticated("not signed in")
    user = ctx.db.get(User, ctx.actor.user_id)
    if user is None:
        raise Unauthenticated("not signed in")
    return _user_public(ctx.db, user)


# --- actors ----------------------------------------------------------------------------------------


def actor_for_user(db: Session, user: User, *, token: ApiToken | None = None) -> Actor:
    rows = db.execute(
        select(Membership.org_id, Membership.capacity, Organization.kind)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user.id)
    ).all()
    capacities = {org_id: cap for org_id, cap, _ in rows}
    city_member = user.role in CITY_STAFF_ROLES or any(kind in CITY_ORG_KINDS for _, _, kind in rows)
    return Actor(
        user_id=user.id,
        email=user.email,
        role=user.role,
        org_ids=frozenset(capacities),
        capacities=capacities,
        city_member=city_member,
        token_id=token.id if token else None,
        scopes=frozenset((token.scopes or "").split()) if token else frozenset(),
    )


# --- tokens ----------------------------------------------------------------------------------------


def create_token(
    ctx: RequestContext, *, user_id: str, name: str = "default", expires_in_days: int | None = None,
    scopes: str = "",
) -> TokenCreated:
    """Issue an API token for a user. The token is returned once; only its hash is stored."""
    policy.require(ctx, "token.create", user_id)
    raw = "ch_" + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken(user_id=user_id, name=name, token_hash=_sha256(raw), prefix=raw[:8], expires_at=expires,
                     scopes=scopes)
    ctx.db.add(token)
    ctx.db.flush()
    return TokenCreated(id=token.id, token=raw, name=name, expires_at=expires)


def memoised_token_actor(db: Session, raw: str) -> Actor | None:
    """The token's actor when this process memoised it moments ago (no database read), else None."""
    return token_cache.get(db, _sha256(raw.strip()))


def actor_for_token(db: Session, raw: str) -> Actor | None:
    """Who the API token speaks for, or None (unknown, revoked, expired, inactive user). Memoised for at most
    token_cache.TTL_SECONDS per process; last use is recorded when the memo is refreshed (coalesced)."""
    digest = _sha256(raw.strip())
    actor = token_cache.get(db, digest)
    if actor is not None:
        return actor
    token = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or token.revoked or (token.expires_at and token.expires_at < utcnow()):
        return None
    user = db.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    now = utcnow()
    # Write last-use at most once a minute so reads stay reads.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        db.commit()
    actor = actor_for_user(db, user, token=token)
    token_cache.put(db, digest, actor, token.expires_at)
    return actor


# --- passwords and sessions --------------------------------------------------------------------------


def verify_password(db: Session, email: str, password: str) -> User:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.password_hash or not user.is_active:
        _hasher.hash(password)  # same work either way, so timing does not reveal who exists
        raise Unauthenticated("wrong email or password")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("wrong email or password") from None
    return user


def set_password(db: Session, user: User, password: str) -> None:
    if len(password) < 8:
        raise Invalid.field("password", "at least 8 characters")
    user.password_hash = _hasher.hash(password)


def start_session(db: Session, user: User) -> tuple[str, datetime]:
    raw = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=SESSION_DAYS)
    db.add(LoginSession(id_hash=_sha256(raw), user_id=user.id, expires_at=expires))
    db.flush()
    return raw, expires


def end_session(db: Session, raw: str) -> None:
    found = db.get(LoginSession, _sha256(raw))
    if found:
        db.delete(found)
        db.flush()


def actor_for_session(db: Session, raw: str) -> Actor | None:
    found = db.get(LoginSession, _sha256(raw))
    if found is None or found.expires_at < utcnow():
        return None
    user = db.get(User, found.user_id)
    if user is None or not user.is_active:
        return None
    return actor_for_user(db, user)
