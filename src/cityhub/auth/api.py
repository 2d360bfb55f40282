"""Native API for people and access: login, organizations, users, tokens."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cityhub.auth import service
from cityhub.auth.schemas import (
    LoginRequest,
    OrganizationCreate,
    OrganizationList,
    OrganizationPublic,
    OrganizationUpdate,
    TokenCreated,
    UserCreate,
    UserPublic,
)
from cityhub.errors import CityhubError
from cityhub.governance.audit import note
from cityhub.http import SESSION_COOKIE, Ctx

router = APIRouter(prefix="/api/v1", tags=["people and access"])


@router.post("/auth/login", response_model=UserPublic)
def login(body: LoginRequest, ctx: Ctx, response: Response) -> UserPublic:
    """Sign in with email and password; sets the page session cookie."""
    try:
        user = service.verify_password(ctx.db, body.email, body.password)
    except CityhubError:
        note(ctx, "login", outcome="failed", detail={"email": body.email})
        raise
    note(ctx, "login", resource_kind="user", resource_id=user.id)
    raw, expires = service.start_session(ctx.db, user)
    response.set_cookie(SESSION_COOKIE, raw, httponly=True, samesite="lax", expires=expires)
    ctx.actor = service.actor_for_user(ctx.db, user)
    return service.me(ctx)


@router.post("/auth/logout", status_code=204)
def logout(ctx: Ctx, response: Response) -> None:
    """Sign out: ends the page session."""
    response.delete_cookie(SESSION_COOKIE)


@router.get("/auth/me", response_model=UserPublic)
def who_am_i(ctx: Ctx) -> UserPublic:
    """The signed-in user (by token or session)."""
    return service.me(ctx)


@router.get("/organizations", response_model=OrganizationList)
def list_organizations(ctx: Ctx, q: str | None = None, limit: int = 1000, offset: int = 0) -> OrganizationList:
    """All organizations."""
    return service.list_organizations(ctx, q=q, limit=min(limit, 1000), offset=offset)


@router.post("/organizations", response_model=OrganizationPublic, status_code=201)
def create_organization(body: OrganizationCreate, ctx: Ctx) -> OrganizationPublic:
    """Create an organization (admins)."""
    return service.create_organization(ctx, data=body)


@router.get("/organizations/{name}", response_model=OrganizationPublic)
def show_organization(name: str, ctx: Ctx) -> OrganizationPublic:
    """One organization."""
    return service.show_organization(ctx, id_or_name=name)


@router.patch("/organizations/{name}", response_model=OrganizationPublic)
def update_organization(name: str, body: OrganizationUpdate, ctx: Ctx) -> OrganizationPublic:
    """Change an organization (its admins)."""
    return service.update_organization(ctx, id_or_name=name, data=body)


@router.post("/users", response_model=UserPublic, status_code=201)
def create_user(body: UserCreate, ctx: Ctx) -> UserPublic:
    """Create a user (admins)."""
    return service.create_user(ctx, data=body)


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(ctx: Ctx, name: str = "default", expires_in_days: int | None = None) -> TokenCreated:
    """Issue an API token for the signed-in user; it is shown once."""
    return service.create_token(ctx, user_id=ctx.actor.user_id or "", name=name, expires_in_days=expires_in_days)
